/**
 * WhatsApp through WhatsApp Web (whatsapp-web.js driving a headless Chromium), for small offices that pair one
 * phone instead of using the Cloud API. Opt-in only (`WHATSAPP_WEB_ENABLED=true`): WhatsApp's terms do not allow
 * automated WhatsApp Web sessions and numbers used this way may be banned; use the `whatsapp` channel (Cloud API)
 * for anything important.
 *
 * Library docs:
 *  - https://wwebjs.dev/guide/ and https://docs.wwebjs.dev/Client.html (events `qr`, `authenticated`, `ready`,
 *    `auth_failure`, `disconnected`, `message`, `message_ack`; `sendMessage`)
 *  - https://docs.wwebjs.dev/Message.html (`type`, `hasMedia`, `downloadMedia()`, `location`, `fromMe`, `isStatus`)
 *  - https://docs.wwebjs.dev/MessageMedia.html and https://docs.wwebjs.dev/LocalAuth.html
 *  - https://docs.wwebjs.dev/global.html#MessageAck (-1 error, 0 pending, 1 server, 2 device, 3 read, 4 played)
 *
 * Decisions:
 *  - An event source, not a webhook: there is nothing to sign. The paired session (kept by `LocalAuth` in the
 *    channel's data folder) is the trust anchor, so whoever can read that folder or see the QR owns the account.
 *    The QR string is therefore never logged: it is printed as a picture in the terminal and kept in memory for the
 *    admin page (`pairing()`).
 *  - `start()` never waits for Chromium or the phone: the client initialises in the background, and failures
 *    reconnect with capped exponential backoff plus jitter. A missing Chromium is a configuration error: the channel
 *    reports `error` and does not retry.
 *  - Choices are numbered text. WhatsApp Web's buttons and lists are deprecated in whatsapp-web.js and no longer
 *    reach phones (https://github.com/wwebjs/whatsapp-web.js/pull/2443); legacy `buttons_response` and
 *    `list_response` replies are still understood.
 *  - Groups, status updates, channels (newsletters), broadcasts, our own messages and stickers are ignored: the
 *    bot answers people writing to it directly.
 *  - Outbound media is fetched by us (status checked, size capped) and handed over as a `MessageMedia`;
 *    `MessageMedia.fromUrl` would happily send a 404 page as a picture.
 *  - WhatsApp Web does not redeliver: a message whose turn fails is logged and lost, like a dropped call.
 */
import { accessSync, constants as fsConstants } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type WAWebJS from 'whatsapp-web.js';
import { z } from 'zod';
import { ChannelError, InboundSchema } from './contract.ts';
import type {
  Address,
  Capabilities,
  ChannelAdapter,
  ChannelHealth,
  Delivery,
  Emit,
  Inbound,
  Outbound,
} from './contract.ts';
import { defineChannel, inboundId, normalizePhone, numbered, providerFetch, splitText } from './kit/index.ts';
import type { ChannelDeps } from './kit/index.ts';

const NAME = 'whatsapp-web';

const ENABLE_MESSAGE =
  'set WHATSAPP_WEB_ENABLED=true to use whatsapp-web.js (see README for the terms-of-service risk)';

/** WhatsApp Web settings (from `WHATSAPP_WEB_*` variables). */
export const whatsappWebConfig = z.object({
  /** Must be `true`: an explicit opt-in, because automating WhatsApp Web can get the number banned. */
  enabled: z.unknown().transform((v, ctx): true => {
    if (v === true || (typeof v === 'string' && v.trim().toLowerCase() === 'true')) return true;
    ctx.addIssue({ code: 'custom', message: ENABLE_MESSAGE });
    return z.NEVER;
  }),
  /** The Chromium (or Chrome) binary puppeteer launches; no browser is downloaded at install time. */
  chromium: z.string().min(1).max(1024).default('/usr/bin/chromium'),
  /** `LocalAuth` client id: names the session folder, so several numbers could share one data folder. */
  clientId: z
    .string()
    .regex(/^[-_\w]{1,64}$/, 'only letters, digits, "-" and "_" (at most 64)')
    .default('ventanilla'),
});
/** Parsed {@link whatsappWebConfig}. */
export type WhatsappWebConfig = z.infer<typeof whatsappWebConfig>;

