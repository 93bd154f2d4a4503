/**
 * WhatsApp through Meta's WhatsApp Cloud API (Graph API), the default WhatsApp channel.
 *
 * Webhooks (one route, `/webhooks/whatsapp`):
 *  - https://developers.facebook.com/docs/graph-api/webhooks/getting-started (GET verification handshake,
 *    `X-Hub-Signature-256` over the raw body with the app secret)
 *  - https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples (messages and statuses)
 * Sending and media:
 *  - https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
 *  - https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-reply-buttons-messages
 *  - https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages
 *  - https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates
 *  - https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#download-media
 *  - https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
 *  - https://developers.facebook.com/docs/whatsapp/pricing#customer-service-windows (the 24-hour window)
 *
 * Decisions:
 *  - GET handshake with a wrong verify token answers 403 (Meta's convention; the dashboard shows it as "could not
 *    validate"). POSTs with a missing or wrong signature answer 401, as the channel contract requires.
 *  - Malformed or unusable payloads are acknowledged with 200: Meta redelivers any non-2xx for up to 7 days, and
 *    a payload we cannot parse today will not parse tomorrow. Only a transient failure to download a citizen's
 *    media answers 503, so that Meta redelivers (the inbound id makes the redelivery idempotent).
 *  - Reactions, stickers, shared contact cards, orders, system notices and `unsupported` messages are ignored:
 *    none of them is something the bot can act on, and a sticker is not evidence for a complaint.
 *  - Free-form messages outside the customer-service window become the configured fallback template; without one
 *    they fail with `CHANNEL_WINDOW_CLOSED`. An unknown `lastInboundAt` counts as closed only with
 *    `WHATSAPP_STRICT_WINDOW=true`; otherwise the send is attempted and a synchronous 131047 from Meta still falls
 *    back to the template.
 */
import { z } from 'zod';
import { ChannelError, InboundSchema } from './contract.ts';
import type {
  Address,
  Capabilities,
  ChannelAdapter,
  Choice,
  Delivery,
  Inbound,
  Outbound,
  Received,
  SendContext,
} from './contract.ts';
import {
  defineChannel,
  hmac,
  inboundId,
  normalizePhone,
  numbered,
  providerFetch,
  safeEqual,
  sanitizeImage,
  splitText,
} from './kit/index.ts';
import type { ChannelDeps, ProviderResponse } from './kit/index.ts';

const NAME = 'whatsapp';

/** WhatsApp Cloud API settings (from `WHATSAPP_*` variables). */
export const whatsappConfig = z.object({
  /** A system-user access token with `whatsapp_business_messaging` permission. */
  accessToken: z.string().min(1),
  /** The sending number's id (not the phone number itself). */
  phoneNumberId: z.string().regex(/^\d+$/, 'must be the numeric phone number id from the WhatsApp Manager'),
  /** The Meta app's secret: signs every webhook POST. */
  appSecret: z.string().min(1),
  /** Any string you choose; Meta echoes it in the webhook verification handshake. */
  verifyToken: z.string().min(1),
  graphUrl: z.string().url().default('https://graph.facebook.com'),
  graphVersion: z
    .string()
    .regex(/^v\d+\.\d+$/, 'must look like v21.0')
    .default('v21.0'),
  /** An approved template with one body parameter, used for free-form messages outside the 24-hour window. */
  fallbackTemplate: z.string().min(1).max(512).optional(),
  /** Language code of the templates (Meta's codes: `es_MX`, `en_US`, …). */
  templateLanguage: z.string().min(2).max(15).default('es_MX'),
  /** Treat an unknown last-inbound time as a closed window. */
  strictWindow: z.stringbool().default(false),
  /** Text of the button that opens an interactive list (at most 20 characters). */
  listButton: z.string().min(1).max(20).default('Ver opciones'),
});
/** See {@link whatsappConfig}. */
export type WhatsappConfig = z.infer<typeof whatsappConfig>;

const capabilities: Capabilities = {
  delivery: 'push',
  choices: { max: 10, style: 'buttons' },
  media: ['image', 'audio', 'document', 'video'],
  maxText: 4096,
  typing: false,
  templates: true,
  speech: false,
};

