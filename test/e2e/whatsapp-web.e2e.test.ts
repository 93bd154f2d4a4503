/**
 * WhatsApp Web in the whole product. No test launches Chromium with WhatsApp (no phone can be paired in CI):
 *  - with the product's own driver and a Chromium path that does not exist, the app boots, stays ready and reports
 *    the channel's error, and closes cleanly;
 *  - with a fake whatsapp-web.js client, a citizen files a complaint (photo included), gets the folio, checks its
 *    status, and a repeated message event creates nothing twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MediaStore } from '../../integrations/contract.ts';
import { whatsappWeb, whatsappWebConfig } from '../../channels/whatsapp-web.ts';
import { createLogger, loadConfig } from '../../main.ts';
import { fakeWwebDriver, textMessage, wwebMessage } from '../fakes/whatsapp-web.ts';
import type { FakeWwebClient } from '../fakes/whatsapp-web.ts';
import { startTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { FakeClock } from '../helpers/clock.ts';

const FOLIO = /VER-\d{4}-\d{6}/;

describe('whatsapp-web in the app without Chromium', () => {
  it('boots, keeps /readyz at 200 with the channel in error, and closes cleanly', async () => {
    const token = 'admin-token-for-wweb-tests';
    const t = await startTestApp({
      WHATSAPP_WEB_ENABLED: 'true',
      WHATSAPP_WEB_CHROMIUM: '/nonexistent',
      ADMIN_TOKEN: token,
    });
    try {
      // The pairing QR is the account: admins only.
      expect((await fetch(`${t.url}/admin/channels/whatsapp-web/qr`)).status).toBe(401);
      const qr = await fetch(`${t.url}/admin/channels/whatsapp-web/qr`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(qr.status).toBe(200);
      expect(qr.headers.get('cache-control')).toBe('no-store');
      expect(await qr.json()).toMatchObject({ state: 'error' });
      const channels = (await (
        await fetch(`${t.url}/admin/channels`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as { channels: { name: string; state: string }[] };
      expect(channels.channels.map((c) => c.name)).toEqual(['webchat', 'whatsapp-web']);
      const res = await fetch(`${t.url}/readyz`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { status: string; channels: Record<string, string> };
      expect(body.status).toBe('ready');
      expect(['error', 'disconnected']).toContain(body.channels['whatsapp-web']);
      const status = t.app.channels.status().find((s) => s.name === 'whatsapp-web');
      expect(status).toMatchObject({
        kind: 'event-source',
        state: 'error',
        detail: 'Chromium not found at /nonexistent; set WHATSAPP_WEB_CHROMIUM',
      });
      expect(t.logs.join('')).toContain('Chromium not found at /nonexistent');
    } finally {
      await t.close();
    }
  });

  it('refuses WHATSAPP_WEB_* variables without WHATSAPP_WEB_ENABLED=true', () => {
    expect(() => loadConfig({ WHATSAPP_WEB_CHROMIUM: '/usr/bin/chromium' })).toThrow(
      /WHATSAPP_WEB_ENABLED: set WHATSAPP_WEB_ENABLED=true to use whatsapp-web\.js \(see README for the terms-of-service risk\)/,
    );
  });
});

describe('whatsapp-web complaint end to end (fake whatsapp-web.js client)', () => {
  const CITIZEN = '5212291234567@c.us';
  let t: TestApp;
  let client: FakeWwebClient;
  let n = 0;
  let ts = 1_773_158_400;
  const driver = fakeWwebDriver();
  // The adapter needs the app's media store, which exists only once the app does.
  let media: MediaStore | undefined;
  const adapter = whatsappWeb.create(whatsappWebConfig.parse({ enabled: 'true' }), {
    media: {
      save: (i) => media!.save(i),
      get: (id) => media!.get(id),
      read: (id) => media!.read(id),
    },
    log: createLogger('silent'),
    now: () => new Date(),
    dataDir: '/tmp/unused-whatsapp-web-e2e',
    publicUrl: 'http://127.0.0.1',
    count: () => undefined,
    driver,
    printQr: () => undefined,
  });

  beforeAll(async () => {
    t = await startTestApp({}, { extraChannels: [adapter], clock: new FakeClock('2026-03-10T16:00:00Z') });
    media = t.app.media;
    await adapter.start((inbound) => t.app.runtime.handle(inbound).then(() => undefined));
    client = await driver.created(1);
    client.pair();
  });
  afterAll(async () => {
    await adapter.stop();
    await t.close();
  });

  /** Send one citizen message and wait for the bot's replies (text of every sendMessage since). */
  async function say(raw: unknown, replies = 1): Promise<string> {
    const before = client.sent.length;
    client.emit('message', wwebMessage(raw));
    await adapter.settled();
    const end = Date.now() + 15_000;
    while (client.sent.length < before + replies) {
      if (Date.now() > end) throw new Error(`no reply to ${JSON.stringify(raw)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 50));
    return client.sent
      .slice(before)
      .map((s) => (typeof s.content === 'string' ? s.content : `[media] ${JSON.stringify(s.options)}`))
      .join('\n');
  }
  const text = (body: string) => textMessage(CITIZEN, body, `3EB0E2E${String(++n).padStart(12, '0')}`, ++ts);

  it('files a complaint with a photo, answers with the folio, and reports its status', async () => {
    const first = text('hay un bache enorme en la calle 5 de mayo esquina hidalgo col centro');
    let reply = await say(first);
    expect(reply).toMatch(/foto|Dónde está/);
    if (/Dónde está/.test(reply)) reply = await say(text('Calle 5 de Mayo esquina Hidalgo, col. Centro'));
    const photo = { ...(text('así está') as object), type: 'image', hasMedia: true };
    expect(await say(photo)).toMatch(/Baches[\s\S]*5 de mayo[\s\S]*Centro/i);
    const done = await say(text('sí'));
    const folio = FOLIO.exec(done)![0];
    expect(client.sent.every((s) => s.chatId === CITIZEN)).toBe(true);

    const saved = await t.app.store.findCase(folio);
    expect(saved).toMatchObject({ category: 'baches', colonia: 'Centro' });
    const conv = await t.app.store.findConversation('whatsapp-web', CITIZEN);
    expect(conv).toBeTruthy();
    const stored = await t.app.store.listMessages(conv!.id);
    expect(stored.some((m) => m.direction === 'in' && m.kind === 'media')).toBe(true);

    expect(await say(text(`estado de mi reporte ${folio}`))).toMatch(new RegExp(`${folio}[\\s\\S]*Recibido`));

    // WhatsApp Web may report the same message twice: the inbound id makes the second one a no-op.
    const cases = await t.app.store.listCases({});
    const sends = client.sent.length;
    client.emit('message', wwebMessage(first));
    await adapter.settled();
    await new Promise((r) => setTimeout(r, 200));
    expect((await t.app.store.listCases({})).length).toBe(cases.length);
    expect(client.sent.length).toBe(sends);
  });
});
