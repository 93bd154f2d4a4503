/**
 * A test-only channel: sends through a provider-like HTTP API (a loopback fake) and receives through `emit`, so
 * the outbox and dialogs can be tested against real HTTP failures without any module mocks.
 */
import { ChannelError } from '../../channels/contract.ts';
import type { Address, ChannelAdapter, Emit, Inbound } from '../../channels/contract.ts';
import { inboundId, withDegradation } from '../../channels/kit/index.ts';

/** The loopback adapter plus a way to inject citizen messages. */
export interface LoopbackChannel extends ChannelAdapter {
  /** Deliver a citizen message as if the provider had sent it; resolves when the turn committed. */
  inject(user: string, text: string, externalId?: string): Promise<void>;
}

/** Build the adapter against `baseUrl` (a {@link startFakeProvider}). */
export function createLoopbackChannel(
  baseUrl: string,
  opts: { timeoutMs?: number; name?: string } = {},
): LoopbackChannel {
  const name = opts.name ?? 'loopback';
  let emit: Emit | undefined;
  let n = 0;
  const adapter: LoopbackChannel = {
    name,
    capabilities: {
      delivery: 'push',
      choices: { max: 3, style: 'buttons' },
      media: [],
      maxText: 1000,
      typing: false,
      templates: false,
      speech: false,
    },
    async start(e) {
      emit = e;
    },
    async stop() {
      emit = undefined;
    },
    async inject(user, text, externalId = `ext-${++n}-${Date.now()}`) {
      if (!emit) throw new Error('not started');
      const address: Address = { channel: name, user };
      const inbound: Inbound = {
        id: inboundId(name, externalId),
        externalId,
        address,
        at: new Date().toISOString(),
        kind: 'text',
        text,
        raw: { text },
      };
      await emit(inbound);
    },
    async send(address, outbound, ctx) {
      let res: Response;
      try {
        res = await fetch(`${baseUrl}/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': ctx.idempotencyKey },
          body: JSON.stringify({ to: address.user, outbound }),
          signal: AbortSignal.timeout(opts.timeoutMs ?? 2000),
        });
      } catch (cause) {
        throw new ChannelError('CHANNEL_UNAVAILABLE', 'Provider unreachable or timed out', {
          retryable: true,
          cause,
        });
      }
      if (res.status === 429) {
        const ra = Number(res.headers.get('retry-after'));
        throw new ChannelError('CHANNEL_RATE_LIMITED', 'Provider rate limit', {
          retryable: true,
          status: 429,
          ...(Number.isFinite(ra) && ra > 0 ? { retryAfterMs: ra * 1000 } : {}),
        });
      }
      if (res.status >= 500)
        throw new ChannelError('CHANNEL_UNAVAILABLE', `Provider answered ${res.status}`, {
          retryable: true,
          status: res.status,
        });
      if (res.status >= 400)
        throw new ChannelError('CHANNEL_REJECTED', `Provider rejected the message (${res.status})`, {
          status: res.status,
        });
      const body = (await res.json()) as { id: string };
      return { externalId: body.id };
    },
  };
  return withDegradation(adapter);
}