/** What WhatsApp Web can show. Buttons and lists are deprecated there, so choices are numbered text. */
export const whatsappWebCapabilities: Capabilities = {
  delivery: 'push',
  choices: { max: 10, style: 'numbered' },
  media: ['image', 'audio', 'video', 'document'],
  maxText: 4096,
  typing: false,
  templates: false,
  speech: false,
};

/** Chromium flags for a headless server: no GPU, no sandbox (containers), no background traffic. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
] as const;

/** Largest media we download from a citizen or fetch to send (WhatsApp's own limit is 16 MB for photos). */
const MAX_MEDIA_BYTES = 25 * 1024 * 1024;
const SEND_TIMEOUT_MS = 60_000;
const DESTROY_TIMEOUT_MS = 10_000;
const PAIRING_DETAIL =
  'scan the QR shown in the terminal or the admin page (WhatsApp → Linked devices → Link a device)';

// ---------------------------------------------------------------------------------------------------------------
// The narrow shapes of whatsapp-web.js this adapter uses (tests build them by hand, no browser needed).

/** The fields and methods of a whatsapp-web.js `Message` that the adapter reads. */
export interface WwebMessageLike {
  readonly id: { readonly _serialized: string };
  /** Sender's wid: `5212291234567@c.us`, `…@lid`, `…@g.us` (group), `status@broadcast`. */
  readonly from: string;
  readonly to?: string;
  /** Set for group messages (the member who wrote). */
  readonly author?: string;
  readonly body?: string;
  /** `chat`, `image`, `video`, `ptt`, `audio`, `document`, `location`, `sticker`, `buttons_response`, … */
  readonly type: string;
  /** Seconds since the epoch. */
  readonly timestamp?: number;
  readonly hasMedia?: boolean;
  readonly fromMe?: boolean;
  readonly isStatus?: boolean;
  readonly broadcast?: boolean;
  readonly location?: {
    readonly latitude: number | string;
    readonly longitude: number | string;
    readonly description?: string;
    readonly name?: string;
    readonly address?: string;
  };
  readonly selectedButtonId?: string;
  readonly selectedRowId?: string;
  downloadMedia?(): Promise<WwebMediaLike | undefined | null>;
}

/** A whatsapp-web.js `MessageMedia` as it comes out of `downloadMedia()`. */
export interface WwebMediaLike {
  readonly mimetype: string;
  /** Base64 bytes. */
  readonly data: string;
  readonly filename?: string | null;
  readonly filesize?: number | null;
}

/** The whatsapp-web.js `Client` methods the adapter calls (an EventEmitter). */
export interface WwebClientLike {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  initialize(): Promise<void>;
  destroy(): Promise<void>;
  sendMessage(
    chatId: string,
    content: unknown,
    options?: { caption?: string; linkPreview?: boolean; sendMediaAsDocument?: boolean },
  ): Promise<{ readonly id: { readonly _serialized: string } } | null | undefined>;
}

/** How the adapter launches a client: the product's comes from whatsapp-web.js, tests pass a fake. */
export interface WwebClientOptions {
  readonly chromium: string;
  readonly args: readonly string[];
  /** `LocalAuth({ dataPath })`: the paired session lives here. */
  readonly dataDir: string;
  readonly clientId: string;
}

/** The seam between the adapter and whatsapp-web.js. */
export interface WwebDriver {
  /** A configuration problem that retrying cannot fix (e.g. no Chromium), or undefined. */
  preflight?(options: WwebClientOptions): string | undefined;
  /** A new, not yet initialised client. */
  createClient(options: WwebClientOptions): WwebClientLike | Promise<WwebClientLike>;
  /** A `MessageMedia` to send (sendMessage checks `instanceof`, so plain objects would not do). */
  messageMedia(mimetype: string, base64: string, filename?: string): unknown;
}

