/**
 * The message kernel: one normalised event type for every channel.
 *
 * To add a channel:
 *  1. add its literal to {@link CHANNEL_NAMES} (the compiler then asks for a registry entry in `channels/index.ts`);
 *  2. write `channels/<name>.ts` with `defineChannel({...})`: `receive(req)` for webhook providers or
 *     `start(emit)`/`stop()` for event sources, plus `send(address, outbound, ctx)`;
 *  3. write `test/channels/<name>.test.ts` running `channelContract(...)` against a loopback fake of the provider.
 *
 * This file imports nothing but zod, so that every other folder may depend on it.
 */
import { z } from 'zod';

/** A nominal string type: `Brand<string, 'ContactId'>` cannot be mixed up with another id. */
export type Brand<T, B extends string> = T & { readonly __brand: B };
/** Internal id of a conversation (uuid). */
export type ConversationId = Brand<string, 'ConversationId'>;
/** Internal id of a contact, i.e. a person across channels (uuid). */
export type ContactId = Brand<string, 'ContactId'>;
/** Citizen-facing case identifier, `PREFIX-YYYY-NNNNNN` (e.g. `VER-2026-000123`). */
export type CaseFolio = Brand<string, 'CaseFolio'>;
/** A provider's own id for a message; with the channel name it is the idempotency key of an inbound event. */
export type ExternalId = Brand<string, 'ExternalId'>;
/** Internal id of a stored message (uuid); deterministic for inbound events so redeliveries collide. */
export type MessageId = Brand<string, 'MessageId'>;

/**
 * Every channel Ventanilla speaks. Closed on purpose: the registry in `channels/index.ts` must cover each one.
 * `whatsapp` and `whatsapp-web` share the phone identity of a contact.
 */
export const CHANNEL_NAMES = [
  'whatsapp',
  'whatsapp-web',
  'telegram',
  'webchat',
  'email',
  'twilio-sms',
  'twilio-voice',
  'slack',
  'botframework',
] as const;
/** The closed union of channel names. */
export type ChannelName = (typeof CHANNEL_NAMES)[number];
/** zod schema of {@link ChannelName}. */
export const ChannelNameSchema = z.enum(CHANNEL_NAMES);

/**
 * Everything needed to reply to someone later, proactively (our `ConversationReference`).
 * `user` is the provider's stable id of the citizen on that channel (chat id, phone, session key);
 * `thread` optionally scopes a reply (email thread, Slack thread); `extra` carries provider specifics
 * such as a Bot Framework service URL. Adapters own the meaning of `user`, `thread` and `extra`.
 */
export const AddressSchema = z.object({
  channel: z.string().min(1),
  user: z.string().min(1).max(512),
  thread: z.string().max(512).optional(),
  extra: z.record(z.string(), z.string()).optional(),
});
/** See {@link AddressSchema}. `channel` is a {@link ChannelName} or a test-only channel's name. */
export type Address = z.infer<typeof AddressSchema>;

/** Fields shared by every inbound event. `raw` is kept for audit and debugging; dialogs never read it. */
export const InboundBaseSchema = z.object({
  /** Deterministic id derived from channel + externalId: a redelivery yields the same id. */
  id: z.string().min(1),
  /** The provider's message id (idempotency key, unique per channel). */
  externalId: z.string().min(1).max(512),
  address: AddressSchema,
  /** When the provider says the message was sent (ISO 8601). */
  at: z.string().datetime({ offset: true }),
  /** BCP 47 locale hint from the channel (browser language, profile language). */
  locale: z.string().max(35).optional(),
  /**
   * Identifiers the provider vouches for (WhatsApp's and Twilio's sender phone, an e-mail sender): the store joins
   * identities that share one into a single contact. Phones are E.164 (`+522291234567`), e-mails lower-case.
   */
  identity: z
    .object({
      phone: z
        .string()
        .regex(/^\+[1-9]\d{7,14}$/)
        .optional(),
      email: z.string().email().max(254).optional(),
    })
    .optional(),
  raw: z.unknown(),
});

/** A media item received from a citizen, already stored through the runtime's media port. */
export const InboundMediaSchema = z.object({
  mediaId: z.string().min(1),
  mime: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  caption: z.string().max(4096).optional(),
});

