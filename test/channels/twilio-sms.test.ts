/** Twilio SMS: the shared channel contract plus SMS specifics (signatures, encoding, keywords, MMS, errors). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelAdapter, Inbound, Received } from '../../channels/contract.ts';
import { ChannelError } from '../../channels/contract.ts';
import { isGsm7, smsEncoding, smsText, twilioSms, twilioSmsConfig } from '../../channels/twilio-sms.ts';
import { createLogger } from '../../main.ts';
import { channelContract } from '../contract/channel.contract.ts';
import { memoryMedia } from '../fakes/media.ts';
import {
  formBody,
  incomingSms,
  parseFormBody,
  sid,
  signedWebhook,
  startFakeTwilio,
  statusCallback,
  twilioSign,
} from '../fakes/twilio-sms.ts';
import type { FakeTwilio } from '../fakes/twilio-sms.ts';
import { TINY_PNG } from '../fakes/images.ts';

const PUBLIC_URL = 'https://ventanilla.example.gob.mx';
const WEBHOOK = `${PUBLIC_URL}/webhooks/twilio-sms`;
const OUR_NUMBER = '+522297654321';
const CITIZEN = '+522291234567';
const FIXTURES = 'test/fixtures/twilio-sms/inbound';

interface Rig {
  fake: FakeTwilio;
  adapter: ChannelAdapter;
  media: ReturnType<typeof memoryMedia>;
  counts: Record<string, number>;
  logs: string[];
  /** Send `params` (or raw bytes) as Twilio would, to `path` on the server, signed for `signedUrl`. */
  post(
    params: Record<string, string | string[]> | Buffer,
    opts?: {
      path?: string;
      signedUrl?: string;
      signature?: 'valid' | 'missing' | 'wrong';
      method?: 'GET' | 'POST';
      headers?: Record<string, string>;
    },
  ): Promise<Received>;
  close(): Promise<void>;
}

async function startRig(
  config: Record<string, unknown> = {},
  publicUrl = PUBLIC_URL,
  fake?: FakeTwilio,
): Promise<Rig> {
  const f = fake ?? (await startFakeTwilio());
  const logs: string[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      logs.push(c.toString());
      cb();
    },
  });
  const media = memoryMedia();
  const counts: Record<string, number> = {};
  // The media the fixtures refer to.
  f.addMedia(TINY_PNG, 'image/jpeg', { mediaSid: `ME${'4d'.repeat(16)}` });
  f.addMedia(Buffer.alloc(2048, 0x23), 'audio/amr', { mediaSid: `ME${'5e'.repeat(16)}` });
  const adapter = twilioSms.create(
    twilioSmsConfig.parse({
      accountSid: f.accountSid,
      authToken: f.authToken,
      from: OUR_NUMBER,
      apiUrl: f.baseUrl,
      ...config,
    }),
    {
      media,
      log: createLogger('debug', sink),
      now: () => new Date('2026-03-10T16:00:00Z'),
      dataDir: mkdtempSync(join(tmpdir(), 'vtn-sms-')),
      publicUrl,
      count: (name, n = 1) => {
        counts[name] = (counts[name] ?? 0) + n;
      },
    },
  );
  return {
    fake: f,
    adapter,
    media,
    counts,
    logs,
    async post(params, opts = {}) {
      const path = opts.path ?? '/webhooks/twilio-sms';
      const method = opts.method ?? 'POST';
      const q = path.indexOf('?');
      const signedUrl =
        opts.signedUrl ?? `${publicUrl.replace(/\/$/, '')}/webhooks/twilio-sms${q >= 0 ? path.slice(q) : ''}`;
      const rawBody =
        method === 'GET' ? Buffer.alloc(0) : Buffer.isBuffer(params) ? params : Buffer.from(formBody(params));
      const signedParams = method === 'GET' ? {} : parseFormBody(rawBody.toString('utf8'));
      const token = opts.signature === 'wrong' ? 'another-account-token-0123456789ab' : f.authToken;
      return adapter.receive!({
        method,
        url: path,
        headers: {
          host: '10.0.0.5:3000',
          'content-type': 'application/x-www-form-urlencoded',
          ...(opts.signature === 'missing'
            ? {}
            : { 'x-twilio-signature': twilioSign(token, signedUrl, signedParams) }),
          ...opts.headers,
        },
        rawBody,
      });
    },
    async close() {
      if (!fake) await f.close();
    },
  };
}