/** Optional extras of {@link ChannelDeps} for this channel (tests use them; the product takes the defaults). */
export interface WhatsappWebDeps extends ChannelDeps {
  readonly driver?: WwebDriver;
  /** Show a QR to whoever runs the server (default: qrcode-terminal, small, on stdout). */
  readonly printQr?: (qr: string) => void;
  /** Reconnect backoff: `min(maxMs, baseMs · 2^attempt)`, then jitter between half and all of it. */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  readonly random?: () => number;
  /** Give up on a start that shows neither a QR nor `ready` after this long (default 3 minutes). */
  readonly startTimeoutMs?: number;
}

/** What the admin page shows while pairing; `qr` is the account itself, so it is for admins only. */
export interface WhatsappWebPairing {
  readonly state: ChannelHealth['state'];
  readonly qr?: string;
  /** When the current state began (ISO 8601). */
  readonly since: string;
}

/** The running adapter: a channel adapter plus pairing state for the admin endpoint. */
export interface WhatsappWebAdapter extends ChannelAdapter {
  start(emit: Emit): Promise<void>;
  stop(): Promise<void>;
  health(): ChannelHealth;
  pairing(): WhatsappWebPairing;
  /** Resolves once every message received so far has been handed to `emit` (tests, shutdown). */
  settled(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Inbound mapping.

const MessageShape = z.object({
  id: z.object({ _serialized: z.string().min(1).max(400) }),
  from: z.string().min(3).max(200),
  to: z.string().max(200).optional().catch(undefined),
  author: z.string().max(200).optional().catch(undefined),
  body: z.string().max(65_536).optional().catch(undefined),
  type: z.string().min(1).max(64),
  timestamp: z.number().int().positive().optional().catch(undefined),
  hasMedia: z.boolean().optional().catch(undefined),
  fromMe: z.boolean().optional(),
  isStatus: z.boolean().optional(),
  broadcast: z.boolean().optional().catch(undefined),
  location: z
    .object({
      latitude: z.coerce.number().min(-90).max(90),
      longitude: z.coerce.number().min(-180).max(180),
      description: z.string().optional().catch(undefined),
      name: z.string().optional().catch(undefined),
      address: z.string().optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
  selectedButtonId: z.string().min(1).max(256).optional().catch(undefined),
  selectedRowId: z.string().min(1).max(256).optional().catch(undefined),
});
type ParsedMessage = z.infer<typeof MessageShape>;

/** Only people writing directly: `@c.us` (phone) or `@lid` (WhatsApp's privacy id, no phone attached). */
const DIRECT_CHAT = /^[\w.:-]+@(c\.us|lid)$/;
const MEDIA_TYPES = new Set(['image', 'video', 'document', 'audio', 'ptt']);

/** E.164 phone of a `…@c.us` wid (`5212291234567@c.us` → `+522291234567`), or undefined (`@lid`, groups). */
export function phoneOfWid(wid: string): string | undefined {
  const m = /^(\d+)(?::\d+)?@c\.us$/.exec(wid);
  return (m && normalizePhone(m[1])) ?? undefined;
}

function at(seconds: number | undefined, now: () => Date): string {
  const d = seconds !== undefined ? new Date(seconds * 1000) : undefined;
  return d && !Number.isNaN(d.getTime()) && d.getFullYear() < 10_000 ? d.toISOString() : now().toISOString();
}

/** A secret-free, serialisable copy of the message (the real object holds the client and the media key). */
function rawOf(m: ParsedMessage): Record<string, unknown> {
  return {
    id: m.id._serialized,
    from: m.from,
    ...(m.to ? { to: m.to } : {}),
    type: m.type,
    ...(m.timestamp !== undefined ? { timestamp: m.timestamp } : {}),
    ...(m.hasMedia ? { hasMedia: true } : {}),
    ...(m.body ? { body: m.body } : {}),
    ...(m.location ? { location: m.location } : {}),
    ...(m.selectedButtonId ? { selectedButtonId: m.selectedButtonId } : {}),
    ...(m.selectedRowId ? { selectedRowId: m.selectedRowId } : {}),
  };
}

/**
 * Map one whatsapp-web.js `message` event to an {@link Inbound}, or null when the bot must not answer it (groups,
 * status, own messages, stickers, unusable payloads). Media is downloaded and stored through `deps.media`.
 * Never throws.
 */
export async function toInbound(
  msg: WwebMessageLike,
  deps: Pick<ChannelDeps, 'media' | 'now' | 'count' | 'log'>,
): Promise<Inbound | null> {
  try {
    const parsed = MessageShape.safeParse(msg);
    if (!parsed.success) return null;
    const m = parsed.data;
    if (m.fromMe || m.isStatus || m.broadcast || m.author || !DIRECT_CHAT.test(m.from)) return null;
    const phone = phoneOfWid(m.from);
    const base = {
      id: inboundId(NAME, m.id._serialized),
      externalId: m.id._serialized,
      address: { channel: NAME, user: m.from },
      at: at(m.timestamp, deps.now),
      ...(phone ? { identity: { phone } } : {}),
      raw: rawOf(m),
    };
    const body = m.body?.trim() ?? '';
    let event: Inbound | null = null;
    switch (m.type) {
      case 'chat':
        event = body ? { ...base, kind: 'text', text: body } : null;
        break;
      case 'buttons_response':
      case 'list_response': {
        const choiceId = m.type === 'buttons_response' ? m.selectedButtonId : m.selectedRowId;
        event = choiceId
          ? { ...base, kind: 'choice', choiceId, ...(body ? { text: body } : {}) }
          : body
            ? { ...base, kind: 'text', text: body }
            : null;
        break;
      }
      case 'location': {
        if (!m.location) break;
        const { latitude, longitude, description, name, address } = m.location;
        const label = (description || [name, address].filter(Boolean).join(', ')).trim().slice(0, 512);
        event = { ...base, kind: 'location', lat: latitude, lon: longitude, ...(label ? { label } : {}) };
        break;
      }
      default:
        if (MEDIA_TYPES.has(m.type) && m.hasMedia) event = await mediaEvent(msg, m, base, body, deps);
    }
    if (!event) return null;
    const valid = InboundSchema.safeParse(event);
    return valid.success ? valid.data : null;
  } catch (err) {
    deps.log.warn({ channel: NAME, err: short(err) }, 'whatsapp-web message could not be mapped');
    return null;
  }
}

async function mediaEvent(
  msg: WwebMessageLike,
  m: ParsedMessage,
  base: Omit<Extract<Inbound, { kind: 'text' }>, 'kind' | 'text'>,
  body: string,
  deps: Pick<ChannelDeps, 'media' | 'count' | 'log'>,
): Promise<Inbound | null> {
  // Voice notes and audio carry no caption; for the rest `body` is the caption.
  const caption = m.type === 'ptt' || m.type === 'audio' ? '' : body.slice(0, 4096);
  const fallback = (): Inbound | null => (caption ? { ...base, kind: 'text', text: caption } : null);
  let media: WwebMediaLike | null | undefined;
  try {
    media = typeof msg.downloadMedia === 'function' ? await msg.downloadMedia() : undefined;
  } catch (err) {
    deps.log.warn({ channel: NAME, type: m.type, err: short(err) }, 'whatsapp-web media download failed');
    return fallback();
  }
  if (!media || typeof media.data !== 'string' || typeof media.mimetype !== 'string' || !media.mimetype) {
    // Old media expires on the phone; keep at least what the citizen wrote.
    return fallback();
  }
  if (Math.floor((media.data.length * 3) / 4) > MAX_MEDIA_BYTES) {
    deps.log.warn({ channel: NAME, type: m.type }, 'whatsapp-web media larger than 25 MB ignored');
    return fallback();
  }
  const bytes = Buffer.from(media.data, 'base64');
  if (bytes.length === 0) return fallback();
  const mime = media.mimetype.slice(0, 255);
  const stored = await deps.media.save({ bytes, mime, contactHint: m.from });
  deps.count('media_downloaded');
  return {
    ...base,
    kind: 'media',
    media: [{ mediaId: stored.id, mime, bytes: stored.bytes, ...(caption ? { caption } : {}) }],
  };
}

const ACKS: Readonly<Record<number, 'sent' | 'delivered' | 'read' | 'failed'>> = {
  [-1]: 'failed',
  1: 'sent',
  2: 'delivered',
  3: 'read',
  4: 'read', // played (voice notes)
};

/** Map a `message_ack` event (our outbound message, its new ack level) to a receipt, or null. Never throws. */
export function toReceipt(
  msg: Pick<WwebMessageLike, 'id' | 'to' | 'from'> | null | undefined,
  ack: unknown,
  deps: Pick<ChannelDeps, 'now'>,
): Inbound | null {
  try {
    const status = typeof ack === 'number' ? ACKS[ack] : undefined;
    const of = msg?.id?._serialized;
    const to = msg?.to;
    if (!status || typeof of !== 'string' || !of || typeof to !== 'string' || !DIRECT_CHAT.test(to))
      return null;
    const externalId = `${of}#ack${ack as number}`;
    const event = InboundSchema.safeParse({
      id: inboundId(NAME, externalId),
      externalId,
      address: { channel: NAME, user: to },
      at: deps.now().toISOString(),
      kind: 'receipt',
      of,
      status,
      ...(status === 'failed' ? { error: 'WhatsApp reported the message as failed' } : {}),
      raw: { event: 'message_ack', id: of, to, ack },
    });
    return event.success ? event.data : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Outbound mapping.

/** A chat id for an address: the wid we received from, or a bare phone number (`+52…` → `52…@c.us`). */
export function chatIdOf(user: string): string {
  if (user.includes('@')) return user;
  const digits = user.replace(/\D/g, '');
  if (!digits) throw new ChannelError('CHANNEL_REJECTED', 'WhatsApp Web: the address is not a phone or wid');
  return `${digits}@c.us`;
}

/** First line of an error, short, with long digit runs (phones, wids) masked. */
function short(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return (text.split('\n')[0] ?? '').replace(/\d{6,}/g, '…').slice(0, 200);
}

/**
 * whatsapp-web.js failures → channel errors. A bad recipient (`invalid wid`, `No LID for user`) is permanent;
 * everything else (closed page, protocol errors, timeouts, a phone that is offline) is worth retrying.
 */
export function sendError(err: unknown): ChannelError {
  if (err instanceof ChannelError) return err;
  const text = short(err);
  if (/invalid wid|wid error|no lid for user|not a valid|not registered/i.test(text)) {
    return new ChannelError('CHANNEL_REJECTED', `WhatsApp Web refused the recipient (${text})`, {
      cause: err,
    });
  }
  return new ChannelError('CHANNEL_UNAVAILABLE', `WhatsApp Web could not send (${text})`, {
    retryable: true,
    cause: err,
  });
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Send one outbound message through a client; null for kinds that send nothing (typing). Choices become numbered
 * text; `loadMedia` turns a media URL into a `MessageMedia`. Throws {@link ChannelError}.
 */
export async function sendOutbound(
  client: WwebClientLike,
  chatId: string,
  outbound: Outbound,
  loadMedia: (outbound: Extract<Outbound, { kind: 'media' }>) => Promise<unknown>,
): Promise<Delivery | null> {
  const call = async (content: unknown, options: Parameters<WwebClientLike['sendMessage']>[2]) => {
    let sent;
    try {
      sent = await withTimeout(client.sendMessage(chatId, content, options), SEND_TIMEOUT_MS, 'sendMessage');
    } catch (err) {
      throw sendError(err);
    }
    const id = sent?.id?._serialized;
    // sendMessage resolves empty when WhatsApp Web has no chat for the id (not on WhatsApp).
    if (typeof id !== 'string' || !id)
      throw new ChannelError('CHANNEL_REJECTED', 'WhatsApp Web found no chat for this recipient');
    return id;
  };
  const texts = async (text: string): Promise<Delivery> => {
    let id = '';
    for (const part of splitText(text, whatsappWebCapabilities.maxText))
      id = await call(part, { linkPreview: false });
    return { externalId: id };
  };
  switch (outbound.kind) {
    case 'text':
      return texts(outbound.text);
    case 'choices':
      return texts(
        numbered(
          outbound.text,
          outbound.choices.map((c) => c.label),
        ),
      );
    case 'media': {
      const media = await loadMedia(outbound);
      const kind = outbound.mime.split('/')[0];
      const caption = outbound.caption?.trim();
      const asDocument = kind !== 'image' && kind !== 'video' && kind !== 'audio';
      // Audio shows no caption on WhatsApp: send it as its own message first.
      if (caption && kind === 'audio') await texts(caption);
      return {
        externalId: await call(media, {
          ...(caption && kind !== 'audio' ? { caption: caption.slice(0, 1024) } : {}),
          ...(asDocument ? { sendMediaAsDocument: true } : {}),
        }),
      };
    }
    case 'template':
      return texts(outbound.fallbackText);
    case 'speech':
      return texts(outbound.text);
    case 'typing':
      return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The real whatsapp-web.js, loaded on first use (it pulls in puppeteer: ~0.6 s that deployments without this
// channel should not pay).

const require = createRequire(import.meta.url);

/** The product's driver: whatsapp-web.js `Client` with `LocalAuth`, launching the configured Chromium. */
export function whatsappWebDriver(): WwebDriver {
  let lib: typeof WAWebJS | undefined;
  const load = (): typeof WAWebJS => (lib ??= require('whatsapp-web.js') as typeof WAWebJS);
  return {
    preflight(o) {
      try {
        accessSync(o.chromium, fsConstants.X_OK);
        return undefined;
      } catch {
        return `Chromium not found at ${o.chromium}; set WHATSAPP_WEB_CHROMIUM`;
      }
    },
    async createClient(o) {
      await Promise.resolve(); // let start() return before the synchronous require
      const w = load();
      return new w.Client({
        authStrategy: new w.LocalAuth({ dataPath: o.dataDir, clientId: o.clientId }),
        // The default cache folder is relative to the working directory; keep everything in the data folder.
        webVersionCache: { type: 'local', path: join(o.dataDir, 'web-cache') },
        puppeteer: { executablePath: o.chromium, headless: true, args: [...o.args] },
      });
    },
    messageMedia(mimetype, base64, filename) {
      return new (load().MessageMedia)(mimetype, base64, filename);
    },
  };
}

/** Print a QR as a small picture on stdout (qrcode-terminal); the string itself is never logged. */
function printQrToTerminal(qr: string): void {
  const qrcode = require('qrcode-terminal') as {
    generate(text: string, opts: { small: boolean }, cb: (out: string) => void): void;
  };
  qrcode.generate(qr, { small: true }, (out) =>
    process.stdout.write(
      `\nWhatsApp Web: scan this QR with the office phone (WhatsApp → Linked devices → Link a device)\n${out}\n`,
    ),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The adapter.

export const whatsappWeb = defineChannel({
  name: NAME,
  config: whatsappWebConfig,
  env: {
    WHATSAPP_WEB_ENABLED: 'enabled',
    WHATSAPP_WEB_CHROMIUM: 'chromium',
    WHATSAPP_WEB_CLIENT_ID: 'clientId',
  },
  capabilities: whatsappWebCapabilities,
  create(config: WhatsappWebConfig, deps: WhatsappWebDeps): WhatsappWebAdapter {
    const driver = deps.driver ?? whatsappWebDriver();
    const printQr = deps.printQr ?? printQrToTerminal;
    const backoff = deps.backoff ?? { baseMs: 2_000, maxMs: 5 * 60_000 };
    const random = deps.random ?? Math.random;
    const startTimeoutMs = deps.startTimeoutMs ?? 3 * 60_000;
    const options: WwebClientOptions = {
      chromium: config.chromium,
      args: CHROMIUM_ARGS,
      dataDir: deps.dataDir,
      clientId: config.clientId,
    };
    const log = deps.log;

    let state: ChannelHealth['state'] = 'starting';
    let detail = 'not started';
    let since = deps.now();
    let qr: string | undefined;
    let emit: Emit | undefined;
    let current: WwebClientLike | undefined;
    let stopped = true;
    let attempt = 0;
    let retryTimer: NodeJS.Timeout | undefined;
    let startTimer: NodeJS.Timeout | undefined;
    /** Per-chat queues, so one citizen's messages reach the runtime in order even when media is slow. */
    const chains = new Map<string, Promise<void>>();

    const setState = (next: ChannelHealth['state'], why: string) => {
      if (next !== state) since = deps.now();
      state = next;
      detail = why;
      if (next !== 'pairing') qr = undefined;
    };

    const clearStartTimer = () => {
      clearTimeout(startTimer);
      startTimer = undefined;
    };

    async function destroy(client: WwebClientLike): Promise<void> {
      await withTimeout(client.destroy(), DESTROY_TIMEOUT_MS, 'destroy').catch((err: unknown) =>
        log.debug({ channel: NAME, err: short(err) }, 'whatsapp-web client destroy failed'),
      );
    }

    /** Try again later: capped exponential backoff with "equal jitter" (half fixed, half random). */
    function scheduleRetry(why: string): void {
      clearStartTimer();
      if (stopped) return;
      const cap = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempt, 30));
      const delay = Math.round(cap / 2 + random() * (cap / 2));
      attempt++;
      setState('disconnected', `${why}; reconnecting in ${Math.max(1, Math.round(delay / 1000))} s`);
      log.warn({ channel: NAME, reason: why, attempt, delayMs: delay }, 'whatsapp-web disconnected');
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        void connect();
      }, delay);
      retryTimer.unref();
    }

    /** Drop a client that failed or disconnected, then schedule a new one. */
    async function drop(client: WwebClientLike, why: string): Promise<void> {
      if (client !== current) return; // a stale client's last words
      current = undefined;
      clearStartTimer();
      setState('disconnected', why);
      // Destroy before retrying: the next Chromium needs the session folder's lock.
      await destroy(client);
      scheduleRetry(why);
    }

    function onMessage(client: WwebClientLike, msg: WwebMessageLike): void {
      if (client !== current || !emit) return;
      const deliver = emit;
      const key = typeof msg?.from === 'string' ? msg.from : '';
      const previous = chains.get(key) ?? Promise.resolve();
      const next = previous.then(async () => {
        const inbound = await toInbound(msg, deps);
        if (!inbound) return;
        try {
          await deliver(inbound);
        } catch (err) {
          log.error(
            { channel: NAME, code: (err as { code?: unknown })?.code, err: short(err) },
            'whatsapp-web message not accepted (WhatsApp Web does not redeliver)',
          );
        }
      });
      chains.set(key, next);
      void next.finally(() => {
        if (chains.get(key) === next) chains.delete(key);
      });
    }

    function wire(client: WwebClientLike): void {
      client.on('qr', (code: unknown) => {
        if (client !== current || typeof code !== 'string') return;
        clearStartTimer(); // a person is needed now: no start timeout while pairing
        attempt = 0;
        const first = state !== 'pairing';
        setState('pairing', PAIRING_DETAIL);
        qr = code;
        // The QR rotates every ~20 s: log once per pairing episode, print every one.
        if (first) log.warn({ channel: NAME }, `WhatsApp Web needs pairing: ${PAIRING_DETAIL}`);
        try {
          printQr(code);
        } catch (err) {
          log.warn({ channel: NAME, err: short(err) }, 'could not print the WhatsApp Web QR');
        }
      });
      client.on('authenticated', () => {
        if (client !== current) return;
        setState('starting', 'paired; loading WhatsApp Web');
        clearStartTimer();
        armStartTimer(client);
      });
      client.on('ready', () => {
        if (client !== current) return;
        clearStartTimer();
        attempt = 0;
        setState('ready', 'paired and connected');
        log.info({ channel: NAME }, 'whatsapp-web ready');
      });
      client.on('auth_failure', (message: unknown) => {
        void drop(client, `authentication failed (${short(message)})`);
      });
      client.on('disconnected', (reason: unknown) => {
        // LOGOUT / UNPAIRED: the phone unlinked this device; the next start shows a new QR.
        void drop(client, `disconnected (${short(reason)})`);
      });
      client.on('message', (msg: unknown) => onMessage(client, msg as WwebMessageLike));
      client.on('message_ack', (msg: unknown, ack: unknown) => {
        if (client !== current || !emit) return;
        const receipt = toReceipt(msg as WwebMessageLike | null, ack, deps);
        if (receipt)
          emit(receipt).catch((err: unknown) =>
            log.warn({ channel: NAME, err: short(err) }, 'whatsapp-web receipt not accepted'),
          );
      });
    }

    async function settled(): Promise<void> {
      while (chains.size) await Promise.allSettled([...chains.values()]);
    }

    function armStartTimer(client: WwebClientLike): void {
      startTimer = setTimeout(() => {
        startTimer = undefined;
        void drop(client, `WhatsApp Web did not start within ${Math.round(startTimeoutMs / 1000)} s`);
      }, startTimeoutMs);
      startTimer.unref();
    }

    async function connect(): Promise<void> {
      if (stopped) return;
      const problem = driver.preflight?.(options);
      if (problem) {
        setState('error', problem);
        log.error({ channel: NAME }, problem);
        return;
      }
      setState('starting', 'starting WhatsApp Web (Chromium)');
      let client: WwebClientLike;
      try {
        client = await driver.createClient(options);
      } catch (err) {
        scheduleRetry(`whatsapp-web.js could not be loaded (${short(err)})`);
        return;
      }
      if (stopped) {
        await destroy(client);
        return;
      }
      current = client;
      wire(client);
      armStartTimer(client);
      try {
        await client.initialize();
      } catch (err) {
        await drop(client, `WhatsApp Web could not start (${short(err)})`);
      }
    }

    async function loadMedia(outbound: Extract<Outbound, { kind: 'media' }>): Promise<unknown> {
      const url = /^https?:\/\//i.test(outbound.url)
        ? outbound.url
        : `${deps.publicUrl.replace(/\/+$/, '')}/${outbound.url.replace(/^\/+/, '')}`;
      const res = await providerFetch(url, { label: 'GET outbound media', timeoutMs: 20_000 });
      if (res.body.length > MAX_MEDIA_BYTES)
        throw new ChannelError('CHANNEL_REJECTED', 'WhatsApp Web: the media is larger than 25 MB');
      if (res.body.length === 0)
        throw new ChannelError('CHANNEL_REJECTED', 'WhatsApp Web: the media is empty');
      const name = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '') || undefined;
      return driver.messageMedia(outbound.mime, res.body.toString('base64'), name);
    }

    return {
      name: NAME,
      capabilities: whatsappWebCapabilities,

      async start(onEvent) {
        emit = onEvent;
        if (!stopped) return;
        stopped = false;
        attempt = 0;
        // In the background: pairing may take days, and the rest of the product must not wait for it.
        void connect().catch((err: unknown) => {
          setState('error', `WhatsApp Web failed to start (${short(err)})`);
          log.error({ channel: NAME, err: short(err) }, 'whatsapp-web start failed');
        });
      },

      async stop() {
        stopped = true;
        clearTimeout(retryTimer);
        retryTimer = undefined;
        clearStartTimer();
        const client = current;
        current = undefined;
        if (client) await destroy(client);
        await withTimeout(settled(), DESTROY_TIMEOUT_MS, 'settle').catch(() => undefined);
        setState('disconnected', 'stopped');
      },

      async send(address: Address, outbound: Outbound, ctx): Promise<Delivery> {
        const client = current;
        if (!client || state !== 'ready') {
          throw new ChannelError(
            'CHANNEL_UNAVAILABLE',
            `WhatsApp Web is not connected (${state}${state === 'pairing' ? ': scan the QR in the admin page' : ''})`,
            { retryable: true, retryAfterMs: state === 'pairing' ? 60_000 : 15_000 },
          );
        }
        const delivery = await sendOutbound(client, chatIdOf(address.user), outbound, loadMedia);
        return delivery ?? { externalId: ctx.idempotencyKey };
      },

      health() {
        return { state, detail };
      },

      pairing() {
        return { state, ...(state === 'pairing' && qr ? { qr } : {}), since: since.toISOString() };
      },

      settled,
    };
  },
});
