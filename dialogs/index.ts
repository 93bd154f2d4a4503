/** Public runtime API of `dialogs/`: `createRuntime(deps)`. */
import type { ChannelAdapter, Inbound, Outbound } from '../channels/contract.ts';
import type {
  CaseStore,
  Catalog,
  Geocoder,
  MediaStore,
  Transcriber,
  ConversationRecord,
  JobQueue,
  Nlu,
  OutboxStore,
} from '../integrations/contract.ts';
import type { DeskPort, DialogSettings, TurnError, TurnOutcome } from './contract.ts';
import { createFlows } from './flows/index.ts';
import { createI18n } from './runtime/i18n.ts';
import type { Translate } from './runtime/i18n.ts';
import { OutboxDispatcher } from './runtime/outbox.ts';
import type { OutboxEvents, RetryPolicy } from './runtime/outbox.ts';
import { Router, yearIn } from './runtime/router.ts';
import { createStaffOperations } from './runtime/staff.ts';
import type { StaffOperations } from './runtime/staff.ts';
import { createRuleNlu } from './runtime/understand.ts';
import type { Clock, RuntimeLogger, RuntimeMetrics } from './runtime/types.ts';

export type { Clock, RuntimeLogger, RuntimeMetrics } from './runtime/types.ts';
export type { OutboxEvents, RetryPolicy } from './runtime/outbox.ts';
export { DEFAULT_RETRY, backoffMs } from './runtime/outbox.ts';
export { STATE_VERSION, readState } from './runtime/engine.ts';
export { extractFolio, normalize, createRuleNlu } from './runtime/understand.ts';
export { parseServiceHours, isOpen, nextOpening } from './runtime/hours.ts';
export { distanceM } from './runtime/geo.ts';
export { pickLocale } from './runtime/i18n.ts';

/** Everything the runtime needs, passed explicitly (no singletons, no module state). */
export interface RuntimeDeps {
  readonly store: CaseStore;
  readonly outbox: OutboxStore;
  readonly channels: ReadonlyMap<string, ChannelAdapter>;
  readonly desk: DeskPort;
  readonly catalog: Catalog;
  readonly jobs?: JobQueue;
  readonly clock?: Clock;
  readonly log: RuntimeLogger;
  readonly metrics?: RuntimeMetrics;
  readonly settings: DialogSettings;
  /** Natural-language understanding; without one, a small rule set is used (tests). */
  readonly nlu?: Nlu;
  /** Voice notes to text (optional). */
  readonly transcriber?: Transcriber;
  /** Typed addresses to coordinates, after commit (optional). */
  readonly geocoder?: Geocoder;
  /** Inbound media, read back for transcription. */
  readonly media?: MediaStore;
  readonly maxInboundText?: number;
  readonly citizenBurst?: { readonly burst: number; readonly perSecond: number };
  readonly retry?: RetryPolicy;
  readonly outboxEvents?: OutboxEvents;
  readonly random?: () => number;
  /** The single error hook for failed turns. */
  readonly onError?: (err: TurnError) => void;
}

/** The running runtime. */
export interface Runtime {
  /** Handle one inbound event (the `emit` of event-source channels, and what webhook routes call). */
  handle(inbound: Inbound): Promise<TurnOutcome>;
  /** Send a message on a conversation outside a citizen turn (agents, notices); same outbox, same audit. */
  reply(
    conversationId: ConversationRecord['id'],
    outbound: Outbound,
    opts: { by: string },
  ): Promise<readonly string[]>;
  /** Start outbox workers (retries, sweep). */
  start(): Promise<void>;
  /** Finish in-flight turns and deliveries; take no new ones. */
  drain(): Promise<void>;
  /**
   * Drop what the runtime remembers per conversation in memory (cached conversations, flood buckets), for tools
   * that empty the database and reset the clock under a running runtime (the conversation runner, per script).
   */
  forget(): void;
  readonly dispatcher: OutboxDispatcher;
  readonly t: Translate;
  /** Staff operations that notify citizens (admin API, CLI, later the desk). */
  readonly staff: StaffOperations;
  /** Current folio year in the service timezone. */
  folioYear(now?: Date): number;
}

/** Build the runtime. */
export function createRuntime(deps: RuntimeDeps): Runtime {
  const clock = deps.clock ?? { now: () => new Date() };
  const t = createI18n();
  const dispatcher = new OutboxDispatcher({
    store: deps.outbox,
    channels: deps.channels,
    ...(deps.jobs ? { jobs: deps.jobs } : {}),
    now: () => clock.now(),
    log: deps.log,
    ...(deps.retry ? { retry: deps.retry } : {}),
    ...(deps.random ? { random: deps.random } : {}),
    ...(deps.outboxEvents ? { events: deps.outboxEvents } : {}),
  });
  const flows = createFlows({ year: (now) => yearIn(deps.settings.timeZone, now) });
  const onError =
    deps.onError ??
    ((e: TurnError) =>
      deps.log.error({ conversationId: e.conversationId, err: String(e.error) }, 'turn failed'));
  const router = new Router({
    store: deps.store,
    dispatcher,
    desk: deps.desk,
    catalog: deps.catalog,
    flows,
    t,
    clock,
    log: deps.log,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    settings: deps.settings,
    nlu: deps.nlu ?? createRuleNlu(deps.catalog, deps.settings.folioPrefix),
    ...(deps.transcriber ? { transcriber: deps.transcriber } : {}),
    ...(deps.media ? { media: deps.media } : {}),
    ...(deps.geocoder ? { geocoder: deps.geocoder } : {}),
    maxInboundText: deps.maxInboundText ?? 4096,
    ...(deps.citizenBurst ? { citizenBurst: deps.citizenBurst } : {}),
    onError,
  });
  return {
    handle: (inbound) => router.handle(inbound),
    reply: (id, outbound, opts) => router.reply(id, outbound, opts.by),
    start: () => dispatcher.start(),
    forget: () => router.forget(),
    async drain() {
      await router.drain();
      await dispatcher.drain();
    },
    dispatcher,
    t,
    staff: createStaffOperations({
      store: deps.store,
      router,
      catalog: deps.catalog,
      t,
      clock,
      log: deps.log,
    }),
    folioYear: (now) => yearIn(deps.settings.timeZone, now ?? clock.now()),
  };
}