/** Encode any fuzzed value as a form body, the way the harness sends provider payloads. */
function encode(raw: unknown): Buffer {
  if (Buffer.isBuffer(raw)) return raw;
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const params: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(raw)) {
      params[k] = (Array.isArray(v) ? v : [v]).map((x: unknown) =>
        typeof x === 'string' ? x : x !== null && typeof x === 'object' ? JSON.stringify(x) : String(x),
      );
    }
    return Buffer.from(formBody(params));
  }
  return Buffer.from(typeof raw === 'string' ? raw : JSON.stringify(raw ?? null));
}

const events = (r: Received): Inbound[] => (r.kind === 'accepted' ? r.events : []);
const status = (r: Received): number => r.ack.status;

channelContract({
  name: 'twilio-sms',
  fixtures: FIXTURES,
  skip: [
    {
      reason: 'SMS replies go out through the REST API (push), not in the webhook response',
      tests: ['in-response'],
    },
  ],
  async setup() {
    const rig = await startRig();
    return {
      adapter: rig.adapter,
      address: { channel: 'twilio-sms', user: CITIZEN },
      secrets: [rig.fake.authToken],
      sends: async () => rig.fake.sent.length,
      failNext: (f) =>
        rig.fake.failNext(
          f === 'drop'
            ? 'drop'
            : { status: f.status, ...(f.retryAfter !== undefined ? { retryAfter: f.retryAfter } : {}) },
        ),
      receipt() {
        const of = sid('SM');
        return {
          of,
          raw: statusCallback({
            accountSid: rig.fake.accountSid,
            messageSid: of,
            status: 'delivered',
            from: OUR_NUMBER,
            to: CITIZEN,
          }),
        };
      },
      logs: () => rig.logs.join(''),
      async feed(raw, opts = {}) {
        try {
          const r = await rig.post(encode(raw), { signature: opts.signature ?? 'valid' });
          return { events: events(r), status: status(r) };
        } catch (threw) {
          return { events: [], status: 500, threw };
        }
      },
      close: () => rig.close(),
    };
  },
});

