/**
 * The outbox dispatcher: delivers entries written by a turn right after it commits (the hot path), and retries
 * failures through the job queue with exponential backoff and full jitter; permanent failures are dead-lettered
 * with the reason recorded on the message (shown to agents). A periodic sweep picks up anything a crash left.
 */
import type { ChannelAdapter } from '../../channels/contract.ts';
import { ToolkitError } from '../../channels/contract.ts';
import type { JobQueue, OutboxEntry, OutboxStore } from '../../integrations/contract.ts';
import type { RuntimeLogger } from './types.ts';

/** Retry policy. */
export interface RetryPolicy {
  /** Attempts in all (the first try included) before dead-lettering. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** Default policy: 8 attempts over roughly an hour. */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 2_000, maxDelayMs: 15 * 60_000 };

/** Hooks for metrics and live views. */
export interface OutboxEvents {
  sent?(entry: OutboxEntry, externalId: string): void;
  retry?(entry: OutboxEntry, error: string, at: Date): void;
  dead?(entry: OutboxEntry, reason: string): void;
}

/** Dependencies of the dispatcher. */
export interface DispatcherDeps {
  readonly store: OutboxStore;
  readonly channels: ReadonlyMap<string, ChannelAdapter>;
  readonly jobs?: JobQueue;
  readonly now: () => Date;
  readonly log: RuntimeLogger;
  readonly retry?: RetryPolicy;
  readonly leaseMs?: number;
  readonly random?: () => number;
  readonly events?: OutboxEvents;
}

export const RETRY_QUEUE = 'outbox.retry';
/** How long a reply may wait behind an earlier one of its conversation before the sweep is left to take it. */
const WAIT_GIVE_UP_MS = 30_000;
export const SWEEP_QUEUE = 'outbox.sweep';

/** Delay before attempt `attempts + 1`: full jitter over an exponential ceiling, never below `retryAfterMs`. */
export function backoffMs(
  policy: RetryPolicy,
  attempts: number,
  random: () => number,
  retryAfterMs?: number,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempts - 1));
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  return Math.max(Math.round(jittered), retryAfterMs ?? 0);
}

function reasonOf(err: unknown): { reason: string; retryable: boolean; retryAfterMs?: number } {
  if (err instanceof ToolkitError) {
    const retryAfterMs = (err as { retryAfterMs?: number }).retryAfterMs;
    return {
      reason: `${err.code}: ${err.message}`,
      retryable: err.retryable,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    };
  }
  // An adapter bug is not the provider's fault; retrying the same call would fail the same way.
  return { reason: `UNEXPECTED: ${err instanceof Error ? err.message : String(err)}`, retryable: false };
}

