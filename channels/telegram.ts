/**
 * Telegram (private chats with a bot), on telegraf's `Telegram` Bot API client.
 *
 * Provider docs: updates, webhooks and the secret header https://core.telegram.org/bots/api#getting-updates
 * (`setWebhook`, `getUpdates`, `X-Telegram-Bot-Api-Secret-Token`); sending https://core.telegram.org/bots/api#sendmessage,
 * keyboards https://core.telegram.org/bots/api#inlinekeyboardmarkup and
 * https://core.telegram.org/bots/api#keyboardbutton (`request_contact`), buttons
 * https://core.telegram.org/bots/api#answercallbackquery, files https://core.telegram.org/bots/api#getfile, errors
 * and `retry_after` https://core.telegram.org/bots/api#responseparameters.
 *
 * Inbound modes:
 *  - webhook, when a secret is configured: `start()` registers `<PUBLIC_URL>/webhooks/telegram` with that
 *    `secret_token` (retrying in the background until Telegram accepts it) and `receive()` checks the
 *    secret header in constant time;
 *  - long polling otherwise (a laptop has no public URL): `start()` deletes any webhook and loops over
 *    `getUpdates`; the adapter then has no `receive`, so the host answers 404 on `/webhooks/telegram`.
 *    Polling is for a single node: a second poller with the same token gets 409 (shown in health).
 *
 * Conventions:
 *  - the address is the private chat id; group, supergroup and channel chats are ignored (the bot is 1:1);
 *  - the idempotency key is `<chat id>:<message id>` (callback queries: `cb:<query id>`), the same whether an
 *    update arrives by webhook or by polling, so redeliveries and a mode switch collide;
 *  - edited messages are not subscribed to (`allowed_updates`) and ignored if they arrive: replaying an edit as a
 *    new answer would feed an old question's correction into whatever the bot asked since;
 *  - `/start` (and `/menu`) arrive as the choice `menu:main`: the runtime answers with its menu, not the NLU's guess;
 *  - a choice with id `share:phone` turns the whole prompt into a one-time reply keyboard whose `share:phone`
 *    button requests the citizen's contact (the other options become text buttons, mapped back to their ids
 *    while this process remembers the prompt). The shared contact arrives as `kind: 'contact'`.
 */
import { createHash } from 'node:crypto';
import { Agent } from 'node:http';
import type { Telegram, TelegramError } from 'telegraf';
import type { Opts, Telegram as BotApi } from 'telegraf/types';
import { z } from 'zod';
import { ChannelError, InboundSchema, ToolkitError } from './contract.ts';
import type {
  Address,
  Capabilities,
  ChannelAdapter,
  ChannelHealth,
  Delivery,
  Emit,
  Inbound,
  Outbound,
  Received,
  SendContext,
  WebhookRequest,
} from './contract.ts';
import {
  defineChannel,
  inboundId,
  normalizePhone,
  providerFetch,
  safeEqual,
  sanitizeImage,
  scrubSecrets,
  splitText,
} from './kit/index.ts';
import type { ChannelDeps } from './kit/index.ts';

const NAME = 'telegram';
const SECRET_HEADER = 'x-telegram-bot-api-secret-token';
/** Edited messages are left out on purpose (see the header). */
const ALLOWED_UPDATES = ['message', 'callback_query'] as const;
/** The choice id that asks Telegram for the citizen's own phone number. */
export const SHARE_PHONE_CHOICE = 'share:phone';
/**
 * Telegram opens every chat with `/start` (the Start button, optionally with a deep-link payload): it means
 * "show me what you do", which is the runtime's main-menu choice, in any language. `/menu` is the same.
 */
const START_RE = /^\/(start|menu)(@\w+)?(\s|$)/i;
const MAIN_MENU_CHOICE = 'menu:main';
/** Bots may download files up to 20 MB through the public Bot API. */
const MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024;
const MAX_CALLBACK_DATA = 64;
const MAX_CAPTION = 1024;
/** Attempts of one polled update before it is skipped (a poison update must not stall every chat). */
const MAX_UPDATE_ATTEMPTS = 5;
/** In-memory maps (long choice ids, reply-keyboard prompts) keep at most this many entries. */
const MAX_REMEMBERED = 10_000;

