/**
 * E-mail: citizens write to the city's address (e.g. atencion@municipio.gob.mx) and get answers in the same thread.
 *
 * Inbound, either or both:
 *  - a built-in SMTP listener (smtp-server, https://nodemailer.com/extras/smtp-server/) that the city's MX or relay
 *    forwards to. The `250` for DATA is sent only after `emit` resolved (the turn committed), so an accepted message
 *    is never lost; a failed emit answers `451` and the sending MTA retries (RFC 5321 §4.2.5).
 *  - IMAP polling (imapflow, https://imapflow.com/) of an existing mailbox: UNSEEN messages are emitted and only
 *    then flagged `\Seen`.
 * Parsing: mailparser (https://nodemailer.com/extras/mailparser/). Replies: SMTP through nodemailer
 * (https://nodemailer.com/smtp/), threaded with In-Reply-To/References (RFC 5322 §3.6.4) and marked
 * `Auto-Submitted: auto-replied` (RFC 3834).
 *
 * Decisions worth knowing:
 *  - One e-mail is one inbound event: text, or media (images/audio) with the text as caption. Other attachments
 *    (PDF, Office…) are not stored and not mentioned in the text; `raw.attachments` lists them for the desk.
 *  - Quoted history and signatures are stripped so that a reply such as "1" or "sí" reaches the dialogs alone.
 *  - A new thread's subject is written by the citizen, so it is prepended to the body ("Bache en Hidalgo" + details)
 *    unless the body already contains it. In replies the subject is ours; only a folio found in it
 *    (`Re: [VER-2026-000123] …`) is appended when the body names none, so "¿ya lo arreglaron?" can be answered.
 *  - Auto-replies, mailing lists and bounces are accepted (250) but never answered (RFC 3834 §2), nor is mail
 *    from our own address: answering them is how mail loops start.
 *  - The conversation address keeps the thread root and the subject (`extra.subject`), so replies thread without
 *    state in this adapter.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { ImapFlow } from 'imapflow';
import type { ParsedMail } from 'mailparser';
import type { Transporter } from 'nodemailer';
import type { SMTPServer, SMTPServerDataStream, SMTPServerOptions, SMTPServerSession } from 'smtp-server';
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
  SendContext,
} from './contract.ts';
import { defineChannel, inboundId, safeEqual, sanitizeImage, scrubSecrets } from './kit/index.ts';
import type { ChannelDeps } from './kit/index.ts';

const EMAIL = z.email().max(254);

/** Configuration of the e-mail channel (see `env` below for the variables). */
export const emailConfig = z
  .object({
    /** Our inbound address(es), comma-separated; the first is the reply address unless `from` says otherwise. */
    address: z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((x) => x.trim().toLowerCase())
          .filter(Boolean),
      )
      .pipe(z.array(EMAIL).min(1)),
    /** `Display Name <address>` or a bare address for outgoing mail. */
    from: z
      .string()
      .regex(/^[^\r\n]+$/, 'one line')
      .optional(),
    /** `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…:465`. */
    smtpOutUrl: z.string().regex(/^smtps?:\/\/[^/]/i, 'must be smtp://… or smtps://…'),
    /** Run the SMTP listener. Default: on, unless IMAP polling is configured. */
    listen: z.union([z.boolean(), z.stringbool()]).optional(),
    smtpHost: z.string().min(1).default('0.0.0.0'),
    smtpPort: z.coerce.number().int().min(0).max(65535).default(2525),
    maxBytes: z.coerce
      .number()
      .int()
      .positive()
      .default(10 * 1024 * 1024),
    smtpUser: z.string().min(1).optional(),
    smtpPassword: z.string().min(1).optional(),
    tlsKey: z.string().min(1).optional(),
    tlsCert: z.string().min(1).optional(),
    /** `imaps://user:pass@host:993/INBOX` (or `imap://` with STARTTLS when offered). */
    imapUrl: z
      .string()
      .regex(/^imaps?:\/\/[^/]/i, 'must be imap://… or imaps://…')
      .optional(),
    imapPollSeconds: z.coerce.number().int().min(1).default(60),
  })
  .superRefine((c, ctx) => {
    if (!c.smtpUser !== !c.smtpPassword)
      ctx.addIssue({
        code: 'custom',
        path: [c.smtpUser ? 'smtpPassword' : 'smtpUser'],
        message: 'set both the SMTP user and password, or neither',
      });
    if (!c.tlsKey !== !c.tlsCert)
      ctx.addIssue({
        code: 'custom',
        path: [c.tlsKey ? 'tlsCert' : 'tlsKey'],
        message: 'set both the TLS key and certificate paths, or neither',
      });
    if (c.from !== undefined && !EMAIL.safeParse(fromParts(c.from).address).success)
      ctx.addIssue({ code: 'custom', path: ['from'], message: 'expected "Name <address>" or an address' });
  });
