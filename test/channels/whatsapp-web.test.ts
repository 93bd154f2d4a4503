/** WhatsApp Web (whatsapp-web.js): the shared channel contract over a fake client, plus pairing and reconnects. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InboundSchema } from '../../channels/contract.ts';
import type { Inbound } from '../../channels/contract.ts';
import type { ChannelCounter } from '../../channels/kit/index.ts';
import {
  chatIdOf,
  phoneOfWid,
  sendError,
  toInbound,
  toReceipt,
  whatsappWeb,
  whatsappWebConfig,
} from '../../channels/whatsapp-web.ts';
import type { WhatsappWebAdapter, WhatsappWebDeps } from '../../channels/whatsapp-web.ts';
import { createLogger } from '../../main.ts';
import { channelContract } from '../contract/channel.contract.ts';
import { memoryMedia } from '../fakes/media.ts';
import { FakeMessageMedia, fakeWwebDriver, textMessage, wwebMessage } from '../fakes/whatsapp-web.ts';
import type { FakeWwebClient, FakeWwebDriver, WwebFailure } from '../fakes/whatsapp-web.ts';

const CITIZEN = '5212291234567@c.us';
const QR = '2@fakeQrRef0123456789abcdef,fakeNoiseKeyBase64=,fakeIdentityKeyBase64=,fakeAdvSecret=';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

interface Rig {
  adapter: WhatsappWebAdapter;
  driver: FakeWwebDriver;
  events: Inbound[];
  logs: string[];
  qrs: string[];
  counts: ChannelCounter[];
  media: ReturnType<typeof memoryMedia>;
  close(): Promise<void>;
}

async function startRig(
  opts: {
    driver?: FakeWwebDriver;
    deps?: Partial<WhatsappWebDeps>;
    emit?: (e: Inbound) => Promise<void>;
    publicUrl?: string;
  } = {},
): Promise<Rig> {
  const logs: string[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      logs.push(c.toString());
      cb();
    },
  });
  const driver = opts.driver ?? fakeWwebDriver();
  const media = memoryMedia();
  const qrs: string[] = [];
  const counts: ChannelCounter[] = [];
  const events: Inbound[] = [];
  const adapter = whatsappWeb.create(whatsappWebConfig.parse({ enabled: 'true' }), {
    media,
    log: createLogger('debug', sink),
    now: () => new Date('2026-03-10T16:05:00Z'),
    dataDir: '/tmp/unused-whatsapp-web',
    publicUrl: opts.publicUrl ?? 'https://ventanilla.example.gob.mx',
    count: (name) => counts.push(name),
    driver,
    printQr: (qr) => qrs.push(qr),
    backoff: { baseMs: 10, maxMs: 80 },
    random: () => 1,
    ...opts.deps,
  });
  await adapter.start(
    opts.emit ??
      (async (e) => {
        events.push(e);
      }),
  );
  return {
    adapter,
    driver,
    events,
    logs,
    qrs,
    counts,
    media,
    close: () => adapter.stop(),
  };
}

/** Feed a message-like value (or a `{event:'message_ack'}` receipt) through the client's events. */
async function feed(rig: Rig, client: FakeWwebClient, raw: unknown) {
  const before = rig.events.length;
  try {
    const r = raw as { event?: unknown; message?: unknown; ack?: unknown } | null;
    if (r && typeof r === 'object' && r.event === 'message_ack') client.emit('message_ack', r.message, r.ack);
    else client.emit('message', wwebMessage(raw));
    await rig.adapter.settled();
    return { events: rig.events.slice(before), status: 200 };
  } catch (threw) {
    return { events: rig.events.slice(before), status: 500, threw };
  }
}

const FAILURES: Record<string, WwebFailure> = { drop: 'timeout', '4': 'invalid-wid', '5': 'session-closed' };

