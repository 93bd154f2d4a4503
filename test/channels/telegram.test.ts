/** Telegram: the shared channel contract (webhook mode) against a fake Bot API, plus long polling and specifics. */
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Inbound, Received } from '../../channels/contract.ts';
import type { ChannelCounter, ChannelDeps } from '../../channels/kit/index.ts';
import { telegram, telegramConfig } from '../../channels/telegram.ts';
import type { TelegramAdapter } from '../../channels/telegram.ts';
import { createLogger, loadConfig } from '../../main.ts';
import { channelContract } from '../contract/channel.contract.ts';
import { memoryMedia } from '../fakes/media.ts';
import { SECRET_HEADER, startFakeTelegram, TelegramChat } from '../fakes/telegram.ts';
import type { FakeTelegram } from '../fakes/telegram.ts';

const TOKEN = '6000000001:AAFakeTokenOnlyForTests_0123456789abc';
const SECRET = 'wh_secret-For-Tests_0123456789';
const PUBLIC_URL = 'https://ventanilla.example.gob.mx';

interface Rig {
  fake: FakeTelegram;
  adapter: TelegramAdapter;
  media: ReturnType<typeof memoryMedia>;
  logs: string[];
  counts: Partial<Record<ChannelCounter, number>>;
  events: Inbound[];
  /** Deliver one update (or raw body) through `receive`, as Telegram's webhook would. */
  post(update: unknown, secret?: string | null): Promise<Received>;
  close(): Promise<void>;
}

async function startRig(
  opts: { secret?: string | null; fake?: FakeTelegram; pollingTimeout?: number } = {},
): Promise<Rig> {
  const fake = opts.fake ?? (await startFakeTelegram(TOKEN));
  const logs: string[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      logs.push(c.toString());
      cb();
    },
  });
  const media = memoryMedia();
  const counts: Rig['counts'] = {};
  const secret = opts.secret === undefined ? SECRET : opts.secret;
  const deps: ChannelDeps = {
    media,
    log: createLogger('debug', sink),
    now: () => new Date('2026-03-10T16:00:00Z'),
    dataDir: '/nonexistent',
    publicUrl: `${PUBLIC_URL}/`,
    count: (name, n = 1) => {
      counts[name] = (counts[name] ?? 0) + n;
    },
  };
  const adapter = telegram.create(
    telegramConfig.parse({
      token: TOKEN,
      apiRoot: fake.baseUrl,
      ...(secret ? { webhookSecret: secret } : {}),
      ...(opts.pollingTimeout ? { pollingTimeout: String(opts.pollingTimeout) } : {}),
    }),
    deps,
  );
  const events: Inbound[] = [];
  return {
    fake,
    adapter,
    media,
    logs,
    counts,
    events,
    async post(update, given = secret) {
      const body = Buffer.isBuffer(update) ? update : Buffer.from(JSON.stringify(update) ?? 'null');
      return adapter.receive!({
        method: 'POST',
        url: '/webhooks/telegram',
        headers: { 'content-type': 'application/json', ...(given ? { [SECRET_HEADER]: given } : {}) },
        rawBody: body,
      });
    },
    async close() {
      await adapter.stop();
      if (!opts.fake) await fake.close();
    },
  };
}

