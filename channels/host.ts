/**
 * Hosting provider channels in the HTTP server: one webhook route per channel (`/webhooks/<name>`, raw body kept
 * for signatures), event-source start/stop, and per-channel health (counters + last error) for metrics and the
 * admin API. Adapters stay transport-free; this is the only place that knows Fastify.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import client from 'prom-client';
import type { ChannelAdapter, ChannelHealth, Emit, Inbound } from './contract.ts';
import { ToolkitError } from './contract.ts';
import type { ChannelCounter, ChannelLogger } from './kit/index.ts';
import { withSend } from './kit/index.ts';

/** Health of one channel as the admin API shows it. */
export interface ChannelStatus {
  readonly name: string;
  readonly kind: 'webhook' | 'event-source';
  readonly state: ChannelHealth['state'];
  readonly detail?: string;
  readonly received: number;
  readonly rejected: {
    readonly signature: number;
    readonly malformed: number;
    readonly ignored: number;
    /** Asked the provider to redeliver later (a passing failure). */
    readonly retry: number;
  };
  readonly sent: number;
  readonly failed: number;
  readonly lastError?: { readonly code: string; readonly message: string; readonly at: string };
  readonly lastInboundAt?: string;
}

/** What the host needs from the composition root. */
export interface ChannelHostDeps {
  readonly registry: client.Registry;
  readonly log: ChannelLogger;
  readonly now: () => Date;
  /** Hand one event to the runtime; resolves after its turn committed. */
  readonly emit: (inbound: Inbound) => Promise<void>;
  /** Largest webhook body accepted (bytes). */
  readonly bodyLimit?: number;
}

interface Stats {
  received: number;
  signature: number;
  malformed: number;
  ignored: number;
  retry: number;
  sent: number;
  failed: number;
  lastError?: { code: string; message: string; at: string };
  lastInboundAt?: string;
  started: boolean;
  startError?: string;
}

/** Hosts adapters: wraps `send` for counting, routes webhooks, starts event sources. */
export class ChannelHost {
  readonly #deps: ChannelHostDeps;
  readonly #adapters = new Map<string, ChannelAdapter>();
  readonly #stats = new Map<string, Stats>();
  readonly #events: client.Counter<'channel' | 'outcome'>;
  readonly #sends: client.Counter<'channel' | 'outcome'>;