channelContract({
  name: 'whatsapp-web',
  fixtures: 'test/fixtures/whatsapp-web/inbound',
  skip: [
    {
      reason:
        'no webhook: events come from the paired WhatsApp Web session, which is the trust anchor (nothing to sign)',
      tests: ['signature'],
    },
    {
      reason:
        'whatsapp-web.js drives a browser, so there are no HTTP statuses or rate-limit answers to map; its own failures (closed session, timeouts → retryable; invalid wid → rejected) are tested in "whatsapp-web specifics"',
      tests: ['retryable'],
    },
    { reason: 'WhatsApp Web is a push channel', tests: ['in-response'] },
  ],
  async setup() {
    const rig = await startRig();
    const client = await rig.driver.created(1);
    client.pair(QR);
    await until(() => rig.adapter.health().state === 'ready', 'ready');
    const sent = () => rig.driver.clients.reduce((n, c) => n + c.sent.length, 0);
    return {
      adapter: rig.adapter,
      address: { channel: 'whatsapp-web', user: CITIZEN },
      secrets: [QR],
      feed: (raw) => feed(rig, client, raw),
      sends: async () => sent(),
      failNext(f) {
        client.failNext(f === 'drop' ? FAILURES.drop! : f.status >= 500 ? FAILURES['5']! : FAILURES['4']!);
      },
      receipt() {
        const of = client.sent.at(-1)?.id ?? `true_${CITIZEN}_3EB0RECEIPT`;
        return {
          raw: { event: 'message_ack', ack: 2, message: { id: { _serialized: of }, to: CITIZEN } },
          of,
        };
      },
      logs: () => rig.logs.join('') + rig.events.map((e) => JSON.stringify(e)).join(''),
      close: () => rig.close(),
    };
  },
});