const WINDOW_MS = 24 * 60 * 60 * 1000;
// Why a margin: the outbox may send a few minutes after it was queued, and Meta measures on its own clock.
const WINDOW_MARGIN_MS = 5 * 60 * 1000;
// Interactive bodies take at most 1024 characters (4096 is for plain text only).
const INTERACTIVE_BODY_MAX = 1024;
const BUTTON_TITLE_MAX = 20;
const ROW_TITLE_MAX = 24;
const ROW_DESCRIPTION_MAX = 72;
const ROW_ID_MAX = 200;
const CAPTION_MAX = 1024;
// Why 900: Meta refuses a template whose body exceeds 1024 characters after substitution (error 132005); this
// leaves ~120 characters for the approved template's own text.
const TEMPLATE_PARAM_MAX = 900;
// WhatsApp accepts documents up to 100 MB; a city's case file does not need more than this.
const MAX_MEDIA_BYTES = 16 * 1024 * 1024;
// Graph error codes: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
const RATE_LIMIT_CODES = new Set([4, 80007, 130429, 131056]);
const TRANSIENT_CODES = new Set([1, 2, 131016]);
const WINDOW_CLOSED_CODE = 131047;
// Why a User-Agent: Meta's media CDN (lookaside.fbsbx.com) answers some default clients with an HTML page.
const USER_AGENT = 'Ventanilla/1.0 (WhatsApp Cloud API adapter)';

// ---- Webhook payload (only the fields we read; everything else passes through untouched) ----

const WebhookSchema = z.object({
  object: z.string(),
  entry: z.array(
    z.object({ changes: z.array(z.object({ field: z.string(), value: z.unknown() })).default([]) }),
  ),
});
const ChangeValueSchema = z.object({
  metadata: z.object({ phone_number_id: z.string() }),
  messages: z.array(z.unknown()).optional(),
  statuses: z.array(z.unknown()).optional(),
});
const Timestamp = z.union([z.string().regex(/^\d{1,12}$/), z.number().int().nonnegative()]).optional();
const MessageBaseSchema = z.object({
  from: z.string().min(1).max(512),
  id: z.string().min(1).max(512),
  timestamp: Timestamp,
  type: z.string(),
});
const Reply = z.object({ id: z.string().min(1).max(256), title: z.string().max(512).optional() });
const TextSchema = z.object({ text: z.object({ body: z.string() }) });
const InteractiveSchema = z.object({
  interactive: z.object({
    type: z.string(),
    button_reply: Reply.optional(),
    list_reply: Reply.optional(),
  }),
});
const ButtonSchema = z.object({
  button: z.object({ payload: z.string().max(256).optional(), text: z.string().max(512) }),
});
const LocationSchema = z.object({
  location: z.object({
    latitude: z.number().min(-90).max(90),
    longitude: z.number().min(-180).max(180),
    name: z.string().optional(),
    address: z.string().optional(),
  }),
});
const MediaObjectSchema = z.object({
  // Media ids are numeric today; the pattern keeps path tricks (`..`, `/`) out of the Graph URL.
  id: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/),
  mime_type: z.string().min(1).max(255).optional(),
  caption: z.string().optional(),
});
const StatusSchema = z.object({
  id: z.string().min(1).max(512),
  status: z.string(),
  timestamp: Timestamp,
  recipient_id: z.string().min(1).max(512),
  errors: z
    .array(z.object({ code: z.number().optional(), title: z.string().optional() }).passthrough())
    .optional(),
});
const MediaInfoSchema = z.object({
  url: z.string().url(),
  mime_type: z.string().optional(),
  file_size: z.union([z.number(), z.string()]).optional(),
});
const SendResultSchema = z.object({ messages: z.array(z.object({ id: z.string().min(1) })).min(1) });
const GraphErrorSchema = z.object({
  error: z.object({ code: z.number().optional(), message: z.string().optional() }).passthrough(),
});

type MessagePayload = Record<string, unknown>;
type Part = { type: string } & Record<string, unknown>;

/** What one webhook message became. */
type Mapped =
  { kind: 'event'; event: Inbound } | { kind: 'ignored' } | { kind: 'malformed' } | { kind: 'retry' };

