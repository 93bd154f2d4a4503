/**
 * SMS (and MMS) through Twilio Programmable Messaging.
 *
 * Inbound: Twilio POSTs `application/x-www-form-urlencoded` to `https://<PUBLIC_URL>/webhooks/twilio-sms`, for
 * incoming messages (https://www.twilio.com/docs/messaging/guides/webhook-request) and, on the same URL, for the
 * status callbacks of what we sent (https://www.twilio.com/docs/messaging/guides/track-outbound-message-status).
 * Every request carries `X-Twilio-Signature` (https://www.twilio.com/docs/usage/webhooks/webhooks-security).
 * Outbound: the `twilio` SDK's `messages.create`
 * (https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource) over a small fetch-based
 * HTTP client, so the API base URL is configurable and errors map to {@link ChannelError}s.
 * Encoding and segments: https://www.twilio.com/docs/glossary/what-is-gsm-7-character-encoding and
 * https://www.twilio.com/docs/glossary/what-sms-character-limit.
 */
import type twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import type * as TwilioHttp from 'twilio/lib/http/response.js';
import { z } from 'zod';
import { ChannelError } from './contract.ts';
import type {
  Address,
  AckResponse,
  Capabilities,
  ChannelAdapter,
  Delivery,
  Inbound,
  Outbound,
  Received,
  WebhookRequest,
} from './contract.ts';
import {
  defineChannel,
  inboundId,
  normalizePhone,
  numbered,
  providerFetch,
  retryAfterMs,
  safeEqual,
  sanitizeImage,
  scrubSecrets,
  splitText,
  twilioSignature,
} from './kit/index.ts';
import type { ChannelDeps } from './kit/index.ts';
import { MAX_IMAGE_BYTES } from './kit/image.ts';

const NAME = 'twilio-sms';
const TWILIO_API = 'https://api.twilio.com';
/** Twilio concatenates up to 1600 characters into one message (error 21617 above that). */
const MAX_BODY = 1600;
/** Twilio delivers at most 10 media items per MMS. */
const MAX_MEDIA = 10;
const E164 = /^\+[1-9]\d{6,14}$/;
const SID = /^[A-Z]{2}[0-9a-f]{32}$/i;

const flag = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes'),
]);

/** Twilio SMS settings (from `TWILIO_*` variables; account SID and auth token are shared with Twilio voice). */
export const twilioSmsConfig = z
  .object({
    accountSid: z.string().regex(/^AC[0-9a-f]{32}$/i, 'must be an account SID: AC followed by 32 hex digits'),
    authToken: z.string().min(16, 'too short for a Twilio auth token'),
    /** The sending number (E.164). */
    from: z.string().regex(E164, 'must be an E.164 phone number such as +522291234567').optional(),
    /** A Messaging Service; when set it is used instead of `from` (sender pool, Advanced Opt-Out). */
    messagingServiceSid: z
      .string()
      .regex(/^MG[0-9a-f]{32}$/i, 'must be a Messaging Service SID: MG followed by 32 hex digits')
      .optional(),
    apiUrl: z.string().url().default(TWILIO_API),
    /** Strip accents (á→a) and our decorative emoji when that keeps a message in cheap GSM-7. */
    gsm7Transliterate: flag.default(true),
    /** Send images as MMS (`MediaUrl`); otherwise images go out as a link. */
    mms: flag.default(false),
    /** Abort a REST call after this many milliseconds (not an environment variable). */
    timeoutMs: z.number().int().positive().default(10_000),
  })
  .refine((c) => c.from !== undefined || c.messagingServiceSid !== undefined, {
    message: 'required unless TWILIO_MESSAGING_SERVICE_SID is set',
    path: ['from'],
  });
/** See {@link twilioSmsConfig}. */
export type TwilioSmsConfig = z.infer<typeof twilioSmsConfig>;

const capabilities: Capabilities = {
  delivery: 'push',
  // No buttons in SMS: choices go out as "1. …" lines and the runtime maps a bare number back to the choice.
  choices: { max: 9, style: 'numbered' },
  media: [],
  maxText: MAX_BODY,
  typing: false,
  templates: false,
  speech: false,
};

// ---------------------------------------------------------------------------------------------------------------
// GSM-7 / UCS-2

// 3GPP TS 23.038 default alphabet (without ESC) and its extension table; extension characters take two septets.
const GSM_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
const GSM_EXTENSION = new Set('\f^{}\\[~]|€');

