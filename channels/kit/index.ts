/** The channel kit: what every adapter may use (degradation, ids, limits, image sanitising). */
import type { z } from 'zod';
import type { Capabilities, ChannelAdapter, Delivery } from '../contract.ts';
import { degrade } from './degrade.ts';

export { degrade, numbered, splitText } from './degrade.ts';
export { inboundId, randomSecret, secretKey } from './ids.ts';
export { createLimiter } from './rate-limit.ts';
export type { Limiter, RateLimit } from './rate-limit.ts';
export { MAX_IMAGE_BYTES, sanitizeImage } from './image.ts';

/** The logger subset adapters use (pino-compatible). Never pass secrets or message bodies. */
export interface ChannelLogger {
  debug(obj: Record<string, unknown>, msg?: string): void;
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
}

/** A channel's definition: its name, config schema, capabilities and factory. */
export interface ChannelDefinition<N extends string, S extends z.ZodType, D, A extends ChannelAdapter> {
  readonly name: N;
  readonly config: S;
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
  return Object.assign(Object.create(Object.getPrototypeOf(adapter) as object) as A, adapter, { send });
}

/** Define a channel (see `channels/contract.ts` for the recipe). */
export function defineChannel<N extends string, S extends z.ZodType, D, A extends ChannelAdapter>(
  def: ChannelDefinition<N, S, D, A>,
): ChannelDefinition<N, S, D, A> {
  return { ...def, create: (config, deps) => withDegradation(def.create(config, deps)) };
}
