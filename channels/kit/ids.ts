/** Deterministic ids: the same provider message always maps to the same inbound id. */
import { createHash, randomBytes } from 'node:crypto';

/** A uuid-shaped id derived from channel + external id (redeliveries collide on purpose). */
export function inboundId(channel: string, externalId: string): string {
  const h = createHash('sha256').update(`${channel}\u0000${externalId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

/** An unguessable secret of `bytes` random bytes, base64url. */
export function randomSecret(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

/** A one-way key for a secret, safe to store (a database leak does not reveal live sessions). */
export function secretKey(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}