/** Telegram settings (from `TELEGRAM_*` variables). */
export const telegramConfig = z.object({
  token: z
    .string()
    .regex(/^\d+:[A-Za-z0-9_-]{30,}$/, 'expected the token BotFather gave you (123456789:AA…)'),
  /** Turns on webhook mode; Telegram echoes it in `X-Telegram-Bot-Api-Secret-Token`. */
  webhookSecret: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,256}$/, 'use 1 to 256 characters from A-Z a-z 0-9 _ -')
    .optional(),
  apiRoot: z.string().url().default('https://api.telegram.org'),
  /** Long-poll timeout of `getUpdates`, in seconds. */
  pollingTimeout: z.coerce.number().int().min(1).max(50).default(25),
});
/** See {@link telegramConfig}. */
export type TelegramConfig = z.infer<typeof telegramConfig>;

const capabilities: Capabilities = {
  delivery: 'push',
  choices: { max: 12, style: 'buttons' },
  media: ['image', 'audio', 'document'],
  maxText: 4096,
  typing: true,
  templates: false,
  speech: false,
};

// Only the fields the adapter reads; non-essential ones fall back instead of failing the whole update.
const optionalString = z.string().optional().catch(undefined);
const ChatSchema = z.object({ id: z.number().int().safe(), type: z.string() });
const UserSchema = z.object({
  id: z.number().int().safe(),
  is_bot: z.boolean().optional().catch(undefined),
  language_code: z
    .string()
    .regex(/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/)
    .max(35)
    .optional()
    .catch(undefined),
});
const FileSchema = z.object({
  file_id: z.string().min(1).max(512),
  file_size: z.number().nonnegative().optional().catch(undefined),
  mime_type: z
    .string()
    .regex(/^[\w.+-]+\/[\w.+-]+$/)
    .optional()
    .catch(undefined),
});
const PhotoSizeSchema = FileSchema.extend({ width: z.number(), height: z.number() });
/** Unix seconds within Date's range (toISOString throws beyond it). */
const UnixTime = z.number().int().min(0).max(8.64e12);
const MessageSchema = z.object({
  message_id: z.number().int().safe(),
  date: UnixTime,
  chat: ChatSchema,
  from: UserSchema.optional().catch(undefined),
  text: z.string().optional(),
  caption: optionalString,
  photo: z.array(PhotoSizeSchema).min(1).optional(),
  voice: FileSchema.optional(),
  audio: FileSchema.optional(),
  document: FileSchema.optional(),
  location: z.object({ latitude: z.number(), longitude: z.number() }).optional(),
  venue: z.object({ title: z.string(), address: z.string() }).optional().catch(undefined),
  contact: z.object({ phone_number: z.string(), user_id: z.number().optional().catch(undefined) }).optional(),
});
type TgMessage = z.infer<typeof MessageSchema>;
const CallbackQuerySchema = z.object({
  id: z.string().min(1).max(256),
  from: UserSchema,
  data: z.string().optional(),
  message: z
    .object({ message_id: z.number().int(), chat: ChatSchema, reply_markup: z.unknown().optional() })
    .optional(),
});
type TgCallbackQuery = z.infer<typeof CallbackQuerySchema>;
const UpdateIdSchema = z.object({ update_id: z.number().int().nonnegative().safe() });
const UpdateSchema = UpdateIdSchema.extend({
  message: MessageSchema.optional(),
  callback_query: CallbackQuerySchema.optional(),
});
const FileResultSchema = z.object({ file_path: z.string().min(1).optional() });
const SentSchema = z.object({ message_id: z.number(), chat: z.object({ id: z.number() }) });

type TelegrafSignal = NonNullable<NonNullable<Parameters<Telegram['callApi']>[2]>['signal']>;

/** What one update turned into. */
type Outcome =
  | { kind: 'event'; inbound: Inbound }
  | { kind: 'ignored'; why: string }
  | { kind: 'malformed' }
  /** A transient failure (media download): the update must come again. */
  | { kind: 'retry'; error: ChannelError };

/** A Map that forgets its oldest entries beyond `max`. */
function remember<K, V>(map: Map<K, V>, key: K, value: V, max = MAX_REMEMBERED): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as K);
}

