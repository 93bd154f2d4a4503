/** The channel kit: what every adapter may use (degradation, ids, limits, image sanitising). */
import type { z } from 'zod';
import type { Capabilities, ChannelAdapter, Delivery } from '../contract.ts';
import type { MediaStore } from '../../integrations/contract.ts';
import { degrade } from './degrade.ts';

export { degrade, numbered, splitText } from './degrade.ts';
export { inboundId, randomSecret, secretKey } from './ids.ts';
export { createLimiter } from './rate-limit.ts';
export type { Limiter, RateLimit } from './rate-limit.ts';
export { MAX_IMAGE_BYTES, sanitizeImage } from './image.ts';
export { providerFetch, retryAfterMs, scrubSecrets } from './http.ts';
export type { ProviderRequest, ProviderResponse } from './http.ts';
export { hmac, safeEqual, twilioSignature } from './verify.ts';
export { normalizePhone } from './phone.ts';

/** The logger subset adapters use (pino-compatible). Never pass secrets or message bodies. */
export interface ChannelLogger {
  debug(obj: Record<string, unknown>, msg?: string): void;
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
}

/** What the composition root gives every provider channel (web chat has its own, socket.io-shaped deps). */
export interface ChannelDeps {
  /** Store inbound media here and put the returned id in `Inbound.media[].mediaId`. */
  readonly media: MediaStore;
  readonly log: ChannelLogger;
  readonly now: () => Date;
  /** A folder this channel may keep files in (e.g. a paired WhatsApp Web session). */
  readonly dataDir: string;
  /** The deployment's public base URL (`PUBLIC_URL`), e.g. for webhook URLs and Twilio signatures. */
  readonly publicUrl: string;
  /** Channel-specific counters exported as `ventanilla_channel_<name>_total{channel}` (e.g. `sms_segments`). */
  readonly count: (name: ChannelCounter, n?: number) => void;
}

/** Counters a channel may add to (each is one Prometheus counter labelled by channel). */
export type ChannelCounter =
  | 'sms_segments'
  | 'templates_sent'
  | 'media_downloaded'
  /** Event sources (e-mail): messages read and deliberately not answered (auto-replies, bounces, lists). */
  | 'inbound_ignored'
  /** Event sources: messages that could not be read. */
  | 'inbound_malformed';

/** A channel's definition: its name, config schema, capabilities and factory. */
export interface ChannelDefinition<N extends string, S extends z.ZodType, D, A extends ChannelAdapter> {
  readonly name: N;
  readonly config: S;
  /**
   * Environment variables → config keys (e.g. `{ TELEGRAM_BOT_TOKEN: 'token' }`). The composition root turns a
   * channel on when any of its variables is set and reports schema problems under the variable's name.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** The variables that turn the channel on (default: any of `env`); for variables shared between channels. */
  readonly enabledBy?: readonly string[];
  readonly capabilities: Capabilities;
  /** Build a running adapter; `send` of the result degrades outbound messages to the capabilities first. */
  create(config: z.infer<S>, deps: D): A;
}

/** Wrap an adapter so every send is degraded to its capabilities (long text split, choices numbered, …). */
export function withDegradation<A extends ChannelAdapter>(adapter: A): A {
  const raw = adapter.send.bind(adapter);
  const send: ChannelAdapter['send'] = async (address, outbound, ctx) => {
    const parts = degrade(outbound, adapter.capabilities);
    let last: Delivery = { externalId: ctx.idempotencyKey };
    for (const [i, part] of parts.entries()) {
      last = await raw(
        address,
        part,
        parts.length > 1 ? { ...ctx, idempotencyKey: `${ctx.idempotencyKey}#${i}` } : ctx,
      );
    }
    return last;
  };
  return withSend(adapter, send);
}

/** A copy of `adapter` (same prototype, so its methods keep working) whose `send` is replaced. */
export function withSend<A extends ChannelAdapter>(adapter: A, send: ChannelAdapter['send']): A {
  return Object.assign(Object.create(Object.getPrototypeOf(adapter) as object) as A, adapter, { send });
}

/** Define a channel (see `channels/contract.ts` for the recipe). */
export function defineChannel<N extends string, S extends z.ZodType, D, A extends ChannelAdapter>(
  def: ChannelDefinition<N, S, D, A>,
): ChannelDefinition<N, S, D, A> {
  return { ...def, create: (config, deps) => withDegradation(def.create(config, deps)) };
}
