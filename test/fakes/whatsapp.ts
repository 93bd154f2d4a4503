/**
 * A loopback fake of Meta's Graph API for the WhatsApp Cloud API: `POST /{version}/{phone-number-id}/messages`
 * (validating the message shapes and limits Meta enforces), `GET /{version}/{media-id}` and the media download
 * URL it hands out, both behind the bearer token. Sends can be scripted to fail (429 with Retry-After, 5xx, Graph
 * error codes, dropped or hanging connections). Also builds and signs webhook payloads exactly as Meta does
 * (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>`).
 */
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted answer to the next message send. */
export type GraphReply =
  | { kind: 'error'; status: number; code?: number; message?: string; retryAfter?: number }
  | { kind: 'drop' }
  | { kind: 'hang' };

/** A recorded request. */
export interface GraphCall {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: unknown;
}

/** A message the fake accepted, with the wamid it returned. */
export interface SentMessage {
  readonly id: string;
  readonly to: string;
  readonly type: string;
  readonly body: Record<string, unknown>;
}

/** A running fake Graph API. */
export interface FakeGraph {
  readonly baseUrl: string;
  /** Every request (message sends, media lookups, downloads). */
  readonly calls: GraphCall[];
  /** Messages accepted (2xx) in order. */
  readonly sent: SentMessage[];
  /** Message-send requests, accepted or not. */
  sendRequests(): number;
  /** Script the next message sends. */
  respond(...replies: GraphReply[]): void;
  /** Script the next media lookups (`GET /{version}/{media-id}`). */
  respondMedia(...replies: GraphReply[]): void;
  /** Make a media object downloadable. */
  addMedia(id: string, bytes: Buffer, mime: string): void;
  /** Resolves once `n` messages have been accepted in total. */
  waitForSent(n: number, timeoutMs?: number): Promise<SentMessage[]>;
  close(): Promise<void>;
}

const graphError = (code: number, message: string, type = 'OAuthException') => ({
  error: { message, type, code, fbtrace_id: 'AbCdEfGhIjK' },
});

