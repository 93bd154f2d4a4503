/** Webhook signature helpers: constant-time comparisons over the exact bytes the provider signed. */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Constant-time string equality (false on length mismatch, without leaking where they differ). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** HMAC of `data` with `secret`, in `encoding`. */
export function hmac(
  algorithm: 'sha1' | 'sha256',
  secret: string,
  data: string | Buffer,
  encoding: 'hex' | 'base64' = 'hex',
): string {
  return createHmac(algorithm, secret).update(data).digest(encoding);
}

/**
 * Twilio's `X-Twilio-Signature`: base64 HMAC-SHA1 of the full URL followed by every POST parameter name and value,
 * sorted by name (https://www.twilio.com/docs/usage/webhooks/webhooks-security).
 */
export function twilioSignature(
  authToken: string,
  url: string,
  params: Record<string, string | string[]>,
): string {
  let data = url;
  for (const key of Object.keys(params).sort()) {
    const v = params[key]!;
    for (const value of Array.isArray(v) ? [...v].sort() : [v]) data += key + value;
  }
  return hmac('sha1', authToken, data, 'base64');
}