describe('whatsapp-web specifics', () => {
  const rigs: Rig[] = [];
  const rig = async (opts?: Parameters<typeof startRig>[0]) => {
    const r = await startRig(opts);
    rigs.push(r);
    return r;
  };
  afterEach(async () => {
    await Promise.all(rigs.splice(0).map((r) => r.close()));
  });

  async function readyRig(opts?: Parameters<typeof startRig>[0]) {
    const r = await rig(opts);
    const client = await r.driver.created(1);
    client.pair(QR);
    await until(() => r.adapter.health().state === 'ready', 'ready');
    return { r, client };
  }

  describe('configuration', () => {
    it('must be enabled explicitly, with a message pointing at the terms-of-service risk', () => {
      for (const input of [{}, { enabled: 'false' }, { chromium: '/usr/bin/chromium' }]) {
        const r = whatsappWebConfig.safeParse(input);
        expect(r.success).toBe(false);
        expect(r.error?.issues[0]?.message).toBe(
          'set WHATSAPP_WEB_ENABLED=true to use whatsapp-web.js (see README for the terms-of-service risk)',
        );
      }
      expect(whatsappWebConfig.parse({ enabled: 'true' })).toEqual({
        enabled: true,
        chromium: '/usr/bin/chromium',
        clientId: 'ventanilla',
      });
      expect(whatsappWebConfig.safeParse({ enabled: 'true', clientId: '../x' }).success).toBe(false);
      expect(whatsappWeb.env).toEqual({
        WHATSAPP_WEB_ENABLED: 'enabled',
        WHATSAPP_WEB_CHROMIUM: 'chromium',
        WHATSAPP_WEB_CLIENT_ID: 'clientId',
      });
    });

    it('launches the configured Chromium headless with LocalAuth in the data folder', async () => {
      const r = await rig({ deps: { dataDir: '/srv/ventanilla/data/channels/whatsapp-web' } });
      const client = await r.driver.created(1);
      expect(client.options).toEqual({
        chromium: '/usr/bin/chromium',
        dataDir: '/srv/ventanilla/data/channels/whatsapp-web',
        clientId: 'ventanilla',
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
        ],
      });
    });
  });

  describe('pairing and connection state', () => {
    it('qr → pairing (QR for admins only), authenticated → loading, ready → ready with the QR cleared', async () => {
      const r = await rig();
      expect(r.adapter.health().state).toBe('starting');
      const client = await r.driver.created(1);
      client.emit('qr', QR);
      expect(r.adapter.health()).toEqual({
        state: 'pairing',
        detail: expect.stringContaining('scan the QR shown in the terminal or the admin page') as string,
      });
      expect(r.adapter.pairing()).toMatchObject({ state: 'pairing', qr: QR });
      expect(r.qrs).toEqual([QR]);
      client.emit('qr', `${QR}-rotated`);
      expect(r.adapter.pairing().qr).toBe(`${QR}-rotated`);
      expect(r.qrs).toHaveLength(2);
      client.emit('authenticated');
      expect(r.adapter.pairing()).not.toHaveProperty('qr');
      expect(r.adapter.health().state).toBe('starting');
      client.emit('ready');
      expect(r.adapter.health()).toEqual({ state: 'ready', detail: 'paired and connected' });
      expect(r.adapter.pairing()).toEqual({ state: 'ready', since: '2026-03-10T16:05:00.000Z' });
      const logs = r.logs.join('');
      expect(logs).toContain('scan the QR shown in the terminal or the admin page');
      expect(logs).not.toContain('fakeQrRef');
      // One pairing notice per episode, not one per QR rotation.
      expect(logs.match(/needs pairing/g)).toHaveLength(1);
    });

    it('start() returns at once and never waits for pairing or Chromium', async () => {
      let release: () => void = () => undefined;
      const hung = new Promise<void>((r) => (release = r));
      const driver = fakeWwebDriver({
        onCreate: (c) => {
          c.initialize = async () => {
            c.initialized++;
            await hung;
          };
        },
      });
      const started = Date.now();
      const r = await rig({ driver });
      expect(Date.now() - started).toBeLessThan(500);
      await driver.created(1);
      expect(r.adapter.health().state).toBe('starting');
      release();
    });

    it('reports a missing Chromium as an error with a clear detail, without throwing or retrying', async () => {
      const driver = fakeWwebDriver({
        preflight: 'Chromium not found at /usr/bin/chromium; set WHATSAPP_WEB_CHROMIUM',
      });
      const r = await rig({ driver });
      expect(r.adapter.health()).toEqual({
        state: 'error',
        detail: 'Chromium not found at /usr/bin/chromium; set WHATSAPP_WEB_CHROMIUM',
      });
      await sleep(50);
      expect(driver.clients).toHaveLength(0);
    });

    it('the product driver finds no Chromium at a wrong path', async () => {
      const { whatsappWebDriver } = await import('../../channels/whatsapp-web.ts');
      expect(
        whatsappWebDriver().preflight!({
          chromium: '/nonexistent/chromium',
          args: [],
          dataDir: '/tmp',
          clientId: 'x',
        }),
      ).toBe('Chromium not found at /nonexistent/chromium; set WHATSAPP_WEB_CHROMIUM');
    });

    it('reconnects after disconnected with capped exponential backoff, and resets once ready', async () => {
      // Clients 2–5 fail to initialise, client 6 comes up.
      const driver = fakeWwebDriver({
        onCreate: (c, i) => {
          if (i >= 1 && i <= 4) c.initError = 'net::ERR_INTERNET_DISCONNECTED at https://web.whatsapp.com/';
        },
      });
      const { r, client } = await readyRig({ driver });
      client.emit('disconnected', 'UNPAIRED');
      expect(r.adapter.health().state).toBe('disconnected');
      expect(r.adapter.health().detail).toMatch(/disconnected \(UNPAIRED\)/);
      await driver.created(6, 3_000);
      expect(client.destroyed).toBeGreaterThan(0);
      for (const c of driver.clients.slice(1, 5)) expect(c.destroyed).toBeGreaterThan(0);
      const delays = r.logs
        .join('')
        .split('\n')
        .filter((l) => l.includes('whatsapp-web disconnected'))
        .map((l) => (JSON.parse(l) as { delayMs: number }).delayMs);
      // base 10 ms doubling, capped at 80 ms (random() = 1 takes the whole cap).
      expect(delays).toEqual([10, 20, 40, 80, 80]);
      driver.clients[5]!.pair(QR);
      await until(() => r.adapter.health().state === 'ready', 'ready again');
      driver.clients[5]!.emit('disconnected', 'CONFLICT');
      await driver.created(7);
      const last = r.logs
        .join('')
        .trim()
        .split('\n')
        .filter((l) => l.includes('whatsapp-web disconnected'));
      expect((JSON.parse(last.at(-1)!) as { delayMs: number }).delayMs).toBe(10);
    });

    it('adds jitter: between half and all of the capped delay', async () => {
      const driver = fakeWwebDriver();
      const { r, client } = await readyRig({ driver, deps: { random: () => 0 } });
      client.emit('auth_failure', 'session restore failed');
      expect(r.adapter.health().detail).toMatch(/authentication failed/);
      await driver.created(2);
      expect(r.logs.join('')).toContain('"delayMs":5');
    });

    it('gives up on a start that shows neither QR nor ready, and tries again', async () => {
      const driver = fakeWwebDriver({
        onCreate: (c, i) => {
          if (i === 0)
            c.initialize = async () => {
              c.initialized++;
              await new Promise(() => undefined);
            };
        },
      });
      const r = await rig({ driver, deps: { startTimeoutMs: 20 } });
      await driver.created(2);
      expect(driver.clients[0]!.destroyed).toBe(1);
      expect(r.logs.join('')).toContain('did not start within');
    });

    it('ignores events from a client it already replaced', async () => {
      const driver = fakeWwebDriver();
      const { r, client } = await readyRig({ driver });
      client.emit('disconnected', 'TIMEOUT');
      const next = await driver.created(2);
      client.emit('message', wwebMessage(textMessage(CITIZEN, 'viejo', 'OLD1')));
      client.emit('qr', QR);
      await r.adapter.settled();
      expect(r.events).toHaveLength(0);
      expect(r.adapter.pairing()).not.toHaveProperty('qr');
      next.pair(QR);
      expect(r.adapter.health().state).toBe('ready');
    });

    it('stop() destroys the client and cancels a pending reconnect', async () => {
      const driver = fakeWwebDriver();
      const { r, client } = await readyRig({ driver, deps: { backoff: { baseMs: 200, maxMs: 200 } } });
      client.emit('disconnected', 'LOGOUT');
      await r.adapter.stop();
      await sleep(300);
      expect(driver.clients).toHaveLength(1);
      expect(client.destroyed).toBeGreaterThan(0);
      expect(r.adapter.health()).toEqual({ state: 'disconnected', detail: 'stopped' });
    });
  });

  describe('inbound', () => {
    it('ignores groups, status updates, broadcasts, channels, own messages and stickers', async () => {
      const { r, client } = await readyRig();
      const text = (extra: Record<string, unknown>) => ({
        ...(textMessage(CITIZEN, 'hola', `X${Object.keys(extra).join('')}`) as object),
        ...extra,
      });
      for (const raw of [
        text({ from: '120363012345678901@g.us', author: CITIZEN }),
        text({ author: CITIZEN }),
        text({ isStatus: true }),
        text({ from: 'status@broadcast' }),
        text({ broadcast: true }),
        text({ from: '120363098765432101@newsletter' }),
        text({ fromMe: true }),
        text({ type: 'sticker', hasMedia: true }),
        text({ type: 'vcard' }),
        text({ type: 'chat', body: '   ' }),
        text({ type: 'image', hasMedia: false, body: '' }),
      ]) {
        const fed = await feed(r, client, raw);
        expect(fed.events, JSON.stringify(raw)).toHaveLength(0);
      }
    });

    it('vouches for the phone of a @c.us sender (Mexican 521 mobiles become +52), not for @lid', async () => {
      expect(phoneOfWid('5212291234567@c.us')).toBe('+522291234567');
      expect(phoneOfWid('14155550123@c.us')).toBe('+14155550123');
      expect(phoneOfWid('123456789012345@lid')).toBeUndefined();
      const { r, client } = await readyRig();
      const [a] = (await feed(r, client, textMessage(CITIZEN, 'hola', 'P1'))).events;
      expect(a).toMatchObject({ identity: { phone: '+522291234567' }, address: { user: CITIZEN } });
      const [b] = (await feed(r, client, textMessage('123456789012345@lid', 'hola', 'P2'))).events;
      expect(b).toBeDefined();
      expect(b!.identity).toBeUndefined();
    });

    it('stores a voice note through deps.media and emits it as audio media', async () => {
      const { r, client } = await readyRig();
      const raw = { ...(textMessage(CITIZEN, '', 'VOICE1') as object), type: 'ptt', hasMedia: true };
      const [e] = (await feed(r, client, raw)).events;
      expect(e?.kind).toBe('media');
      if (e?.kind !== 'media') return;
      const item = e.media[0]!;
      expect(item.mime).toBe('audio/ogg; codecs=opus');
      expect(item.caption).toBeUndefined();
      const stored = await r.media.read(item.mediaId);
      expect(stored?.bytes.toString()).toBe('OggS fake opus voice note');
      expect(r.counts).toEqual(['media_downloaded']);
      expect(JSON.stringify(e.raw)).not.toContain('mediaKey');
    });

    it('keeps the caption as text when media cannot be downloaded, and drops captionless media', async () => {
      const { r, client } = await readyRig();
      const image = (id: string, body: string) => ({
        ...(textMessage(CITIZEN, body, id) as object),
        type: 'image',
        hasMedia: true,
      });
      const deps = {
        media: r.media,
        now: () => new Date(),
        count: () => undefined,
        log: createLogger('silent'),
      };
      const failed = await toInbound(wwebMessage(image('M1', 'el bache'), new Error('media expired')), deps);
      expect(failed).toMatchObject({ kind: 'text', text: 'el bache' });
      expect(await toInbound(wwebMessage(image('M2', ''), null), deps)).toBeNull();
      expect(
        await toInbound(wwebMessage(image('M3', ''), { mimetype: 'image/jpeg', data: '' }), deps),
      ).toBeNull();
      expect(r.media.items.size).toBe(0);
      void client;
    });

    it("keeps one citizen's messages in order even when a photo downloads slowly", async () => {
      const { r, client } = await readyRig();
      const slow = wwebMessage({
        ...(textMessage(CITIZEN, 'foto', 'S1') as object),
        type: 'image',
        hasMedia: true,
      });
      const original = slow.downloadMedia!.bind(slow);
      Object.assign(slow, {
        downloadMedia: async () => {
          await sleep(30);
          return original();
        },
      });
      client.emit('message', slow);
      client.emit('message', wwebMessage(textMessage(CITIZEN, 'y está en la esquina', 'S2')));
      client.emit('message', wwebMessage(textMessage('5212299999999@c.us', 'otro vecino', 'S3')));
      await r.adapter.settled();
      expect(r.events.map((e) => e.externalId.slice(-2))).toEqual(['S3', 'S1', 'S2']);
    });

    it('maps message_ack levels to receipts (1 sent, 2 delivered, 3 and 4 read, -1 failed; 0 ignored)', () => {
      const now = () => new Date('2026-03-10T16:00:00Z');
      const msg = { id: { _serialized: `true_${CITIZEN}_3EB0AAA` }, to: CITIZEN, from: '5212290000000@c.us' };
      const status = (ack: unknown) => {
        const r = toReceipt(msg, ack, { now });
        return r?.kind === 'receipt' ? r.status : null;
      };
      expect([1, 2, 3, 4, -1, 0, 'x', undefined].map(status)).toEqual([
        'sent',
        'delivered',
        'read',
        'read',
        'failed',
        null,
        null,
        null,
      ]);
      const r = toReceipt(msg, 3, { now })!;
      expect(InboundSchema.safeParse(r).success).toBe(true);
      expect(r).toMatchObject({ of: `true_${CITIZEN}_3EB0AAA`, address: { user: CITIZEN } });
      expect(toReceipt(msg, 3, { now })!.id).toBe(r.id);
      expect(toReceipt(msg, 2, { now })!.id).not.toBe(r.id);
      expect(toReceipt({ ...msg, to: '120363012345678901@g.us' }, 3, { now })).toBeNull();
      expect(toReceipt(null, 3, { now })).toBeNull();
    });

    it('survives hostile message objects (getters that throw, downloadMedia that is not a function)', async () => {
      const { r, client } = await readyRig();
      const hostile = Object.defineProperty({ ...(textMessage(CITIZEN, 'x', 'H1') as object) }, 'body', {
        get() {
          throw new Error('boom');
        },
        enumerable: true,
      });
      client.emit('message', hostile);
      client.emit('message', {
        ...(textMessage(CITIZEN, '', 'H2') as object),
        type: 'image',
        hasMedia: true,
        downloadMedia: 5,
      });
      client.emit('message', undefined);
      await r.adapter.settled();
      expect(r.events).toHaveLength(0);
    });
  });

  describe('outbound', () => {
    let server: ReturnType<typeof createServer>;
    let mediaUrl = '';
    beforeAll(async () => {
      server = createServer((req, res) => {
        if (req.url === '/media/foto.jpg') {
          res.writeHead(200, { 'content-type': 'image/jpeg' });
          res.end(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 9, 9]));
        } else {
          res.writeHead(req.url === '/busy' ? 503 : 404);
          res.end('no');
        }
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      mediaUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((r) => server.close(r));
    });

    const ctx = { idempotencyKey: 'out:1' };

    it('sends text without link previews and returns the message id', async () => {
      const { r, client } = await readyRig();
      const d = await r.adapter.send(
        { channel: 'whatsapp-web', user: CITIZEN },
        { kind: 'text', text: 'Hola' },
        ctx,
      );
      expect(client.sent).toEqual([
        { chatId: CITIZEN, content: 'Hola', options: { linkPreview: false }, id: d.externalId },
      ]);
      await r.adapter.send(
        { channel: 'whatsapp-web', user: '+522291234567' },
        { kind: 'text', text: 'x' },
        ctx,
      );
      expect(client.sent[1]!.chatId).toBe('522291234567@c.us');
      expect(chatIdOf('120363012345678901@g.us')).toBe('120363012345678901@g.us');
    });

    it('renders choices as numbered text (buttons and lists are deprecated in WhatsApp Web)', async () => {
      const { r, client } = await readyRig();
      await r.adapter.send(
        { channel: 'whatsapp-web', user: CITIZEN },
        {
          kind: 'choices',
          text: '¿Qué quieres reportar?',
          choices: [
            { id: 'baches', label: 'Baches' },
            { id: 'alumbrado', label: 'Alumbrado' },
          ],
        },
        ctx,
      );
      expect(client.sent[0]!.content).toBe('¿Qué quieres reportar?\n1. Baches\n2. Alumbrado');
    });

    it('fetches media itself and sends a MessageMedia with its caption (documents as documents)', async () => {
      const { r, client } = await readyRig({ publicUrl: mediaUrl });
      await r.adapter.send(
        { channel: 'whatsapp-web', user: CITIZEN },
        { kind: 'media', url: `${mediaUrl}/media/foto.jpg`, mime: 'image/jpeg', caption: 'Así quedó' },
        ctx,
      );
      const sent = client.sent[0]!;
      expect(sent.content).toBeInstanceOf(FakeMessageMedia);
      expect(sent.content).toEqual(
        new FakeMessageMedia(
          'image/jpeg',
          Buffer.from([0xff, 0xd8, 0xff, 0xe0, 9, 9]).toString('base64'),
          'foto.jpg',
        ),
      );
      expect(sent.options).toEqual({ caption: 'Así quedó' });
      // A relative URL is resolved against PUBLIC_URL.
      await r.adapter.send(
        { channel: 'whatsapp-web', user: CITIZEN },
        { kind: 'media', url: '/media/foto.jpg', mime: 'application/pdf' },
        ctx,
      );
      expect(client.sent[1]!.options).toEqual({ sendMediaAsDocument: true });
      const missing = await r.adapter
        .send(
          { channel: 'whatsapp-web', user: CITIZEN },
          { kind: 'media', url: `${mediaUrl}/nope.jpg`, mime: 'image/jpeg' },
          ctx,
        )
        .catch((e: unknown) => e);
      expect(missing).toMatchObject({ code: 'CHANNEL_REJECTED', retryable: false });
      const busy = await r.adapter
        .send(
          { channel: 'whatsapp-web', user: CITIZEN },
          { kind: 'media', url: `${mediaUrl}/busy`, mime: 'image/jpeg' },
          ctx,
        )
        .catch((e: unknown) => e);
      expect(busy).toMatchObject({ code: 'CHANNEL_UNAVAILABLE', retryable: true });
      expect(String(busy)).not.toContain(mediaUrl);
    });

    it('maps whatsapp-web.js failures: closed session and timeouts retry, a bad recipient does not', async () => {
      const { r, client } = await readyRig();
      const attempt = async (f: WwebFailure) => {
        client.failNext(f);
        return r.adapter
          .send({ channel: 'whatsapp-web', user: CITIZEN }, { kind: 'text', text: 'x' }, ctx)
          .then(
            () => undefined,
            (e: unknown) => e,
          );
      };
      expect(await attempt('session-closed')).toMatchObject({ code: 'CHANNEL_UNAVAILABLE', retryable: true });
      expect(await attempt('timeout')).toMatchObject({ code: 'CHANNEL_UNAVAILABLE', retryable: true });
      const invalid = await attempt('invalid-wid');
      expect(invalid).toMatchObject({ code: 'CHANNEL_REJECTED', retryable: false });
      expect(String(invalid)).not.toContain('<anonymous>');
      expect(await attempt('no-chat')).toMatchObject({ code: 'CHANNEL_REJECTED', retryable: false });
      expect(sendError(new Error('Error: No LID for user'))).toMatchObject({ code: 'CHANNEL_REJECTED' });
      // Phone numbers in library errors are masked.
      expect(sendError(new Error('chat 5212291234567@c.us gone')).message).not.toContain('5212291234567');
    });

    it('refuses to send while pairing or disconnected, as a retryable error', async () => {
      const r = await rig();
      const client = await r.driver.created(1);
      client.emit('qr', QR);
      const err = await r.adapter
        .send({ channel: 'whatsapp-web', user: CITIZEN }, { kind: 'text', text: 'x' }, ctx)
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'CHANNEL_UNAVAILABLE', retryable: true, retryAfterMs: 60_000 });
      expect(String(err)).not.toContain('fakeQrRef');
      expect(client.sent).toHaveLength(0);
      client.emit('disconnected', 'NAVIGATION');
      expect(
        await r.adapter
          .send({ channel: 'whatsapp-web', user: CITIZEN }, { kind: 'text', text: 'x' }, ctx)
          .catch((e: unknown) => e),
      ).toMatchObject({ code: 'CHANNEL_UNAVAILABLE', retryable: true, retryAfterMs: 15_000 });
    });

    it('degrades templates and typing (no templates, no typing indicator)', async () => {
      const { r, client } = await readyRig();
      const d = await r.adapter.send(
        { channel: 'whatsapp-web', user: CITIZEN },
        { kind: 'typing' },
        { idempotencyKey: 'out:typing' },
      );
      expect(d.externalId).toBe('out:typing');
      await r.adapter.send(
        { channel: 'whatsapp-web', user: CITIZEN },
        { kind: 'template', template: 'aviso', params: ['x'], fallbackText: 'Tu reporte avanzó' },
        ctx,
      );
      expect(client.sent.map((s) => s.content)).toEqual(['Tu reporte avanzó']);
    });
  });
});