/** Limits Meta enforces on what we send; a violation answers 400 with code 100 (or 132018 for templates). */
function validate(body: Record<string, unknown>): { code: number; message: string } | null {
  const bad = (message: string, code = 100) => ({ code, message: `(#${code}) ${message}` });
  if (body.messaging_product !== 'whatsapp') return bad('The parameter messaging_product is required.');
  if (typeof body.to !== 'string' || !body.to) return bad('The parameter to is required.');
  const type = body.type;
  const obj = (k: string) => (body[k] ?? null) as Record<string, unknown> | null;
  switch (type) {
    case 'text': {
      const t = obj('text');
      if (typeof t?.body !== 'string' || !t.body) return bad('Param text[body] is required');
      if (t.body.length > 4096) return bad('Param text[body] must be at most 4096 characters long.');
      return null;
    }
    case 'interactive': {
      const i = obj('interactive') as {
        type?: string;
        body?: { text?: string };
        action?: {
          buttons?: { type: string; reply: { id: string; title: string } }[];
          button?: string;
          sections?: { rows: { id: string; title: string; description?: string }[] }[];
        };
      } | null;
      const text = i?.body?.text;
      if (typeof text !== 'string' || !text || text.length > 1024)
        return bad('Param interactive[body][text] must be between 1 and 1024 characters.');
      if (i?.type === 'button') {
        const buttons = i.action?.buttons ?? [];
        if (buttons.length < 1 || buttons.length > 3) return bad('Buttons count must be between 1 and 3.');
        const titles = new Set<string>();
        for (const b of buttons) {
          if (b.type !== 'reply' || !b.reply.id || b.reply.id.length > 256) return bad('Invalid button id.');
          if (!b.reply.title || b.reply.title.length > 20) return bad('Button title length invalid.');
          if (titles.has(b.reply.title)) return bad('Button titles must be unique.');
          titles.add(b.reply.title);
        }
        return null;
      }
      if (i?.type === 'list') {
        const button = i.action?.button;
        if (!button || button.length > 20) return bad('Param interactive[action][button] is invalid.');
        const rows = (i.action?.sections ?? []).flatMap((s) => s.rows);
        if (rows.length < 1 || rows.length > 10) return bad('Total row count must be between 1 and 10.');
        for (const r of rows) {
          if (!r.id || r.id.length > 200) return bad('Row id is invalid.');
          if (!r.title || r.title.length > 24) return bad('Row title length invalid.');
          if (r.description && r.description.length > 72) return bad('Row description length invalid.');
        }
        return null;
      }
      return bad('Unsupported interactive type.');
    }
    case 'image':
    case 'audio':
    case 'video':
    case 'document': {
      const m = obj(type);
      if (typeof m?.link !== 'string' || !/^https?:\/\//.test(m.link)) return bad('Invalid media link.');
      if (type === 'audio' && m.caption !== undefined) return bad('Param audio[caption] is not allowed.');
      if (typeof m.caption === 'string' && m.caption.length > 1024) return bad('Caption too long.');
      return null;
    }
    case 'template': {
      const t = obj('template') as {
        name?: string;
        language?: { code?: string };
        components?: { type: string; parameters: { type: string; text: string }[] }[];
      } | null;
      if (!t?.name || !t.language?.code) return bad('Template name and language are required.');
      for (const c of t.components ?? []) {
        for (const p of c.parameters) {
          if (!p.text) return bad('Parameter text is required.');
          if (/[\n\t]| {5,}/.test(p.text))
            return bad(
              'Param text cannot have new-line/tab characters or more than 4 consecutive spaces',
              132018,
            );
        }
      }
      return null;
    }
    default:
      return bad(`Unsupported message type ${String(type)}`);
  }
}

/** Start the fake on 127.0.0.1 with a random port; every request needs `Authorization: Bearer <token>`. */
export async function startFakeGraph(opts: { token: string; version?: string }): Promise<FakeGraph> {
  const calls: GraphCall[] = [];
  const sent: SentMessage[] = [];
  const script: GraphReply[] = [];
  const mediaScript: GraphReply[] = [];
  const media = new Map<string, { bytes: Buffer; mime: string }>();
  const waiters: { n: number; resolve: () => void }[] = [];
  let sendRequests = 0;
  let n = 0;
  let baseUrl = '';

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = raw;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        // not JSON
      }
      const path = req.url ?? '/';
      calls.push({ method: req.method ?? 'GET', path, headers: req.headers, body });
      // Graph answers JSON as text/javascript, which clients must still parse.
      const json = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'text/javascript; charset=UTF-8', ...headers });
        res.end(JSON.stringify(payload));
      };
      const scripted = (reply: GraphReply | undefined): boolean => {
        if (!reply) return false;
        switch (reply.kind) {
          case 'drop':
            req.socket.destroy();
            return true;
          case 'hang':
            return true;
          case 'error':
            json(
              reply.status,
              graphError(
                reply.code ?? (reply.status >= 500 ? 1 : 100),
                reply.message ?? `status ${reply.status}`,
              ),
              reply.retryAfter !== undefined ? { 'retry-after': String(reply.retryAfter) } : {},
            );
            return true;
        }
      };
      if (req.headers.authorization !== `Bearer ${opts.token}`) {
        json(401, graphError(190, 'Invalid OAuth access token - Cannot parse access token'));
        return;
      }
      const url = new URL(path, 'http://fake');
      const parts = url.pathname.split('/').filter(Boolean);
      if (req.method === 'POST' && parts.length === 3 && parts[2] === 'messages') {
        sendRequests++;
        if (scripted(script.shift())) return;
        const b = (body ?? {}) as Record<string, unknown>;
        const problem = validate(b);
        if (problem) {
          json(400, graphError(problem.code, problem.message));
          return;
        }
        const id = `wamid.HBgNNTIxMjI5MTIzNDU2NxUCABEYEj${String(++n).padStart(6, '0')}`;
        sent.push({ id, to: String(b.to), type: String(b.type), body: b });
        for (const w of waiters.splice(0)) {
          if (sent.length >= w.n) w.resolve();
          else waiters.push(w);
        }
        json(200, {
          messaging_product: 'whatsapp',
          contacts: [{ input: b.to, wa_id: b.to }],
          messages: [{ id, ...(b.type === 'template' ? { message_status: 'accepted' } : {}) }],
        });
        return;
      }
      if (req.method === 'GET' && parts[0] === 'download' && parts.length === 2) {
        const m = media.get(parts[1]!);
        if (!m) {
          res.writeHead(404, { 'content-type': 'text/html' });
          res.end('<html>Not found</html>');
          return;
        }
        res.writeHead(200, { 'content-type': m.mime, 'content-length': String(m.bytes.length) });
        res.end(m.bytes);
        return;
      }
      if (req.method === 'GET' && parts.length === 2) {
        if (scripted(mediaScript.shift())) return;
        const id = decodeURIComponent(parts[1]!);
        const m = media.get(id);
        if (!m) {
          json(
            400,
            graphError(
              100,
              `Unsupported get request. Object with ID '${id.slice(0, 40)}' does not exist`,
              'GraphMethodException',
            ),
          );
          return;
        }
        json(200, {
          messaging_product: 'whatsapp',
          url: `${baseUrl}/download/${encodeURIComponent(id)}?ext=1&hash=ARx`,
          mime_type: m.mime,
          sha256: 'c0ffee',
          file_size: m.bytes.length,
          id,
        });
        return;
      }
      json(400, graphError(100, 'Unknown path components'));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    calls,
    sent,
    sendRequests: () => sendRequests,
    respond: (...replies) => script.push(...replies),
    respondMedia: (...replies) => mediaScript.push(...replies),
    addMedia: (id, bytes, mime) => media.set(id, { bytes, mime }),
    waitForSent(count, timeoutMs = 10_000) {
      if (sent.length >= count) return Promise.resolve(sent.slice());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `timed out waiting for ${count} WhatsApp sends (have ${sent.length}: ${sent.map(textOf).join(' | ')})`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          n: count,
          resolve: () => {
            clearTimeout(timer);
            resolve(sent.slice());
          },
        });
      });
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** What a citizen sees of a sent message, by part: its text, the labels of its buttons or list rows, a template. */
export function partsOf(m: SentMessage): {
  text: string;
  labels: string[];
  template?: { name: string; params: string[] };
  /** A media message's link, when it has no caption. */
  link?: string;
} {
  const b = m.body as {
    text?: { body: string };
    interactive?: {
      body: { text: string };
      action: {
        buttons?: { reply: { title: string } }[];
        sections?: { rows: { title: string; description?: string }[] }[];
      };
    };
    template?: { name: string; components?: { parameters: { text: string }[] }[] };
  } & Record<string, { caption?: string; link?: string } | undefined>;
  if (b.text) return { text: b.text.body, labels: [] };
  if (b.interactive) {
    const a = b.interactive.action;
    return {
      text: b.interactive.body.text,
      labels: [
        ...(a.buttons ?? []).map((x) => x.reply.title),
        // A row's description holds its label in full when the title had to be cut.
        ...(a.sections ?? []).flatMap((s) => s.rows.map((r) => r.description ?? r.title)),
      ],
    };
  }
  if (b.template) {
    const params = (b.template.components ?? []).flatMap((c) => c.parameters.map((p) => p.text));
    return { text: '', labels: [], template: { name: b.template.name, params } };
  }
  const media = b[m.type];
  if (media?.caption !== undefined) return { text: media.caption, labels: [] };
  return { text: '', labels: [], ...(media?.link !== undefined ? { link: media.link } : {}) };
}