/** Normalised inbound event, discriminated on `kind` (never `type`, which raw provider payloads use). */
export const InboundSchema = z.discriminatedUnion('kind', [
  InboundBaseSchema.extend({ kind: z.literal('text'), text: z.string() }),
  InboundBaseSchema.extend({
    kind: z.literal('choice'),
    choiceId: z.string().min(1).max(256),
    /** The label the citizen saw, when the channel reports it. */
    text: z.string().optional(),
  }),
  InboundBaseSchema.extend({ kind: z.literal('media'), media: z.array(InboundMediaSchema).min(1) }),
  InboundBaseSchema.extend({
    kind: z.literal('location'),
    lat: z.number().min(-90).max(90),
    lon: z.number().min(-180).max(180),
    label: z.string().max(512).optional(),
  }),
  InboundBaseSchema.extend({ kind: z.literal('call'), phase: z.enum(['started', 'ended']) }),
  /**
   * The citizen shared a phone number (Telegram's request-contact button). `own` is true only when the provider
   * says the number belongs to the sender; only then may it link identities.
   */
  InboundBaseSchema.extend({
    kind: z.literal('contact'),
    phone: z.string().regex(/^\+[1-9]\d{7,14}$/),
    own: z.boolean(),
  }),
  InboundBaseSchema.extend({
    kind: z.literal('receipt'),
    /** The provider's external id of the outbound message this receipt is about. */
    of: z.string().min(1),
    status: z.enum(['sent', 'delivered', 'read', 'failed']),
    error: z.string().optional(),
  }),
]);
/** See {@link InboundSchema}. */
export type Inbound = z.infer<typeof InboundSchema>;
/** The `kind` values of {@link Inbound}. */
export type InboundKind = Inbound['kind'];

/** One option of a choice prompt. `id` comes back as `Inbound.choiceId`. */
export const ChoiceSchema = z.object({ id: z.string().min(1).max(256), label: z.string().min(1) });
/** See {@link ChoiceSchema}. */
export type Choice = z.infer<typeof ChoiceSchema>;

/** Normalised outbound message, discriminated on `kind`. Channels degrade what they cannot show. */
export const OutboundSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('text'), text: z.string().min(1) }),
  z.object({ kind: z.literal('choices'), text: z.string().min(1), choices: z.array(ChoiceSchema).min(1) }),
  z.object({
    kind: z.literal('media'),
    url: z.string().min(1),
    mime: z.string().min(1),
    caption: z.string().optional(),
  }),
  z.object({
    kind: z.literal('template'),
    template: z.string().min(1),
    params: z.array(z.string()),
    /** Plain-text rendering for channels without templates. */
    fallbackText: z.string().min(1),
  }),
  z.object({
    kind: z.literal('speech'),
    text: z.string().min(1),
    gather: z.enum(['speech', 'dtmf']).optional(),
  }),
  z.object({ kind: z.literal('typing') }),
]);
/** See {@link OutboundSchema}. */
export type Outbound = z.infer<typeof OutboundSchema>;
/** The `kind` values of {@link Outbound}. */
export type OutboundKind = Outbound['kind'];

/** What a channel can show; `channels/kit/degrade.ts` adapts every {@link Outbound} to it. */
export interface Capabilities {
  /** `push`: the adapter sends at any time. `in-response`: replies must go in the webhook response (Twilio voice). */
  readonly delivery: 'push' | 'in-response';
  /** How many choices fit and how they look; `numbered` renders "1. …" text options. */
  readonly choices: { readonly max: number; readonly style: 'buttons' | 'numbered' | 'dtmf' };
  /** Media kinds the channel can send. */
  readonly media: readonly ('image' | 'audio' | 'video' | 'document')[];
  /** Longest text the provider accepts in one message; longer text is split. */
  readonly maxText: number;
  readonly typing: boolean;
  readonly templates: boolean;
  readonly speech: boolean;
}

/** Result of a successful send: the provider's id of the delivered message. */
export interface Delivery {
  readonly externalId: string;
}

/** Extra facts an adapter may need to send, given by the outbox. */
export interface SendContext {
  /** Stable key of this outbound message; providers that support idempotency get it. */
  readonly idempotencyKey: string;
  /** When the citizen last wrote on this address (WhatsApp's 24-hour window). */
  readonly lastInboundAt?: Date;
}

/** Where an event-source adapter hands events; resolves once the turn has committed. */
export type Emit = (inbound: Inbound) => Promise<void>;

