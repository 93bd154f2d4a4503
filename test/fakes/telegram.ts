/**
 * A loopback fake of the Telegram Bot API (https://core.telegram.org/bots/api): `POST /bot<token>/<method>` with
 * JSON bodies answered `{ ok, result }` or `{ ok: false, error_code, description, parameters }`, long-polled
 * `getUpdates` served from a queue, `setWebhook`/`deleteWebhook` (409 on getUpdates while a webhook is set, as
 * Telegram does), `getFile` plus downloads at `/file/bot<token>/<file_path>`, and scripted failures. Helpers
 * build updates the way Telegram shapes them and sign webhook deliveries with the secret header.
 */
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';

/** One recorded Bot API call. */
export interface TelegramCall {
  readonly method: string;
  readonly body: Record<string, unknown>;
}

/** A scripted failure: an error answer, a dropped connection, no answer at all, or a 200 that is not JSON. */
export type TelegramFailure =
  { status: number; retryAfter?: number; description?: string } | 'drop' | 'hang' | 'garbage';

/** Methods that deliver something to a chat (what the contract counts as sends). */
export const SEND_METHODS = [
  'sendMessage',
  'sendPhoto',
  'sendAudio',
  'sendVoice',
  'sendDocument',
  'sendChatAction',
] as const;

/** A running fake Bot API. */
export interface FakeTelegram {
  readonly baseUrl: string;
  readonly token: string;
  readonly calls: TelegramCall[];
  /** The webhook set through `setWebhook`, if any. */
  readonly webhook: { url: string; secret_token?: string; allowed_updates?: string[] } | null;
  /** Calls of one method. */
  callsTo(method: string): TelegramCall[];
  /** Calls that delivered something to a chat. */
  sent(): TelegramCall[];
  /** Fail the next call of one of `methods` (by default any send method). */
  failNext(failure: TelegramFailure, methods?: readonly string[]): void;
  /** Queue updates for `getUpdates` (update ids are kept as given). */
  push(...updates: object[]): void;
  /** Updates not yet confirmed by an `offset`. */
  readonly queue: readonly object[];
  /** `getUpdates` requests currently held open. */
  openPolls(): number;
  /** Serve these bytes for a file id. */
  addFile(fileId: string, bytes: Buffer, path: string): void;
  /** Chats that blocked the bot (sends answer 403). */
  readonly blocked: Set<string>;
  /** Wait until `n` calls of `method` were recorded. */
  waitFor(method: string, n: number, timeoutMs?: number): Promise<TelegramCall[]>;
  close(): Promise<void>;
}

/** A JSON answer with its length, as api.telegram.org sends it (not chunked). */
const sendJson = (res: ServerResponse, status: number, body: unknown) => {
  const text = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(text.length) });
  res.end(text);
};
const fail = (res: ServerResponse, code: number, description: string, extra: object = {}) =>
  sendJson(res, code, { ok: false, error_code: code, description, ...extra });

