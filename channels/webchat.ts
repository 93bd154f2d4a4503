/**
 * Web chat over socket.io 4 (namespace `/webchat`), an event-source channel.
 *
 * Protocol (documented in the README, "Web-chat socket protocol"):
 *  - connect with `auth: { secret?, locale? }`; the server answers `session` `{ secret, resumed }` and `history`.
 *  - client → server `message.send` (ack `{ ok, id }` or `{ ok: false, code, message }`).
 *  - server → client `message.created`, `chat.error`.
 * The session secret (≥ 144 random bits) lives only in the browser; the server stores a hash of it as the
 * citizen's web-chat identity, so a database leak does not expose live sessions.
 * Photos are uploaded over HTTP first (`upload()`, mounted at `POST /webchat/uploads`), then referenced by id.
 */
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Namespace, Server, Socket } from 'socket.io';
import { z } from 'zod';
import type { MediaStore } from '../integrations/contract.ts';
import { ChannelError } from './contract.ts';
import type { Address, Capabilities, ChannelAdapter, Emit, Inbound, Outbound } from './contract.ts';
import {
  createLimiter,
  defineChannel,
  inboundId,
  randomSecret,
  sanitizeImage,
  secretKey,
} from './kit/index.ts';
import type { ChannelLogger } from './kit/index.ts';
import { MAX_IMAGE_BYTES } from './kit/image.ts';

const NAME = 'webchat';
const SECRET_RE = /^[A-Za-z0-9_-]{22,128}$/;

/** Web-chat settings (from `WEBCHAT_*` variables). */
export const webchatConfig = z.object({
  /** Origins allowed to embed the widget; `*` allows any. The server's own origin is always allowed. */
  allowedOrigins: z.array(z.string()).default([]),
  /** The server's public origin (from `PUBLIC_URL`). */
  publicOrigin: z.string().optional(),
  /** Take the client IP from `X-Forwarded-For` (behind a trusted reverse proxy). */
  trustProxy: z.boolean().default(false),
  connectionsPerIp: z
    .object({ burst: z.number().positive(), perSecond: z.number().positive() })
    .default({ burst: 20, perSecond: 0.5 }),
  maxOpenPerIp: z.number().int().positive().default(50),
  messagesPerIp: z
    .object({ burst: z.number().positive(), perSecond: z.number().positive() })
    .default({ burst: 30, perSecond: 1 }),
  uploadsPerIp: z
    .object({ burst: z.number().positive(), perSecond: z.number().positive() })
    .default({ burst: 10, perSecond: 0.1 }),
  /** Longest text accepted in one socket message (the runtime asks for shorter text above its own limit). */
  maxPayloadText: z.number().int().positive().default(20_000),
});
/** See {@link webchatConfig}. */
export type WebchatConfig = z.infer<typeof webchatConfig>;

/** A message as the widget renders it. */
export interface ChatMessageDto {
  readonly id: string;
  readonly direction: 'in' | 'out';
  readonly kind: string;
  readonly text: string | null;
  readonly choices?: readonly { id: string; label: string }[];
  readonly media?: { url?: string; mime: string };
  readonly status?: string;
  readonly at: string;
}

/** Client → server payload of `message.send`. */
export const ClientMessageSchema = z.discriminatedUnion('kind', [
  z.object({ clientId: z.string().uuid(), kind: z.literal('text'), text: z.string().min(1).max(20_000) }),
  z.object({
    clientId: z.string().uuid(),
    kind: z.literal('choice'),
    choiceId: z.string().min(1).max(256),
    label: z.string().max(512).optional(),
  }),
  z.object({
    clientId: z.string().uuid(),
    kind: z.literal('location'),
    lat: z.number().min(-90).max(90),
    lon: z.number().min(-180).max(180),
  }),
  z.object({
    clientId: z.string().uuid(),
    kind: z.literal('media'),
    mediaId: z.string().uuid(),
    caption: z.string().max(1024).optional(),
  }),
]);
/** See {@link ClientMessageSchema}. */
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