/** Parsed configuration of the e-mail channel. */
export type EmailConfig = z.infer<typeof emailConfig>;

const capabilities: Capabilities = {
  delivery: 'push',
  choices: { max: 20, style: 'numbered' },
  media: ['image', 'document'],
  maxText: 20_000,
  typing: false,
  templates: false,
  speech: false,
};

/** Health and the bound port (tests listen on port 0). */
export interface EmailAdapter extends ChannelAdapter {
  /** Where the SMTP listener is bound, once started. */
  listening(): { host: string; port: number } | null;
  /** Run one IMAP poll now (tests; the timer runs it otherwise). */
  pollNow(): Promise<void>;
}

/** The outcome of reading one message. */
export type Ingested =
  | { kind: 'event'; inbound: Inbound }
  | { kind: 'ignored'; reason: string }
  | { kind: 'malformed'; reason: string };

const MAX_TEXT = 20_000;
const MAX_CAPTION = 4096;
const MAX_MEDIA = 5;
// Signature logos and tracking pixels are small inline images; a photo pasted into the body is not.
const MIN_INLINE_IMAGE = 20 * 1024;
const FOLIO_RE = /\b[A-Z]{2,6}-\d{4}-\d{6}\b/;
const REPLY_PREFIX = /^\s*((re|aw|sv|rv|fw|fwd|reenv|enc|tr)\s*(\[\d+\])?\s*:\s*)+/i;
const FORWARD_PREFIX = /^\s*(fw|fwd|rv|reenv|enc|tr)\s*:/i;

/** `Name <a@b>` → parts. */
function fromParts(from: string): { name: string; address: string } {
  const m = /^\s*(.*?)\s*<([^>]+)>\s*$/.exec(from);
  return m
    ? { name: m[1]!.replace(/^"|"$/g, ''), address: m[2]!.trim().toLowerCase() }
    : { name: '', address: from.trim().toLowerCase() };
}