/** True when every character of `text` fits GSM-7 (basic or extension table). */
export function isGsm7(text: string): boolean {
  for (const ch of text) if (!GSM_BASIC.has(ch) && !GSM_EXTENSION.has(ch)) return false;
  return true;
}

/** How an SMS body is encoded and billed. */
export interface SmsEncoding {
  readonly encoding: 'GSM-7' | 'UCS-2';
  /** Septets (GSM-7) or UTF-16 code units (UCS-2). */
  readonly units: number;
  readonly segments: number;
}

/**
 * Encoding and segment count of a body: GSM-7 fits 160 septets in one SMS and 153 per part of a concatenated one,
 * UCS-2 fits 70 / 67 code units. An extension character (2 septets) or a surrogate pair (emoji, 2 units) is never
 * split across parts, so a part may end one unit short.
 */
export function smsEncoding(text: string): SmsEncoding {
  const gsm = isGsm7(text);
  const sizes = Array.from(text, (ch) => (gsm ? (GSM_EXTENSION.has(ch) ? 2 : 1) : ch.length));
  const units = sizes.reduce((a, b) => a + b, 0);
  const encoding = gsm ? 'GSM-7' : 'UCS-2';
  if (units <= (gsm ? 160 : 70)) return { encoding, units, segments: 1 };
  const part = gsm ? 153 : 67;
  let segments = 1;
  let used = 0;
  for (const size of sizes) {
    if (used + size > part) {
      segments++;
      used = 0;
    }
    used += size;
  }
  return { encoding, units, segments };
}

// Typography that word processors and translators put in texts; plain ASCII says the same thing in GSM-7.
const TYPOGRAPHIC: Readonly<Record<string, string>> = {
  '‘': "'",
  '’': "'",
  '‚': "'",
  '′': "'",
  '´': "'",
  '`': "'",
  '“': '"',
  '”': '"',
  '„': '"',
  '«': '"',
  '»': '"',
  '″': '"',
  '‐': '-',
  '‑': '-',
  '‒': '-',
  '–': '-',
  '—': '-',
  '−': '-',
  '…': '...',
  '•': '-',
  '·': '-',
  '\t': ' ',
  '\u00a0': ' ',
  '\u2007': ' ',
  '\u2009': ' ',
  '\u202f': ' ',
  '\u200b': '',
  '\u200c': '',
  '\u200d': '',
  '\u2060': '',
  '\ufeff': '',
};
const EXTRA: Readonly<Record<string, string>> = { '²': '2', '³': '3', º: 'o', ª: 'a', ç: 'c' };
// Only the decorative emoji of our own bot texts; anything else a citizen wrote is kept (and costs UCS-2).
const DECORATIVE = '(?:🙏|👍|🙂|😊|👋|✅|📍)\\ufe0f?';
const DECORATIVE_AT_LINE_START = new RegExp(`^${DECORATIVE} ?`, 'gmu');
const DECORATIVE_ELSEWHERE = new RegExp(` ?${DECORATIVE}`, 'gu');

/**
 * The body to send. Characters change only when that makes the *whole* message GSM-7: typographic quotes, dashes
 * and ellipses always; with `transliterate`, also accents GSM-7 lacks (á í ó ú → a i o u; é ñ ü ¿ ¡ are GSM-7 and
 * stay) and our decorative emoji. A message that stays UCS-2 anyway (a name in another script, a citizen's emoji)
 * goes out exactly as written, accents included.
 */
export function smsText(text: string, transliterate: boolean): string {
  if (isGsm7(text)) return text;
  const plain = Array.from(text, (ch) => TYPOGRAPHIC[ch] ?? ch).join('');
  if (isGsm7(plain)) return plain;
  if (!transliterate) return text;
  const stripped = Array.from(
    plain.replace(DECORATIVE_AT_LINE_START, '').replace(DECORATIVE_ELSEWHERE, ''),
    (ch) => {
      if (GSM_BASIC.has(ch) || GSM_EXTENSION.has(ch)) return ch;
      const extra = EXTRA[ch];
      if (extra !== undefined) return extra;
      const bare = ch.normalize('NFD').replace(/[\u0300-\u036f]/g, '');
      return bare && isGsm7(bare) ? bare : ch;
    },
  ).join('');
  return isGsm7(stripped) ? stripped : text;
}

