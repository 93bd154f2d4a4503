/**
 * Telegram end to end: the whole product (PGlite) with the Telegram channel pointed at the fake Bot API. Webhook
 * mode gets signed updates on `/webhooks/telegram`; polling mode drives the fake's `getUpdates` queue. Replies
 * are read where Telegram would receive them: the fake's `sendMessage` calls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { FakeClock } from '../helpers/clock.ts';
import { deliverUpdate, startFakeTelegram, TelegramChat, webhookRequest } from '../fakes/telegram.ts';
import type { FakeTelegram, TelegramCall } from '../fakes/telegram.ts';

const TOKEN = '6000000002:AAFakeE2eTokenOnlyForTests_0123456789';
const SECRET = 'e2e_webhook-secret_0123456789';
const FOLIO = /VER-\d{4}-\d{6}/;
const OPEN = '2026-03-10T16:00:00Z';

type Keyboard = { inline_keyboard?: { text: string; callback_data: string }[][] };

/** Text and button labels of replies. */
const render = (calls: TelegramCall[]) =>
  calls
    .map((c) =>
      [
        c.body.text,
        ...((c.body.reply_markup as Keyboard | undefined)?.inline_keyboard ?? []).flat().map((b) => b.text),
      ].join(' '),
    )
    .join('\n');

/** Wait for at least one more reply, then until the replies stop coming for a moment. */
async function replies(fake: FakeTelegram, before: number): Promise<TelegramCall[]> {
  await fake.waitFor('sendMessage', before + 1);
  let n = -1;
  while (n !== fake.callsTo('sendMessage').length) {
    n = fake.callsTo('sendMessage').length;
    await new Promise((r) => setTimeout(r, 250));
  }
  return fake.callsTo('sendMessage').slice(before);
}

const ADMIN = 'telegram-e2e-admin-token-123';