/** Local part without `+tag`, lower-case: `Atencion+x@Dominio` and `atencion@dominio` are the same mailbox. */
function mailbox(address: string): string {
  const a = address.trim().toLowerCase();
  const at = a.lastIndexOf('@');
  return at < 0 ? a : `${a.slice(0, at).replace(/\+.*$/, '')}${a.slice(at)}`;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** `<id@host>` with brackets; null when it is not one. */
function msgId(v: string | undefined): string | null {
  const m = v ? /<[^<>\s]{1,500}>/.exec(v) : null;
  if (m) return m[0];
  const bare = v?.trim();
  return bare && /^[^<>\s]{1,500}@[^<>\s]+$/.test(bare) ? `<${bare}>` : null;
}

/** The value of a header as written (unfolded), from mailparser's raw header lines. */
function header(mail: ParsedMail, name: string): string | undefined {
  const line = mail.headerLines.find((h) => h.key === name)?.line;
  if (line === undefined) return undefined;
  return line
    .slice(line.indexOf(':') + 1)
    .replace(/\r?\n[ \t]+/g, ' ')
    .trim();
}

/** Why this message must not be answered (RFC 3834 and common practice), or null. */
export function loopReason(
  mail: ParsedMail,
  sender: string,
  envelopeFrom: string | undefined,
  own: readonly string[],
): string | null {
  const autoSubmitted = header(mail, 'auto-submitted');
  if (autoSubmitted && !/^no\b/i.test(autoSubmitted)) return 'auto-submitted';
  if (/^(bulk|junk|list)\b/i.test(header(mail, 'precedence') ?? '')) return 'precedence';
  if (header(mail, 'list-id') !== undefined || header(mail, 'list-unsubscribe') !== undefined)
    return 'mailing-list';
  if (header(mail, 'x-autoreply') !== undefined || header(mail, 'x-autorespond') !== undefined)
    return 'autoreply';
  // The empty reverse path `<>` marks bounces and other notifications (RFC 5321 §4.5.5).
  if (envelopeFrom === '' || /^<\s*>$/.test(header(mail, 'return-path') ?? '')) return 'bounce';
  const local = sender.slice(0, sender.lastIndexOf('@'));
  if (/^(mailer-daemon|postmaster)$/i.test(local)) return 'bounce';
  if (/^(no-?reply|do-?not-?reply)([+.-].*)?$/i.test(local)) return 'no-reply';
  const type = header(mail, 'content-type') ?? '';
  if (/^multipart\/report\b/i.test(type)) return 'report';
  if (own.includes(mailbox(sender))) return 'own';
  return null;
}

const ATTRIBUTION = /^(el|on|le|am)\s[\s\S]{0,400}?(escribió|wrote|a écrit|schrieb)\s*:$/i;
const ORIGINAL = /^-{2,}\s*(original message|mensaje original|message d'origine)\s*-{2,}$/i;
const HEADER_FROM = /^\*?(de|from)\s*:/i;
const HEADER_NEXT = /^\*?(enviado(\s+el)?|sent|fecha|date|para|to|asunto|subject)\s*:/i;
const UNDERSCORES = /^_{8,}$/;
const SIGNATURE = /^--[ \t]*$/;
const MOBILE =
  /^(enviado desde mi|sent from my|obtener outlook para|get outlook for|enviado desde outlook|enviado desde correo|sent from mail for)\b/i;

/**
 * The part of a message the citizen just wrote: quoted history ("El … escribió:", "On … wrote:", `>` lines,
 * Outlook's "-----Original Message-----" and "De: … Enviado:" blocks) and signatures ("-- ", "Enviado desde mi
 * iPhone") removed. Forwards keep the forwarded text, which is the point of forwarding.
 */
export function stripQuoted(text: string, forward = false): string {
  const lines = text.split('\n');
  let end = lines.length;
  // Lines after an attribution are `>`-quoted; what is left there was written below the quote (bottom-posting).
  let below: string[] = [];
  const trimmed = lines.map((l) => l.trim());
  for (let i = 0; i < lines.length; i++) {
    const line = trimmed[i]!;
    if (SIGNATURE.test(lines[i]!)) {
      end = i;
      break;
    }
    if (forward) continue;
    if (ORIGINAL.test(line)) {
      end = i;
      break;
    }
    // Gmail wraps long attributions over two or three lines.
    if (/^(el|on|le|am)\s/i.test(line)) {
      let joined = line;
      let k = 0;
      let found = ATTRIBUTION.test(joined);
      while (!found && k < 2 && i + k + 1 < lines.length) {
        joined += ` ${trimmed[i + ++k]}`;
        found = ATTRIBUTION.test(joined);
      }
      if (found) {
        end = i;
        below = lines.slice(i + k + 1);
        break;
      }
    }
    if (HEADER_FROM.test(line)) {
      const next = trimmed.slice(i + 1, i + 4);
      if (next.some((l) => HEADER_NEXT.test(l))) {
        let start = i;
        while (start > 0 && (trimmed[start - 1] === '' || UNDERSCORES.test(trimmed[start - 1]!))) start--;
        end = start;
        break;
      }
    }
  }
  const tidy = (kept: string[]) => {
    const out = forward ? kept : kept.filter((l) => !/^\s*>/.test(l));
    while (out.length && (out.at(-1)!.trim() === '' || MOBILE.test(out.at(-1)!.trim()))) out.pop();
    return out
      .join('\n')
      .replace(/[ \t]+$/gm, '')
      .replace(/\n{3,}/g, '\n\n')
      .trim();
  };
  const top = tidy(lines.slice(0, end));
  return top || (below.length ? stripQuoted(tidy(below), forward) : '');
}

/** Plain text of a parsed message: control characters and invisible spaces out, CRLF → LF. */
function plain(text: string | undefined): string {
  return (text ?? '')
    .replace(/\r\n?/g, '\n')
    .replace(/[\u00a0\u2007\u202f]/g, ' ')
    .replace(/[\u200b-\u200d\u2060\ufeff]/g, '')
    .replace(/\p{Cc}/gu, (c) => (c === '\n' || c === '\t' ? c : ''));
}

/** Subject without reply/forward prefixes, on one line, at most 200 characters. */
function cleanSubject(subject: string | undefined): string {
  return plain(subject).replace(/\s+/g, ' ').replace(REPLY_PREFIX, '').trim().slice(0, 200);
}

/** Escape text for HTML. */
function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** Simple, escaped HTML: paragraphs, line breaks and links. */
export function toHtml(text: string): string {
  const paragraphs = text.split(/\n{2,}/).map(
    (p) =>
      `<p>${escapeHtml(p)
        .replace(/https?:\/\/[^\s<]+[^\s<.,;:!?)]/g, (u) => `<a href="${u}">${u}</a>`)
        .replace(/\n/g, '<br>\n')}</p>`,
  );
  return `<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.4">\n${paragraphs.join('\n')}\n</body></html>`;
}

/** Seconds or minutes a temporary SMTP reply asks us to wait ("try again in 30 seconds"). */
function smtpRetryAfter(response: string): number | undefined {
  const m = /\b(?:in|after)\s+(\d{1,5})\s*(s|secs?|seconds?|m|mins?|minutes?)\b/i.exec(response);
  if (!m) return undefined;
  return Number(m[1]) * (m[2]!.toLowerCase().startsWith('m') ? 60_000 : 1000);
}

interface NodemailerFailure {
  code?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

/**
 * Map a nodemailer failure: 4xx replies and transport failures are retryable (RFC 5321 §4.2.1: transient), 5xx
 * permanent. Rate limiting shows up as 4.7.x/4.2.1 or "rate"/"too many" in the text. Authentication failures stay
 * retryable: they are our configuration, and once it is fixed the queued replies should still go out.
 */
function sendError(err: unknown, secrets: readonly string[]): ChannelError {
  const e = (err ?? {}) as NodemailerFailure;
  const status = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const text = scrubSecrets(String(e.response ?? e.message ?? 'unknown error'), secrets)
    .replace(/\s+/g, ' ')
    .slice(0, 200);
  const message = `SMTP send: ${status ? `server answered ${status}` : (e.code ?? 'failed')} (${text})`;
  if (e.code === 'EAUTH' || e.code === 'ENOAUTH')
    return new ChannelError('CHANNEL_UNAVAILABLE', `${message}; check EMAIL_SMTP_OUT_URL`, {
      retryable: true,
      ...(status ? { status } : {}),
    });
  if (status && status >= 500)
    return new ChannelError('CHANNEL_REJECTED', message, { status, retryable: false });
  if (status && status >= 400) {
    const after = smtpRetryAfter(text);
    const limited = /\b4\.7\.\d+|\b4\.2\.1\b|rate|too many|throttl/i.test(text);
    return new ChannelError(limited ? 'CHANNEL_RATE_LIMITED' : 'CHANNEL_UNAVAILABLE', message, {
      retryable: true,
      status,
      ...(after !== undefined ? { retryAfterMs: after } : {}),
    });
  }
  if (e.code === 'EENVELOPE' || e.code === 'EMESSAGE')
    return new ChannelError('CHANNEL_REJECTED', message, { retryable: false });
  return new ChannelError('CHANNEL_UNAVAILABLE', message, { retryable: true });
}

/** Secrets hidden in a URL (the URL itself and its password, raw and decoded). */
function urlSecrets(url: string | undefined): string[] {
  if (!url) return [];
  try {
    const u = new URL(url);
    return [url, u.password, decodeURIComponent(u.password)].filter((s) => s.length > 0);
  } catch {
    return [url];
  }
}

export const email = defineChannel({
  name: 'email',
  config: emailConfig,
  env: {
    EMAIL_ADDRESS: 'address',
    EMAIL_FROM: 'from',
    EMAIL_SMTP_OUT_URL: 'smtpOutUrl',
    EMAIL_SMTP_LISTEN: 'listen',
    EMAIL_SMTP_HOST: 'smtpHost',
    EMAIL_SMTP_PORT: 'smtpPort',
    EMAIL_MAX_BYTES: 'maxBytes',
    EMAIL_SMTP_USER: 'smtpUser',
    EMAIL_SMTP_PASSWORD: 'smtpPassword',
    EMAIL_SMTP_TLS_KEY: 'tlsKey',
    EMAIL_SMTP_TLS_CERT: 'tlsCert',
    EMAIL_IMAP_URL: 'imapUrl',
    EMAIL_IMAP_POLL_SECONDS: 'imapPollSeconds',
  },
  capabilities,
  create(config: EmailConfig, deps: ChannelDeps): EmailAdapter {
    return createEmailAdapter(config, deps);
  },
});

function createEmailAdapter(config: EmailConfig, deps: ChannelDeps): EmailAdapter {
  const sender = config.from ? fromParts(config.from) : { name: '', address: config.address[0]! };
  const own = [...new Set([...config.address, sender.address].map(mailbox))];
  const domain = sender.address.slice(sender.address.lastIndexOf('@') + 1);
  const secrets = [
    ...urlSecrets(config.smtpOutUrl),
    ...urlSecrets(config.imapUrl),
    ...(config.smtpPassword ? [config.smtpPassword] : []),
  ];
  const listen = config.listen ?? !config.imapUrl;
  // The mail libraries load with the channel, not with the process (together some 50 MB a city without e-mail
  // would carry for nothing).
  let transporter: Promise<Transporter> | undefined;
  const transport = () =>
    (transporter ??= import('nodemailer').then(({ createTransport }) =>
      createTransport({
        url: config.smtpOutUrl,
        // An outbox attempt should fail in seconds, not nodemailer's default minutes; the outbox retries.
        connectionTimeout: 15_000,
        greetingTimeout: 15_000,
        socketTimeout: 30_000,
      }),
    ));

  let emit: Emit | null = null;
  let server: SMTPServer | null = null;
  let bound: { host: string; port: number } | null = null;
  let stopped = false;
  const imap: {
    state: ChannelHealth['state'];
    detail?: string;
    failures: number;
    timer?: NodeJS.Timeout;
    running?: Promise<void>;
    client?: ImapFlow;
  } = { state: 'starting', failures: 0 };

  /** Read one raw message into an inbound event (or say why not), counting what is not answered. */
  async function ingest(
    raw: Buffer,
    via: { source: 'smtp' | 'imap'; envelopeFrom?: string; rcptTo?: string[] },
  ): Promise<Ingested> {
    const result = await read(raw, via);
    if (result.kind !== 'event')
      deps.count(result.kind === 'ignored' ? 'inbound_ignored' : 'inbound_malformed');
    return result;
  }

  /** Read one raw message into an inbound event (or say why not). Throws only on storage failures. */
  async function read(
    raw: Buffer,
    via: { source: 'smtp' | 'imap'; envelopeFrom?: string; rcptTo?: string[] },
  ): Promise<Ingested> {
    let mail: ParsedMail;
    try {
      const { simpleParser } = await import('mailparser');
      mail = await simpleParser(raw, {
        skipImageLinks: true,
        skipTextToHtml: true,
        maxHtmlLengthToParse: 2_000_000,
      });
    } catch {
      return { kind: 'malformed', reason: 'unparsable' };
    }
    const fromAddress = mail.from?.value
      .find((a) => a.address)
      ?.address?.trim()
      .toLowerCase();
    if (!fromAddress || !EMAIL.safeParse(fromAddress).success)
      return { kind: 'malformed', reason: 'no-sender' };
    const loop = loopReason(mail, fromAddress, via.envelopeFrom, own);
    if (loop) return { kind: 'ignored', reason: loop };

    const ownId = msgId(mail.messageId);
    const references = (Array.isArray(mail.references) ? mail.references : [mail.references ?? ''])
      .flatMap((r) => r.split(/\s+/))
      .map((r) => msgId(r))
      .filter((r): r is string => r !== null);
    const inReplyTo = msgId(mail.inReplyTo);
    const root = references[0] ?? inReplyTo ?? ownId;
    const isReply = references.length > 0 || inReplyTo !== null;
    const subject = cleanSubject(mail.subject);
    const forward = FORWARD_PREFIX.test(mail.subject ?? '');

    let body = stripQuoted(plain(mail.text), forward);
    if (!isReply && subject && !body.toLowerCase().includes(subject.toLowerCase()))
      body = body ? `${subject}\n\n${body}` : subject;
    const subjectFolio = FOLIO_RE.exec((mail.subject ?? '').toUpperCase())?.[0];
    if (isReply && subjectFolio && !FOLIO_RE.test(body.toUpperCase()))
      body = body ? `${body}\n\n${subjectFolio}` : subjectFolio;

    const attachments = mail.attachments.map((a) => ({
      filename: (a.filename ?? '').slice(0, 200),
      contentType: a.contentType.toLowerCase(),
      size: a.size,
      used: false,
    }));
    const media: { mediaId: string; mime: string; bytes: number }[] = [];
    for (const [i, a] of mail.attachments.entries()) {
      if (media.length >= MAX_MEDIA) break;
      const type = a.contentType.toLowerCase();
      const isImage = type.startsWith('image/');
      if (!isImage && !type.startsWith('audio/')) continue;
      if (isImage && a.related && a.size < MIN_INLINE_IMAGE) continue;
      let bytes = a.content;
      let mime = type === 'audio/x-m4a' ? 'audio/mp4' : type;
      if (isImage) {
        try {
          ({ bytes, mime } = await sanitizeImage(a.content));
        } catch {
          continue; // not a readable image: treated like any other attachment
        }
      } else if (bytes.length === 0) continue;
      const stored = await deps.media.save({ bytes, mime, contactHint: fromAddress });
      deps.count('media_downloaded');
      media.push({ mediaId: stored.id, mime: stored.mime, bytes: stored.bytes });
      attachments[i]!.used = true;
    }

    if (!body && media.length === 0) return { kind: 'ignored', reason: 'empty' };

    const externalId =
      ownId && ownId.length <= 512
        ? ownId
        : `sha256:${sha([fromAddress, mail.date?.toISOString() ?? '', mail.subject ?? '', mail.text ?? '', String(raw.length)].join('\u0000'))}`;
    const now = deps.now();
    const date = mail.date && !Number.isNaN(mail.date.getTime()) ? mail.date : undefined;
    // The Date header is the sender's clock: trust it only when it is not in the future.
    const at = date && date.getTime() <= now.getTime() + 5 * 60_000 ? date : now;
    const address: Address = {
      channel: 'email',
      user: fromAddress,
      ...(root && root.length <= 512 ? { thread: root } : {}),
      extra: {
        ...(subject ? { subject } : {}),
        ...(ownId && ownId.length <= 512 ? { messageId: ownId } : {}),
      },
    };
    const language = header(mail, 'content-language')?.split(',')[0]?.trim();
    const base = {
      id: inboundId('email', externalId),
      externalId,
      address,
      at: at.toISOString(),
      ...(language && /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/i.test(language) ? { locale: language } : {}),
      identity: { email: fromAddress },
      raw: {
        source: via.source,
        messageId: ownId,
        from: fromAddress,
        ...(via.rcptTo ? { rcptTo: via.rcptTo } : {}),
        subject: (mail.subject ?? '').slice(0, 300),
        date: date?.toISOString() ?? null,
        inReplyTo,
        references: references.slice(0, 10),
        ...(subjectFolio ? { subjectFolio } : {}),
        attachments: attachments.slice(0, 20),
      },
    };
    const inbound: Inbound =
      media.length > 0
        ? {
            ...base,
            kind: 'media',
            media: media.map((m, i) => (i === 0 && body ? { ...m, caption: body.slice(0, MAX_CAPTION) } : m)),
          }
        : { ...base, kind: 'text', text: body.slice(0, MAX_TEXT) };
    // Anything the schema refuses (an odd locale, a long header) is a malformed message, not a crash.
    return InboundSchema.safeParse(inbound).success
      ? { kind: 'event', inbound }
      : { kind: 'malformed', reason: 'schema' };
  }

  /** What the SMTP listener does with one DATA section. */
  async function onMessage(raw: Buffer, session: SMTPServerSession): Promise<void> {
    const mailFrom = session.envelope.mailFrom;
    const result = await ingest(raw, {
      source: 'smtp',
      envelopeFrom: mailFrom === false ? undefined : mailFrom.address,
      rcptTo: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
    }).catch((err: unknown) => {
      deps.log.error({ err: scrubSecrets(String(err), secrets).slice(0, 300) }, 'email could not be stored');
      throw smtpError(451, 'Temporary failure, please try again later');
    });
    if (result.kind === 'malformed') {
      deps.log.info({ reason: result.reason }, 'email rejected as malformed');
      throw smtpError(554, 'Message could not be read');
    }
    if (result.kind === 'ignored') {
      deps.log.info({ reason: result.reason }, 'email ignored');
      return;
    }
    if (!emit) throw smtpError(451, 'Not ready, please try again later');
    try {
      await emit(result.inbound);
    } catch (err) {
      deps.log.warn(
        { err: scrubSecrets(err instanceof Error ? err.message : String(err), secrets).slice(0, 300) },
        'email not accepted; the sender will retry',
      );
      throw smtpError(451, 'Temporary failure, please try again later');
    }
  }

  async function startSmtp(): Promise<void> {
    const auth = config.smtpUser !== undefined && config.smtpPassword !== undefined;
    const tls =
      config.tlsKey && config.tlsCert
        ? { key: await readFile(config.tlsKey), cert: await readFile(config.tlsCert) }
        : null;
    const options: SMTPServerOptions = {
      name: domain,
      banner: 'Ventanilla',
      secure: false,
      logger: false,
      disableReverseLookup: true,
      size: config.maxBytes,
      rejectOversized: true,
      maxClients: 200,
      closeTimeout: 5000,
      // Without a certificate there is no STARTTLS (smtp-server would otherwise offer its public test key).
      disabledCommands: [...(tls ? [] : ['STARTTLS']), ...(auth ? [] : ['AUTH'])],
      authOptional: !auth,
      authMethods: ['PLAIN', 'LOGIN'],
      // Cleartext AUTH only when there is no TLS at all: meant for a trusted relay on a private network.
      allowInsecureAuth: auth && !tls,
      ...(tls ?? {}),
      onAuth(a, _session, cb) {
        const ok =
          auth &&
          (a.method === 'PLAIN' || a.method === 'LOGIN') &&
          safeEqual(a.username ?? '', config.smtpUser!) &&
          safeEqual(a.password ?? '', config.smtpPassword!);
        if (ok) cb(null, { user: a.username });
        else cb(smtpError(535, 'Authentication failed'));
      },
      onRcptTo(rcpt, _session, cb) {
        if (own.includes(mailbox(rcpt.address))) cb();
        else cb(smtpError(550, 'No such mailbox here'));
      },
      onData(stream: SMTPServerDataStream, session, cb) {
        const chunks: Buffer[] = [];
        let size = 0;
        stream.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= config.maxBytes) chunks.push(c);
        });
        stream.on('end', () => {
          // smtp-server answers 552 itself for oversized messages (rejectOversized).
          if (stream.sizeExceeded) return cb();
          onMessage(Buffer.concat(chunks), session).then(
            () => cb(),
            (err: unknown) => cb(err as Error),
          );
        });
      },
    };
    const { SMTPServer } = await import('smtp-server');
    server = new SMTPServer(options);
    server.on('error', (err) => {
      deps.log.warn({ err: err.message.slice(0, 200) }, 'smtp listener connection error');
    });
    const s = server;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      s.server.once('error', onError);
      s.listen(config.smtpPort, config.smtpHost, () => {
        s.server.off('error', onError);
        const a = s.server.address() as AddressInfo;
        bound = { host: config.smtpHost, port: a.port };
        resolve();
      });
    });
  }

  /** One IMAP round: connect, emit every unseen message, flag it seen, log out. */
  async function poll(): Promise<void> {
    if (!config.imapUrl || !emit) return;
    const url = new URL(config.imapUrl);
    const secure = url.protocol.toLowerCase() === 'imaps:';
    const { ImapFlow } = await import('imapflow');
    const client = new ImapFlow({
      host: url.hostname,
      port: url.port ? Number(url.port) : secure ? 993 : 143,
      secure,
      auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) },
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: 20_000,
      greetingTimeout: 15_000,
      socketTimeout: 60_000,
    });
    imap.client = client;
    // imapflow emits 'error' for socket failures; without a listener they would crash the process.
    client.on('error', () => undefined);
    const path = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'INBOX';
    try {
      await client.connect();
      const lock = await client.getMailboxLock(path);
      try {
        const uids = ((await client.search({ seen: false }, { uid: true })) || []).slice(0, 50);
        const sizes = uids.length
          ? await client.fetchAll(uids.join(','), { uid: true, size: true }, { uid: true })
          : [];
        for (const m of sizes.sort((a, b) => a.uid - b.uid)) {
          if (stopped) break;
          const seen = () => client.messageFlagsAdd(String(m.uid), ['\\Seen'], { uid: true });
          if ((m.size ?? 0) > config.maxBytes) {
            deps.log.warn({ uid: m.uid, bytes: m.size }, 'email over EMAIL_MAX_BYTES skipped');
            await seen();
            continue;
          }
          const full = await client.fetchOne(String(m.uid), { uid: true, source: true }, { uid: true });
          if (!full || !full.source) continue;
          const result = await ingest(full.source, { source: 'imap' });
          if (result.kind === 'event') {
            try {
              await emit(result.inbound);
            } catch (err) {
              // Left unseen: the next poll delivers it again (the Message-ID keeps that idempotent).
              deps.log.warn(
                {
                  uid: m.uid,
                  err: scrubSecrets(err instanceof Error ? err.message : String(err), secrets).slice(0, 200),
                },
                'email not accepted; retried on the next poll',
              );
              break;
            }
          } else deps.log.info({ reason: result.reason }, `email ${result.kind}`);
          await seen();
        }
      } finally {
        lock.release();
      }
      await client.logout();
      imap.state = 'ready';
      imap.failures = 0;
      delete imap.detail;
    } catch (err) {
      client.close();
      imap.failures++;
      const e = (err ?? {}) as { authenticationFailed?: boolean; code?: string; message?: string };
      const why = scrubSecrets(String(e.code ?? e.message ?? err), secrets).slice(0, 120);
      imap.state = e.authenticationFailed ? 'error' : 'disconnected';
      imap.detail = e.authenticationFailed
        ? 'IMAP login failed: check EMAIL_IMAP_URL'
        : `IMAP poll failed (${why}); retrying in ${Math.round(delayMs() / 1000)} s`;
      deps.log.warn({ failures: imap.failures, err: why }, 'imap poll failed');
    } finally {
      if (imap.client === client) delete imap.client;
    }
  }

  /** Poll interval, doubled per consecutive failure up to 30 minutes. */
  function delayMs(): number {
    return Math.min(config.imapPollSeconds * 1000 * 2 ** Math.min(imap.failures, 10), 30 * 60_000);
  }

  /** Run one poll after any running one, then schedule the next (polls never overlap). */
  async function cycle(): Promise<void> {
    if (imap.timer) clearTimeout(imap.timer);
    while (imap.running) await imap.running;
    imap.running = poll().finally(() => {
      delete imap.running;
      schedule(delayMs());
    });
    await imap.running;
  }

  function schedule(ms: number): void {
    if (imap.timer) clearTimeout(imap.timer);
    if (stopped) return;
    imap.timer = setTimeout(() => void cycle(), ms);
    imap.timer.unref();
  }

  function smtpHealth(): string {
    return bound ? `SMTP listening on ${bound.host}:${bound.port}` : 'SMTP listener not started';
  }

  return {
    name: 'email',
    capabilities,

    async start(e) {
      emit = e;
      stopped = false;
      if (listen) await startSmtp();
      if (config.imapUrl) schedule(0);
    },

    async stop() {
      stopped = true;
      if (imap.timer) clearTimeout(imap.timer);
      imap.client?.close();
      await imap.running?.catch(() => undefined);
      const s = server;
      server = null;
      bound = null;
      // The transport stays usable: the outbox may still deliver replies while the app drains.
      if (s) await new Promise<void>((r) => s.close(() => r()));
    },

    health(): ChannelHealth {
      const parts = [
        listen ? smtpHealth() : null,
        config.imapUrl ? (imap.detail ?? `IMAP ${imap.state}`) : null,
      ]
        .filter(Boolean)
        .join('; ');
      if (listen && !bound) return { state: 'starting', detail: parts };
      if (!config.imapUrl) return { state: 'ready', detail: parts };
      return { state: imap.state, detail: parts };
    },

    listening: () => bound,

    pollNow: cycle,

    async send(address: Address, outbound: Outbound, ctx: SendContext): Promise<Delivery> {
      const to = address.user.toLowerCase();
      if (!EMAIL.safeParse(to).success)
        throw new ChannelError('CHANNEL_REJECTED', 'The address is not an e-mail address');
      let text: string;
      switch (outbound.kind) {
        case 'text':
          text = outbound.text;
          break;
        case 'media': {
          const url = /^https?:\/\//i.test(outbound.url)
            ? outbound.url
            : new URL(outbound.url, deps.publicUrl).toString();
          text = [outbound.caption, url].filter(Boolean).join('\n\n');
          break;
        }
        case 'choices':
        case 'template':
        case 'speech':
        case 'typing':
          // Degradation turns these into text before they get here (capabilities).
          throw new ChannelError('CHANNEL_REJECTED', `Unsupported outbound kind ${outbound.kind}`);
      }
      const subjectBase = cleanSubject(address.extra?.subject);
      const subject = subjectBase ? `Re: ${subjectBase}` : sender.name || sender.address;
      const messageId = `<${sha(ctx.idempotencyKey).slice(0, 32)}@${domain}>`;
      const replyTo = msgId(address.extra?.messageId) ?? msgId(address.thread);
      const references = [...new Set([msgId(address.thread), replyTo].filter((x): x is string => !!x))];
      try {
        await (
          await transport()
        ).sendMail({
          from: sender.name ? { name: sender.name, address: sender.address } : sender.address,
          to,
          subject,
          text,
          html: toHtml(text),
          // Same idempotency key, same Message-ID: a retried send after a lost reply shows up once in mail clients.
          messageId,
          ...(replyTo ? { inReplyTo: replyTo } : {}),
          ...(references.length ? { references } : {}),
          headers: {
            'Auto-Submitted': 'auto-replied',
            // Asks Exchange/Outlook not to send out-of-office replies back to us.
            'X-Auto-Response-Suppress': 'All',
          },
          envelope: { from: sender.address, to },
        });
      } catch (err) {
        throw sendError(err, secrets);
      }
      return { externalId: messageId };
    },
  };
}

function smtpError(responseCode: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode });
}