const AuthSchema = z
  .object({ secret: z.string().optional(), locale: z.string().max(35).optional() })
  .passthrough();

/** Acknowledgement of `message.send`. */
export type SendAck =
  { ok: true; id: string } | { ok: false; code: string; message: string; retryAfterMs?: number };

/** What the web-chat adapter needs from the composition root. */
export interface WebchatDeps {
  readonly io: Server;
  readonly media: MediaStore;
  /** Past messages of a session, for resuming after reload. */
  readonly history: (user: string) => Promise<ChatMessageDto[]>;
  /** Whether a session is known from earlier turns (uploads need a real session). */
  readonly sessionExists: (user: string) => Promise<boolean>;
  readonly log: ChannelLogger;
  readonly now?: () => Date;
}

/** The result of an upload request. */
export interface UploadResult {
  readonly status: number;
  readonly body: { mediaId: string; mime: string; bytes: number } | { code: string; message: string };
  readonly headers?: Record<string, string>;
}

/** The web-chat adapter, with its HTTP upload handler and origin check. */
export interface WebchatAdapter extends ChannelAdapter {
  /** Cheap checks before the body is read (rate limit, credentials shape, type, declared size); null to go on. */
  precheckUpload(req: {
    headers: Record<string, string | string[] | undefined>;
    ip: string;
  }): UploadResult | null;
  upload(req: {
    headers: Record<string, string | string[] | undefined>;
    ip: string;
    body: Buffer;
  }): Promise<UploadResult>;
  /** Whether a browser Origin may connect (also used for CORS on uploads). */
  originAllowed(origin: string | undefined, host: string | undefined): boolean;
}

const capabilities: Capabilities = {
  delivery: 'push',
  choices: { max: 20, style: 'buttons' },
  media: ['image'],
  maxText: 4096,
  typing: true,
  templates: false,
  speech: false,
};

/** DTO of an outbound message (its id is the stored message id carried in the idempotency key). */
export function outboundDto(id: string, outbound: Outbound, at: Date): ChatMessageDto {
  switch (outbound.kind) {
    case 'text':
      return { id, direction: 'out', kind: 'text', text: outbound.text, at: at.toISOString() };
    case 'choices':
      return {
        id,
        direction: 'out',
        kind: 'choices',
        text: outbound.text,
        choices: outbound.choices,
        at: at.toISOString(),
      };
    case 'media':
      return {
        id,
        direction: 'out',
        kind: 'media',
        text: outbound.caption ?? null,
        media: { url: outbound.url, mime: outbound.mime },
        at: at.toISOString(),
      };
    case 'template':
      return { id, direction: 'out', kind: 'text', text: outbound.fallbackText, at: at.toISOString() };
    case 'speech':
      return { id, direction: 'out', kind: 'text', text: outbound.text, at: at.toISOString() };
    case 'typing':
      return { id, direction: 'out', kind: 'typing', text: null, at: at.toISOString() };
  }
}

function clientIp(
  headers: IncomingMessage['headers'] | Record<string, string | string[] | undefined>,
  fallback: string,
  trustProxy: boolean,
): string {
  if (trustProxy) {
    // The rightmost entry is the one our own proxy appended; anything left of it is client-supplied.
    const xff = headers['x-forwarded-for'];
    const last = (Array.isArray(xff) ? xff.at(-1) : xff)?.split(',').at(-1)?.trim();
    if (last) return last;
  }
  return fallback;
}

function originOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