// ---------------------------------------------------------------------------------------------------------------
// Outbound HTTP

type TwilioRequestClient = twilio.RequestClient;

// A few Twilio error codes worth a plain explanation in the desk (https://www.twilio.com/docs/api/errors).
const TWILIO_ERRORS: Readonly<Record<string, string>> = {
  '21211': 'invalid phone number',
  '21408': 'no permission to send to this region',
  '21610': 'the citizen opted out (STOP) of this sender',
  '21612': 'this number cannot be reached from our sender',
  '21614': 'not a mobile number',
  '30003': 'handset unreachable',
  '30004': 'message blocked',
  '30005': 'unknown destination',
  '30006': 'landline or unreachable carrier',
  '30007': 'filtered by the carrier',
  '30008': 'unknown delivery error',
};
const explain = (code: string): string =>
  `Twilio ${code}${TWILIO_ERRORS[code] ? `: ${TWILIO_ERRORS[code]}` : ''}`;

/**
 * The SDK's HTTP seam (`httpClient`): sends what `messages.create` builds to the configured base URL and turns
 * every non-2xx answer into a {@link ChannelError} (which the SDK passes through untouched). Why not the SDK's own
 * client: its axios agent cannot be pointed elsewhere, reads proxy/CA settings from `process.env`, and its
 * `RestException` drops the `Retry-After` header the outbox needs.
 */
class FetchRequestClient implements Pick<TwilioRequestClient, 'request'> {
  readonly #base: string;
  readonly #secrets: readonly string[];
  readonly #timeoutMs: number;
  constructor(base: string, secrets: readonly string[], timeoutMs: number) {
    this.#base = base;
    this.#secrets = secrets;
    this.#timeoutMs = timeoutMs;
  }