describe('twilio-sms specifics', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig();
  });
  afterAll(async () => {
    await rig.close();
  });
  const incoming = (body: string, extra: Record<string, string> = {}) =>
    incomingSms({ accountSid: rig.fake.accountSid, from: CITIZEN, to: OUR_NUMBER, body, extra });

  describe('signatures', () => {
    it('acknowledges with empty TwiML and vouches for the sender phone', async () => {
      const r = await rig.post(incoming('hola'));
      expect(r.ack).toEqual({
        status: 200,
        body: '<?xml version="1.0" encoding="UTF-8"?><Response></Response>',
        contentType: 'text/xml',
      });
      expect(events(r)[0]).toMatchObject({
        kind: 'text',
        text: 'hola',
        address: { channel: 'twilio-sms', user: CITIZEN },
        identity: { phone: CITIZEN },
      });
    });

    it('checks the public URL, not the Host the proxy forwarded', async () => {
      const params = incoming('hola');
      const internal = await rig.post(params, { signedUrl: 'http://10.0.0.5:3000/webhooks/twilio-sms' });
      expect(internal).toMatchObject({ kind: 'rejected', reason: 'signature', ack: { status: 401 } });
      const proxied = await rig.post(params, {
        headers: { 'x-forwarded-host': 'ventanilla.example.gob.mx', 'x-forwarded-proto': 'https' },
      });
      expect(proxied.kind).toBe('accepted');
    });

    it('includes the query string Twilio called, and tolerates an explicit default port', async () => {
      const path = '/webhooks/twilio-sms?municipio=ver&v=2';
      expect((await rig.post(incoming('hola'), { path })).kind).toBe('accepted');
      // Signed without the query string: not what Twilio signed.
      expect((await rig.post(incoming('hola'), { path, signedUrl: WEBHOOK })).kind).toBe('rejected');
      // Signed with a different query: rejected.
      expect(
        (await rig.post(incoming('hola'), { path, signedUrl: `${WEBHOOK}?municipio=xal&v=2` })).kind,
      ).toBe('rejected');
      const port = await rig.post(incoming('hola'), {
        path,
        signedUrl: 'https://ventanilla.example.gob.mx:443/webhooks/twilio-sms?municipio=ver&v=2',
      });
      expect(port.kind).toBe('accepted');
    });

    it('works under a public path prefix (PUBLIC_URL with a path and a trailing slash)', async () => {
      const prefixed = await startRig({}, 'https://www.example.gob.mx/ventanilla/', rig.fake);
      const r = await prefixed.post(incoming('hola'), {
        signedUrl: 'https://www.example.gob.mx/ventanilla/webhooks/twilio-sms',
      });
      expect(r.kind).toBe('accepted');
    });

    it('accepts GET webhooks signed over the URL with its query string', async () => {
      const query = formBody(incoming('hola por GET'));
      const r = await rig.post({}, { method: 'GET', path: `/webhooks/twilio-sms?${query}` });
      expect(events(r)[0]).toMatchObject({ kind: 'text', text: 'hola por GET' });
    });

    it('rejects a signature made with another token, and a tampered body', async () => {
      expect(status(await rig.post(incoming('hola'), { signature: 'wrong' }))).toBe(401);
      const { body, headers } = signedWebhook(rig.fake.authToken, WEBHOOK, incoming('hola'));
      const r = await rig.adapter.receive!({
        method: 'POST',
        url: '/webhooks/twilio-sms',
        headers,
        rawBody: Buffer.from(body.replace('hola', 'adios')),
      });
      expect(r).toMatchObject({ kind: 'rejected', reason: 'signature', ack: { status: 401 } });
    });

    it('answers 400 without events to a signed payload that is not a Twilio message', async () => {
      for (const params of [
        { Body: 'hola' },
        { MessageSid: 'nope', From: CITIZEN, Body: 'x' },
        incoming('x', { From: 'anonymous' }),
      ]) {
        const r = await rig.post(params);
        expect(r).toMatchObject({ kind: 'rejected', reason: 'malformed', ack: { status: 400 } });
      }
    });

    it('ignores WhatsApp senders pointed at the SMS webhook', async () => {
      const r = await rig.post(incoming('hola', { From: `whatsapp:${CITIZEN}` }));
      expect(r).toMatchObject({ kind: 'rejected', reason: 'ignored', ack: { status: 200 } });
    });
  });

  describe('keywords and numbered answers', () => {
    it.each([
      'STOP',
      'stop',
      'BAJA',
      ' Bája ',
      'baja\n',
      'ALTA',
      'Alta',
      'START',
      'HELP',
      'AYUDA',
      'Ayúda',
      '2',
      ' 1 ',
    ])('passes %j through as text, unchanged', async (word) => {
      const r = await rig.post(incoming(word, { OptOutType: 'STOP' }));
      expect(events(r)).toHaveLength(1);
      expect(events(r)[0]).toMatchObject({ kind: 'text', text: word });
    });
  });

  describe('status callbacks', () => {
    const callback = (s: string, errorCode?: string, messageSid = sid('SM')) =>
      statusCallback({
        accountSid: rig.fake.accountSid,
        messageSid,
        status: s,
        from: OUR_NUMBER,
        to: CITIZEN,
        ...(errorCode ? { errorCode } : {}),
      });

    it('maps sent, delivered, undelivered and failed; ignores queued and the other in-between steps', async () => {
      const of = sid('SM');
      expect(events(await rig.post(callback('sent', undefined, of)))[0]).toMatchObject({
        kind: 'receipt',
        of,
        status: 'sent',
      });
      expect(events(await rig.post(callback('delivered', undefined, of)))[0]).toMatchObject({
        status: 'delivered',
      });
      expect(events(await rig.post(callback('undelivered', '30006', of)))[0]).toMatchObject({
        status: 'failed',
        error: 'Twilio 30006: landline or unreachable carrier',
      });
      expect(events(await rig.post(callback('failed', '21610', of)))[0]).toMatchObject({
        status: 'failed',
        error: expect.stringContaining('21610') as string,
      });
      for (const s of ['queued', 'accepted', 'sending', 'scheduled']) {
        const r = await rig.post(callback(s));
        expect(r).toMatchObject({
          kind: 'rejected',
          reason: 'ignored',
          ack: { status: 200, contentType: 'text/xml' },
        });
      }
    });

    it('tells an incoming message (SmsStatus=received, with Body) from a status callback', async () => {
      const r = await rig.post(incoming(''));
      expect(events(r)[0]).toMatchObject({ kind: 'text', text: '' });
    });

    it('gives a redelivered callback the same id, and each status its own', async () => {
      const of = sid('SM');
      const a = events(await rig.post(callback('delivered', undefined, of)))[0]!;
      const b = events(await rig.post(callback('delivered', undefined, of)))[0]!;
      const c = events(await rig.post(callback('sent', undefined, of)))[0]!;
      expect(a.id).toBe(b.id);
      expect(c.id).not.toBe(a.id);
    });
  });

  describe('MMS', () => {
    it('downloads every item with basic auth (following Twilio’s redirect) and keeps the text as caption', async () => {
      const messageSid = sid('MM');
      const photo = rig.fake.addMedia(TINY_PNG, 'image/png', { messageSid });
      const note = rig.fake.addMedia(Buffer.from('voice-bytes'), 'audio/ogg', { messageSid });
      const before = rig.counts.media_downloaded ?? 0;
      const r = await rig.post(
        incomingSms({
          accountSid: rig.fake.accountSid,
          from: CITIZEN,
          to: OUR_NUMBER,
          body: 'mire',
          messageSid,
          media: [
            { url: photo, mime: 'image/png' },
            { url: note, mime: 'audio/ogg' },
          ],
        }),
      );
      const e = events(r)[0]!;
      expect(e).toMatchObject({
        kind: 'media',
        media: [
          { mime: 'image/png', caption: 'mire' },
          { mime: 'audio/ogg', bytes: 11 },
        ],
      });
      const saved =
        e.kind === 'media' ? e.media.map((m) => rig.media.items.get(m.mediaId)?.bytes.toString()) : [];
      // The photo was re-encoded (metadata stripped); the voice note is stored as received.
      expect(saved[1]).toBe('voice-bytes');
      expect(saved[0]).not.toBe(TINY_PNG.toString());
      expect((rig.counts.media_downloaded ?? 0) - before).toBe(2);
      const downloads = rig.fake.requests.filter((q) => q.path.includes('/Media/'));
      expect(downloads.every((q) => q.authorized)).toBe(true);
    });

    it('never sends our credentials to a media URL outside the Twilio API', async () => {
      const r = await rig.post(
        incomingSms({
          accountSid: rig.fake.accountSid,
          from: CITIZEN,
          to: OUR_NUMBER,
          body: 'foto',
          media: [{ url: 'https://evil.example.com/steal', mime: 'image/jpeg' }],
        }),
      );
      // The photo is not fetched; the text still reaches the runtime.
      expect(events(r)[0]).toMatchObject({ kind: 'text', text: 'foto' });
    });

    it('still hands the text on when the download fails', async () => {
      const missing = `https://api.twilio.com/2010-04-01/Accounts/${rig.fake.accountSid}/Messages/${sid('MM')}/Media/${sid('ME')}`;
      const r = await rig.post(
        incomingSms({
          accountSid: rig.fake.accountSid,
          from: CITIZEN,
          to: OUR_NUMBER,
          body: 'aquí va',
          media: [{ url: missing, mime: 'image/jpeg' }],
        }),
      );
      expect(events(r)[0]).toMatchObject({ kind: 'text', text: 'aquí va' });
      expect(rig.logs.join('')).toContain('twilio media download failed');
    });
  });

  describe('encoding and segments', () => {
    it.each([
      ['a'.repeat(160), 'GSM-7', 160, 1],
      ['a'.repeat(161), 'GSM-7', 161, 2],
      ['a'.repeat(306), 'GSM-7', 306, 2],
      ['a'.repeat(307), 'GSM-7', 307, 3],
      ['€'.repeat(80), 'GSM-7', 160, 1],
      ['€'.repeat(81), 'GSM-7', 162, 2],
      // An escape sequence is never split: the € moves to part 2, so 306 septets need 3 parts here.
      [`${'a'.repeat(152)}€${'a'.repeat(152)}`, 'GSM-7', 306, 3],
      ['¿Dónde?', 'UCS-2', 7, 1],
      ['á'.repeat(70), 'UCS-2', 70, 1],
      ['á'.repeat(71), 'UCS-2', 71, 2],
      ['á'.repeat(134), 'UCS-2', 134, 2],
      ['á'.repeat(135), 'UCS-2', 135, 3],
      ['😀'.repeat(35), 'UCS-2', 70, 1],
      ['😀'.repeat(36), 'UCS-2', 72, 2],
      // A surrogate pair is never split either.
      [`${'á'.repeat(66)}😀${'á'.repeat(4)}`, 'UCS-2', 72, 2],
      ['Niño, pingüino, ¿qué? ¡Sé! É à ò ù ì', 'GSM-7', 36, 1],
    ])('%j → %s, %i units, %i segment(s)', (text, encoding, units, segments) => {
      expect(smsEncoding(text)).toEqual({ encoding, units, segments });
    });

    it('knows which Spanish letters GSM-7 has', () => {
      expect(isGsm7('é ñ Ñ ¿ ¡ ü Ü à ò ù ì É')).toBe(true);
      for (const ch of ['á', 'í', 'ó', 'ú', 'Á', 'Í', 'Ó', 'Ú', '’', '“', '–', '…', '😀'])
        expect(isGsm7(ch)).toBe(false);
    });

    it.each([
      ['Tu reporte está en revisión', true, 'Tu reporte esta en revision'],
      ['¿Cuál es la dirección?', true, '¿Cual es la direccion?'],
      ['Niño, pingüino: ¡sí!', true, 'Niño, pingüino: ¡si!'],
      ['“Baches” – folio VER-2026-000001…', true, '"Baches" - folio VER-2026-000001...'],
      ['Gracias 🙏', true, 'Gracias'],
      ['👍 Listo, quedó registrado', true, 'Listo, quedo registrado'],
      // Stays UCS-2 whatever we do (another script, a citizen's emoji): sent exactly as written.
      ['Descripción: 漏水 en la calle', true, 'Descripción: 漏水 en la calle'],
      ['Descripción: está feo 😡', true, 'Descripción: está feo 😡'],
      // Without transliteration only typography changes, and only when that alone reaches GSM-7.
      ['“Baches” – folio', false, '"Baches" - folio'],
      ['Tu reporte “está” en revisión', false, 'Tu reporte “está” en revisión'],
    ])('%j (transliterate %s) → %j', (input, transliterate, expected) => {
      expect(smsText(input, transliterate)).toBe(expected);
    });
  });

  describe('sending', () => {
    const ctx = { idempotencyKey: 'out:test' };
    const address = { channel: 'twilio-sms', user: CITIZEN };

    it('sends through the REST API with the status callback, in GSM-7, counting segments', async () => {
      const before = rig.counts.sms_segments ?? 0;
      const n = rig.fake.sent.length;
      const d = await rig.adapter.send(
        address,
        { kind: 'text', text: 'Tu reporte está en revisión – gracias' },
        ctx,
      );
      const sms = rig.fake.sent[n]!;
      expect(d.externalId).toBe(sms.sid);
      expect(sms).toMatchObject({
        to: CITIZEN,
        from: OUR_NUMBER,
        body: 'Tu reporte esta en revision - gracias',
        statusCallback: WEBHOOK,
      });
      expect((rig.counts.sms_segments ?? 0) - before).toBe(1);
      await rig.adapter.send(address, { kind: 'text', text: 'x'.repeat(200) }, ctx);
      expect((rig.counts.sms_segments ?? 0) - before).toBe(3);
    });

    it('uses a Messaging Service instead of a number when configured', async () => {
      const service = `MG${'ab'.repeat(16)}`;
      const viaService = await startRig(
        { from: undefined, messagingServiceSid: service },
        PUBLIC_URL,
        rig.fake,
      );
      const n = rig.fake.sent.length;
      await viaService.adapter.send(address, { kind: 'text', text: 'Hola' }, ctx);
      expect(rig.fake.sent[n]).toMatchObject({ messagingServiceSid: service });
      expect(rig.fake.sent[n]!.from).toBeUndefined();
    });

    it('numbers choices (up to 9) so that a reply "2" can pick the second', async () => {
      const n = rig.fake.sent.length;
      await rig.adapter.send(
        address,
        {
          kind: 'choices',
          text: '¿Confirmas?',
          choices: [
            { id: 'yes', label: 'Sí, enviar' },
            { id: 'no', label: 'No, corregir' },
          ],
        },
        ctx,
      );
      expect(rig.fake.sent[n]!.body).toBe('¿Confirmas?\n1. Si, enviar\n2. No, corregir');
      expect(rig.adapter.capabilities.choices).toEqual({ max: 9, style: 'numbered' });
    });

    it('splits text longer than 1600 characters into several messages', async () => {
      const n = rig.fake.sent.length;
      await rig.adapter.send(address, { kind: 'text', text: `${'palabra '.repeat(250)}fin` }, ctx);
      const parts = rig.fake.sent.slice(n);
      expect(parts.length).toBe(2);
      expect(parts.every((p) => p.body.length <= 1600)).toBe(true);
    });

    it('sends images as MMS only when TWILIO_SMS_MMS is on; otherwise as a link', async () => {
      const media = {
        kind: 'media' as const,
        url: '/media/abc.jpg',
        mime: 'image/jpeg',
        caption: 'Mapa de la zona',
      };
      let n = rig.fake.sent.length;
      // Degraded centrally (channels/kit/degrade.ts) to caption + URL, as given.
      await rig.adapter.send(address, { ...media, url: `${PUBLIC_URL}/media/abc.jpg` }, ctx);
      expect(rig.fake.sent[n]).toMatchObject({
        body: `Mapa de la zona\n${PUBLIC_URL}/media/abc.jpg`,
        mediaUrl: [],
      });
      const mms = await startRig({ mms: 'true' }, PUBLIC_URL, rig.fake);
      expect(mms.adapter.capabilities.media).toEqual(['image']);
      n = rig.fake.sent.length;
      // Twilio fetches MMS media itself: a relative URL is made absolute with PUBLIC_URL.
      await mms.adapter.send(address, media, ctx);
      expect(rig.fake.sent[n]).toMatchObject({
        body: 'Mapa de la zona',
        mediaUrl: [`${PUBLIC_URL}/media/abc.jpg`],
      });
    });

    it('maps Twilio errors: 429 with Retry-After, 5xx, and permanent 4xx with the Twilio code', async () => {
      const attempt = (failure: Parameters<FakeTwilio['failNext']>[0]) => {
        rig.fake.failNext(failure);
        return rig.adapter.send(address, { kind: 'text', text: 'x' }, ctx).then(
          () => undefined,
          (e: unknown) => e as ChannelError,
        );
      };
      expect(await attempt({ status: 429, retryAfter: 7 })).toMatchObject({
        code: 'CHANNEL_RATE_LIMITED',
        retryable: true,
        retryAfterMs: 7000,
      });
      expect(await attempt({ status: 503 })).toMatchObject({ code: 'CHANNEL_UNAVAILABLE', retryable: true });
      expect(await attempt('drop')).toMatchObject({ code: 'CHANNEL_UNAVAILABLE', retryable: true });
      const unsubscribed = await attempt({
        status: 400,
        code: 21610,
        message: 'Attempt to send to unsubscribed recipient',
      });
      expect(unsubscribed).toBeInstanceOf(ChannelError);
      expect(unsubscribed).toMatchObject({ code: 'CHANNEL_REJECTED', retryable: false, status: 400 });
      expect(unsubscribed!.message).toMatch(/21610.*opted out.*unsubscribed recipient/);
      expect(
        await attempt({ status: 400, code: 21211, message: "The 'To' number is not a valid phone number." }),
      ).toMatchObject({
        code: 'CHANNEL_REJECTED',
        message: expect.stringContaining('Twilio 21211: invalid phone number') as string,
      });
    });

    it('times out a hanging API as retryable', async () => {
      const impatient = await startRig({ timeoutMs: 200 }, PUBLIC_URL, rig.fake);
      rig.fake.failNext('hang');
      const e = await impatient.adapter
        .send(address, { kind: 'text', text: 'x' }, ctx)
        .catch((x: unknown) => x);
      expect(e).toMatchObject({
        code: 'CHANNEL_UNAVAILABLE',
        retryable: true,
        message: expect.stringContaining('timed out') as string,
      });
    });

    it('never leaks the auth token, even when Twilio echoes it', async () => {
      rig.fake.failNext({ status: 401, code: 20003, message: `Authenticate ${rig.fake.authToken}` });
      const e = await rig.adapter.send(address, { kind: 'text', text: 'x' }, ctx).catch((x: unknown) => x);
      expect(String(e) + JSON.stringify(e)).not.toContain(rig.fake.authToken);
      expect(rig.logs.join('')).not.toContain(rig.fake.authToken);
    });
  });

  describe('configuration', () => {
    const base = { accountSid: `AC${'0'.repeat(32)}`, authToken: 'a'.repeat(32) };
    it('needs a sending number or a Messaging Service, and checks SID shapes', () => {
      expect(twilioSmsConfig.safeParse(base).success).toBe(false);
      expect(twilioSmsConfig.safeParse({ ...base, from: '+522297654321' }).success).toBe(true);
      expect(twilioSmsConfig.safeParse({ ...base, messagingServiceSid: `MG${'0'.repeat(32)}` }).success).toBe(
        true,
      );
      expect(twilioSmsConfig.safeParse({ ...base, accountSid: 'SK123', from: '+522297654321' }).success).toBe(
        false,
      );
      expect(twilioSmsConfig.safeParse({ ...base, from: '2297654321' }).success).toBe(false);
    });
    it('defaults to the real API, GSM-7 transliteration on and MMS off', () => {
      expect(twilioSmsConfig.parse({ ...base, from: '+522297654321' })).toMatchObject({
        apiUrl: 'https://api.twilio.com',
        gsm7Transliterate: true,
        mms: false,
      });
      expect(
        twilioSmsConfig.parse({ ...base, from: '+522297654321', gsm7Transliterate: 'false', mms: '1' }),
      ).toMatchObject({ gsm7Transliterate: false, mms: true });
    });
    it('maps its environment variables', () => {
      expect(Object.keys(twilioSms.env ?? {})).toEqual([
        'TWILIO_ACCOUNT_SID',
        'TWILIO_AUTH_TOKEN',
        'TWILIO_SMS_FROM',
        'TWILIO_MESSAGING_SERVICE_SID',
        'TWILIO_API_URL',
        'TWILIO_SMS_GSM7_TRANSLITERATE',
        'TWILIO_SMS_MMS',
      ]);
    });
  });
});