const until = async (fn: () => boolean, timeoutMs = 5000) => {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

channelContract({
  name: 'telegram',
  fixtures: 'test/fixtures/telegram/inbound',
  skip: [
    { reason: 'the Bot API reports no delivery or read receipts to bots', tests: ['receipts'] },
    { reason: 'Telegram is a push channel (replies go through the Bot API)', tests: ['in-response'] },
  ],
  async setup() {
    const rig = await startRig();
    return {
      adapter: rig.adapter,
      address: { channel: 'telegram', user: '700000001' },
      secrets: [TOKEN, SECRET],
      async feed(raw, opts) {
        const signature = opts?.signature ?? 'valid';
        try {
          const r = await rig.post(
            raw,
            signature === 'valid' ? SECRET : signature === 'wrong' ? 'not-the-secret' : null,
          );
          return { events: r.kind === 'accepted' ? r.events : [], status: r.ack.status };
        } catch (threw) {
          return { events: [], status: 500, threw };
        }
      },
      async sends() {
        await new Promise((r) => setTimeout(r, 20));
        return rig.fake.sent().length;
      },
      failNext: (f) =>
        rig.fake.failNext(
          f === 'drop' ? 'drop' : { status: f.status, ...(f.retryAfter ? { retryAfter: f.retryAfter } : {}) },
        ),
      logs: () => rig.logs.join(''),
      close: () => rig.close(),
    };
  },
});

describe('telegram specifics', () => {
  describe('webhook mode', () => {
    let rig: Rig;
    const chat = new TelegramChat(700000002, { languageCode: 'es-MX' });
    beforeAll(async () => {
      rig = await startRig();
    });
    afterAll(async () => {
      await rig.close();
    });
    beforeEach(() => {
      rig.fake.calls.length = 0;
    });

    it('registers the webhook with the secret and the update types it handles', async () => {
      await rig.adapter.start(() => Promise.resolve());
      await until(() => rig.adapter.health().state === 'ready');
      expect(rig.fake.webhook).toEqual({
        url: `${PUBLIC_URL}/webhooks/telegram`,
        secret_token: SECRET,
        allowed_updates: ['message', 'callback_query'],
      });
      expect(rig.adapter.health().detail).not.toContain(SECRET);
    });

    it('keeps retrying setWebhook and reports a secret-free error meanwhile', async () => {
      const other = await startRig({ fake: rig.fake });
      rig.fake.failNext({ status: 502 }, ['setWebhook']);
      await other.adapter.start(() => Promise.resolve());
      await until(() => other.adapter.health().state === 'error');
      expect(other.adapter.health().detail).toMatch(/setWebhook failed/);
      await until(() => other.adapter.health().state === 'ready', 5000);
      expect(rig.fake.callsTo('setWebhook')).toHaveLength(2);
      const text = JSON.stringify(other.adapter.health()) + other.logs.join('');
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(SECRET);
      await other.close();
    });

    it('answers every callback query without waiting, and recovers the button label', async () => {
      const update = chat.callback('menu:file-complaint', {
        message_id: 9,
        reply_markup: {
          inline_keyboard: [[{ text: 'Reportar un problema', callback_data: 'menu:file-complaint' }]],
        },
      });
      const r = await rig.post(update);
      expect(r).toMatchObject({
        kind: 'accepted',
        events: [
          { kind: 'choice', choiceId: 'menu:file-complaint', text: 'Reportar un problema', locale: 'es-MX' },
        ],
      });
      const [answered] = await rig.fake.waitFor('answerCallbackQuery', 1);
      expect(answered!.body).toEqual({ callback_query_id: (update.callback_query as { id: string }).id });
    });

    it('logs a failed answerCallbackQuery instead of failing the update', async () => {
      rig.fake.failNext({ status: 400, description: 'Bad Request: query is too old' }, [
        'answerCallbackQuery',
      ]);
      const r = await rig.post(chat.callback('yes'));
      expect(r.kind).toBe('accepted');
      await rig.fake.waitFor('answerCallbackQuery', 1);
      await until(() => rig.logs.join('').includes('answerCallbackQuery failed'));
    });

    it('maps choice ids longer than callback_data allows through a short token', async () => {
      const id = `procedure:${'licencia-de-funcionamiento-para-comercio-'.repeat(3)}`;
      await rig.adapter.send(
        { channel: 'telegram', user: '700000002' },
        {
          kind: 'choices',
          text: '¿Cuál trámite?',
          choices: [
            { id, label: 'Licencia' },
            { id: 'cat:baches', label: 'Baches' },
          ],
        },
        { idempotencyKey: 'out:long' },
      );
      const [call] = await rig.fake.waitFor('sendMessage', 1);
      const keyboard = (
        call!.body.reply_markup as { inline_keyboard: { text: string; callback_data: string }[][] }
      ).inline_keyboard;
      expect(keyboard.map((row) => row[0]!.callback_data)).toEqual([
        expect.stringMatching(/^#.{22}$/),
        'cat:baches',
      ]);
      expect(call!.body.parse_mode).toBeUndefined();
      const data = keyboard[0]![0]!.callback_data;
      const back = await rig.post(
        chat.callback(data, { message_id: 10, reply_markup: call!.body.reply_markup }),
      );
      expect(back).toMatchObject({ events: [{ kind: 'choice', choiceId: id, text: 'Licencia' }] });
      // After a restart the token is unknown: the label the citizen tapped goes in as text.
      const fresh = await startRig({ fake: rig.fake });
      const later = await fresh.post(
        chat.callback(data, { message_id: 10, reply_markup: call!.body.reply_markup }),
      );
      expect(later).toMatchObject({ events: [{ kind: 'text', text: 'Licencia' }] });
      await fresh.close();
    });

    it('offers a request-contact button for share:phone and maps the shared contact', async () => {
      const address = { channel: 'telegram', user: '700000002' };
      await rig.adapter.send(
        address,
        {
          kind: 'choices',
          text: '¿Compartes tu número para enlazar tus reportes?',
          choices: [
            { id: 'share:phone', label: 'Compartir mi número' },
            { id: 'no', label: 'Ahora no' },
          ],
        },
        { idempotencyKey: 'out:share' },
      );
      const [call] = await rig.fake.waitFor('sendMessage', 1);
      expect(call!.body.reply_markup).toEqual({
        keyboard: [[{ text: 'Compartir mi número', request_contact: true }], [{ text: 'Ahora no' }]],
        one_time_keyboard: true,
        resize_keyboard: true,
      });
      const own = await rig.post(chat.contact('+52 229 123 4567'));
      expect(own).toMatchObject({ events: [{ kind: 'contact', phone: '+522291234567', own: true }] });
      const other = await rig.post(chat.contact('5212299876543', false));
      expect(other).toMatchObject({ events: [{ kind: 'contact', phone: '+522299876543', own: false }] });
      // The next text removes the reply keyboard.
      await rig.adapter.send(address, { kind: 'text', text: 'Listo' }, { idempotencyKey: 'out:after' });
      const calls = await rig.fake.waitFor('sendMessage', 2);
      expect(calls[1]!.body.reply_markup).toEqual({ remove_keyboard: true });
    });

    it('maps a tapped text button of the reply keyboard back to its choice id', async () => {
      await rig.adapter.send(
        { channel: 'telegram', user: '700000002' },
        {
          kind: 'choices',
          text: '¿Compartes tu número?',
          choices: [
            { id: 'share:phone', label: 'Compartir' },
            { id: 'identity:skip', label: 'Ahora no' },
          ],
        },
        { idempotencyKey: 'out:share2' },
      );
      expect(await rig.post(chat.text('Ahora no'))).toMatchObject({
        events: [{ kind: 'choice', choiceId: 'identity:skip', text: 'Ahora no' }],
      });
      // Only once: the same words later are ordinary text.
      expect(await rig.post(chat.text('Ahora no'))).toMatchObject({ events: [{ kind: 'text' }] });
    });

    it('ignores group chats, bots and edited messages with 200 and no events', async () => {
      for (const update of [
        chat.group('hola bot'),
        chat.message({ text: 'soy un bot', from: { id: 5, is_bot: true, first_name: 'B' } }),
        { update_id: 731999001, edited_message: chat.text('corregido').message },
        chat.message({ sticker: { file_id: 'x', width: 1, height: 1 } }),
      ]) {
        const r = await rig.post(update);
        expect(r).toEqual({ kind: 'rejected', reason: 'ignored', ack: { status: 200 } });
      }
    });

    it('rejects a wrong secret with 401, a body that is not an update with 400', async () => {
      expect((await rig.post(chat.text('hola'), 'x'.repeat(SECRET.length))).ack.status).toBe(401);
      expect((await rig.post(chat.text('hola'), null)).ack.status).toBe(401);
      expect(await rig.post(Buffer.from('{"update_id":'))).toMatchObject({
        reason: 'malformed',
        ack: { status: 400 },
      });
      expect(await rig.post({ message: { text: 'sin update_id' } })).toMatchObject({ ack: { status: 400 } });
    });

    it('downloads the largest photo size through getFile and saves it', async () => {
      const before = rig.media.items.size;
      const r = await rig.post(chat.photo('mi foto'));
      const [getFile] = rig.fake.callsTo('getFile');
      expect(getFile!.body.file_id).toMatch(/-2$/);
      expect(r).toMatchObject({
        events: [{ kind: 'media', media: [{ mime: 'image/jpeg', caption: 'mi foto' }] }],
      });
      const event = (r as { events: Extract<Inbound, { kind: 'media' }>[] }).events[0]!;
      expect(rig.media.items.get(event.media[0]!.mediaId)).toBeDefined();
      expect(rig.media.items.size).toBe(before + 1);
      expect(rig.counts.media_downloaded).toBeGreaterThan(0);
    });

    it('re-encodes document images (dropping EXIF) and ignores other documents', async () => {
      const withExif = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#0a0' } })
        .png()
        .withMetadata({ exif: { IFD0: { Copyright: 'gps-and-serials' } } })
        .toBuffer();
      rig.fake.addFile('doc-exif', withExif, 'documents/file_exif.png');
      const r = await rig.post(
        chat.message({
          document: {
            file_id: 'doc-exif',
            file_unique_id: 'd',
            mime_type: 'image/png',
            file_size: withExif.length,
          },
        }),
      );
      const event = (r as { events: Extract<Inbound, { kind: 'media' }>[] }).events[0]!;
      const saved = rig.media.items.get(event.media[0]!.mediaId)!;
      expect(saved.media.mime).toBe('image/png');
      expect(saved.bytes.includes(Buffer.from('gps-and-serials'))).toBe(false);
      const pdf = await rig.post(
        chat.message({ document: { file_id: 'pdf', file_unique_id: 'p', mime_type: 'application/pdf' } }),
      );
      expect(pdf).toMatchObject({ kind: 'rejected', reason: 'ignored' });
      const pdfWithCaption = await rig.post(
        chat.message({
          document: { file_id: 'pdf', file_unique_id: 'p', mime_type: 'application/pdf' },
          caption: 'mi acta',
        }),
      );
      expect(pdfWithCaption).toMatchObject({ events: [{ kind: 'text', text: 'mi acta' }] });
    });

    it('asks Telegram to redeliver (503) when a download fails for now, and takes the caption of a too-large file', async () => {
      rig.fake.failNext({ status: 502 }, ['getFile']);
      expect(await rig.post(chat.voice())).toEqual({
        kind: 'rejected',
        reason: 'retry',
        ack: { status: 503, headers: { 'retry-after': '5' } },
      });
      const big = chat.message({
        document: {
          file_id: 'big',
          file_unique_id: 'b',
          mime_type: 'image/jpeg',
          file_size: 30 * 1024 * 1024,
        },
        caption: 'foto grande',
      });
      expect(await rig.post(big)).toMatchObject({ events: [{ kind: 'text', text: 'foto grande' }] });
    });
  });

  describe('sending', () => {
    let rig: Rig;
    const address = { channel: 'telegram', user: '700000003' };
    beforeAll(async () => {
      rig = await startRig();
    });
    afterAll(async () => {
      await rig.close();
    });
    beforeEach(() => {
      rig.fake.calls.length = 0;
    });

    it('splits long text at 4096 characters without parse_mode', async () => {
      const text = `${'Palabra '.repeat(600)}*_[no markup]_*`;
      const d = await rig.adapter.send(address, { kind: 'text', text }, { idempotencyKey: 'out:long-text' });
      const calls = rig.fake.callsTo('sendMessage');
      expect(calls.length).toBe(2);
      for (const c of calls) {
        expect((c.body.text as string).length).toBeLessThanOrEqual(4096);
        expect(c.body.parse_mode).toBeUndefined();
        expect(c.body.chat_id).toBe(700000003);
      }
      expect(d.externalId).toMatch(/^700000003:\d+$/);
    });

    it('sends media by URL with the right method, and typing as a chat action', async () => {
      const url = 'https://ventanilla.example.gob.mx/media/abc';
      await rig.adapter.send(
        address,
        { kind: 'media', url, mime: 'image/jpeg', caption: 'Mapa' },
        { idempotencyKey: 'm1' },
      );
      await rig.adapter.send(address, { kind: 'media', url, mime: 'audio/mpeg' }, { idempotencyKey: 'm2' });
      await rig.adapter.send(
        address,
        { kind: 'media', url, mime: 'audio/ogg; codecs=opus' },
        { idempotencyKey: 'm3' },
      );
      await rig.adapter.send(
        address,
        { kind: 'media', url, mime: 'application/pdf', caption: 'x'.repeat(1100) },
        { idempotencyKey: 'm4' },
      );
      await rig.adapter.send(address, { kind: 'typing' }, { idempotencyKey: 't1' });
      expect(rig.fake.calls.map((c) => c.method)).toEqual([
        'sendPhoto',
        'sendAudio',
        'sendVoice',
        'sendDocument',
        'sendMessage',
        'sendChatAction',
      ]);
      expect(rig.fake.calls[0]!.body).toMatchObject({ photo: url, caption: 'Mapa' });
      expect(rig.fake.calls[3]!.body.caption).toBeUndefined();
      expect(rig.fake.calls[5]!.body).toMatchObject({ action: 'typing' });
    });

    it('maps 429 with retry_after, 5xx, drops and a blocked bot to the right errors', async () => {
      const attempt = () =>
        rig.adapter.send(address, { kind: 'text', text: 'x' }, { idempotencyKey: 'e' }).then(
          () => undefined,
          (e: unknown) => e,
        );
      rig.fake.failNext({ status: 429, retryAfter: 7 });
      expect(await attempt()).toMatchObject({
        code: 'CHANNEL_RATE_LIMITED',
        retryable: true,
        retryAfterMs: 7000,
      });
      rig.fake.failNext({ status: 502 });
      expect(await attempt()).toMatchObject({ code: 'CHANNEL_UNAVAILABLE', retryable: true });
      rig.fake.failNext('drop');
      expect(await attempt()).toMatchObject({ code: 'CHANNEL_UNAVAILABLE', retryable: true });
      rig.fake.failNext('garbage');
      expect(await attempt()).toMatchObject({ code: 'CHANNEL_UNAVAILABLE', retryable: true });
      rig.fake.blocked.add('700000003');
      expect(await attempt()).toMatchObject({ code: 'CHANNEL_REJECTED', retryable: false, status: 403 });
      rig.fake.blocked.clear();
    });

    it('never lets the token or the secret into errors or logs', async () => {
      const errors: unknown[] = [];
      const attempt = (failure: Parameters<FakeTelegram['failNext']>[0]) => {
        rig.fake.failNext(failure);
        return rig.adapter
          .send(address, { kind: 'text', text: 'secreto del ciudadano' }, { idempotencyKey: 's' })
          .catch((e: unknown) => errors.push(e));
      };
      // A 200 that is not JSON makes node-fetch name the full URL (with the token), which telegraf does not redact.
      await attempt('garbage');
      await attempt('drop');
      await attempt({ status: 400, description: `Bad Request: echo ${TOKEN}` });
      const closed = await startFakeTelegram(TOKEN);
      await closed.close();
      const offline = telegram.create(telegramConfig.parse({ token: TOKEN, apiRoot: closed.baseUrl }), {
        media: memoryMedia(),
        log: createLogger('debug', new Writable({ write: (_c, _e, cb) => cb() })),
        now: () => new Date(),
        dataDir: '/nonexistent',
        publicUrl: PUBLIC_URL,
        count: () => undefined,
      });
      await offline
        .send(address, { kind: 'text', text: 'x' }, { idempotencyKey: 'o' })
        .catch((e: unknown) => errors.push(e));
      expect(errors).toHaveLength(4);
      const text =
        errors.map((e) => `${String(e)} ${JSON.stringify(e)} ${(e as Error).stack ?? ''}`).join('\n') +
        rig.logs.join('');
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(TOKEN.split(':')[1]);
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain('secreto del ciudadano');
    });
  });

  describe('long polling', () => {
    let rig: Rig;
    afterEach(async () => {
      await rig?.close();
    });

    it('deletes the webhook, polls, hands updates in order and stops at once', async () => {
      rig = await startRig({ secret: null });
      expect(rig.adapter.mode).toBe('polling');
      expect('receive' in rig.adapter).toBe(false);
      const chat = new TelegramChat(700000010, { languageCode: 'en' });
      rig.fake.push(chat.text('hello'), chat.location(18.14, -94.45));
      await rig.adapter.start(async (e) => {
        rig.events.push(e);
      });
      await until(() => rig.events.length === 2);
      expect(rig.events.map((e) => e.kind)).toEqual(['text', 'location']);
      expect(rig.fake.calls[0]!.method).toBe('deleteWebhook');
      expect(rig.fake.calls[0]!.body).toEqual({ drop_pending_updates: false });
      expect(rig.fake.calls[1]!.body).toEqual({
        timeout: 25,
        allowed_updates: ['message', 'callback_query'],
      });
      await until(() => rig.fake.openPolls() === 1);
      expect(rig.adapter.health()).toEqual({ state: 'ready', detail: 'long polling' });
      // A later update reaches the held long poll; its confirmation moves the offset on.
      const later = chat.callback('yes');
      rig.fake.push(later);
      await until(() => rig.events.length === 3);
      expect(rig.events[2]).toMatchObject({ kind: 'choice', choiceId: 'yes' });
      await rig.fake.waitFor('answerCallbackQuery', 1);
      await until(() => rig.fake.openPolls() === 1);
      const started = Date.now();
      await rig.adapter.stop();
      expect(Date.now() - started).toBeLessThan(1000);
      await until(() => rig.fake.openPolls() === 0);
      // The stop confirmed everything handled: nothing would be replayed on the next start.
      expect(rig.fake.queue).toHaveLength(0);
      expect(rig.adapter.health().state).toBe('disconnected');
    });

    it('backs off on errors, reports them without secrets, and recovers', async () => {
      rig = await startRig({ secret: null });
      rig.fake.failNext({ status: 502 }, ['getUpdates']);
      const chat = new TelegramChat(700000011);
      rig.fake.push(chat.text('hola'));
      await rig.adapter.start(async (e) => {
        rig.events.push(e);
      });
      await until(() => rig.adapter.health().state === 'disconnected');
      expect(rig.adapter.health().detail).toMatch(/getUpdates failed/);
      await until(() => rig.events.length === 1, 5000);
      expect(rig.adapter.health().state).toBe('ready');
      expect(rig.logs.join('')).not.toContain(TOKEN);
    });

    it('redelivers an update whose turn failed, keeping later updates of that chat waiting', async () => {
      rig = await startRig({ secret: null });
      const a = new TelegramChat(700000012);
      const b = new TelegramChat(700000013);
      rig.fake.push(a.text('uno'), a.text('dos'), b.text('otro chat'));
      let failOnce = true;
      const seen: string[] = [];
      await rig.adapter.start(async (e) => {
        const text = e.kind === 'text' ? e.text : e.kind;
        if (text === 'uno' && failOnce) {
          failOnce = false;
          throw new Error('database is busy');
        }
        seen.push(text);
      });
      await until(() => seen.includes('dos'), 5000);
      // Chat a kept its order; chat b was neither held up nor handed over twice.
      expect(seen).toEqual(['otro chat', 'uno', 'dos']);
    });

    it('reports a second poller (409) in health', async () => {
      rig = await startRig({ secret: null });
      rig.fake.failNext({ status: 409, description: 'Conflict: terminated by other getUpdates request' }, [
        'getUpdates',
      ]);
      await rig.adapter.start(() => Promise.resolve());
      await until(() => rig.adapter.health().state === 'error');
      expect(rig.adapter.health().detail).toMatch(/another process is polling/);
    });
  });

  describe('configuration', () => {
    const base = { PORT: '0', DATA_DIR: '/tmp/vtn-telegram-config' };
    it('is off without variables, needs the token, and validates the secret', () => {
      expect(loadConfig(base).channels.telegram).toBeUndefined();
      expect(() => loadConfig({ ...base, TELEGRAM_WEBHOOK_SECRET: 'abc' })).toThrow(
        /TELEGRAM_BOT_TOKEN: required \(channel telegram\)/,
      );
      expect(() =>
        loadConfig({ ...base, TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_WEBHOOK_SECRET: 'not ok!' }),
      ).toThrow(/TELEGRAM_WEBHOOK_SECRET/);
      expect(() => loadConfig({ ...base, TELEGRAM_BOT_TOKEN: 'nope' })).toThrow(/TELEGRAM_BOT_TOKEN/);
      const ok = loadConfig({ ...base, TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_POLLING_TIMEOUT: '10' });
      expect(
        telegramConfig.parse({
          token: TOKEN,
          pollingTimeout: ok.channels.telegram!.TELEGRAM_POLLING_TIMEOUT,
        }),
      ).toMatchObject({
        apiRoot: 'https://api.telegram.org',
        pollingTimeout: 10,
      });
    });
  });
});
