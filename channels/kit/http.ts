/**
 * Calls to a provider's HTTP API with the error mapping every adapter shares: 429 → `CHANNEL_RATE_LIMITED`
 * (retryable, `Retry-After` honoured), 5xx / timeout / dropped connection → `CHANNEL_UNAVAILABLE` (retryable),
 * other 4xx → `CHANNEL_REJECTED`. Error messages carry the method, the path *template* and the provider's own
 * error text, never the URL (Telegram puts the bot token in the path) or request headers.
 */
import { ChannelError } from '../contract.ts';
import type { ChannelErrorCode } from '../contract.ts';

/** Options of {@link providerFetch}. */
export interface ProviderRequest {
  readonly method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly headers?: Record<string, string>;
  /** A JSON body (serialised here) or a raw body (Buffer, FormData, URLSearchParams). */
  readonly json?: unknown;
  readonly body?: NonNullable<RequestInit['body']>;
  /** Abort after this many milliseconds (default 10 s). */
  readonly timeoutMs?: number;
  /** Shown in errors instead of the URL, e.g. `POST /messages`. */
  readonly label: string;
  /** Secrets to scrub from any provider text that ends up in an error message. */
  readonly secrets?: readonly string[];
  /**
   * Provider-specific reading of an error answer, consulted before the status: the Graph API, for one, reports
   * rate limits and a closed messaging window as HTTP 400 with a numeric `error.code`. `code` overrides the
   * status-based code (rate limits and outages stay retryable, with `Retry-After`); `detail` joins the message.
   */
  readonly classify?: (failure: {
    readonly status: number;
    readonly json: unknown;
  }) => { readonly code?: ChannelErrorCode; readonly detail?: string } | undefined;
}

/** A successful provider response. */
export interface ProviderResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: unknown;
}

/** Parse a `Retry-After` header (seconds or HTTP date) into milliseconds. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Remove every secret from a text (longest first, so a secret containing another is fully removed). */
export function scrubSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of [...secrets].filter((x) => x.length >= 4).sort((a, b) => b.length - a.length))
    out = out.split(s).join('***');
  return out;
}

/** The provider's own short error text from a JSON or text body (first 300 characters). */
function providerText(json: unknown, body: Buffer): string {
  const pick = (o: unknown): string | undefined => {
    if (!o || typeof o !== 'object') return undefined;
    const r = o as Record<string, unknown>;
    if (typeof r.description === 'string') return r.description; // Telegram
    if (typeof r.message === 'string') return r.message; // Twilio, generic
    if (r.error && typeof r.error === 'object') return pick(r.error); // Graph API, OpenAI
    if (typeof r.error === 'string') return r.error;
    return undefined;
  };
  return (pick(json) ?? body.toString('utf8')).replace(/\s+/g, ' ').slice(0, 300);
}

/** Call a provider; resolves for 2xx, throws a {@link ChannelError} otherwise. */
export async function providerFetch(url: string, req: ProviderRequest): Promise<ProviderResponse> {
  const headers: Record<string, string> = { ...req.headers };
  let body = req.body;
  if (req.json !== undefined) {
    body = JSON.stringify(req.json);
    headers['content-type'] ??= 'application/json';
  }
  let res: Response;
  try {
    res = await fetch(url, {
      method: req.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(req.timeoutMs ?? 10_000),
    });
  } catch (err) {
    const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    throw new ChannelError(
      'CHANNEL_UNAVAILABLE',
      `${req.label}: ${timeout ? 'timed out' : 'connection failed'}`,
      { retryable: true },
    );
  }
  let raw: Buffer;
  try {
    raw = Buffer.from(await res.arrayBuffer());
  } catch {
    throw new ChannelError('CHANNEL_UNAVAILABLE', `${req.label}: connection dropped while reading`, {
      retryable: true,
      status: res.status,
    });
  }
  let json: unknown;
  try {
    json = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
  } catch {
    json = undefined;
  }
  if (res.ok) return { status: res.status, headers: res.headers, body: raw, json };
  const own = req.classify?.({ status: res.status, json });
  const text = scrubSecrets(providerText(json, raw), req.secrets);
  const detail = [own?.detail, text].filter(Boolean).join(': ');
  const message = `${req.label}: provider answered ${res.status}${detail ? ` (${detail})` : ''}`;
  const code: ChannelErrorCode =
    own?.code ??
    (res.status === 429
      ? 'CHANNEL_RATE_LIMITED'
      : res.status >= 500 || res.status === 408
        ? 'CHANNEL_UNAVAILABLE'
        : 'CHANNEL_REJECTED');
  if (code === 'CHANNEL_RATE_LIMITED' || code === 'CHANNEL_UNAVAILABLE') {
    const after = retryAfterMs(res.headers.get('retry-after'));
    throw new ChannelError(code, message, {
      retryable: true,
      status: res.status,
      ...(after !== undefined ? { retryAfterMs: after } : {}),
    });
  }
  throw new ChannelError(code, message, { status: res.status });
}