  async request<TData>(opts: RequestClient.RequestOptions<TData>): Promise<TwilioHttp.default<TData>> {
    const target = new URL(opts.uri);
    // The SDK may add an edge/region to the host (TWILIO_EDGE/TWILIO_REGION in the environment); we always call
    // the configured base URL.
    const url = `${this.#base}${target.pathname}${target.search}`;
    const label = `twilio ${opts.method.toUpperCase()} ${target.pathname.split('/').slice(-1)[0] ?? ''}`;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k] = v;
    if (opts.username && opts.password)
      headers.Authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
    const form = new URLSearchParams();
    for (const [k, v] of Object.entries<unknown>(opts.data ?? {})) {
      for (const item of Array.isArray(v) ? v : [v])
        if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean')
          form.append(k, String(item));
    }
    let res: Response;
    try {
      res = await fetch(url, {
        method: opts.method.toUpperCase(),
        headers,
        ...(opts.method === 'post' || opts.method === 'put' ? { body: form.toString() } : {}),
        signal: AbortSignal.timeout(opts.timeout ?? this.#timeoutMs),
      });
    } catch (err) {
      const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      throw new ChannelError(
        'CHANNEL_UNAVAILABLE',
        `${label}: ${timeout ? 'timed out' : 'connection failed'}`,
        {
          retryable: true,
        },
      );
    }
    let text: string;
    try {
      text = await res.text();
    } catch {
      throw new ChannelError('CHANNEL_UNAVAILABLE', `${label}: connection dropped while reading`, {
        retryable: true,
        status: res.status,
      });
    }
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: left as text
    }
    if (res.ok) {
      const statusCode = res.status;
      const responseHeaders = Object.fromEntries(res.headers);
      return {
        statusCode,
        body: body as TData,
        headers: responseHeaders,
        toString: () => `HTTP ${statusCode}`,
      };
    }
    const error = (body && typeof body === 'object' ? body : {}) as { code?: unknown; message?: unknown };
    const detail = [
      typeof error.code === 'number' || typeof error.code === 'string'
        ? explain(String(error.code))
        : undefined,
      typeof error.message === 'string' ? error.message : typeof body === 'string' ? body : undefined,
    ]
      .filter(Boolean)
      .join(' - ');
    const message = `${label}: Twilio answered ${res.status}${detail ? ` (${scrubSecrets(detail.replace(/\s+/g, ' ').slice(0, 300), this.#secrets)})` : ''}`;
    const after = retryAfterMs(res.headers.get('retry-after'));
    const extra = { status: res.status, ...(after !== undefined ? { retryAfterMs: after } : {}) };
    if (res.status === 429)
      throw new ChannelError('CHANNEL_RATE_LIMITED', message, { retryable: true, ...extra });
    if (res.status >= 500 || res.status === 408)
      throw new ChannelError('CHANNEL_UNAVAILABLE', message, { retryable: true, ...extra });
    throw new ChannelError('CHANNEL_REJECTED', message, extra);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Inbound

const TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';
const ACK_OK: AckResponse = { status: 200, body: TWIML_EMPTY, contentType: 'text/xml' };

type Params = Record<string, string | string[]>;

/** Form fields as Twilio signs them (a repeated name keeps every value). */
export function parseForm(text: string): Params {
  const out = Object.create(null) as Params;
  for (const [k, v] of new URLSearchParams(text)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/**
 * The URL Twilio signed, and the forms it may have used for it: Twilio signs the URL configured in the console,
 * which behind a proxy is the public one (not this request's Host), with or without an explicit default port.
 */
function signedUrls(publicBase: string, requestUrl: string): string[] {
  const q = requestUrl.indexOf('?');
  const url = `${publicBase}/webhooks/${NAME}${q >= 0 ? requestUrl.slice(q) : ''}`;
  const out = new Set([url]);
  try {
    const u = new URL(url);
    const port = u.protocol === 'https:' ? '443' : '80';
    out.add(url.replace(/^(https?:\/\/[^/?#:]+)(:\d+)?/, (_m, host: string) => host));
    if (!u.port) out.add(url.replace(/^(https?:\/\/[^/?#:]+)/, `$1:${port}`));
  } catch {
    // an unparsable URL is only tried as is
  }
  return [...out];
}

const RECEIPT: Readonly<Record<string, 'sent' | 'delivered' | 'read' | 'failed'>> = {
  sent: 'sent',
  delivered: 'delivered',
  read: 'read',
  undelivered: 'failed',
  failed: 'failed',
  canceled: 'failed',
};

/** Create the Twilio SMS adapter. */
function createTwilioSms(config: TwilioSmsConfig, deps: ChannelDeps): ChannelAdapter {
  const apiBase = config.apiUrl.replace(/\/+$/, '');
  const apiOrigin = new URL(apiBase).origin;
  const publicBase = deps.publicUrl.replace(/\/+$/, '');
  const secrets = [config.authToken];
  // The SDK is loaded on the first send, so deployments and tests that never send SMS do not pay for it.
  let loading: Promise<twilio.Twilio> | undefined;
  const client = () =>
    (loading ??= import('twilio').then(({ default: create }) =>
      create(config.accountSid, config.authToken, {
        // The SDK only ever calls `request` on its HTTP client.
        httpClient: new FetchRequestClient(
          apiBase,
          secrets,
          config.timeoutMs,
        ) as unknown as TwilioRequestClient,
        autoRetry: false,
      }),
    ));
  const statusCallback = `${publicBase}/webhooks/${NAME}`;
  const caps: Capabilities = { ...capabilities, media: config.mms ? ['image'] : [] };
  const basicAuth = `Basic ${Buffer.from(`${config.accountSid}:${config.authToken}`).toString('base64')}`;

  const one = (p: Params, key: string): string | undefined => {
    const v = p[key];
    return typeof v === 'string' ? v : undefined;
  };
  const rejected = (reason: 'signature' | 'malformed' | 'ignored'): Received => ({
    kind: 'rejected',
    reason,
    ack:
      reason === 'signature'
        ? { status: 401 }
        : reason === 'malformed'
          ? { status: 400, body: 'Bad Request', contentType: 'text/plain' }
          : ACK_OK,
  });
  const accepted = (event: Inbound): Received => ({ kind: 'accepted', events: [event], ack: ACK_OK });

  /** Download one MMS item through the API (basic auth; Twilio redirects to its media host). */
  async function download(rawUrl: string, declaredMime: string | undefined) {
    let url: URL;
    try {
      url = new URL(rawUrl);
      if (url.origin === TWILIO_API) url = new URL(`${apiBase}${url.pathname}${url.search}`);
    } catch {
      return null;
    }
    // Credentials go only to the Twilio API: a media URL elsewhere is not fetched.
    if (url.origin !== apiOrigin) return null;
    try {
      const res = await providerFetch(url.href, {
        headers: { authorization: basicAuth },
        label: 'twilio GET Media',
        secrets,
        timeoutMs: 20_000,
      });
      if (res.body.length === 0 || res.body.length > MAX_IMAGE_BYTES) return null;
      const mime = (declaredMime ?? res.headers.get('content-type') ?? 'application/octet-stream')
        .split(';')[0]!
        .trim()
        .toLowerCase();
      // Photos carry EXIF/GPS of the citizen's phone: keep only the pixels (as web chat and Telegram do).
      const clean = mime.startsWith('image/') ? await sanitizeImage(res.body) : { bytes: res.body, mime };
      const saved = await deps.media.save({
        bytes: clean.bytes,
        mime: clean.mime || 'application/octet-stream',
      });
      deps.count('media_downloaded');
      return { mediaId: saved.id, mime: saved.mime, bytes: saved.bytes };
    } catch (err) {
      deps.log.warn(
        { channel: NAME, code: err instanceof ChannelError ? err.code : 'MEDIA_SAVE_FAILED' },
        'twilio media download failed',
      );
      return null;
    }
  }

  async function incoming(p: Params, sid: string): Promise<Received> {
    const from = one(p, 'From') ?? '';
    // A WhatsApp or Messenger sender pointed at this webhook by mistake: not an SMS we can answer by SMS.
    if (/^[a-z]+:/i.test(from)) return rejected('ignored');
    const phone = normalizePhone(from);
    if (!E164.test(from) || !phone) return rejected('malformed');
    const body = one(p, 'Body') ?? '';
    const base = {
      id: inboundId(NAME, sid),
      externalId: sid,
      address: { channel: NAME, user: from },
      at: deps.now().toISOString(),
      identity: { phone },
      raw: { ...p },
    };
    const lat = Number(one(p, 'Latitude'));
    const lon = Number(one(p, 'Longitude'));
    if (one(p, 'Latitude') && one(p, 'Longitude') && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
      const label = one(p, 'Address') ?? one(p, 'Label') ?? '';
      return accepted({
        ...base,
        kind: 'location',
        lat,
        lon,
        ...(label ? { label: label.slice(0, 512) } : {}),
      });
    }
    const count = Math.min(MAX_MEDIA, Math.max(0, Math.trunc(Number(one(p, 'NumMedia') ?? '0')) || 0));
    const media = [];
    for (let i = 0; i < count; i++) {
      const url = one(p, `MediaUrl${i}`);
      const item = url ? await download(url, one(p, `MediaContentType${i}`)) : null;
      if (item) media.push(item);
    }
    if (media.length > 0) {
      const caption = body.trim() ? body.slice(0, 4096) : undefined;
      return accepted({
        ...base,
        kind: 'media',
        media: media.map((m, i) => (i === 0 && caption ? { ...m, caption } : m)),
      });
    }
    // Keywords (STOP, BAJA, ALTA, AYUDA…) and numbered answers ("2") are plain text: the runtime handles them on
    // every channel. An MMS whose media could not be fetched still reaches the runtime, as its text.
    return accepted({ ...base, kind: 'text', text: body });
  }

  function receipt(p: Params, sid: string, status: string): Received {
    const mapped = RECEIPT[status];
    // queued/accepted/sending/scheduled are steps before "sent": nothing to record.
    if (!mapped) return rejected('ignored');
    const to = one(p, 'To') ?? '';
    const code = one(p, 'ErrorCode');
    return accepted({
      id: inboundId(NAME, `${sid}:${status}`),
      externalId: `${sid}:${status}`,
      address: { channel: NAME, user: E164.test(to) ? to : sid },
      at: deps.now().toISOString(),
      raw: { ...p },
      kind: 'receipt',
      of: sid,
      status: mapped,
      ...(mapped === 'failed'
        ? { error: code && /^\d{1,6}$/.test(code) ? explain(code) : `Twilio status ${status}` }
        : {}),
    });
  }

  async function receive(req: WebhookRequest): Promise<Received> {
    const get = req.method.toUpperCase() === 'GET';
    const q = req.url.indexOf('?');
    const params = parseForm(get ? (q >= 0 ? req.url.slice(q + 1) : '') : req.rawBody.toString('utf8'));
    // GET webhooks are signed over the URL alone (its query string holds the parameters).
    const signedParams = get ? {} : params;
    const signature = req.headers['x-twilio-signature'];
    if (
      !signature ||
      !signedUrls(publicBase, req.url).some((url) =>
        safeEqual(twilioSignature(config.authToken, url, signedParams), signature),
      )
    )
      return rejected('signature');
    const sid = one(params, 'MessageSid') ?? one(params, 'SmsSid');
    if (!sid || !SID.test(sid)) return rejected('malformed');
    const status = (one(params, 'MessageStatus') ?? one(params, 'SmsStatus'))?.toLowerCase();
    // Incoming messages carry SmsStatus=received and a Body (possibly empty, for a photo); status callbacks never
    // carry a Body.
    if (status && status !== 'received' && status !== 'receiving' && params.Body === undefined)
      return receipt(params, sid, status);
    return incoming(params, sid);
  }

  async function create(to: string, body: string, mediaUrl?: string): Promise<Delivery> {
    let message;
    try {
      const sdk = await client();
      message = await sdk.messages.create({
        to,
        ...(config.messagingServiceSid
          ? { messagingServiceSid: config.messagingServiceSid }
          : { from: config.from! }),
        body,
        ...(mediaUrl ? { mediaUrl: [mediaUrl] } : {}),
        statusCallback,
      });
    } catch (err) {
      if (err instanceof ChannelError) throw err;
      throw new ChannelError(
        'CHANNEL_REJECTED',
        `twilio POST Messages.json: ${scrubSecrets(err instanceof Error ? err.message : String(err), secrets).slice(0, 300)}`,
      );
    }
    if (typeof message.sid !== 'string' || !message.sid)
      throw new ChannelError('CHANNEL_REJECTED', 'twilio POST Messages.json: no message sid in the answer');
    if (!mediaUrl) deps.count('sms_segments', smsEncoding(body).segments);
    return { externalId: message.sid };
  }

  async function sendText(to: string, text: string): Promise<Delivery> {
    const body = smsText(text, config.gsm7Transliterate);
    // Transliteration may lengthen a text already split at 1600 ("…" → "..."): split again if it must.
    let last: Delivery | undefined;
    for (const part of body.length > MAX_BODY ? splitText(body, MAX_BODY) : [body])
      last = await create(to, part);
    return last!;
  }

  return {
    name: NAME,
    capabilities: caps,
    receive: async (req) => {
      try {
        return await receive(req);
      } catch (err) {
        deps.log.warn(
          { channel: NAME, code: err instanceof ChannelError ? err.code : 'CHANNEL_PAYLOAD_INVALID' },
          'twilio webhook could not be read',
        );
        return rejected('malformed');
      }
    },
    async send(address: Address, outbound: Outbound): Promise<Delivery> {
      switch (outbound.kind) {
        case 'text':
        case 'speech':
          return sendText(address.user, outbound.text);
        case 'choices':
          return sendText(
            address.user,
            numbered(
              outbound.text,
              outbound.choices.map((c) => c.label),
            ),
          );
        case 'template':
          return sendText(address.user, outbound.fallbackText);
        case 'media': {
          const url = /^https?:\/\//i.test(outbound.url)
            ? outbound.url
            : `${publicBase}/${outbound.url.replace(/^\/+/, '')}`;
          if (config.mms && outbound.mime.startsWith('image/'))
            return create(address.user, smsText(outbound.caption ?? '', config.gsm7Transliterate), url);
          return sendText(address.user, [outbound.caption, url].filter(Boolean).join('\n'));
        }
        case 'typing':
          throw new ChannelError('CHANNEL_REJECTED', 'SMS has no typing indicator');
      }
    },
  };
}

/** The Twilio SMS channel. */
export const twilioSms = defineChannel({
  name: NAME,
  config: twilioSmsConfig,
  // The account variables are shared with Twilio voice: only a sender turns SMS on.
  enabledBy: ['TWILIO_SMS_FROM', 'TWILIO_MESSAGING_SERVICE_SID'],
  env: {
    TWILIO_ACCOUNT_SID: 'accountSid',
    TWILIO_AUTH_TOKEN: 'authToken',
    TWILIO_SMS_FROM: 'from',
    TWILIO_MESSAGING_SERVICE_SID: 'messagingServiceSid',
    TWILIO_API_URL: 'apiUrl',
    TWILIO_SMS_GSM7_TRANSLITERATE: 'gsm7Transliterate',
    TWILIO_SMS_MMS: 'mms',
  },
  capabilities,
  create: (config: TwilioSmsConfig, deps: ChannelDeps) => createTwilioSms(config, deps),
});