/** The human-visible text of a sent message (body, button titles, list rows, template parameters). */
export function textOf(m: SentMessage): string {
  const { text, labels, template } = partsOf(m);
  if (template) return [template.name, ...template.params].join(' ');
  return labels.length ? [text, ...labels].join(' ') : text;
}

/** The reply choices (`id`, `title`) of an interactive message, if any. */
export function choicesOf(m: SentMessage): { id: string; title: string }[] {
  const a = (
    m.body as {
      interactive?: {
        action: {
          buttons?: { reply: { id: string; title: string } }[];
          sections?: { rows: { id: string; title: string }[] }[];
        };
      };
    }
  ).interactive?.action;
  return [...(a?.buttons ?? []).map((b) => b.reply), ...(a?.sections ?? []).flatMap((s) => s.rows)];
}

// ---- Webhook payloads, as Meta sends them ----

/** Meta's webhook signature header value for a raw body. */
export function signWebhook(rawBody: Buffer | string, appSecret: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`;
}

/** The envelope of a `messages` webhook for one phone number. */
export function webhookPayload(
  phoneNumberId: string,
  value: { messages?: unknown[]; statuses?: unknown[]; contacts?: unknown[] },
): Record<string, unknown> {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: phoneNumberId },
              ...value,
            },
          },
        ],
      },
    ],
  };
}

let seq = 0;
/** A fresh, wamid-shaped inbound message id. */
export function wamid(): string {
  return `wamid.HBgNNTIxMjI5MTIzNDU2NxUCABIYFDNBRkE${Date.now().toString(36).toUpperCase()}${++seq}`;
}

const unix = (at: Date) => String(Math.floor(at.getTime() / 1000));

/** An inbound message from `from` (a wa_id), with the sender's contact block. */
export function inboundMessage(
  phoneNumberId: string,
  from: string,
  message: Record<string, unknown> & { type: string },
  opts: { id?: string; at?: Date; name?: string } = {},
): Record<string, unknown> {
  return webhookPayload(phoneNumberId, {
    contacts: [{ profile: { name: opts.name ?? 'Ciudadana Prueba' }, wa_id: from }],
    messages: [{ from, id: opts.id ?? wamid(), timestamp: unix(opts.at ?? new Date()), ...message }],
  });
}

/** Message bodies of the kinds citizens send. */
export const messages = {
  text: (body: string) => ({ type: 'text', text: { body } }),
  button: (id: string, title: string) => ({
    type: 'interactive',
    interactive: { type: 'button_reply', button_reply: { id, title } },
  }),
  list: (id: string, title: string) => ({
    type: 'interactive',
    interactive: { type: 'list_reply', list_reply: { id, title } },
  }),
  image: (mediaId: string, caption?: string) => ({
    type: 'image',
    image: { id: mediaId, mime_type: 'image/jpeg', sha256: 'c0ffee', ...(caption ? { caption } : {}) },
  }),
  voice: (mediaId: string) => ({
    type: 'audio',
    audio: { id: mediaId, mime_type: 'audio/ogg; codecs=opus', sha256: 'c0ffee', voice: true },
  }),
  location: (latitude: number, longitude: number, name?: string, address?: string) => ({
    type: 'location',
    location: { latitude, longitude, ...(name ? { name } : {}), ...(address ? { address } : {}) },
  }),
};

/** A status webhook about one of our messages. */
export function statusPayload(
  phoneNumberId: string,
  id: string,
  status: 'sent' | 'delivered' | 'read' | 'failed',
  recipient: string,
  error?: { code: number; title: string },
  at = new Date(),
): Record<string, unknown> {
  return webhookPayload(phoneNumberId, {
    statuses: [
      {
        id,
        status,
        timestamp: unix(at),
        recipient_id: recipient,
        ...(error
          ? { errors: [{ ...error, message: error.title, error_data: { details: error.title } }] }
          : {}),
      },
    ],
  });
}

/** POST a signed webhook to a running app; returns the HTTP response. */
export async function postWebhook(url: string, payload: unknown, appSecret: string): Promise<Response> {
  const body = JSON.stringify(payload);
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signWebhook(body, appSecret) },
    body,
  });
}