describe('telegram e2e: webhook mode', () => {
  let t: TestApp;
  let fake: FakeTelegram;
  const chat = new TelegramChat(700000101, { languageCode: 'es' });
  const clock = new FakeClock(OPEN);

  beforeAll(async () => {
    fake = await startFakeTelegram(TOKEN);
    t = await startTestApp(
      {
        TELEGRAM_BOT_TOKEN: TOKEN,
        TELEGRAM_WEBHOOK_SECRET: SECRET,
        TELEGRAM_API_ROOT: fake.baseUrl,
        PUBLIC_URL: 'https://ventanilla.example.gob.mx',
        ADMIN_TOKEN: ADMIN,
      },
      { clock },
    );
    // Started once setWebhook answered and the channel says so (the app does not wait for event sources).
    const deadline = Date.now() + 5000;
    const ready = () => t.app.channels.status().find((s) => s.name === 'telegram')?.state === 'ready';
    while (!(fake.webhook && ready()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  const hook = () => `${t.url}/webhooks/telegram`;
  /** Deliver an update the way Telegram does (with the secret it was given) and collect the replies. */
  const say = async (update: object) => {
    const before = fake.callsTo('sendMessage').length;
    expect(await deliverUpdate(hook(), update, fake.webhook?.secret_token)).toBe(200);
    return replies(fake, before);
  };

  it('registered its webhook with the secret', () => {
    expect(fake.webhook).toMatchObject({
      url: 'https://ventanilla.example.gob.mx/webhooks/telegram',
      secret_token: SECRET,
    });
    expect(t.app.channels.status().find((s) => s.name === 'telegram')).toMatchObject({
      kind: 'webhook',
      state: 'ready',
    });
  });

  it('rejects an update without the right secret', async () => {
    expect(await deliverUpdate(hook(), chat.text('hola'), 'not-the-secret')).toBe(401);
    expect(await deliverUpdate(hook(), chat.text('hola'), undefined)).toBe(401);
  });

  it('files a complaint, answers a button, reports the status by folio and ignores redeliveries', async () => {
    // Every Telegram chat opens with /start: the citizen sees the menu as buttons, and the privacy notice.
    const menu = await say(chat.text('/start'));
    expect(render(menu)).toMatch(/Aviso de privacidad/);
    const buttons = menu
      .flatMap((c) => (c.body.reply_markup as Keyboard | undefined)?.inline_keyboard ?? [])
      .flat();
    expect(buttons.map((b) => b.callback_data)).toContain('menu:file-complaint');

    const first = chat.text('hay un bache enorme en la calle 5 de mayo esq hidalgo col centro');
    let reply = render(await say(first));
    expect(reply).toMatch(/foto|Dónde está/);
    if (/Dónde está/.test(reply))
      reply = render(await say(chat.text('Calle 5 de Mayo esquina Hidalgo, col. Centro')));
    const summary = await say(chat.text('omitir'));
    expect(render(summary)).toMatch(/Baches[\s\S]*5 de mayo[\s\S]*Centro/i);

    // The confirmation is an inline keyboard; the citizen taps its first button ("Sí").
    const prompt = summary.findLast((c) => (c.body.reply_markup as Keyboard | undefined)?.inline_keyboard)!;
    const markup = prompt.body.reply_markup as Required<Keyboard>;
    expect(markup.inline_keyboard.length).toBeGreaterThan(1);
    const yes = markup.inline_keyboard.flat().find((b) => /^s[ií]/i.test(b.text))!;
    const tap = chat.callback(yes.callback_data, {
      message_id: 77,
      text: String(prompt.body.text),
      reply_markup: markup,
    });
    const done = render(await say(tap));
    const folio = FOLIO.exec(done)![0];
    await fake.waitFor('answerCallbackQuery', 1);
    expect(await t.app.store.findCase(folio)).toMatchObject({ category: 'baches', colonia: 'Centro' });
    const conversation = (await t.app.store.findConversation('telegram', '700000101'))!;
    expect(conversation.locale).toMatch(/^es/);

    const status = render(await say(chat.text(`estado de mi reporte ${folio}`)));
    expect(status).toContain(folio);
    expect(status).toMatch(/Recibido/);

    // Telegram redelivers when it missed our 200: nothing is created or sent twice.
    const cases = (await t.app.store.listCases({})).length;
    const sent = fake.callsTo('sendMessage').length;
    expect(await deliverUpdate(hook(), tap, SECRET)).toBe(200);
    expect(await deliverUpdate(hook(), first, SECRET)).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect((await t.app.store.listCases({})).length).toBe(cases);
    expect(fake.callsTo('sendMessage').length).toBe(sent);
  });

  it('asks Telegram to redeliver when a voice note cannot be fetched yet, and counts it', async () => {
    fake.failNext({ status: 502 }, ['getFile']);
    const { headers, body } = webhookRequest(chat.voice(), SECRET);
    const res = await fetch(hook(), { method: 'POST', headers, body });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const admin = (await (
      await fetch(`${t.url}/admin/channels`, { headers: { authorization: `Bearer ${ADMIN}` } })
    ).json()) as { channels: { name: string; rejected: Record<string, number> }[] };
    expect(admin.channels.find((c) => c.name === 'telegram')?.rejected).toMatchObject({ retry: 1 });
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/ventanilla_channel_webhooks_total\{channel="telegram",outcome="retry"\} 1/);
  });

  it('ignores group chats', async () => {
    const sent = fake.callsTo('sendMessage').length;
    expect(await deliverUpdate(hook(), chat.group('hola a todos'), SECRET)).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.callsTo('sendMessage').length).toBe(sent);
    expect(t.logs.join('')).not.toContain(TOKEN);
    expect(t.logs.join('')).not.toContain(SECRET);
  });
});

describe('telegram e2e: long polling', () => {
  let t: TestApp;
  let fake: FakeTelegram;
  const chat = new TelegramChat(700000102, { languageCode: 'es-MX' });
  let closed = false;

  beforeAll(async () => {
    fake = await startFakeTelegram(TOKEN);
    t = await startTestApp(
      { TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_API_ROOT: fake.baseUrl },
      { clock: new FakeClock(OPEN) },
    );
  });
  afterAll(async () => {
    if (!closed) await t?.close();
    await fake?.close();
  });

  const say = async (update: object) => {
    const before = fake.callsTo('sendMessage').length;
    fake.push(update);
    return render(await replies(fake, before));
  };

  it('files a complaint over getUpdates and shuts down without waiting for the long poll', async () => {
    await fake.waitFor('getUpdates', 1);
    expect(fake.calls[0]!.method).toBe('deleteWebhook');
    expect((await fetch(`${t.url}/webhooks/telegram`, { method: 'POST', body: '{}' })).status).toBe(404);
    let reply = await say(chat.text('quiero reportar basura'));
    expect(reply).toMatch(/Aviso de privacidad/);
    reply = await say(chat.text('Dejaron muchas bolsas de basura en la esquina'));
    reply = await say(chat.text('Calle Morelos 8, col. Centro'));
    reply = await say(chat.text('omitir'));
    expect(reply).toMatch(/Morelos 8/);
    const folio = FOLIO.exec(await say(chat.text('sí')))![0];
    expect(await t.app.store.findCase(folio)).toMatchObject({ address: 'Calle Morelos 8, col. Centro' });
    expect(t.app.channels.status().find((s) => s.name === 'telegram')).toMatchObject({
      kind: 'event-source',
      state: 'ready',
    });

    while (fake.openPolls() === 0) await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    closed = true;
    await t.close();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(fake.openPolls()).toBe(0);
  });
});