/**
 * Outcome of a webhook request: expected outcomes are values, not exceptions. `retry` means "not now": something
 * passing (a media download, the SDK loading) failed, so the adapter asks the provider to redeliver (usually 503);
 * the message id makes the redelivery idempotent.
 */
export type Received =
  | { kind: 'accepted'; events: Inbound[]; ack: AckResponse }
  | { kind: 'rejected'; reason: 'signature' | 'malformed' | 'ignored' | 'retry'; ack: AckResponse };

/** The HTTP response a webhook adapter wants sent back to the provider. */
export interface AckResponse {
  readonly status: number;
  readonly body?: string;
  readonly contentType?: string;
  /** Extra response headers (e.g. `retry-after` with a `retry`). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A webhook request as the composition root hands it to an adapter (raw body kept for signatures). */
export interface WebhookRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly rawBody: Buffer;
}

/** A running channel adapter. Implement `receive` (webhooks) or `start`/`stop` (event sources), and `send`. */
export interface ChannelAdapter {
  readonly name: string;
  readonly capabilities: Capabilities;
  /** Webhook channels: verify, parse and normalise one provider request. Never throws. */
  receive?(req: WebhookRequest): Promise<Received>;
  /** Event-source channels: begin delivering events to `emit`. */
  start?(emit: Emit): Promise<void>;
  /** Event-source channels: stop taking new events and release resources. */
  stop?(): Promise<void>;
  /** Send one (already degraded) outbound message. Throws {@link ChannelError} on failure. */
  send(address: Address, outbound: Outbound, ctx: SendContext): Promise<Delivery>;
  /** Connection state for channels that hold one (whatsapp-web pairing, IMAP, long polling). */
  health?(): ChannelHealth;
}

/** A channel's own view of its connection; counters are kept by the composition root. */
export interface ChannelHealth {
  readonly state: 'ready' | 'starting' | 'pairing' | 'disconnected' | 'error';
  /** Short, secret-free explanation (e.g. "scan the QR code in the admin page"). */
  readonly detail?: string;
}

/** Error codes owned by `channels/`. Stable: a retired code is never reused. */
export const CHANNEL_ERROR_CODES = {
  CHANNEL_SIGNATURE_INVALID: 'A webhook request had a missing or wrong signature; it was rejected with 401.',
  CHANNEL_PAYLOAD_INVALID:
    'A provider or client payload did not match its schema; nothing was accepted from it.',
  CHANNEL_RATE_LIMITED:
    'The provider or our per-IP limiter refused for now; retry after the indicated delay.',
  CHANNEL_UNAVAILABLE: 'The provider could not be reached, timed out or answered 5xx; retryable.',
  CHANNEL_REJECTED: 'The provider refused the message permanently (4xx); the message is marked failed.',
  CHANNEL_WINDOW_CLOSED: 'A free-form message cannot be sent outside the provider’s customer-service window.',
  CHANNEL_NOT_CONFIGURED: 'A message was addressed to a channel that is not configured in this deployment.',
  CHANNEL_UPLOAD_INVALID: 'An upload was not an image, was empty, or could not be decoded.',
  CHANNEL_UPLOAD_TOO_LARGE: 'An upload was larger than the limit (10 MB).',
  CHANNEL_ORIGIN_FORBIDDEN:
    'A web-chat connection came from an origin that is not allowed to embed the widget.',
  CHANNEL_SESSION_INVALID: 'A web-chat session secret was missing, malformed or unknown.',
} as const;
/** A stable code owned by `channels/`. */
export type ChannelErrorCode = keyof typeof CHANNEL_ERROR_CODES;

/**
 * Base of every typed error: a stable `code`, whether retrying may help, and the underlying `cause`.
 * Messages never contain secrets or personal data.
 */
export class ToolkitError<C extends string = string> extends Error {
  readonly code: C;
  readonly retryable: boolean;
  constructor(code: C, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** A channel failure. `retryAfterMs` is set when the provider said when to come back. */
export class ChannelError extends ToolkitError<ChannelErrorCode> {
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  constructor(
    code: ChannelErrorCode,
    message: string,
    options: { retryable?: boolean; cause?: unknown; retryAfterMs?: number; status?: number } = {},
  ) {
    super(code, message, options);
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
  }
}
