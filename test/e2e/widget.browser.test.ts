/**
 * The web-chat widget in a real headless Chromium (playwright-core, system Chromium; never a downloaded browser),
 * against the whole product started in-process: demo page, bundled widget, socket.io, uploads, PGlite.
 *
 * Needs /usr/bin/chromium (`apt-get install -y chromium`). Without it the suite is skipped locally and fails in CI.
 * Set WIDGET_SCREENSHOTS=1 to write /tmp/widget-phone.png and /tmp/widget-desktop.png for a visual check.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, loadConfig } from '../../main.ts';
import type { App } from '../../main.ts';

const CHROMIUM = '/usr/bin/chromium';
const HAS_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = process.env.CI === 'true';
const SCREENSHOTS = process.env.WIDGET_SCREENSHOTS === '1';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const FOLIO = /VER-\d{4}-\d{6}/;
const UI_TIMEOUT = 15_000;

if (!HAS_CHROMIUM && !IN_CI) {
  console.warn(
    `[widget.browser.test] ${CHROMIUM} not found: skipping the browser tests (install with: apt-get install -y chromium).`,
  );
}

if (!HAS_CHROMIUM && IN_CI) {
  describe('web-chat widget in Chromium', () => {
    it('has Chromium available', () => {
      throw new Error(`Chromium is required in CI: apt-get install -y chromium (${CHROMIUM} not found)`);
    });
  });
}

describe.skipIf(!HAS_CHROMIUM)('web-chat widget in Chromium', () => {
  let dataDir: string;
  let app: App;
  let url: string;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'vtn-widget-'));
    app = await createApp(
      loadConfig({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }),
    );
    url = await app.listen();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await app?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  async function newPage(viewport: { width: number; height: number }, locale = 'es-MX'): Promise<Page> {
    const context = await browser.newContext({
      viewport,
      locale,
      ...(viewport.width <= 480 ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
    });
    contexts.push(context);
    // The machine running the tests has no internet: the quick-exit target is answered locally.
    await context.route('https://www.google.com/**', (r) =>
      r.fulfill({ status: 200, contentType: 'text/html', body: '<p>ok</p>' }),
    );
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(msg.text());
    });
    (page as Page & { problems?: string[] }).problems = problems;
    page.setDefaultTimeout(UI_TIMEOUT);
    return page;
  }

  // Browser-side expressions as strings: the Node tsconfig has no DOM lib (and must not get one).
  const js = <T>(page: Page, expression: string) => page.evaluate<T>(expression);
  const session = (page: Page) => js<string | null>(page, `localStorage.getItem('ventanilla.session')`);
  const problemsOf = (page: Page) => (page as Page & { problems?: string[] }).problems ?? [];
  const input = (page: Page) => page.getByRole('textbox', { name: 'Escribe tu mensaje' });
  const botMessages = (page: Page) => page.locator('.vtn-msg--out .vtn-bubble');

  async function say(page: Page, text: string): Promise<void> {
    const before = await page.locator('.vtn-msg--in').count();
    await input(page).fill(text);
    await input(page).press('Enter');
    await expect.poll(() => page.locator('.vtn-msg--in').count()).toBe(before + 1);
    await expect.poll(() => input(page).inputValue()).toBe('');
  }

  it('files a complaint on a phone, checks its folio and resumes the conversation after a reload', async () => {
    const page = await newPage(PHONE);
    await page.goto(`${url}/#chat`);

    // Opened by #chat: full-screen panel, focus in the input.
    const panel = page.getByRole('dialog', { name: 'Ventanilla' });
    await panel.waitFor({ state: 'visible' });
    const box = await panel.boundingBox();
    expect(box?.width).toBe(PHONE.width);
    expect(box?.height).toBe(PHONE.height);
    await expect
      .poll(() => js<boolean>(page, `document.activeElement?.classList.contains('vtn-input') ?? false`))
      .toBe(true);
    await page.getByRole('button', { name: /Salida rápida/ }).waitFor({ state: 'visible' });
    await expect.poll(() => session(page)).toMatch(/^[A-Za-z0-9_-]{22,}$/);

    await say(page, 'hola');
    await page.getByText(/Soy Ventanilla, el asistente digital del Municipio de Ejemplo/).waitFor();
    await page.getByRole('button', { name: 'Reportar un problema' }).click();
    await page.getByRole('button', { name: 'Baches y pavimento dañado' }).click();
    await page.getByText(/Cuéntame brevemente qué pasa/).waitFor();
    // The menu buttons of earlier turns are inactive now.
    expect(await page.getByRole('button', { name: 'Consultar un folio' }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Alumbrado público' }).isDisabled()).toBe(true);

    await say(page, 'Hay un bache enorme frente a la escuela primaria');
    await page.getByText(/¿Dónde está\?/).waitFor();
    await say(page, 'Av. Juárez 10, col. Centro');
    await page.getByText(/Si tienes una foto del problema/).waitFor();
    await page.getByRole('button', { name: 'Omitir' }).click();
    await page.getByText(/Voy a registrar este reporte/).waitFor();
    // Newlines of the summary are preserved.
    const summary = botMessages(page).filter({ hasText: 'Voy a registrar este reporte' });
    expect(
      await js<string>(
        page,
        `getComputedStyle(document.querySelector('.vtn-msg--out .vtn-bubble')).whiteSpace`,
      ),
    ).toBe('pre-wrap');
    expect((await summary.textContent())?.split('\n').length).toBeGreaterThan(3);
    await page.getByRole('button', { name: 'Sí, registrar' }).click();

    const created = botMessages(page).filter({ hasText: FOLIO });
    await created.first().waitFor();
    const folio = FOLIO.exec((await created.first().textContent()) ?? '')?.[0];
    expect(folio).toBeDefined();

    await say(page, `¿cómo va mi folio ${folio}?`);
    await botMessages(page).filter({ hasText: 'Recibido' }).first().waitFor();
    if (SCREENSHOTS) await page.screenshot({ path: '/tmp/widget-phone.png' });

    // Reload: same session from localStorage, history rendered again.
    const count = await page.locator('.vtn-msg').count();
    await page.reload();
    await page.getByRole('dialog', { name: 'Ventanilla' }).waitFor({ state: 'visible' });
    await botMessages(page).filter({ hasText: folio! }).first().waitFor();
    await botMessages(page).filter({ hasText: 'Recibido' }).first().waitFor();
    await page
      .locator('.vtn-msg--in .vtn-bubble')
      .getByText('Hay un bache enorme frente a la escuela primaria', { exact: true })
      .waitFor();
    expect(await page.locator('.vtn-msg').count()).toBe(count);
    expect(problemsOf(page)).toEqual([]);
  }, 90_000);

  it('uploads a photo on desktop, shows its preview and stores it without EXIF metadata', async () => {
    const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } })
      .jpeg()
      .withMetadata({ exif: { IFD0: { Copyright: 'secret-gps' } } })
      .toBuffer();
    expect((await sharp(jpeg).metadata()).exif).toBeDefined();

    const page = await newPage(DESKTOP);
    await page.goto(url);
    // Closed at first: the launcher opens it and moves focus to the input.
    const launcher = page.getByRole('button', { name: 'Abrir chat de atención ciudadana' });
    await launcher.click();
    expect(await page.locator('.vtn-launcher').getAttribute('aria-expanded')).toBe('true');
    await expect
      .poll(() => js<boolean>(page, `document.activeElement?.classList.contains('vtn-input') ?? false`))
      .toBe(true);
    await expect.poll(() => session(page)).not.toBeNull();

    await say(page, 'hola');
    await page.getByRole('button', { name: 'Reportar un problema' }).waitFor();

    await page
      .locator('.vtn-root input[type=file]')
      .setInputFiles({ name: 'bache.jpg', mimeType: 'image/jpeg', buffer: jpeg });
    const photo = page.locator('.vtn-msg--in img.vtn-photo');
    await photo.waitFor({ state: 'visible' });
    expect(await photo.getAttribute('src')).toMatch(/^blob:/);
    // Acknowledged by the server (check mark), with no error shown.
    await page.locator('.vtn-msg--in[data-kind=media][data-id] .vtn-meta svg').waitFor();
    expect(await page.locator('.vtn-meta-error, .vtn-banner--error:not([hidden])').count()).toBe(0);
    if (SCREENSHOTS) await page.screenshot({ path: '/tmp/widget-desktop.png' });

    const dir = join(dataDir, 'media');
    const files = readdirSync(dir);
    expect(files.length).toBeGreaterThan(0);
    for (const name of files) {
      const meta = await sharp(join(dir, name)).metadata();
      expect(meta.exif).toBeUndefined();
    }

    // Escape closes the panel and returns focus to the launcher.
    await input(page).press('Escape');
    await page.getByRole('dialog', { name: 'Ventanilla', includeHidden: true }).waitFor({ state: 'hidden' });
    await expect
      .poll(() => js<boolean>(page, `document.activeElement?.classList.contains('vtn-launcher') ?? false`))
      .toBe(true);
    expect(problemsOf(page)).toEqual([]);
  }, 90_000);

  it('quick exit erases the session and leaves the page at once', async () => {
    const page = await newPage(PHONE);
    await page.goto(`${url}/#chat`);
    await say(page, 'hola');
    await page.getByRole('button', { name: 'Reportar un problema' }).waitFor();
    await expect.poll(() => session(page)).not.toBeNull();
    const entries = await js<number>(page, 'history.length');

    await Promise.all([
      page.waitForURL(/^https:\/\/www\.google\.com\/search\?q=clima/),
      page.getByRole('button', { name: /Salida rápida/ }).click(),
    ]);

    // Back on the city's origin (same browser profile): nothing left to resume.
    const again = await page.context().newPage();
    await again.goto(url);
    expect(await session(again)).toBeNull();
    expect(
      await js<string[]>(again, `Object.keys(localStorage).filter((k) => k.startsWith('ventanilla.'))`),
    ).toEqual([]);
    // The quick exit replaced the history entry: "back" does not return to the conversation.
    expect(await js<number>(page, 'history.length')).toBe(entries);
  }, 60_000);

  it('three quick Escape presses trigger the quick exit too', async () => {
    const page = await newPage(DESKTOP);
    await page.goto(`${url}/#chat`);
    await say(page, 'hola');
    await page.getByRole('button', { name: 'Reportar un problema' }).waitFor();
    await Promise.all([
      page.waitForURL(/google\.com/),
      (async () => {
        for (let i = 0; i < 3; i++) await page.keyboard.press('Escape');
      })(),
    ]);
    const again = await page.context().newPage();
    await again.goto(url);
    expect(await session(again)).toBeNull();
  }, 60_000);

  it('speaks English when the browser does', async () => {
    const page = await newPage(DESKTOP, 'en-US');
    await page.goto(`${url}/#chat`);
    await page.getByRole('button', { name: /Quick exit/ }).waitFor();
    await page.getByRole('textbox', { name: 'Type your message' }).waitFor();
    await page.getByRole('button', { name: 'Attach photo' }).waitFor();
    await page.getByRole('button', { name: 'Share my location' }).waitFor();
  }, 60_000);

  it('renders message text as text, never as HTML', async () => {
    const page = await newPage(DESKTOP);
    await page.goto(`${url}/#chat`);
    const evil = '<img src=x onerror="window.__pwned=1"> <b>negritas</b>\nsegunda línea';
    await say(page, evil);
    const bubble = page.locator('.vtn-msg--in .vtn-bubble').last();
    expect(await bubble.textContent()).toBe(evil);
    expect(await page.locator('.vtn-log img, .vtn-log b').count()).toBe(0);
    await page.locator('.vtn-msg--out').first().waitFor();
    expect(await js<unknown>(page, 'window.__pwned')).toBeUndefined();
  }, 60_000);

  it('rejects oversized and unreadable photos with a clear message', async () => {
    const page = await newPage(DESKTOP);
    await page.goto(`${url}/#chat`);
    await expect.poll(() => session(page)).not.toBeNull();
    const fileInput = page.locator('.vtn-root input[type=file]');
    const banner = page.locator('.vtn-banner--error');

    // Over 10 MB: refused in the browser, nothing uploaded.
    const uploads: string[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/webchat/uploads')) uploads.push(r.method());
    });
    await fileInput.setInputFiles({
      name: 'enorme.jpg',
      mimeType: 'image/jpeg',
      buffer: Buffer.alloc(10 * 1024 * 1024 + 1),
    });
    await banner.filter({ hasText: 'La foto pesa más de 10 MB' }).waitFor();
    expect(uploads).toEqual([]);

    // Not an image at all: refused in the browser too.
    await fileInput.setInputFiles({ name: 'notas.txt', mimeType: 'text/plain', buffer: Buffer.from('hola') });
    await banner.filter({ hasText: 'Solo se pueden enviar fotos' }).waitFor();

    // Claims to be an image but is not: the server says 415 and the bubble explains it.
    await fileInput.setInputFiles({
      name: 'falsa.png',
      mimeType: 'image/png',
      buffer: Buffer.from('definitely not a png'),
    });
    await page
      .locator('.vtn-meta-error')
      .filter({ hasText: 'No pudimos leer ese archivo como imagen' })
      .waitFor();
    expect(uploads).toEqual(['POST']);
    await page.getByRole('button', { name: 'Reintentar' }).waitFor();
  }, 60_000);

  it('keeps a message typed while offline and sends it once the connection is back', async () => {
    const page = await newPage(DESKTOP);
    await page.goto(`${url}/#chat`);
    await page.locator('.vtn-status.vtn-online').waitFor();
    await page.context().setOffline(true);
    await page.locator('.vtn-status:not(.vtn-online)').waitFor();
    await input(page).fill('hola');
    await input(page).press('Enter');
    await page.locator('.vtn-msg--in .vtn-meta').filter({ hasText: 'Esperando conexión' }).waitFor();
    await page.context().setOffline(false);
    await page.getByText(/Soy Ventanilla, el asistente digital/).waitFor({ timeout: 30_000 });
    await page.locator('.vtn-msg--in[data-id] .vtn-meta svg').waitFor();
    // Delivered exactly once: one welcome, one citizen message.
    expect(await page.getByText(/Soy Ventanilla, el asistente digital/).count()).toBe(1);
    expect(await page.locator('.vtn-msg--in').count()).toBe(1);
  }, 60_000);
});