/** Delivers outbox entries. Has lifecycle (workers, in-flight tracking), hence a class. */
export class OutboxDispatcher {
  readonly #deps: DispatcherDeps;
  readonly #policy: RetryPolicy;
  readonly #inflight = new Set<Promise<void>>();
  /** Ids that could not be leased because an earlier reply of their conversation was still on its way. */
  #waiting = new Set<string>();
  /** How often each waiting id was tried, and since when it waits (ids sent by another node never lease again). */
  readonly #tries = new Map<string, { tries: number; since: number }>();
  /** A pending retry of the waiting ids (see {@link OutboxDispatcher.#retryWaiting}). */
  #waitTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(deps: DispatcherDeps) {
    this.#deps = deps;
    this.#policy = deps.retry ?? DEFAULT_RETRY;
  }

  /** Register the retry and sweep workers and sweep once (crash recovery). */
  async start(): Promise<void> {
    const jobs = this.#deps.jobs;
    if (!jobs) return;
    await jobs.work(RETRY_QUEUE, async (data) => {
      const id = typeof data.id === 'string' ? data.id : undefined;
      if (id) await this.dispatch([id]);
    });
    await jobs.work(SWEEP_QUEUE, async () => {
      await this.sweep();
    });
    await jobs.schedule(SWEEP_QUEUE, '* * * * *');
    void this.#track(this.sweep());
  }

  /** How long a lease lasts (a turn's commit leases its replies for this long, see `commitTurn`'s `lease`). */
  get leaseMs(): number {
    return this.#deps.leaseMs ?? 60_000;
  }

  /**
   * Deliver entries already leased to us by the turn's commit (the hot path: no lease round trip). After a drain
   * they are left alone: their lease expires and whoever leases next sends them.
   */
  dispatchLeased(entries: readonly OutboxEntry[]): Promise<void> {
    if (entries.length === 0 || this.#stopped) return Promise.resolve();
    return this.#track(this.#sendInOrder(entries, true));
  }

  /** Deliver the named entries now, in order (fire-and-forget from the caller's view; tracked for drain). */
  dispatch(ids: readonly string[]): Promise<void> {
    if (ids.length === 0 || this.#stopped) return Promise.resolve();
    return this.#track(this.#deliver({ ids }));
  }

  /** Deliver everything that is due (retries whose time came, entries a crash left behind). */
  sweep(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return this.#deliver({});
  }

  /** Wait for in-flight deliveries, then refuse new ones. */
  async drain(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#waitTimer);
    this.#waitTimer = undefined;
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  #track(p: Promise<void>): Promise<void> {
    const tracked = p.catch((err: unknown) => {
      this.#deps.log.error({ err: describe(err) }, 'outbox delivery failed unexpectedly');
    });
    this.#inflight.add(tracked);
    void tracked.finally(() => this.#inflight.delete(tracked));
    return tracked;
  }

  async #deliver(opts: { ids?: readonly string[] }): Promise<void> {
    const { store, now } = this.#deps;
    const entries = await store.lease({
      ...(opts.ids ? { ids: opts.ids } : {}),
      now: now(),
      leaseMs: this.#deps.leaseMs ?? 60_000,
      limit: opts.ids ? opts.ids.length : 50,
    });
    if (opts.ids && entries.length < opts.ids.length) {
      const got = new Set(entries.map((e) => e.id));
      // Ids already sent elsewhere never lease again: give up on them after a while (the sweep is the backstop).
      // By time, not by tries: under load every finished delivery wakes the waiting ids, many times a second.
      const at = now().getTime();
      for (const id of opts.ids) {
        if (got.has(id)) continue;
        const seen = this.#tries.get(id);
        const tries = { tries: (seen?.tries ?? 0) + 1, since: seen?.since ?? at };
        this.#tries.set(id, tries);
        if (at - tries.since <= WAIT_GIVE_UP_MS) this.#waiting.add(id);
        else this.#tries.delete(id);
      }
      this.#retryWaiting();
    }
    for (const e of entries) this.#tries.delete(e.id);
    await this.#sendInOrder(entries, opts.ids !== undefined);
  }

  /** Send leased entries in order, then wake what waited behind them. */
  async #sendInOrder(entries: readonly OutboxEntry[], named: boolean): Promise<void> {
    const { store } = this.#deps;
    // Entries of one conversation go out in order; a retryable failure holds back the rest of that conversation
    // (given back without counting an attempt; the lease keeps them behind the failed one until it is delivered).
    const held = new Set<string>();
    let unblocked = false;
    for (const entry of entries) {
      if (held.has(entry.conversationId)) {
        await store.release(entry.id, entry.leaseToken ?? '');
        continue;
      }
      const outcome = await this.#attempt(entry);
      if (outcome === 'retry') held.add(entry.conversationId);
      if (outcome !== 'retry' && entry.attempts > 1) unblocked = true;
    }
    // A retried reply just went out (or died): replies queued behind it may go now (a sweep took them already).
    if (unblocked && named) void this.#track(this.sweep());
    // Replies that waited behind the ones just delivered by this process go now (in-flight ones stay waiting).
    if (entries.length > 0 && this.#waiting.size > 0 && !this.#stopped) {
      const again = [...this.#waiting];
      this.#waiting = new Set();
      void this.#track(this.#deliver({ ids: again }));
    }
  }

  /**
   * Try the waiting ids again after a short, growing pause. Delivering a reply wakes the ones behind it at once
   * (end of {@link OutboxDispatcher.#deliver}), but the earlier reply may have finished between this lease being
   * refused and its ids joining the waiting set; without this timer they would sit until the next sweep.
   */
  #retryWaiting(): void {
    if (this.#waitTimer || this.#stopped || this.#waiting.size === 0) return;
    // The longer the oldest has waited, the longer the pause (25 ms at first, at most 1 s).
    const at = this.#deps.now().getTime();
    const waited = Math.max(...[...this.#waiting].map((id) => at - (this.#tries.get(id)?.since ?? at)));
    this.#waitTimer = setTimeout(
      () => {
        this.#waitTimer = undefined;
        if (this.#stopped || this.#waiting.size === 0) return;
        const again = [...this.#waiting];
        this.#waiting = new Set();
        void this.#track(this.#deliver({ ids: again }));
      },
      Math.min(1_000, Math.max(25, waited / 2)),
    );
    this.#waitTimer.unref();
  }

  /** One attempt. */
  async #attempt(entry: OutboxEntry): Promise<'sent' | 'retry' | 'dead' | 'lost'> {
    const { store, now, log, events } = this.#deps;
    const token = entry.leaseToken ?? '';
    const lost = () => {
      // The lease expired during a slow send and another dispatcher took the entry: it records the outcome.
      log.warn(
        { outboxId: entry.id, channel: entry.channel },
        'outbox lease lost; outcome left to the new holder',
      );
      return 'lost' as const;
    };
    const adapter = this.#deps.channels.get(entry.channel);
    if (!adapter) {
      const reason = `CHANNEL_NOT_CONFIGURED: no adapter for channel "${entry.channel}"`;
      if (!(await store.markDead(entry.id, token, reason, now()))) return lost();
      events?.dead?.(entry, reason);
      return 'dead';
    }
    try {
      const delivery = await adapter.send(entry.address, entry.outbound, {
        idempotencyKey: entry.idempotencyKey,
        ...(entry.lastInboundAt ? { lastInboundAt: entry.lastInboundAt } : {}),
      });
      if (!(await store.markSent(entry.id, token, delivery.externalId, now()))) return lost();
      events?.sent?.(entry, delivery.externalId);
      return 'sent';
    } catch (err) {
      const { reason, retryable, retryAfterMs } = reasonOf(err);
      if (retryable && entry.attempts < this.#policy.maxAttempts) {
        const delay = backoffMs(this.#policy, entry.attempts, this.#deps.random ?? Math.random, retryAfterMs);
        const at = new Date(now().getTime() + delay);
        if (!(await store.markRetry(entry.id, token, reason, at, now()))) return lost();
        events?.retry?.(entry, reason, at);
        log.warn(
          { outboxId: entry.id, channel: entry.channel, attempts: entry.attempts, delayMs: delay, reason },
          'outbox retry scheduled',
        );
        if (this.#deps.jobs) {
          await this.#deps.jobs
            .send(RETRY_QUEUE, { id: entry.id }, { startAfter: at })
            .catch((e: unknown) => {
              // The sweep still finds it; losing the trigger only delays the retry.
              log.warn({ err: describe(e) }, 'could not enqueue outbox retry');
            });
        }
        return 'retry';
      }
      const final = retryable ? `${reason} (gave up after ${entry.attempts} attempts)` : reason;
      if (!(await store.markDead(entry.id, token, final, now()))) return lost();
      events?.dead?.(entry, final);
      log.warn({ outboxId: entry.id, channel: entry.channel, reason: final }, 'outbox entry dead-lettered');
      return 'dead';
    }
  }
}

function describe(err: unknown): string {
  return err instanceof ToolkitError
    ? `${err.code}: ${err.message}`
    : err instanceof Error
      ? err.message
      : String(err);
}