/** Cut text to `max` UTF-16 units on a code-point boundary, with an ellipsis when shortened. */
function fit(text: string, max: number): string {
  const clean = text.replace(/\s+/g, ' ').trim();
  if (clean.length <= max) return clean;
  let out = '';
  for (const ch of clean) {
    if (out.length + ch.length > max - 1) break;
    out += ch;
  }
  return `${out.trimEnd()}…`;
}

/** Titles cut to `max`, kept unique (Meta refuses duplicate button titles). */
function titles(labels: readonly string[], max: number): string[] {
  const seen = new Set<string>();
  return labels.map((label, i) => {
    let t = fit(label, max) || String(i + 1);
    if (seen.has(t)) t = `${fit(label, max - String(i + 1).length - 1)} ${i + 1}`;
    seen.add(t);
    return t;
  });
}

/**
 * A template body parameter. Meta refuses parameters with newlines, tabs or more than four consecutive spaces
 * (error 132018), and empty ones.
 */
function templateParam(text: string): string {
  return fit(text, TEMPLATE_PARAM_MAX) || '…';
}

/** Plain text of a free-form message, for the fallback template. */
function plainText(outbound: Outbound): string {
  switch (outbound.kind) {
    case 'text':
    case 'speech':
      return outbound.text;
    case 'choices':
      return numbered(
        outbound.text,
        outbound.choices.map((c) => c.label),
      );
    case 'media':
      return [outbound.caption, outbound.url].filter(Boolean).join(' ');
    case 'template':
      return outbound.fallbackText;
    case 'typing':
      return '';
  }
}

/** The last path segment of a URL, as a document's file name. */
function fileName(link: string): string | undefined {
  try {
    return decodeURIComponent(new URL(link).pathname.split('/').pop() ?? '').slice(0, 240) || undefined;
  } catch {
    return undefined;
  }
}

function isoAt(ts: string | number | undefined, now: () => Date): string {
  const seconds = ts === undefined ? NaN : Number(ts);
  const d = Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : now();
  return Number.isNaN(d.getTime()) || d.getFullYear() > 9999 ? now().toISOString() : d.toISOString();
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  const direct = headers[name];
  if (direct !== undefined) return direct;
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}
type WebhookHeaders = Readonly<Record<string, string | undefined>>;