  constructor(deps: ChannelHostDeps) {
    this.#deps = deps;
    this.#events = new client.Counter({
      name: 'ventanilla_channel_webhooks_total',
      help: 'Webhook requests by channel and outcome (accepted, signature, malformed, ignored, retry, error)',
      labelNames: ['channel', 'outcome'],
      registers: [deps.registry],
    });
    this.#sends = new client.Counter({
      name: 'ventanilla_channel_sends_total',
      help: 'Provider send calls by channel and outcome (ok, error)',
      labelNames: ['channel', 'outcome'],
      registers: [deps.registry],
    });
    const status = () => this.status();
    new client.Gauge({
      name: 'ventanilla_channel_ready',
      help: '1 when the channel reports ready (webhook channels are always ready), 0 otherwise',
      labelNames: ['channel'],
      registers: [deps.registry],
      collect() {
        for (const s of status()) this.set({ channel: s.name }, s.state === 'ready' ? 1 : 0);
      },
    });
  }

  readonly #counters = new Map<string, client.Counter<'channel'>>();

  /** A counter function for one channel's {@link ChannelDeps.count}. */
  counter(channel: string): (name: ChannelCounter, n?: number) => void {
    return (name, n = 1) => {
      let c = this.#counters.get(name);
      if (!c) {
        c = new client.Counter({
          name: `ventanilla_channel_${name}_total`,
          help: `Channel counter ${name.replace(/_/g, ' ')}`,
          labelNames: ['channel'],
          registers: [this.#deps.registry],
        });
        this.#counters.set(name, c);
      }
      c.inc({ channel }, n);
    };
  }

  /** Add an adapter; returns it with `send` counted (the runtime must use the returned object). */
  add<A extends ChannelAdapter>(adapter: A): A {
    const stats: Stats = {
      received: 0,
      signature: 0,
      malformed: 0,
      ignored: 0,
      retry: 0,
      sent: 0,
      failed: 0,
      started: !adapter.start,
    };
    this.#stats.set(adapter.name, stats);
    const raw = adapter.send.bind(adapter);
    const send: ChannelAdapter['send'] = async (address, outbound, ctx) => {
      try {
        const delivery = await raw(address, outbound, ctx);
        stats.sent++;
        this.#sends.inc({ channel: adapter.name, outcome: 'ok' });
        return delivery;
      } catch (err) {
        stats.failed++;
        this.#sends.inc({ channel: adapter.name, outcome: 'error' });
        this.#error(stats, err);
        throw err;
      }
    };
    const wrapped = withSend(adapter, send);
    this.#adapters.set(adapter.name, wrapped);
    return wrapped;
  }

  #error(stats: Stats, err: unknown): void {
    stats.lastError = {
      code: err instanceof ToolkitError ? String(err.code) : 'HTTP_INTERNAL',
      message: err instanceof Error ? err.message.slice(0, 300) : String(err).slice(0, 300),
      at: this.#deps.now().toISOString(),
    };
  }

  /** Register `/webhooks/:channel` (and Bot Framework's conventional `/api/messages`). */
  register(http: FastifyInstance): void {
    const bodyLimit = this.#deps.bodyLimit ?? 1024 * 1024;
    void http.register(async (scope) => {
      // Signatures are over the exact bytes received, so no parser may touch the body.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) =>
        done(null, body),
      );
      const handler = async (
        name: string,
        req: {
          method: string;
          url: string;
          headers: Record<string, string | string[] | undefined>;
          body: unknown;
        },
      ): Promise<{ status: number; body: string; contentType: string; headers?: Record<string, string> }> => {
        const adapter = this.#adapters.get(name);
        const stats = this.#stats.get(name);
        if (!adapter?.receive || !stats)
          return {
            status: 404,
            body: '{"code":"HTTP_NOT_FOUND","message":"Not found"}',
            contentType: 'application/json',
          };
        const headers: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        let received;
        try {
          received = await adapter.receive({ method: req.method, url: req.url, headers, rawBody });
        } catch (err) {
          // receive() must never throw; if it does, say nothing about why and keep the process up.
          this.#error(stats, err);
          this.#events.inc({ channel: name, outcome: 'error' });
          this.#deps.log.error(
            { channel: name, err: err instanceof Error ? err.message : String(err) },
            'webhook receive threw',
          );
          return { status: 400, body: '', contentType: 'text/plain' };
        }
        if (received.kind === 'rejected') {
          stats[received.reason]++;
          this.#events.inc({ channel: name, outcome: received.reason });
          if (received.reason === 'signature')
            this.#deps.log.warn({ channel: name }, 'webhook signature rejected');
          return {
            status: received.ack.status,
            body: received.ack.body ?? '',
            contentType: received.ack.contentType ?? 'text/plain',
            ...(received.ack.headers ? { headers: received.ack.headers } : {}),
          };
        }
        this.#events.inc({ channel: name, outcome: 'accepted' });
        for (const event of received.events) {
          try {
            await this.#deps.emit(event);
            stats.received++;
            stats.lastInboundAt = this.#deps.now().toISOString();
          } catch (err) {
            // Not accepted: the provider redelivers, and the message id makes the redelivery idempotent.
            this.#error(stats, err);
            const retryable = err instanceof ToolkitError && err.retryable;
            this.#deps.log.error(
              {
                channel: name,
                code: err instanceof ToolkitError ? err.code : undefined,
                err: err instanceof Error ? err.message : String(err),
              },
              'webhook event not accepted',
            );
            return {
              status: 503,
              body: '{"code":"HTTP_INTERNAL","message":"Try again later"}',
              contentType: 'application/json',
              ...(retryable ? { headers: { 'retry-after': '5' } } : {}),
            };
          }
        }
        return {
          status: received.ack.status,
          body: received.ack.body ?? '',
          contentType: received.ack.contentType ?? 'text/plain',
          ...(received.ack.headers ? { headers: received.ack.headers } : {}),
        };
      };
      const send = async (name: string, req: Parameters<typeof handler>[1], reply: FastifyReply) => {
        const out = await handler(name, req);
        void reply.status(out.status).header('content-type', out.contentType);
        for (const [k, v] of Object.entries(out.headers ?? {})) void reply.header(k, v);
        return reply.send(out.body);
      };
      scope.route({
        method: ['GET', 'POST'],
        url: '/webhooks/:channel',
        handler: (req, reply) => send((req.params as { channel: string }).channel, req, reply),
      });
      scope.post('/api/messages', (req, reply) => send('botframework', req, reply));
    });
  }

  /** A hosted adapter by name (admin operations such as WhatsApp Web pairing). */
  adapter(name: string): ChannelAdapter | undefined {
    return this.#adapters.get(name);
  }

  /** Start every event-source adapter; a failing start is logged and shown in health, never fatal. */
  async start(): Promise<void> {
    for (const [name, adapter] of this.#adapters) {
      if (!adapter.start) continue;
      const stats = this.#stats.get(name)!;
      const emit: Emit = async (inbound) => {
        await this.#deps.emit(inbound);
        stats.received++;
        stats.lastInboundAt = this.#deps.now().toISOString();
      };
      try {
        await adapter.start(emit);
        stats.started = true;
      } catch (err) {
        this.#error(stats, err);
        stats.startError = err instanceof Error ? err.message.slice(0, 300) : String(err);
        this.#deps.log.error({ channel: name, err: stats.startError }, 'channel failed to start');
      }
    }
  }

  /** Stop every event-source adapter. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.#adapters.values()].map(async (a) => a.stop?.()));
  }

  /** Health of every hosted channel. */
  status(): ChannelStatus[] {
    return [...this.#adapters.entries()].map(([name, adapter]) => {
      const s = this.#stats.get(name)!;
      const own = adapter.health?.();
      const state: ChannelHealth['state'] =
        own?.state ?? (s.startError ? 'error' : s.started ? 'ready' : 'starting');
      const detail = own?.detail ?? s.startError;
      return {
        name,
        kind: adapter.receive ? 'webhook' : 'event-source',
        state,
        ...(detail ? { detail } : {}),
        received: s.received,
        rejected: { signature: s.signature, malformed: s.malformed, ignored: s.ignored, retry: s.retry },
        sent: s.sent,
        failed: s.failed,
        ...(s.lastError ? { lastError: s.lastError } : {}),
        ...(s.lastInboundAt ? { lastInboundAt: s.lastInboundAt } : {}),
      };
    });
  }
}