export const webchat = defineChannel({
  name: NAME,
  config: webchatConfig,
  capabilities,
  create(config: WebchatConfig, deps: WebchatDeps): WebchatAdapter {
    const now = deps.now ?? (() => new Date());
    const nsp: Namespace = deps.io.of('/webchat');
    const connLimiter = createLimiter(config.connectionsPerIp);
    const msgLimiter = createLimiter(config.messagesPerIp);
    const uploadLimiter = createLimiter(config.uploadsPerIp);
    const open = new Map<string, number>();
    /** Sessions with a socket connected to this node (count of sockets). */
    const connected = new Map<string, number>();
    const allowed = new Set(config.allowedOrigins.map((o) => originOf(o) ?? o));
    const publicOrigin = originOf(config.publicOrigin);
    let emit: Emit | undefined;

    const originAllowed = (origin: string | undefined, host: string | undefined): boolean => {
      // Non-browser clients send no Origin; the check protects against other sites embedding us in a browser.
      if (!origin) return true;
      if (allowed.has('*') || allowed.has(origin) || origin === publicOrigin) return true;
      const o = originOf(origin);
      return o !== undefined && host !== undefined && new URL(o).host === host;
    };

    /** The upload's credentials and type, or the error to answer. */
    const checkShape = (
      headers: Record<string, string | string[] | undefined>,
    ): UploadResult | { secret: string } => {
      const auth = headers.authorization;
      const secret = typeof auth === 'string' ? /^Bearer\s+(\S+)$/i.exec(auth)?.[1] : undefined;
      if (!secret || !SECRET_RE.test(secret)) {
        return {
          status: 401,
          body: {
            code: 'CHANNEL_SESSION_INVALID',
            message: 'Send the chat session secret as a Bearer token.',
          },
        };
      }
      const type =
        String(headers['content-type'] ?? '')
          .split(';')[0]
          ?.trim()
          .toLowerCase() ?? '';
      if (!type.startsWith('image/')) {
        return {
          status: 415,
          body: {
            code: 'CHANNEL_UPLOAD_INVALID',
            message: 'Only images can be uploaded (Content-Type image/*).',
          },
        };
      }
      if (Number(headers['content-length'] ?? 0) > MAX_IMAGE_BYTES) {
        return {
          status: 413,
          body: { code: 'CHANNEL_UPLOAD_TOO_LARGE', message: 'Images must be 10 MB or smaller.' },
        };
      }
      return { secret };
    };

    const ipOf = (socket: Socket) =>
      clientIp(socket.handshake.headers, socket.handshake.address, config.trustProxy);

    const fail = (ack: unknown, code: string, message: string, extra: { retryAfterMs?: number } = {}) => {
      const payload: SendAck = { ok: false, code, message, ...extra };
      if (typeof ack === 'function') (ack as (a: SendAck) => void)(payload);
      return payload;
    };

    async function onMessage(
      socket: Socket,
      user: string,
      locale: string | undefined,
      payload: unknown,
      ack: unknown,
    ) {
      const ip = ipOf(socket);
      if (!msgLimiter.take(ip)) {
        deps.log.warn({ channel: NAME, code: 'CHANNEL_RATE_LIMITED' }, 'web-chat message rate limited');
        return fail(ack, 'CHANNEL_RATE_LIMITED', 'Too many messages; wait a moment.', {
          retryAfterMs: msgLimiter.retryAfterMs(ip),
        });
      }
      const parsed = ClientMessageSchema.safeParse(payload);
      if (!parsed.success) {
        const field = parsed.error.issues[0]?.path.join('.') || 'payload';
        return fail(
          ack,
          'CHANNEL_PAYLOAD_INVALID',
          `Invalid message.send payload (${field}: ${parsed.error.issues[0]?.message ?? 'invalid'})`,
        );
      }
      const m = parsed.data;
      if (m.kind === 'text' && m.text.length > config.maxPayloadText) {
        return fail(ack, 'CHANNEL_PAYLOAD_INVALID', 'Text too long');
      }
      const address: Address = { channel: NAME, user };
      const externalId = `${user}:${m.clientId}`;
      const base = {
        id: inboundId(NAME, externalId),
        externalId,
        address,
        at: now().toISOString(),
        raw: m,
        ...(locale ? { locale } : {}),
      };
      let inbound: Inbound;
      switch (m.kind) {
        case 'text':
          inbound = { ...base, kind: 'text', text: m.text };
          break;
        case 'choice':
          inbound = { ...base, kind: 'choice', choiceId: m.choiceId, ...(m.label ? { text: m.label } : {}) };
          break;
        case 'location':
          inbound = { ...base, kind: 'location', lat: m.lat, lon: m.lon };
          break;
        case 'media': {
          const stored = await deps.media.get(m.mediaId);
          if (!stored) return fail(ack, 'CHANNEL_PAYLOAD_INVALID', 'Unknown mediaId: upload the photo first');
          inbound = {
            ...base,
            kind: 'media',
            media: [
              {
                mediaId: stored.id,
                mime: stored.mime,
                bytes: stored.bytes,
                ...(m.caption ? { caption: m.caption } : {}),
              },
            ],
          };
          break;
        }
      }
      if (!emit) return fail(ack, 'CHANNEL_UNAVAILABLE', 'Chat is not accepting messages right now');
      try {
        await emit(inbound);
      } catch (err) {
        const code =
          err instanceof Error && 'code' in err
            ? String((err as { code: unknown }).code)
            : 'CHANNEL_UNAVAILABLE';
        deps.log.warn({ channel: NAME, code }, 'web-chat message not accepted');
        return fail(ack, code, 'The message could not be processed; send it again.');
      }
      // Echo to the session's other tabs.
      socket.to(`s:${user}`).emit('message.created', {
        id: inbound.id,
        direction: 'in',
        kind: inbound.kind,
        text: m.kind === 'text' ? m.text : m.kind === 'choice' ? (m.label ?? m.choiceId) : null,
        at: inbound.at,
      } satisfies ChatMessageDto);
      const ok: SendAck = { ok: true, id: inbound.id };
      if (typeof ack === 'function') (ack as (a: SendAck) => void)(ok);
      return ok;
    }

    function onConnection(socket: Socket) {
      const auth = AuthSchema.safeParse(socket.handshake.auth);
      const given = auth.success ? auth.data.secret : undefined;
      const locale = auth.success ? auth.data.locale : undefined;
      const resumed = given !== undefined && SECRET_RE.test(given);
      const secret = resumed ? given : randomSecret(24);
      const user = secretKey(secret);
      const ip = ipOf(socket);
      open.set(ip, (open.get(ip) ?? 0) + 1);
      socket.on('disconnect', () => {
        const n = (open.get(ip) ?? 1) - 1;
        if (n <= 0) open.delete(ip);
        else open.set(ip, n);
      });
      connected.set(user, (connected.get(user) ?? 0) + 1);
      socket.on('disconnect', () => {
        const n = (connected.get(user) ?? 1) - 1;
        if (n <= 0) connected.delete(user);
        else connected.set(user, n);
      });
      void socket.join(`s:${user}`);
      socket.emit('session', { secret, resumed });
      if (resumed) {
        deps
          .history(user)
          .then((messages) => socket.emit('history', { messages }))
          .catch((err: unknown) =>
            deps.log.warn({ channel: NAME, err: String(err) }, 'could not load web-chat history'),
          );
      } else {
        socket.emit('history', { messages: [] });
      }
      socket.on('message.send', (payload: unknown, ack: unknown) => {
        onMessage(socket, user, locale, payload, ack).catch((err: unknown) => {
          // Never let one message take the process down (e.g. the database restarting under a media lookup).
          deps.log.error(
            { channel: NAME, err: err instanceof Error ? err.message : String(err) },
            'web-chat message failed',
          );
          fail(ack, 'CHANNEL_UNAVAILABLE', 'The message could not be processed; send it again.');
        });
      });
      socket.onAny((event: string, ...args: unknown[]) => {
        if (event === 'message.send') return;
        const ack = args.at(-1);
        const payload = {
          ok: false,
          code: 'CHANNEL_PAYLOAD_INVALID',
          message: `Unknown event "${event.slice(0, 64)}"`,
        } as const;
        if (typeof ack === 'function') (ack as (a: unknown) => void)(payload);
        else socket.emit('chat.error', { code: payload.code, message: payload.message });
      });
    }

    nsp.use((socket, next) => {
      const ip = ipOf(socket);
      if (!originAllowed(socket.handshake.headers.origin, socket.handshake.headers.host)) {
        deps.log.warn({ channel: NAME, code: 'CHANNEL_ORIGIN_FORBIDDEN' }, 'web-chat origin refused');
        return next(new Error('CHANNEL_ORIGIN_FORBIDDEN'));
      }
      if (!connLimiter.take(ip) || (open.get(ip) ?? 0) >= config.maxOpenPerIp) {
        deps.log.warn({ channel: NAME, code: 'CHANNEL_RATE_LIMITED' }, 'web-chat connection rate limited');
        return next(new Error('CHANNEL_RATE_LIMITED'));
      }
      next();
    });

    return {
      name: NAME,
      capabilities,
      originAllowed,
      async start(e) {
        emit = e;
        nsp.on('connection', onConnection);
      },
      async stop() {
        emit = undefined;
        nsp.disconnectSockets(true);
        nsp.removeAllListeners('connection');
      },
      async send(address, outbound, ctx) {
        if (!address.user) throw new ChannelError('CHANNEL_REJECTED', 'Address without a session');
        // A long message is sent in parts (`…#0`, `…#1`): each part keeps its own id so the widget shows all.
        const id = ctx.idempotencyKey.replace(/^out:/, '') || randomUUID();
        // Stored history covers sessions that are offline now; the room (across nodes with the Redis adapter)
        // covers the open tabs.
        nsp.to(`s:${address.user}`).emit('message.created', outboundDto(id, outbound, now()));
        return { externalId: ctx.idempotencyKey };
      },
      precheckUpload(req) {
        const ip = clientIp(req.headers, req.ip, config.trustProxy);
        if (!uploadLimiter.take(ip)) {
          const retry = uploadLimiter.retryAfterMs(ip);
          return {
            status: 429,
            headers: { 'retry-after': String(Math.ceil(retry / 1000)) },
            body: { code: 'CHANNEL_RATE_LIMITED', message: 'Too many uploads; wait a moment.' },
          };
        }
        const shape = checkShape(req.headers);
        return 'status' in shape ? shape : null;
      },
      async upload(req) {
        const shape = checkShape(req.headers);
        if ('status' in shape) return shape;
        const { secret } = shape;
        const user = secretKey(secret);
        // Only a real session may store files: one connected now, or one with an earlier conversation.
        if (!connected.has(user) && !(await deps.sessionExists(user))) {
          return {
            status: 401,
            body: {
              code: 'CHANNEL_SESSION_INVALID',
              message: 'Unknown chat session; connect to the chat first.',
            },
          };
        }
        if (req.body.length > MAX_IMAGE_BYTES) {
          return {
            status: 413,
            body: { code: 'CHANNEL_UPLOAD_TOO_LARGE', message: 'Images must be 10 MB or smaller.' },
          };
        }
        try {
          const clean = await sanitizeImage(req.body);
          const stored = await deps.media.save({ bytes: clean.bytes, mime: clean.mime, contactHint: user });
          return { status: 201, body: { mediaId: stored.id, mime: stored.mime, bytes: stored.bytes } };
        } catch (err) {
          if (err instanceof ChannelError) {
            const status = err.code === 'CHANNEL_UPLOAD_TOO_LARGE' ? 413 : 415;
            return { status, body: { code: err.code, message: err.message } };
          }
          throw err;
        }
      },
    };
  },
});