export const whatsapp = defineChannel({
  name: NAME,
  config: whatsappConfig,
  env: {
    WHATSAPP_ACCESS_TOKEN: 'accessToken',
    WHATSAPP_PHONE_NUMBER_ID: 'phoneNumberId',
    WHATSAPP_APP_SECRET: 'appSecret',
    WHATSAPP_VERIFY_TOKEN: 'verifyToken',
    WHATSAPP_GRAPH_URL: 'graphUrl',
    WHATSAPP_GRAPH_VERSION: 'graphVersion',
    WHATSAPP_FALLBACK_TEMPLATE: 'fallbackTemplate',
    WHATSAPP_TEMPLATE_LANGUAGE: 'templateLanguage',
    WHATSAPP_STRICT_WINDOW: 'strictWindow',
    WHATSAPP_LIST_BUTTON: 'listButton',
  },
  capabilities,
  create(config: WhatsappConfig, deps: ChannelDeps): ChannelAdapter {
    const base = `${config.graphUrl.replace(/\/+$/, '')}/${config.graphVersion}`;
    const secrets = [config.accessToken, config.appSecret, config.verifyToken];
    const auth = { authorization: `Bearer ${config.accessToken}`, 'user-agent': USER_AGENT };

    /**
     * One Graph API call with WhatsApp's error mapping. Graph reports most failures as HTTP 400 with a numeric
     * `error.code`, so the code decides before the status does.
     */
    function graph(
      url: string,
      label: string,
      init: { method: 'GET' | 'POST'; json?: unknown; timeoutMs?: number },
    ): Promise<ProviderResponse> {
      return providerFetch(url, {
        method: init.method,
        headers: auth,
        ...(init.json === undefined ? {} : { json: init.json }),
        ...(init.timeoutMs === undefined ? {} : { timeoutMs: init.timeoutMs }),
        label,
        secrets,
        classify({ json }) {
          const err = GraphErrorSchema.safeParse(json);
          if (!err.success) return undefined;
          const code = err.data.error.code;
          if (code === undefined) return undefined;
          const detail = `code ${code}`;
          if (RATE_LIMIT_CODES.has(code)) return { code: 'CHANNEL_RATE_LIMITED', detail };
          if (code === WINDOW_CLOSED_CODE) return { code: 'CHANNEL_WINDOW_CLOSED', detail };
          if (TRANSIENT_CODES.has(code)) return { code: 'CHANNEL_UNAVAILABLE', detail };
          return { detail };
        },
      });
    }

    // ---- Inbound ----

    /** Download a media object into the media store; null when it cannot be had (logged). */
    async function download(
      mediaId: string,
      mime: string | undefined,
      from: string,
    ): Promise<{ mediaId: string; mime: string; bytes: number } | 'retry' | null> {
      try {
        const info = MediaInfoSchema.safeParse(
          (await graph(`${base}/${mediaId}`, 'GET /{media-id}', { method: 'GET' })).json,
        );
        if (!info.success || !/^https?:$/.test(new URL(info.data.url).protocol)) {
          deps.log.warn({ channel: NAME, code: 'CHANNEL_PAYLOAD_INVALID' }, 'media lookup returned no URL');
          return null;
        }
        if (Number(info.data.file_size ?? 0) > MAX_MEDIA_BYTES) {
          deps.log.warn({ channel: NAME, bytes: Number(info.data.file_size) }, 'inbound media too large');
          return null;
        }
        // The download URL is short-lived (minutes) and needs the same bearer token.
        const file = await graph(info.data.url, 'GET media download', { method: 'GET', timeoutMs: 30_000 });
        if (file.body.length === 0 || file.body.length > MAX_MEDIA_BYTES) {
          deps.log.warn({ channel: NAME, bytes: file.body.length }, 'inbound media empty or too large');
          return null;
        }
        let type =
          mime ?? info.data.mime_type ?? file.headers.get('content-type') ?? 'application/octet-stream';
        let bytes = file.body;
        // Photos carry EXIF/GPS of the citizen's phone: keep only the pixels (as web chat and Telegram do).
        if (type.startsWith('image/')) ({ bytes, mime: type } = await sanitizeImage(bytes));
        const stored = await deps.media.save({ bytes, mime: type, contactHint: from });
        deps.count('media_downloaded');
        return { mediaId: stored.id, mime: type, bytes: stored.bytes };
      } catch (err) {
        if (err instanceof ChannelError) {
          deps.log.warn({ channel: NAME, code: err.code, err: err.message }, 'inbound media download failed');
          return err.retryable ? 'retry' : null;
        }
        throw err;
      }
    }

    async function mapMessage(raw: unknown): Promise<Mapped> {
      const head = MessageBaseSchema.safeParse(raw);
      if (!head.success) return { kind: 'malformed' };
      const m = head.data;
      const msg = raw as MessagePayload;
      const externalId = m.id;
      const phone = /^\d{8,15}$/.test(m.from) ? normalizePhone(`+${m.from}`) : null;
      const base = {
        id: inboundId(NAME, externalId),
        externalId,
        // Replies must go to `from` exactly as WhatsApp gave it (e.g. Mexico's `521…`), not the normalised phone.
        address: { channel: NAME, user: m.from } satisfies Address,
        at: isoAt(m.timestamp, deps.now),
        ...(phone ? { identity: { phone } } : {}),
        raw,
      };
      let event: Inbound;
      switch (m.type) {
        case 'text': {
          const p = TextSchema.safeParse(msg);
          if (!p.success) return { kind: 'malformed' };
          event = { ...base, kind: 'text', text: p.data.text.body };
          break;
        }
        case 'interactive': {
          const p = InteractiveSchema.safeParse(msg);
          if (!p.success) return { kind: 'malformed' };
          const reply =
            p.data.interactive.type === 'button_reply'
              ? p.data.interactive.button_reply
              : p.data.interactive.type === 'list_reply'
                ? p.data.interactive.list_reply
                : undefined;
          // Other interactive replies (WhatsApp Flows `nfm_reply`, catalogue orders) are not sent by this bot.
          if (!reply) return { kind: 'ignored' };
          event = {
            ...base,
            kind: 'choice',
            choiceId: reply.id,
            ...(reply.title ? { text: reply.title } : {}),
          };
          break;
        }
        case 'button': {
          // A quick-reply button of a template message; `payload` is the id we set when sending it.
          const p = ButtonSchema.safeParse(msg);
          if (!p.success) return { kind: 'malformed' };
          const choiceId = p.data.button.payload || p.data.button.text;
          if (!choiceId) return { kind: 'malformed' };
          event = {
            ...base,
            kind: 'choice',
            choiceId,
            ...(p.data.button.text ? { text: p.data.button.text } : {}),
          };
          break;
        }
        case 'location': {
          const p = LocationSchema.safeParse(msg);
          if (!p.success) return { kind: 'malformed' };
          const l = p.data.location;
          const label = [l.name, l.address].filter(Boolean).join(', ').slice(0, 512);
          event = {
            ...base,
            kind: 'location',
            lat: l.latitude,
            lon: l.longitude,
            ...(label ? { label } : {}),
          };
          break;
        }
        case 'image':
        case 'audio':
        case 'video':
        case 'document': {
          const p = MediaObjectSchema.safeParse(msg[m.type]);
          if (!p.success) return { kind: 'malformed' };
          const got = await download(p.data.id, p.data.mime_type, m.from);
          if (got === 'retry') return { kind: 'retry' };
          if (!got) return { kind: 'ignored' };
          const caption = p.data.caption?.slice(0, 4096);
          event = { ...base, kind: 'media', media: [{ ...got, ...(caption ? { caption } : {}) }] };
          break;
        }
        default:
          // reaction, sticker, contacts, order, system, request_welcome, unsupported/unknown.
          return { kind: 'ignored' };
      }
      // Whatever slipped past the provider schema (oversized ids, odd strings) must not reach the runtime.
      return InboundSchema.safeParse(event).success ? { kind: 'event', event } : { kind: 'malformed' };
    }

    function mapStatus(raw: unknown): Mapped {
      const p = StatusSchema.safeParse(raw);
      if (!p.success) return { kind: 'malformed' };
      const s = p.data;
      if (s.status !== 'sent' && s.status !== 'delivered' && s.status !== 'read' && s.status !== 'failed')
        return { kind: 'ignored' }; // e.g. `deleted`, `warning`
      const first = s.errors?.[0];
      const error =
        s.status === 'failed'
          ? [first?.code, first?.title].filter((x) => x !== undefined && x !== '').join(' ') || 'failed'
          : undefined;
      // A status has no id of its own: the wamid plus the status is unique, and a redelivery collides.
      const externalId = `${s.id}:${s.status}`;
      const event: Inbound = {
        id: inboundId(NAME, externalId),
        externalId,
        address: { channel: NAME, user: s.recipient_id },
        at: isoAt(s.timestamp, deps.now),
        kind: 'receipt',
        of: s.id,
        status: s.status,
        ...(error ? { error: error.slice(0, 500) } : {}),
        raw,
      };
      return InboundSchema.safeParse(event).success ? { kind: 'event', event } : { kind: 'malformed' };
    }

    function handshake(url: string): Received {
      const q = new URL(url, 'http://localhost').searchParams;
      const challenge = q.get('hub.challenge') ?? '';
      if (q.get('hub.mode') !== 'subscribe' || !/^[A-Za-z0-9_.-]{1,256}$/.test(challenge))
        return { kind: 'rejected', reason: 'malformed', ack: { status: 400 } };
      // Meta's convention for a wrong verify token is 403 (the host counts and logs it as a signature failure).
      if (!safeEqual(q.get('hub.verify_token') ?? '', config.verifyToken))
        return { kind: 'rejected', reason: 'signature', ack: { status: 403 } };
      deps.log.info({ channel: NAME }, 'webhook verified by Meta');
      return {
        kind: 'accepted',
        events: [],
        ack: { status: 200, body: challenge, contentType: 'text/plain' },
      };
    }

    // ---- Outbound ----

    /** Send one message; its wamid (undefined when a 2xx came without one: sent, but receipts won't match). */
    async function post(to: string, part: Part): Promise<string | undefined> {
      const res = await graph(
        `${base}/${config.phoneNumberId}/messages`,
        'POST /{phone-number-id}/messages',
        {
          method: 'POST',
          json: { messaging_product: 'whatsapp', recipient_type: 'individual', to, ...part },
        },
      );
      const ok = SendResultSchema.safeParse(res.json);
      if (ok.success) return ok.data.messages[0]!.id;
      deps.log.warn({ channel: NAME }, 'Graph API accepted a message without returning its id');
      return undefined;
    }

    const textPart = (body: string): Part => ({ type: 'text', text: { preview_url: false, body } });

    /** Interactive body text: longer text goes first as plain messages. */
    function withBody(text: string, make: (body: string) => Part): Part[] {
      const pieces = splitText(text, INTERACTIVE_BODY_MAX);
      const last = pieces.pop() ?? text;
      return [...pieces.map(textPart), make(last)];
    }

    function choiceParts(text: string, choices: readonly Choice[]): Part[] {
      if (choices.length <= 3) {
        const ts = titles(
          choices.map((c) => c.label),
          BUTTON_TITLE_MAX,
        );
        return withBody(text, (body) => ({
          type: 'interactive',
          interactive: {
            type: 'button',
            body: { text: body },
            action: {
              buttons: choices.map((c, i) => ({ type: 'reply', reply: { id: c.id, title: ts[i] } })),
            },
          },
        }));
      }
      if (choices.length <= 10 && choices.every((c) => c.id.length <= ROW_ID_MAX)) {
        const ts = titles(
          choices.map((c) => c.label),
          ROW_TITLE_MAX,
        );
        return withBody(text, (body) => ({
          type: 'interactive',
          interactive: {
            type: 'list',
            body: { text: body },
            action: {
              button: fit(config.listButton, BUTTON_TITLE_MAX),
              sections: [
                {
                  rows: choices.map((c, i) => {
                    // A label cut to fit the title is shown in full (up to 72 characters) underneath.
                    const full = fit(c.label, ROW_DESCRIPTION_MAX);
                    return { id: c.id, title: ts[i], ...(full !== ts[i] ? { description: full } : {}) };
                  }),
                },
              ],
            },
          },
        }));
      }
      // Central degradation keeps choices ≤ 10; long ids still need the numbered rendering.
      return splitText(
        numbered(
          text,
          choices.map((c) => c.label),
        ),
        capabilities.maxText,
      ).map(textPart);
    }

    function mediaParts(outbound: Extract<Outbound, { kind: 'media' }>): Part[] {
      // Meta fetches the link itself, so it must be absolute and public.
      const link = /^https?:\/\//i.test(outbound.url)
        ? outbound.url
        : `${deps.publicUrl.replace(/\/+$/, '')}/${outbound.url.replace(/^\/+/, '')}`;
      const kind = outbound.mime.split('/')[0];
      const type = kind === 'image' || kind === 'audio' || kind === 'video' ? kind : 'document';
      const caption = outbound.caption?.trim();
      // Audio takes no caption, and captions are limited: such text goes in its own message first.
      const separate = caption && (type === 'audio' || caption.length > CAPTION_MAX);
      const media: Record<string, string> = { link };
      if (caption && !separate) media.caption = caption;
      if (type === 'document') {
        const name = fileName(link);
        if (name) media.filename = name;
      }
      return [
        ...(separate ? splitText(caption, capabilities.maxText).map(textPart) : []),
        { type, [type]: media },
      ];
    }

    function templatePart(name: string, params: readonly string[]): Part {
      return {
        type: 'template',
        template: {
          name,
          language: { code: config.templateLanguage },
          ...(params.length
            ? {
                components: [
                  { type: 'body', parameters: params.map((p) => ({ type: 'text', text: templateParam(p) })) },
                ],
              }
            : {}),
        },
      };
    }

    async function sendParts(to: string, parts: readonly Part[], ctx: SendContext): Promise<Delivery> {
      let id: string | undefined;
      for (const part of parts) {
        id = await post(to, part);
        if (part.type === 'template') deps.count('templates_sent');
      }
      return { externalId: id ?? ctx.idempotencyKey };
    }

    function windowOpen(ctx: SendContext): boolean {
      if (!ctx.lastInboundAt) return !config.strictWindow;
      return deps.now().getTime() - ctx.lastInboundAt.getTime() < WINDOW_MS - WINDOW_MARGIN_MS;
    }

    /** The fallback template for a free-form message, or CHANNEL_WINDOW_CLOSED. */
    function fallback(outbound: Outbound, cause?: unknown): Part {
      if (!config.fallbackTemplate) {
        throw new ChannelError(
          'CHANNEL_WINDOW_CLOSED',
          'WhatsApp: the citizen has not written in the last 24 hours and no WHATSAPP_FALLBACK_TEMPLATE is set',
          { cause },
        );
      }
      return templatePart(config.fallbackTemplate, [plainText(outbound)]);
    }

    async function send(address: Address, outbound: Outbound, ctx: SendContext): Promise<Delivery> {
      let parts: Part[];
      switch (outbound.kind) {
        case 'template':
          return sendParts(address.user, [templatePart(outbound.template, outbound.params)], ctx);
        case 'typing':
          return { externalId: ctx.idempotencyKey };
        case 'text':
        case 'speech':
          parts = splitText(outbound.text, capabilities.maxText).map(textPart);
          break;
        case 'choices':
          parts = choiceParts(outbound.text, outbound.choices);
          break;
        case 'media':
          parts = mediaParts(outbound);
          break;
      }
      if (!windowOpen(ctx)) return sendParts(address.user, [fallback(outbound)], ctx);
      try {
        return await sendParts(address.user, parts, ctx);
      } catch (err) {
        // Meta says the window is closed (our clock or lastInboundAt disagreed): the template still gets through.
        if (err instanceof ChannelError && err.code === 'CHANNEL_WINDOW_CLOSED')
          return sendParts(address.user, [fallback(outbound, err)], ctx);
        throw err;
      }
    }

    return {
      name: NAME,
      capabilities,
      async receive(req) {
        if (req.method === 'GET') return handshake(req.url);
        if (req.method !== 'POST') return { kind: 'rejected', reason: 'malformed', ack: { status: 405 } };
        const given = header(req.headers, 'x-hub-signature-256')?.trim() ?? '';
        const expected = `sha256=${hmac('sha256', config.appSecret, req.rawBody)}`;
        if (!safeEqual(given.toLowerCase(), expected))
          return { kind: 'rejected', reason: 'signature', ack: { status: 401 } };

        let json: unknown;
        try {
          json = JSON.parse(req.rawBody.toString('utf8'));
        } catch {
          return { kind: 'rejected', reason: 'malformed', ack: { status: 200 } };
        }
        const payload = WebhookSchema.safeParse(json);
        if (!payload.success) return { kind: 'rejected', reason: 'malformed', ack: { status: 200 } };
        if (payload.data.object !== 'whatsapp_business_account')
          return { kind: 'rejected', reason: 'ignored', ack: { status: 200 } };

        const events: Inbound[] = [];
        let malformed = 0;
        let retry = false;
        for (const entry of payload.data.entry) {
          for (const change of entry.changes) {
            // Other fields (template reviews, account updates, `smb_message_echoes` of our own sends) are not
            // conversation events.
            if (change.field !== 'messages') continue;
            const value = ChangeValueSchema.safeParse(change.value);
            if (!value.success) {
              malformed++;
              continue;
            }
            if (value.data.metadata.phone_number_id !== config.phoneNumberId) {
              // One app can serve several numbers of a business account; replies would come from the wrong one.
              deps.log.warn(
                { channel: NAME, phoneNumberId: value.data.metadata.phone_number_id.slice(0, 32) },
                'webhook for another phone number ignored',
              );
              continue;
            }
            const mapped: Mapped[] = [];
            for (const m of value.data.messages ?? []) mapped.push(await mapMessage(m));
            for (const s of value.data.statuses ?? []) mapped.push(mapStatus(s));
            for (const r of mapped) {
              if (r.kind === 'event') events.push(r.event);
              else if (r.kind === 'malformed') malformed++;
              else if (r.kind === 'retry') retry = true;
            }
          }
        }
        if (malformed)
          deps.log.warn({ channel: NAME, count: malformed }, 'webhook items did not match the schema');
        // 503 makes Meta redeliver the whole batch later; the events we do have collide with their redelivery.
        const ack = retry ? { status: 503, headers: { 'retry-after': '5' } } : { status: 200 };
        if (events.length) return { kind: 'accepted', events, ack };
        return { kind: 'rejected', reason: retry ? 'retry' : malformed ? 'malformed' : 'ignored', ack };
      },
      send,
    };
  },
});