/** Start the fake on 127.0.0.1 with a random port; `token` is the only bot token it accepts. */
export async function startFakeTelegram(token: string): Promise<FakeTelegram> {
  const calls: TelegramCall[] = [];
  const script: { failure: TelegramFailure; methods: readonly string[] }[] = [];
  let queue: (object & { update_id: number })[] = [];
  const waiters = new Set<{ wake: () => void }>();
  const files = new Map<string, { bytes: Buffer; path: string }>();
  const byPath = new Map<string, Buffer>();
  const blocked = new Set<string>();
  let webhook: FakeTelegram['webhook'] = null;
  let messageId = 1000;
  let fileN = 0;
  const jpeg = await sharp({ create: { width: 4, height: 3, channels: 3, background: '#c33' } })
    .jpeg()
    .toBuffer();
  const watchers = new Set<() => void>();

  const result = (res: ServerResponse, value: unknown) => sendJson(res, 200, { ok: true, result: value });
  const message = (body: Record<string, unknown>, extra: object = {}) => ({
    message_id: ++messageId,
    date: Math.floor(Date.now() / 1000),
    chat: { id: Number(body.chat_id), type: 'private' },
    ...extra,
  });

  function checkMarkup(markup: unknown): string | null {
    const rows = (markup as { inline_keyboard?: unknown[][] } | undefined)?.inline_keyboard;
    for (const row of rows ?? [])
      for (const b of row as { text?: string; callback_data?: string }[]) {
        if (!b.text) return 'Bad Request: text buttons are unallowed in the inline keyboard';
        const n = Buffer.byteLength(b.callback_data ?? '');
        if (n < 1 || n > 64) return 'Bad Request: BUTTON_DATA_INVALID';
      }
    return null;
  }

  function api(method: string, body: Record<string, unknown>, res: ServerResponse) {
    const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
    const chat = str(body.chat_id);
    if (method.startsWith('send') && blocked.has(chat))
      return fail(res, 403, 'Forbidden: bot was blocked by the user');
    switch (method) {
      case 'getMe':
        return result(res, { id: Number(token.split(':')[0]), is_bot: true, first_name: 'Ventanilla' });
      case 'setWebhook': {
        const url = str(body.url);
        if (!url.startsWith('https://'))
          return fail(res, 400, 'Bad Request: bad webhook: An HTTPS URL must be provided for webhook');
        if (body.secret_token !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(str(body.secret_token)))
          return fail(res, 400, 'Bad Request: secret token contains unallowed characters');
        webhook = {
          url,
          ...(body.secret_token ? { secret_token: str(body.secret_token) } : {}),
          ...(Array.isArray(body.allowed_updates)
            ? { allowed_updates: body.allowed_updates as string[] }
            : {}),
        };
        return result(res, true);
      }
      case 'deleteWebhook':
        webhook = null;
        if (body.drop_pending_updates) queue = [];
        return result(res, true);
      case 'getUpdates': {
        if (webhook)
          return fail(
            res,
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
          );
        const offset = typeof body.offset === 'number' ? body.offset : undefined;
        const limit = typeof body.limit === 'number' ? body.limit : 100;
        const timeout = typeof body.timeout === 'number' ? body.timeout : 0;
        if (offset !== undefined) queue = queue.filter((u) => u.update_id >= offset);
        const answer = () => result(res, queue.slice(0, limit));
        if (queue.length || timeout <= 0) return answer();
        const waiter = {
          wake: () => {
            clearTimeout(timer);
            waiters.delete(waiter);
            if (!res.writableEnded && !res.destroyed) answer();
          },
        };
        const timer = setTimeout(waiter.wake, timeout * 1000);
        waiters.add(waiter);
        // The client gave up (an aborted long poll): forget the waiter.
        res.on('close', () => {
          clearTimeout(timer);
          waiters.delete(waiter);
        });
        return;
      }
      case 'sendMessage': {
        const text = typeof body.text === 'string' ? body.text : '';
        if (!text.trim()) return fail(res, 400, 'Bad Request: message text is empty');
        if (text.length > 4096) return fail(res, 400, 'Bad Request: message is too long');
        const bad = checkMarkup(body.reply_markup);
        if (bad) return fail(res, 400, bad);
        return result(res, message(body, { text }));
      }
      case 'sendPhoto':
      case 'sendAudio':
      case 'sendVoice':
      case 'sendDocument': {
        const field = method.slice(4).toLowerCase();
        if (typeof body[field] !== 'string')
          return fail(res, 400, `Bad Request: there is no ${field} in the request`);
        if (typeof body.caption === 'string' && body.caption.length > 1024)
          return fail(res, 400, 'Bad Request: message caption is too long');
        return result(res, message(body, { [field]: { file_id: `sent-${fileN++}` } }));
      }
      case 'sendChatAction':
        return result(res, true);
      case 'answerCallbackQuery':
        return result(res, true);
      case 'getFile': {
        const id = str(body.file_id);
        let file = files.get(id);
        if (!file) {
          // Unknown ids (as in fuzzed payloads) get a small JPEG, so downloads always work.
          file = { bytes: jpeg, path: `photos/file_${fileN++}.jpg` };
          byPath.set(file.path, file.bytes);
        }
        return result(res, {
          file_id: id,
          file_unique_id: `u-${id.slice(0, 16)}`,
          file_size: file.bytes.length,
          file_path: file.path,
        });
      }
      default:
        return fail(res, 404, 'Not Found: method not found');
    }
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const file = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
      if (file) {
        if (file[1] !== token) return fail(res, 401, 'Unauthorized');
        const bytes = byPath.get(decodeURIComponent(file[2]!));
        if (!bytes) return fail(res, 404, 'Not Found');
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return res.end(bytes);
      }
      const m = /^\/bot([^/]+)\/(\w+)$/.exec(url.pathname);
      if (!m) return fail(res, 404, 'Not Found');
      if (m[1] !== token) return fail(res, 401, 'Unauthorized');
      const method = m[2]!;
      let body: Record<string, unknown> = {};
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        body = text ? (JSON.parse(text) as Record<string, unknown>) : Object.fromEntries(url.searchParams);
      } catch {
        return fail(res, 400, 'Bad Request: invalid JSON');
      }
      calls.push({ method, body });
      for (const w of watchers) w();
      const i = script.findIndex((s) => s.methods.includes(method));
      if (i >= 0) {
        const { failure } = script.splice(i, 1)[0]!;
        if (failure === 'drop') return req.socket.destroy();
        if (failure === 'hang') return;
        if (failure === 'garbage') {
          res.writeHead(200, { 'content-type': 'text/html' });
          return res.end('<html>502 Bad Gateway</html>');
        }
        if (failure.status >= 500 && failure.status !== 500) {
          // Telegram's front answers 5xx without a Bot API body; telegraf reads the status line only.
          res.writeHead(failure.status, { 'content-type': 'text/html' });
          return res.end('<html>Bad Gateway</html>');
        }
        return fail(
          res,
          failure.status,
          failure.description ??
            (failure.status === 429
              ? `Too Many Requests: retry after ${failure.retryAfter ?? 1}`
              : failure.status === 403
                ? 'Forbidden: bot was blocked by the user'
                : failure.status === 500
                  ? 'Internal Server Error'
                  : 'Bad Request: chat not found'),
          failure.status === 429 ? { parameters: { retry_after: failure.retryAfter ?? 1 } } : {},
        );
      }
      api(method, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    token,
    calls,
    get webhook() {
      return webhook;
    },
    get queue() {
      return queue;
    },
    blocked,
    callsTo: (method) => calls.filter((c) => c.method === method),
    sent: () => calls.filter((c) => (SEND_METHODS as readonly string[]).includes(c.method)),
    failNext: (failure, methods = SEND_METHODS) => script.push({ failure, methods }),
    push(...updates) {
      queue.push(...(updates as (object & { update_id: number })[]));
      for (const w of [...waiters]) w.wake();
    },
    openPolls: () => waiters.size,
    addFile(fileId, bytes, path) {
      files.set(fileId, { bytes, path });
      byPath.set(path, bytes);
    },
    waitFor(method, n, timeoutMs = 10_000) {
      const have = () => calls.filter((c) => c.method === method);
      if (have().length >= n) return Promise.resolve(have());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          watchers.delete(check);
          reject(new Error(`timed out waiting for ${n} ${method} calls (have ${have().length})`));
        }, timeoutMs);
        const check = () => {
          if (have().length < n) return;
          clearTimeout(timer);
          watchers.delete(check);
          // Let the response reach the client before the test moves on.
          setImmediate(() => resolve(have()));
        };
        watchers.add(check);
      });
    },
    close: () =>
      new Promise((r) => {
        for (const w of waiters) w.wake();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Header Telegram puts on webhook deliveries when `setWebhook` got a `secret_token`. */
export const SECRET_HEADER = 'x-telegram-bot-api-secret-token';

/** A webhook delivery of `update` as Telegram makes it: JSON body, signed with the secret header. */
export function webhookRequest(
  update: unknown,
  secret: string | undefined,
): { headers: Record<string, string>; body: string } {
  return {
    headers: {
      'content-type': 'application/json',
      ...(secret !== undefined ? { [SECRET_HEADER]: secret } : {}),
    },
    body: JSON.stringify(update),
  };
}

/** POST an update to a webhook URL the way Telegram does; returns the HTTP status. */
export async function deliverUpdate(
  url: string,
  update: unknown,
  secret: string | undefined,
): Promise<number> {
  const { headers, body } = webhookRequest(update, secret);
  const res = await fetch(url, { method: 'POST', headers, body });
  await res.arrayBuffer();
  return res.status;
}

/** Builds updates for one private chat, numbering updates and messages like Telegram. */
export class TelegramChat {
  static #updateId = 500_000;
  #messageId = 1;
  readonly user: { id: number; is_bot: false; first_name: string; language_code?: string };
  readonly chat: { id: number; type: 'private'; first_name: string };

  constructor(id: number, opts: { languageCode?: string; firstName?: string } = {}) {
    const first_name = opts.firstName ?? 'Ciudadana';
    this.user = {
      id,
      is_bot: false,
      first_name,
      ...(opts.languageCode ? { language_code: opts.languageCode } : {}),
    };
    this.chat = { id, type: 'private', first_name };
  }

  #update(payload: object): { update_id: number } & Record<string, unknown> {
    return { update_id: ++TelegramChat.#updateId, ...payload };
  }

  /** A message update with the given content fields. */
  message(content: object, chat: object = this.chat): { update_id: number } & Record<string, unknown> {
    return this.#update({
      message: { message_id: this.#messageId++, from: this.user, chat, date: 1773158400, ...content },
    });
  }

  text(text: string) {
    return this.message({ text });
  }

  /** A tap on an inline button: `message` is the bot's message that carried the keyboard. */
  callback(data: string, message?: { message_id: number; text?: string; reply_markup?: unknown }) {
    return this.#update({
      callback_query: {
        id: `${this.user.id}${++TelegramChat.#updateId}`,
        from: this.user,
        chat_instance: '-1234567890123',
        data,
        message: {
          message_id: 1,
          date: 1773158400,
          chat: this.chat,
          from: { id: 1, is_bot: true, first_name: 'Ventanilla' },
          text: '…',
          ...message,
        },
      },
    });
  }

  photo(caption?: string) {
    const size = (n: number, w: number) => ({
      file_id: `photo-${this.#messageId}-${n}`,
      file_unique_id: `up-${this.#messageId}-${n}`,
      file_size: w * 60,
      width: w,
      height: Math.round((w * 3) / 4),
    });
    return this.message({
      photo: [size(0, 90), size(1, 320), size(2, 1280)],
      ...(caption ? { caption } : {}),
    });
  }

  voice() {
    return this.message({
      voice: {
        file_id: `voice-${this.#messageId}`,
        file_unique_id: 'uv',
        duration: 3,
        mime_type: 'audio/ogg',
        file_size: 5120,
      },
    });
  }

  location(latitude: number, longitude: number) {
    return this.message({ location: { latitude, longitude } });
  }

  /** A contact; `own` shares the sender's own number (the request-contact button). */
  contact(phone: string, own = true) {
    return this.message({
      contact: {
        phone_number: phone,
        first_name: 'Ciudadana',
        ...(own ? { user_id: this.user.id } : { user_id: 999 }),
      },
    });
  }

  /** A text in a group the bot was added to. */
  group(text: string) {
    return this.message({ text }, { id: -100123456789, type: 'supergroup', title: 'Vecinos' });
  }
}