/** The label of the inline button that carried `data`, read back from the message it was attached to. */
function buttonLabel(markup: unknown, data: string): string | undefined {
  const rows = (markup as { inline_keyboard?: unknown } | undefined)?.inline_keyboard;
  if (!Array.isArray(rows)) return undefined;
  for (const row of rows) {
    if (!Array.isArray(row)) continue;
    for (const b of row as unknown[]) {
      const button = b as { text?: unknown; callback_data?: unknown } | null;
      if (button?.callback_data === data && typeof button.text === 'string' && button.text.length > 0)
        return button.text.slice(0, 512);
    }
  }
  return undefined;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** Exponential backoff with jitter: 1 s, 2 s, 4 s … up to `max`. */
const backoff = (failures: number, max = 60_000) =>
  Math.min(max, 1000 * 2 ** Math.min(failures - 1, 16)) * (0.75 + Math.random() * 0.5);

/** The Telegram adapter: `receive` exists only in webhook mode. */
export type TelegramAdapter = ChannelAdapter & {
  readonly mode: 'webhook' | 'polling';
  start(emit: Emit): Promise<void>;
  stop(): Promise<void>;
  health(): ChannelHealth;
};

function createTelegram(config: TelegramConfig, deps: ChannelDeps): TelegramAdapter {
  const apiRoot = config.apiRoot.replace(/\/+$/, '');
  const secrets = [config.token, ...(config.webhookSecret ? [config.webhookSecret] : [])];
  // telegraf resolves `./bot<token>/<method>` against apiRoot: a trailing slash keeps a path prefix (a proxy).
  // telegraf keeps connections alive only for https; a self-hosted Bot API server (http://) would otherwise cost
  // a new TCP connection per call.
  const plainAgent = apiRoot.startsWith('http://')
    ? new Agent({ keepAlive: true, keepAliveMsecs: 10_000, maxSockets: 64 })
    : undefined;
  // telegraf loads with the channel, not with the process (a city without Telegram does not carry it).
  let sdk: Promise<{ telegram: Telegram; TelegramError: typeof TelegramError }> | undefined;
  const loadSdk = () =>
    (sdk ??= import('telegraf').then(({ Telegram, TelegramError }) => {
      const telegram = new Telegram(config.token, { apiRoot: `${apiRoot}/` });
      if (plainAgent) telegram.options.agent = plainAgent;
      return { telegram, TelegramError };
    }));
  const mode = config.webhookSecret ? 'webhook' : 'polling';
  let health: ChannelHealth = { state: 'starting' };
  let stopped = false;
  let abort = new AbortController();
  let running: Promise<void> | undefined;
  /** Choice ids longer than callback_data allows, by their hash. */
  const longChoices = new Map<string, string>();
  /** Per chat: the labels of the text buttons of an open reply keyboard, mapped to their choice ids. */
  const replyKeyboards = new Map<string, Map<string, string>>();

  /** One Bot API call; every failure becomes a secret-free {@link ChannelError}. */
  async function call<M extends keyof BotApi>(
    method: M,
    payload: Opts<M>,
    opts: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<unknown> {
    const { telegram, TelegramError } = await loadSdk();
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? 10_000);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    try {
      // telegraf types the signal with the abort-controller polyfill; node-fetch accepts Node's own.
      return await telegram.callApi(method, payload, { signal: signal as unknown as TelegrafSignal });
    } catch (err) {
      // telegraf's own errors may carry the URL (with the token) or the payload (with the citizen's text):
      // nothing of them travels further than the code, the scrubbed description and retry_after.
      if (err instanceof TelegramError) {
        const description = scrubSecrets(err.description ?? '', secrets)
          .replace(/\s+/g, ' ')
          .slice(0, 200);
        const message = `${method}: Telegram answered ${err.code}${description ? ` (${description})` : ''}`;
        if (err.code === 429) {
          const after = err.parameters?.retry_after;
          throw new ChannelError('CHANNEL_RATE_LIMITED', message, {
            retryable: true,
            status: 429,
            retryAfterMs: typeof after === 'number' && after >= 0 ? after * 1000 : 1000,
          });
        }
        if (err.code >= 500 || err.code === 408)
          throw new ChannelError('CHANNEL_UNAVAILABLE', message, { retryable: true, status: err.code });
        throw new ChannelError('CHANNEL_REJECTED', message, { status: err.code });
      }
      // A system error code (ECONNRESET, ECONNREFUSED…) says which network failure it was, and holds no secret.
      const sys = (err as { code?: unknown }).code;
      const code = typeof sys === 'string' && /^E[A-Z_]+$/.test(sys) ? ` (${sys})` : '';
      const why = timeout.aborted
        ? 'timed out'
        : opts.signal?.aborted
          ? 'aborted'
          : `connection failed${code}`;
      throw new ChannelError('CHANNEL_UNAVAILABLE', `${method}: ${why}`, { retryable: true });
    }
  }

  const chatId = (user: string): number | string => (/^-?\d{1,16}$/.test(user) ? Number(user) : user);

  // ---------------------------------------------------------------- inbound

  function answer(query: TgCallbackQuery): void {
    // Without an answer the button keeps spinning on the citizen's screen; a redelivered query is already
    // answered (Telegram says "query is too old"), which is expected and only worth a debug line.
    call('answerCallbackQuery', { callback_query_id: query.id }).catch((err: unknown) =>
      deps.log.debug(
        { code: err instanceof ChannelError ? err.code : undefined, status: (err as ChannelError).status },
        'answerCallbackQuery failed',
      ),
    );
  }

  function encodeChoice(id: string): string {
    if (!id.startsWith('#') && Buffer.byteLength(id) <= MAX_CALLBACK_DATA) return id;
    const data = `#${createHash('sha256').update(id).digest('base64url').slice(0, 22)}`;
    remember(longChoices, data, id);
    return data;
  }

  async function download(fileId: string, declared: number | undefined): Promise<Buffer> {
    if (declared !== undefined && declared > MAX_DOWNLOAD_BYTES)
      throw new ChannelError('CHANNEL_UPLOAD_TOO_LARGE', 'getFile: the file is larger than 20 MB');
    const file = FileResultSchema.safeParse(await call('getFile', { file_id: fileId }));
    if (!file.success || !file.data.file_path)
      throw new ChannelError('CHANNEL_REJECTED', 'getFile: no file_path in the answer');
    const path = file.data.file_path.split('/').map(encodeURIComponent).join('/');
    const res = await providerFetch(`${apiRoot}/file/bot${config.token}/${path}`, {
      label: 'GET /file/bot<token>/<file_path>',
      secrets,
      timeoutMs: 30_000,
    });
    if (res.body.length > MAX_DOWNLOAD_BYTES)
      throw new ChannelError('CHANNEL_UPLOAD_TOO_LARGE', 'file download: larger than 20 MB');
    deps.count('media_downloaded');
    return res.body;
  }

  /** The media item of a message we take (photo, voice, audio, image or audio document), if any. */
  function mediaOf(m: TgMessage): { fileId: string; size?: number; mime: string; image?: 'sanitize' } | null {
    if (m.photo) {
      // Sizes come smallest first; Telegram re-encodes photos as JPEG without metadata.
      const best = [...m.photo].sort((a, b) => b.width * b.height - a.width * a.height)[0]!;
      return {
        fileId: best.file_id,
        ...(best.file_size ? { size: best.file_size } : {}),
        mime: 'image/jpeg',
      };
    }
    const file = m.voice ?? m.audio ?? m.document;
    if (!file) return null;
    const size = file.file_size ? { size: file.file_size } : {};
    if (m.voice) return { fileId: file.file_id, ...size, mime: file.mime_type ?? 'audio/ogg' };
    if (m.audio) return { fileId: file.file_id, ...size, mime: file.mime_type ?? 'audio/mpeg' };
    // Documents arrive exactly as sent (EXIF and GPS included): images are re-encoded like web-chat uploads.
    if (file.mime_type?.startsWith('image/'))
      return { fileId: file.file_id, ...size, mime: file.mime_type, image: 'sanitize' };
    if (file.mime_type?.startsWith('audio/')) return { fileId: file.file_id, ...size, mime: file.mime_type };
    return null;
  }

  function valid(candidate: Record<string, unknown>): Outcome {
    const parsed = InboundSchema.safeParse(candidate);
    return parsed.success
      ? { kind: 'event', inbound: parsed.data }
      : { kind: 'ignored', why: 'unusable values' };
  }

  async function fromMessage(m: TgMessage, raw: unknown): Promise<Outcome> {
    if (m.chat.type !== 'private') return { kind: 'ignored', why: 'not a private chat' };
    if (m.from?.is_bot) return { kind: 'ignored', why: 'sent by a bot' };
    const user = String(m.chat.id);
    const externalId = `${user}:${m.message_id}`;
    const base = {
      id: inboundId(NAME, externalId),
      externalId,
      address: { channel: NAME, user },
      at: new Date(m.date * 1000).toISOString(),
      ...(m.from?.language_code ? { locale: m.from.language_code } : {}),
      raw,
    };
    // A reply-keyboard prompt is answered once; whatever comes next ends it.
    const keyboard = replyKeyboards.get(user);
    replyKeyboards.delete(user);

    if (m.contact) {
      const phone = normalizePhone(m.contact.phone_number);
      if (!phone) return { kind: 'ignored', why: 'contact without a usable phone' };
      // Only the request-contact button shares the sender's own, Telegram-verified number.
      const own = m.contact.user_id !== undefined && m.contact.user_id === m.from?.id;
      return valid({ ...base, kind: 'contact', phone, own });
    }
    if (m.location) {
      const label = m.venue ? [m.venue.title, m.venue.address].filter(Boolean).join(', ').slice(0, 512) : '';
      return valid({
        ...base,
        kind: 'location',
        lat: m.location.latitude,
        lon: m.location.longitude,
        ...(label ? { label } : {}),
      });
    }
    const item = mediaOf(m);
    if (item) {
      const caption = m.caption?.slice(0, 4096);
      try {
        let bytes = await download(item.fileId, item.size);
        let mime = item.mime;
        if (item.image) ({ bytes, mime } = await sanitizeImage(bytes));
        const stored = await deps.media.save({ bytes, mime, contactHint: user });
        return valid({
          ...base,
          kind: 'media',
          media: [{ mediaId: stored.id, mime, bytes: stored.bytes, ...(caption ? { caption } : {}) }],
        });
      } catch (err) {
        if (!(err instanceof ToolkitError) || err.retryable)
          return {
            kind: 'retry',
            error:
              err instanceof ChannelError
                ? err
                : new ChannelError('CHANNEL_UNAVAILABLE', 'media could not be stored', { retryable: true }),
          };
        deps.log.warn({ code: err.code }, 'telegram media not taken');
        // Too large or not an image: what the citizen wrote still deserves an answer.
        return caption ? valid({ ...base, kind: 'text', text: caption }) : { kind: 'ignored', why: 'media' };
      }
    }
    const text = m.text ?? m.caption;
    if (text === undefined || text.trim() === '') return { kind: 'ignored', why: 'unsupported message' };
    const picked = keyboard?.get(text) ?? (START_RE.test(text) ? MAIN_MENU_CHOICE : undefined);
    if (picked) return valid({ ...base, kind: 'choice', choiceId: picked, text });
    return valid({ ...base, kind: 'text', text });
  }

  function fromCallback(q: TgCallbackQuery, raw: unknown): Outcome {
    answer(q);
    const chat = q.message?.chat;
    if (!chat || chat.type !== 'private') return { kind: 'ignored', why: 'not a private chat' };
    if (!q.data || Buffer.byteLength(q.data) > MAX_CALLBACK_DATA) return { kind: 'ignored', why: 'no data' };
    const user = String(chat.id);
    const externalId = `cb:${q.id}`;
    const label = buttonLabel(q.message?.reply_markup, q.data);
    const base = {
      id: inboundId(NAME, externalId),
      externalId,
      address: { channel: NAME, user },
      at: deps.now().toISOString(),
      ...(q.from.language_code ? { locale: q.from.language_code } : {}),
      raw,
    };
    replyKeyboards.delete(user);
    const choiceId = q.data.startsWith('#') ? longChoices.get(q.data) : q.data;
    if (choiceId) return valid({ ...base, kind: 'choice', choiceId, ...(label ? { text: label } : {}) });
    // A hashed long id from before a restart: the label is what the citizen meant, so it goes in as text.
    return label ? valid({ ...base, kind: 'text', text: label }) : { kind: 'ignored', why: 'unknown choice' };
  }

  async function normalize(raw: unknown): Promise<Outcome> {
    if (!UpdateIdSchema.safeParse(raw).success) return { kind: 'malformed' };
    const update = UpdateSchema.safeParse(raw);
    if (!update.success) return { kind: 'ignored', why: 'unrecognised update' };
    if (update.data.callback_query) return fromCallback(update.data.callback_query, raw);
    if (update.data.message) return fromMessage(update.data.message, raw);
    return { kind: 'ignored', why: 'update type not handled' };
  }

  async function receive(req: WebhookRequest): Promise<Received> {
    try {
      const given = req.headers[SECRET_HEADER];
      if (!given || !config.webhookSecret || !safeEqual(given, config.webhookSecret))
        return { kind: 'rejected', reason: 'signature', ack: { status: 401 } };
      if (req.method !== 'POST') return { kind: 'rejected', reason: 'malformed', ack: { status: 405 } };
      let body: unknown;
      try {
        body = JSON.parse(req.rawBody.toString('utf8'));
      } catch {
        return { kind: 'rejected', reason: 'malformed', ack: { status: 400 } };
      }
      const outcome = await normalize(body);
      switch (outcome.kind) {
        case 'event':
          return { kind: 'accepted', events: [outcome.inbound], ack: { status: 200 } };
        case 'malformed':
          // Not an update at all: 400 shows up in getWebhookInfo's last_error_message.
          return { kind: 'rejected', reason: 'malformed', ack: { status: 400 } };
        case 'ignored':
          // 200, or Telegram would redeliver an update we will never answer.
          return { kind: 'rejected', reason: 'ignored', ack: { status: 200 } };
        case 'retry':
          // Telegram redelivers on any non-2xx; the ids make the redelivery idempotent.
          deps.log.warn({ code: outcome.error.code }, 'telegram update deferred');
          return { kind: 'rejected', reason: 'retry', ack: { status: 503, headers: { 'retry-after': '5' } } };
      }
    } catch (err) {
      deps.log.error({ err: err instanceof Error ? err.name : 'unknown' }, 'telegram receive failed');
      return { kind: 'rejected', reason: 'malformed', ack: { status: 400 } };
    }
  }

  // ---------------------------------------------------------------- event source

  const describe = (err: unknown) => (err instanceof Error ? err.message : 'unknown error');

  async function registerWebhook(): Promise<void> {
    const url = `${deps.publicUrl.replace(/\/+$/, '')}/webhooks/${NAME}`;
    for (let failures = 0; !stopped;) {
      try {
        await call(
          'setWebhook',
          { url, secret_token: config.webhookSecret!, allowed_updates: [...ALLOWED_UPDATES] },
          { signal: abort.signal },
        );
        health = { state: 'ready', detail: `webhook ${url}` };
        deps.log.info({ url }, 'telegram webhook registered');
        return;
      } catch (err) {
        if (stopped) return;
        failures++;
        health = { state: 'error', detail: `setWebhook failed, retrying: ${describe(err)}` };
        deps.log.warn({ err: describe(err) }, 'telegram setWebhook failed');
        await sleep(
          err instanceof ChannelError && err.retryAfterMs ? err.retryAfterMs : backoff(failures, 300_000),
          abort.signal,
        );
      }
    }
  }

  /** The chat an update belongs to (updates of one chat are handled in order, chats in parallel). */
  const chatOf = (raw: unknown): string => {
    const u = raw as {
      message?: { chat?: { id?: unknown } };
      callback_query?: { message?: { chat?: { id?: unknown } } };
    };
    const id = u.message?.chat?.id ?? u.callback_query?.message?.chat?.id;
    return typeof id === 'number' ? String(id) : 'other';
  };

  async function poll(emit: Emit): Promise<void> {
    let offset: number | undefined;
    let confirmed: number | undefined;
    let webhookDeleted = false;
    let failures = 0;
    const attempts = new Map<number, number>();
    /** Updates already handled in a batch that is being fetched again (another chat's update failed). */
    const handled = new Map<number, true>();

    /** Handle one update; false when it must come again. */
    const handle = async (raw: unknown, id: number): Promise<boolean> => {
      if (handled.has(id)) return true;
      let error: unknown;
      try {
        const outcome = await normalize(raw);
        if (outcome.kind === 'event') await emit(outcome.inbound);
        else if (outcome.kind === 'retry') error = outcome.error;
        if (error === undefined) {
          remember(handled, id, true, 1000);
          return true;
        }
      } catch (err) {
        error = err;
      }
      const n = (attempts.get(id) ?? 0) + 1;
      const code = error instanceof ToolkitError ? String(error.code) : undefined;
      if (n >= MAX_UPDATE_ATTEMPTS) {
        attempts.delete(id);
        deps.log.error({ updateId: id, code, err: describe(error) }, 'telegram update skipped after retries');
        return true;
      }
      remember(attempts, id, n, 1000);
      deps.log.warn({ updateId: id, code, err: describe(error) }, 'telegram update deferred');
      return false;
    };

    while (!stopped) {
      try {
        if (!webhookDeleted) {
          // getUpdates answers 409 while a webhook is set; pending updates are kept.
          await call('deleteWebhook', { drop_pending_updates: false }, { signal: abort.signal });
          webhookDeleted = true;
        }
        const result = await call(
          'getUpdates',
          {
            ...(offset !== undefined ? { offset } : {}),
            timeout: config.pollingTimeout,
            allowed_updates: [...ALLOWED_UPDATES],
          },
          { signal: abort.signal, timeoutMs: (config.pollingTimeout + 15) * 1000 },
        );
        confirmed = offset;
        failures = 0;
        if (health.state !== 'ready') health = { state: 'ready', detail: 'long polling' };
        const updates = (Array.isArray(result) ? (result as unknown[]) : []).flatMap((raw) => {
          const id = UpdateIdSchema.safeParse(raw);
          return id.success ? [{ raw, id: id.data.update_id }] : [];
        });
        if (!updates.length) continue;
        const chats = new Map<string, typeof updates>();
        for (const u of updates) chats.set(chatOf(u.raw), [...(chats.get(chatOf(u.raw)) ?? []), u]);
        const pending: number[] = [];
        await Promise.all(
          [...chats.values()].map(async (list) => {
            for (const u of list) {
              if (!(await handle(u.raw, u.id))) {
                pending.push(u.id);
                return; // later updates of this chat wait for this one
              }
            }
          }),
        );
        // Everything before the first update that must come again is confirmed with the next getUpdates.
        offset = pending.length ? Math.min(...pending) : Math.max(...updates.map((u) => u.id)) + 1;
        if (pending.length)
          await sleep(backoff(Math.max(...pending.map((id) => attempts.get(id) ?? 1))), abort.signal);
      } catch (err) {
        if (stopped) break;
        failures++;
        const status = err instanceof ChannelError ? err.status : undefined;
        health =
          status === 401 || status === 404
            ? { state: 'error', detail: 'Telegram rejected the bot token (TELEGRAM_BOT_TOKEN)' }
            : status === 409
              ? {
                  state: 'error',
                  detail: 'another process is polling with this token, or a webhook was set again',
                }
              : { state: 'disconnected', detail: `getUpdates failed, retrying: ${describe(err)}` };
        if (status === 409) webhookDeleted = false;
        deps.log.warn({ err: describe(err) }, 'telegram polling failed');
        await sleep(
          err instanceof ChannelError && err.retryAfterMs ? err.retryAfterMs : backoff(failures),
          abort.signal,
        );
      }
    }
    if (offset !== undefined && offset !== confirmed) {
      // Confirm what was handled, so a restart does not replay it (replays would be idempotent, only wasteful).
      await call('getUpdates', { offset, limit: 1, timeout: 0 }, { timeoutMs: 2000 }).catch(() => undefined);
    }
  }

  // ---------------------------------------------------------------- outbound

  function delivered(result: unknown, fallback: string): Delivery {
    const sent = SentSchema.safeParse(result);
    return { externalId: sent.success ? `${sent.data.chat.id}:${sent.data.message_id}` : fallback };
  }

  async function sendText(address: Address, text: string, ctx: SendContext): Promise<Delivery> {
    let last: Delivery = { externalId: ctx.idempotencyKey };
    for (const part of splitText(text, capabilities.maxText)) {
      // No parse_mode: the citizen's own words (echoed in summaries) can never break the markup.
      const open = closeKeyboard.delete(address.user);
      last = delivered(
        await call('sendMessage', {
          chat_id: chatId(address.user),
          text: part,
          ...(open ? { reply_markup: { remove_keyboard: true } } : {}),
        }),
        ctx.idempotencyKey,
      );
    }
    return last;
  }
  /** Chats whose reply keyboard should be removed with the next text message. */
  const closeKeyboard = new Set<string>();

  async function sendChoices(
    address: Address,
    out: Extract<Outbound, { kind: 'choices' }>,
    ctx: SendContext,
  ): Promise<Delivery> {
    if (out.choices.some((c) => c.id === SHARE_PHONE_CHOICE)) {
      const labels = new Map<string, string>();
      const keyboard = out.choices.map((c) => {
        if (c.id === SHARE_PHONE_CHOICE) return [{ text: c.label, request_contact: true }];
        labels.set(c.label, c.id);
        return [{ text: c.label }];
      });
      const result = await call('sendMessage', {
        chat_id: chatId(address.user),
        text: out.text,
        reply_markup: { keyboard, one_time_keyboard: true, resize_keyboard: true },
      });
      remember(replyKeyboards, address.user, labels);
      if (closeKeyboard.size < MAX_REMEMBERED) closeKeyboard.add(address.user);
      return delivered(result, ctx.idempotencyKey);
    }
    const inline_keyboard = out.choices.map((c) => [{ text: c.label, callback_data: encodeChoice(c.id) }]);
    return delivered(
      await call('sendMessage', {
        chat_id: chatId(address.user),
        text: out.text,
        reply_markup: { inline_keyboard },
      }),
      ctx.idempotencyKey,
    );
  }

  async function sendMedia(
    address: Address,
    out: Extract<Outbound, { kind: 'media' }>,
    ctx: SendContext,
  ): Promise<Delivery> {
    // Telegram fetches the URL itself; captions are limited to 1024 characters, the rest follows as text.
    const caption = out.caption && out.caption.length <= MAX_CAPTION ? out.caption : undefined;
    const common = { chat_id: chatId(address.user), ...(caption ? { caption } : {}) };
    const kind = out.mime.split('/')[0];
    const result =
      kind === 'image'
        ? await call('sendPhoto', { ...common, photo: out.url })
        : kind === 'audio' && /^audio\/ogg\b/.test(out.mime)
          ? await call('sendVoice', { ...common, voice: out.url })
          : kind === 'audio'
            ? await call('sendAudio', { ...common, audio: out.url })
            : await call('sendDocument', { ...common, document: out.url });
    const sent = delivered(result, ctx.idempotencyKey);
    if (out.caption && !caption) return sendText(address, out.caption, ctx);
    return sent;
  }

  async function send(address: Address, out: Outbound, ctx: SendContext): Promise<Delivery> {
    switch (out.kind) {
      case 'text':
        return sendText(address, out.text, ctx);
      case 'choices':
        return sendChoices(address, out, ctx);
      case 'media':
        return sendMedia(address, out, ctx);
      case 'typing':
        await call('sendChatAction', { chat_id: chatId(address.user), action: 'typing' });
        return { externalId: ctx.idempotencyKey };
      case 'template':
        return sendText(address, out.fallbackText, ctx);
      case 'speech':
        return sendText(address, out.text, ctx);
    }
  }

  const adapter: TelegramAdapter = {
    name: NAME,
    capabilities,
    mode,
    send,
    async start(emit) {
      if (running) return;
      stopped = false;
      abort = new AbortController();
      health = { state: 'starting' };
      // In the background: a slow or unreachable Telegram must not hold up the server's boot.
      running = mode === 'webhook' ? registerWebhook() : poll(emit);
    },
    async stop() {
      stopped = true;
      abort.abort();
      const done = running;
      running = undefined;
      // The long poll is aborted at once; a turn in flight gets a few seconds to commit.
      if (done)
        await Promise.race([done, new Promise((r) => setTimeout(r, 5_000).unref())]).catch(() => undefined);
      plainAgent?.destroy();
      health = { state: 'disconnected', detail: 'stopped' };
    },
    health: () => health,
  };
  return mode === 'webhook' ? { ...adapter, receive } : adapter;
}

/** The Telegram channel definition (see `channels/contract.ts` for the recipe). */
export const telegram = defineChannel({
  name: NAME,
  config: telegramConfig,
  env: {
    TELEGRAM_BOT_TOKEN: 'token',
    TELEGRAM_WEBHOOK_SECRET: 'webhookSecret',
    TELEGRAM_API_ROOT: 'apiRoot',
    TELEGRAM_POLLING_TIMEOUT: 'pollingTimeout',
  },
  capabilities,
  create: (config: TelegramConfig, deps: ChannelDeps) => createTelegram(config, deps),
});
