/**
 * The router: one inbound event → one durable turn.
 *
 * dedupe by external id → resolve contact and conversation → divert to the desk when the mode is not `bot` →
 * dialog engine → save state, messages and outbox in the same transaction → dispatch after commit.
 * Turns of one address run one at a time; different addresses run concurrently.
 */
import type { Inbound, Outbound } from '../../channels/contract.ts';
import { ToolkitError } from '../../channels/contract.ts';
import { StoreError } from '../../integrations/contract.ts';
import type {
  CaseStore,
  Catalog,
  ConversationMode,
  ConversationRecord,
  Geocoder,
  MediaStore,
  Nlu,
  OutboxEntry,
  PendingOutbound,
  StoreTx,
  Transcriber,
  TurnCommit,
} from '../../integrations/contract.ts';
import { DialogError } from '../contract.ts';
import type {
  DeskPort,
  DialogId,
  DialogSettings,
  HandoffSummary,
  Locale,
  TurnError,
  TurnOutcome,
  TurnTrace,
  Understanding,
  UserInput,
} from '../contract.ts';
import type { Flow } from '../flows/index.ts';
import { closeDialog, runEngine } from './engine.ts';
import type { Translate } from './i18n.ts';
import { confirmLink, startLink } from './link.ts';
import { pickLocale } from './i18n.ts';
import { normalize } from './understand.ts';
import type { OutboxDispatcher } from './outbox.ts';
import type { Clock, RuntimeLogger, RuntimeMetrics } from './types.ts';

/** Dependencies of the router. */
export interface RouterDeps {
  readonly store: CaseStore;
  readonly dispatcher: OutboxDispatcher;
  readonly desk: DeskPort;
  readonly catalog: Catalog;
  readonly flows: { [K in DialogId]: Flow };
  readonly t: Translate;
  readonly clock: Clock;
  readonly log: RuntimeLogger;
  readonly metrics?: RuntimeMetrics;
  readonly settings: DialogSettings;
  readonly nlu: Nlu;
  /** Voice notes to text; without it (or when it fails) the citizen is asked to write or call. */
  readonly transcriber?: Transcriber;
  /** Typed addresses to coordinates after the turn committed (optional). */
  readonly geocoder?: Geocoder;
  /** Where adapters stored inbound media (read back for transcription). */
  readonly media?: MediaStore;
  /** Longest text a citizen may send in one message; longer ones are stored and answered with a request to shorten. */
  readonly maxInboundText: number;
  readonly onError: (err: TurnError) => void;
  /** How many conversations to keep in memory (state + version) to save a read per turn. */
  readonly cacheSize?: number;
  /** Messages one citizen may send in a burst before the bot pauses (and says so once); all are kept. */
  readonly citizenBurst?: { readonly burst: number; readonly perSecond: number };
}

const STOPWORDS: Record<Locale, Set<string>> = {
  'es-MX': new Set(
    'el la los las de del que y en un una por para con no mi es esta hay quiero tengo me se lo le su al como pero'.split(
      ' ',
    ),
  ),
  en: new Set(
    'the is are my i to and of a in for with it this that want need please have there not how what where'.split(
      ' ',
    ),
  ),
};

/** How many function words of `locale` a normalised text has. */
function stopwords(plain: string, locale: Locale): number {
  return plain.split(' ').filter((w) => STOPWORDS[locale].has(w)).length;
}

const LEAVE_QUEUE_RE =
  /^(cancelar espera|salir de la fila|ya no quiero esperar|volver al bot|cancel (the )?wait(ing)?|leave (the )?queue)$/;
const STOP_RE = /^(stop|baja|unsubscribe|stopall|parar|detener)$/;

const MAX_CONFLICT_RETRIES = 3;

function textOf(inbound: Inbound): string | null {
  switch (inbound.kind) {
    case 'text':
      return inbound.text;
    case 'choice':
      return inbound.text ?? inbound.choiceId;
    case 'media':
      return inbound.media[0]?.caption ?? null;
    case 'location':
      return inbound.label ?? `📍 ${inbound.lat.toFixed(5)}, ${inbound.lon.toFixed(5)}`;
    case 'call':
    case 'contact':
    case 'receipt':
      return null;
  }
}

function inputOf(inbound: Exclude<Inbound, { kind: 'receipt' }>): UserInput | null {
  switch (inbound.kind) {
    case 'text':
      return { kind: 'text', text: inbound.text };
    case 'choice':
      return { kind: 'choice', choiceId: inbound.choiceId, ...(inbound.text ? { text: inbound.text } : {}) };
    case 'media':
      return {
        kind: 'media',
        mediaIds: inbound.media.map((m) => m.mediaId),
        ...(inbound.media[0]?.caption ? { caption: inbound.media[0].caption } : {}),
      };
    case 'location':
      return {
        kind: 'location',
        lat: inbound.lat,
        lon: inbound.lon,
        ...(inbound.label ? { label: inbound.label } : {}),
      };
    case 'call':
    case 'contact':
      return null;
  }
}

/** A voice note or other audio-only media message. */
function isVoice(inbound: Inbound): inbound is Extract<Inbound, { kind: 'media' }> {
  return inbound.kind === 'media' && inbound.media.every((m) => m.mime.startsWith('audio/'));
}

/** The current year in the service timezone (folios use it). */
export function yearIn(timeZone: string, now: Date): number {
  let format = YEAR_FORMATS.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric' });
    YEAR_FORMATS.set(timeZone, format);
  }
  return Number(format.format(now));
}

// Building an Intl formatter costs more than a whole turn's flow logic; keep one per time zone.
const YEAR_FORMATS = new Map<string, Intl.DateTimeFormat>();

type TxOutcome =
  | { kind: 'duplicate' }
  | { kind: 'diverted'; next: ConversationRecord }
  | {
      kind: 'handled';
      next: ConversationRecord;
      outboxIds: readonly string[];
      /** The turn's replies, leased by its commit (empty when an older reply still waits). */
      leased: readonly OutboxEntry[];
      /** Messages this turn queued to other conversations (a linking code), dispatched on their own. */
      elsewhere?: readonly string[];
      trace: TurnTrace;
      handoff?: HandoffSummary;
    };

/** Routes inbound events to turns. */
export class Router {
  readonly #deps: RouterDeps;
  readonly #cache = new Map<string, ConversationRecord>();
  readonly #chains = new Map<string, Promise<unknown>>();
  readonly #active = new Set<Promise<unknown>>();
  readonly #buckets = new Map<string, { tokens: number; at: number; told: boolean }>();
  #draining = false;

  constructor(deps: RouterDeps) {
    this.#deps = deps;
  }

  /** Handle one inbound event. Resolves after the turn committed (replies are then being dispatched). */
  handle(inbound: Inbound): Promise<TurnOutcome> {
    if (this.#draining) {
      return Promise.reject(
        new DialogError('DIALOG_SHUTTING_DOWN', 'The server is shutting down; redeliver later', {
          retryable: true,
        }),
      );
    }
    if (inbound.kind === 'receipt') {
      return this.#deps.store
        .applyReceipt(inbound.address.channel, inbound.of, inbound.status, inbound.error)
        .then((matched) => ({ status: 'receipt', matched }) as const);
    }
    const key = `${inbound.address.channel}\u0000${inbound.address.user}`;
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const turn = previous.catch(() => undefined).then(() => this.#turn(key, inbound));
    this.#chains.set(key, turn);
    this.#track(turn, () => {
      if (this.#chains.get(key) === turn) this.#chains.delete(key);
    });
    return turn;
  }

  /** Send an outbound message on a conversation outside a citizen turn (agents, notifications). */
  async reply(
    conversationId: ConversationRecord['id'],
    outbound: Outbound,
    author: string,
  ): Promise<readonly string[]> {
    for (let attempt = 0; ; attempt++) {
      const conversation = await this.#deps.store.getConversation(conversationId);
      if (!conversation) throw new StoreError('STORE_NOT_FOUND', `No conversation ${conversationId}`);
      try {
        const commit = await this.#deps.store.transaction((tx) =>
          tx.commitTurn({
            conversation,
            state: conversation.state,
            mode: conversation.mode,
            queue: conversation.queue,
            locale: conversation.locale,
            lastInboundAt: null,
            outbound: [{ outbound, author }],
            now: this.#deps.clock.now(),
          }),
        );
        this.#forget(conversation);
        void this.#deps.dispatcher.dispatch(commit.outboxIds);
        return commit.outboxIds;
      } catch (err) {
        if (
          !(err instanceof StoreError && err.code === 'STORE_VERSION_CONFLICT') ||
          attempt >= MAX_CONFLICT_RETRIES
        )
          throw err;
      }
    }
  }

  /**
   * Forget the conversations cached by address and the flood buckets. Only for tools that empty the database under
   * a running runtime and move its clock backwards (the conversation runner between scripts): a cached
   * conversation would point at a deleted row, and a bucket would count the jump back as a flood.
   */
  forget(): void {
    this.#cache.clear();
    this.#buckets.clear();
  }

  /** Stop taking turns and wait for the ones in flight. */
  async drain(): Promise<void> {
    this.#draining = true;
    while (this.#active.size > 0) await Promise.allSettled([...this.#active]);
  }

  async #understand(text: string, locale: string | undefined): Promise<Understanding | null> {
    try {
      return await this.#deps.nlu.parse(text, locale ? { locale } : {});
    } catch (err) {
      this.#deps.log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'NLU failed; treating the message as not understood',
      );
      return {
        intent: 'out_of_scope',
        confidence: 0,
        language: locale?.startsWith('en') ? 'en' : 'es',
        entities: {},
        source: 'rules',
      };
    }
  }

  /** Per-citizen flood control: `first` once when the burst is exceeded, then `silent` until it refills. */
  #flood(key: string): 'ok' | 'first' | 'silent' {
    const limit = this.#deps.citizenBurst ?? { burst: 12, perSecond: 1 };
    const nowMs = this.#deps.clock.now().getTime();
    const b = this.#buckets.get(key) ?? { tokens: limit.burst, at: nowMs, told: false };
    b.tokens = Math.min(limit.burst, b.tokens + ((nowMs - b.at) / 1000) * limit.perSecond);
    b.at = nowMs;
    this.#buckets.delete(key);
    this.#buckets.set(key, b);
    if (this.#buckets.size > 50_000) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest !== undefined) this.#buckets.delete(oldest);
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      if (b.tokens >= limit.burst / 2) b.told = false;
      return 'ok';
    }
    if (b.told) return 'silent';
    b.told = true;
    return 'first';
  }

  #forget(c: ConversationRecord): void {
    for (const [k, v] of this.#cache) if (v.id === c.id) this.#cache.delete(k);
  }

  #remember(key: string, c: ConversationRecord): void {
    this.#cache.delete(key);
    this.#cache.set(key, c);
    const max = this.#deps.cacheSize ?? 10_000;
    if (this.#cache.size > max) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
  }

  async #turn(key: string, received: Exclude<Inbound, { kind: 'receipt' }>): Promise<TurnOutcome> {
    let inbound = received;
    const { store, clock, metrics } = this.#deps;
    const started = performance.now();
    const now = clock.now();
    let conversation: ConversationRecord | undefined = this.#cache.get(key);
    let outcome: TxOutcome | undefined;
    const limited = this.#flood(key);
    // Like understanding, transcription runs before the transaction: a slow HTTP call must never hold the database.
    if (limited === 'ok' && isVoice(inbound))
      inbound = await this.#transcribe(inbound, conversation?.locale ?? inbound.locale);
    // Understanding runs before the transaction: an LLM call must never hold the database.
    const understanding =
      inbound.kind === 'text' && limited === 'ok' && inbound.text.length <= this.#deps.maxInboundText
        ? await this.#understand(inbound.text, conversation?.locale ?? inbound.locale)
        : null;
    try {
      for (let attempt = 0; ; attempt++) {
        conversation ??= await store.resolveConversation({
          channel: inbound.address.channel,
          address: inbound.address,
          locale: pickLocale(inbound.locale),
          now,
          ...(inbound.identity ? { identity: inbound.identity } : {}),
        });
        const current: ConversationRecord = conversation;
        try {
          outcome = await store.transaction((tx) =>
            this.#inTransaction(tx, current, inbound, now, understanding, limited),
          );
          break;
        } catch (err) {
          if (
            err instanceof StoreError &&
            err.code === 'STORE_VERSION_CONFLICT' &&
            attempt < MAX_CONFLICT_RETRIES
          ) {
            this.#cache.delete(key);
            conversation = (await store.getConversation(current.id)) ?? undefined;
            continue;
          }
          if (err instanceof StoreError && err.code === 'STORE_VERSION_CONFLICT') {
            throw new DialogError('DIALOG_TURN_CONFLICT', 'Turn kept conflicting with concurrent turns', {
              cause: err,
              retryable: true,
            });
          }
          throw err;
        }
      }
    } catch (thrown) {
      this.#cache.delete(key);
      const error =
        thrown instanceof ToolkitError
          ? thrown
          : new DialogError('DIALOG_FLOW_FAILED', 'A flow failed during the turn', { cause: thrown });
      this.#deps.onError({ error, conversationId: conversation?.id ?? null, inbound });
      metrics?.turn(inbound.address.channel, (performance.now() - started) / 1000, 'error');
      if (!conversation || (error instanceof ToolkitError && error.code === 'DIALOG_TURN_CONFLICT'))
        throw error;
      return this.#apologise(conversation, inbound, error);
    }

    metrics?.message('in', inbound.address.channel);
    if (outcome.kind === 'duplicate') {
      metrics?.turn(inbound.address.channel, (performance.now() - started) / 1000, 'duplicate');
      return { status: 'duplicate', conversationId: conversation.id };
    }
    this.#remember(key, outcome.next);
    if (outcome.kind === 'diverted') {
      metrics?.turn(inbound.address.channel, (performance.now() - started) / 1000, 'diverted');
      await this.#deps.desk.deliver(outcome.next, inbound);
      return { status: 'diverted', conversationId: conversation.id };
    }
    if (outcome.leased.length > 0) void this.#deps.dispatcher.dispatchLeased(outcome.leased);
    else void this.#deps.dispatcher.dispatch(outcome.outboxIds);
    // Separately, so this citizen's reply never waits for (and so never reveals) a send to another channel.
    if (outcome.elsewhere?.length) void this.#deps.dispatcher.dispatch(outcome.elsewhere);
    if (this.#deps.geocoder)
      for (const folio of outcome.trace.casesCreated) this.#track(this.#geocode(folio));
    if (outcome.handoff) await this.#deps.desk.requested(outcome.next, outcome.handoff);
    if (outcome.trace.handoff === undefined) outcome.trace.handoff = null;
    metrics?.turn(inbound.address.channel, (performance.now() - started) / 1000, 'handled');
    return {
      status: 'handled',
      conversationId: conversation.id,
      trace: outcome.trace,
      outboxIds: outcome.outboxIds,
    };
  }

  /** Keep a task in the set `drain()` waits for until it settles (its rejection is the caller's to handle). */
  #track(task: Promise<unknown>, settled?: () => void): void {
    this.#active.add(task);
    void task
      .catch(() => undefined)
      .finally(() => {
        this.#active.delete(task);
        settled?.();
      });
  }

  /**
   * Better coordinates for a typed address than its colonia centroid. Runs after commit (an HTTP call never holds
   * the database) and never for sensitive cases, whose addresses must not leave the municipality's systems.
   */
  async #geocode(folio: string): Promise<void> {
    const { store, geocoder, clock, log } = this.#deps;
    try {
      const found = await store.findCase(folio);
      if (!found || !geocoder || found.sensitive || !found.address || found.geoSource === 'pin') return;
      const point = await geocoder.geocode({ address: found.address, colonia: found.colonia });
      if (point) await store.setGeocodedLocation({ caseId: found.id, ...point, now: clock.now() });
    } catch (err) {
      log.warn({ folio, code: err instanceof ToolkitError ? err.code : undefined }, 'geocoding failed');
    }
  }

  /** A voice note as text (the recording stays referenced in `raw`), or the note unchanged when that fails. */
  async #transcribe(
    inbound: Extract<Inbound, { kind: 'media' }>,
    locale: string | undefined,
  ): Promise<Exclude<Inbound, { kind: 'receipt' }>> {
    const { transcriber, media, log, metrics } = this.#deps;
    const item = inbound.media[0];
    if (!transcriber || !media || !item) return inbound;
    try {
      const found = await media.read(item.mediaId);
      if (!found) return inbound;
      const text = await transcriber.transcribe({
        bytes: found.bytes,
        mime: item.mime,
        language: locale?.startsWith('en') ? 'en' : 'es',
      });
      metrics?.transcription?.('ok');
      const { media: _media, kind: _kind, raw, ...base } = inbound;
      return {
        ...base,
        kind: 'text',
        text,
        raw: { voiceNote: { mediaId: item.mediaId, mime: item.mime }, raw },
      };
    } catch (err) {
      metrics?.transcription?.('failed');
      log.warn(
        { channel: inbound.address.channel, code: err instanceof ToolkitError ? err.code : undefined },
        'voice note not transcribed',
      );
      return inbound;
    }
  }

  async #inTransaction(
    tx: StoreTx,
    conversation: ConversationRecord,
    inbound: Exclude<Inbound, { kind: 'receipt' }>,
    now: Date,
    understanding: Understanding | null,
    limited: 'ok' | 'first' | 'silent',
  ): Promise<TxOutcome> {
    const d = this.#deps;
    if ((await tx.appendInbound(conversation.id, inbound, textOf(inbound))) === 'duplicate')
      return { kind: 'duplicate' };
    const at = new Date(inbound.at);
    const lastInboundAt = Number.isNaN(at.getTime()) ? now : at;
    const save = async (
      state: unknown,
      mode: ConversationMode,
      queue: string | null,
      outbound: PendingOutbound[],
      extra: { locale?: string; privacyNoticeShown?: boolean } = {},
    ) => {
      const locale = extra.locale ?? conversation.locale;
      const commit = await tx.commitTurn({
        conversation,
        state,
        mode,
        queue,
        locale,
        lastInboundAt,
        address: inbound.address,
        outbound,
        now,
        ...(extra.privacyNoticeShown ? { privacyNoticeShown: true } : {}),
        // The replies come back leased, so they go out right after the commit without another round trip.
        lease: { leaseMs: d.dispatcher.leaseMs },
      });
      const next: ConversationRecord = {
        ...conversation,
        address: inbound.address,
        state,
        mode,
        queue,
        locale,
        stateVersion: commit.stateVersion,
        lastInboundAt,
        privacyNoticeAt: extra.privacyNoticeShown
          ? (conversation.privacyNoticeAt ?? now)
          : conversation.privacyNoticeAt,
      };
      return { commit, next };
    };
    const bot = (outbound: Outbound): PendingOutbound => ({ outbound, author: 'bot' });
    const text = inbound.kind === 'text' ? inbound.text : '';
    const plain = normalize(text);
    const emptyTrace = (): TurnTrace => ({ statusReported: [], casesCreated: [], handoff: null });
    /** A turn that only answered (no flow ran): its commit's replies, nothing to trace. */
    const handled = (commit: TurnCommit, next: ConversationRecord): TxOutcome => ({
      kind: 'handled',
      next,
      outboxIds: commit.outboxIds,
      leased: commit.leased,
      trace: emptyTrace(),
    });

    if (inbound.kind === 'contact') {
      // A shared phone (Telegram's request-contact button) links this identity to the person's other channels.
      let reply = 'subscribe-notices-phone-not-own';
      if (inbound.own) {
        const linked = await tx.attachPhone(conversation, inbound.phone);
        // A merge moved this conversation to the older contact and bumped its version.
        if (linked.merged)
          conversation = {
            ...conversation,
            contactId: linked.contactId,
            stateVersion: conversation.stateVersion + 1,
          };
        reply = linked.merged ? 'subscribe-notices-phone-merged' : 'subscribe-notices-phone-saved';
      }
      // Sharing the phone is also how a Telegram citizen answers the link-channel question: that form is done.
      const state = inbound.own ? closeDialog(conversation.state, 'link-channel') : conversation.state;
      const { commit, next } = await save(state, conversation.mode, conversation.queue, [
        bot({ kind: 'text', text: d.t(conversation.locale as Locale, reply) }),
      ]);
      return handled(commit, next);
    }

    if (conversation.mode !== 'bot') {
      // Waiting for (or talking to) a person: messages are only stored, except the way back to the bot and STOP.
      if (LEAVE_QUEUE_RE.test(plain) && conversation.mode === 'queued') {
        const locale = conversation.locale as Locale;
        const { commit, next } = await save(null, 'bot', null, [
          bot({ kind: 'text', text: d.t(locale, 'talk-to-agent-left-queue') }),
        ]);
        return handled(commit, next);
      }
      if (STOP_RE.test(plain)) {
        const locale = conversation.locale as Locale;
        const n = await tx.unsubscribe({ contactId: conversation.contactId });
        const reply = bot({
          kind: 'text',
          text: d.t(locale, n > 0 ? 'unsubscribe-notices-all-done' : 'unsubscribe-notices-none'),
        });
        const { commit, next } = await save(conversation.state, conversation.mode, conversation.queue, [
          reply,
        ]);
        return handled(commit, next);
      }
      const { next } = await save(conversation.state, conversation.mode, conversation.queue, []);
      return { kind: 'diverted', next };
    }

    // Replies follow the language the citizen writes in; a switch needs real prose in the other language (an
    // address such as "Calle Hidalgo 5, colonia Petrolera" is no evidence of Spanish).
    const written =
      understanding?.language === 'en' ? 'en' : understanding?.language === 'es' ? 'es-MX' : undefined;
    const locale: Locale =
      written && written !== conversation.locale && stopwords(plain, written) >= 2
        ? written
        : (conversation.locale as Locale);

    const input = inputOf(inbound);
    const voice = isVoice(inbound);
    if (limited !== 'ok' || text.length > d.maxInboundText || input === null || voice) {
      // Stored, not processed: a flood (told once), an over-long text, an untranscribed voice note, or a call event.
      const outbound =
        limited === 'silent' || input === null
          ? []
          : limited === 'first'
            ? [bot({ kind: 'text', text: d.t(locale, 'errors-flood') })]
            : voice
              ? [
                  bot({
                    kind: 'text',
                    text: d.settings.callCentrePhone
                      ? d.t(locale, 'errors-voice-not-supported-call', { phone: d.settings.callCentrePhone })
                      : d.t(locale, 'errors-voice-not-supported'),
                  }),
                ]
              : [bot({ kind: 'text', text: d.t(locale, 'errors-text-too-long', { max: d.maxInboundText }) })];
      const { commit, next } = await save(conversation.state, 'bot', null, outbound, { locale });
      return handled(commit, next);
    }

    const folio = { prefix: d.settings.folioPrefix, year: yearIn(d.settings.timeZone, now) };
    // Messages this turn queued to other conversations (a linking code), dispatched with the turn's own.
    const elsewhere: string[] = [];
    const linkScope = () => ({ tx, conversation, now, t: d.t });
    const turn = await runEngine(
      { flows: d.flows, catalog: d.catalog, t: d.t, settings: d.settings },
      conversation,
      locale,
      now,
      input,
      understanding,
      {
        createCase: (c) => tx.createCase(c, folio, 'bot'),
        findCase: (f) => tx.findCase(f),
        findOpenCasesNear: (q) => tx.findOpenCasesNear({ ...q, radiusM: 250 }),
        followCase: (caseId) => tx.followCase(caseId, conversation.contactId, conversation.id, 'citizen'),
        joinIncident: (hotspotId) => tx.joinIncident(hotspotId, now),
        myCases: (limit) => tx.listCases({ contactId: conversation.contactId, ...(limit ? { limit } : {}) }),
        subscribe: (topic, colonia) =>
          tx.subscribe({
            contactId: conversation.contactId,
            conversationId: conversation.id,
            channel: conversation.channel,
            topic,
            colonia,
          }),
        unsubscribe: (topic, colonia) =>
          tx.unsubscribe({
            contactId: conversation.contactId,
            ...(topic ? { topic } : {}),
            ...(colonia !== undefined ? { colonia } : {}),
          }),
        mySubscriptions: () => tx.listSubscriptions(conversation.contactId),
        recentMessages: (limit) => tx.recentTexts(conversation.id, limit),
        startLink: async (target) => {
          const { start, outboxIds } = await startLink(linkScope(), target);
          elsewhere.push(...outboxIds);
          return start;
        },
        confirmLink: async (linkId, code) => {
          const { check, merged } = await confirmLink(linkScope(), linkId, code);
          // A merge moved this conversation to the older contact and bumped its version.
          if (merged?.moved)
            conversation = {
              ...conversation,
              contactId: merged.contactId,
              stateVersion: conversation.stateVersion + 1,
            };
          return check;
        },
      },
    );
    if (turn.stale)
      d.log.warn(
        { conversationId: conversation.id, code: 'DIALOG_STATE_STALE' },
        'discarded dialog state from another version',
      );
    const handoff = turn.result.status === 'handoff' ? turn.result : undefined;
    const { commit, next } = await save(
      turn.state,
      handoff ? 'queued' : 'bot',
      handoff ? handoff.queue : null,
      turn.outbound.map(bot),
      { locale, privacyNoticeShown: turn.privacyNoticeShown },
    );
    return {
      kind: 'handled',
      next,
      outboxIds: commit.outboxIds,
      leased: commit.leased,
      elsewhere,
      trace: turn.trace,
      ...(handoff ? { handoff: handoff.summary } : {}),
    };
  }

  /** The turn failed and rolled back: keep the message and say sorry, in a fresh transaction. */
  async #apologise(
    conversation: ConversationRecord,
    inbound: Exclude<Inbound, { kind: 'receipt' }>,
    error: unknown,
  ): Promise<TurnOutcome> {
    const d = this.#deps;
    const fresh = (await d.store.getConversation(conversation.id)) ?? conversation;
    const commit = await d.store.transaction(async (tx) => {
      if ((await tx.appendInbound(fresh.id, inbound, textOf(inbound))) === 'duplicate') return null;
      return tx.commitTurn({
        conversation: fresh,
        state: fresh.state,
        mode: fresh.mode,
        queue: fresh.queue,
        locale: fresh.locale,
        lastInboundAt: d.clock.now(),
        outbound: [
          {
            outbound: { kind: 'text', text: d.t(fresh.locale as Locale, 'errors-turn-failed') },
            author: 'bot',
          },
        ],
        now: d.clock.now(),
      });
    });
    if (!commit) return { status: 'duplicate', conversationId: fresh.id };
    void d.dispatcher.dispatch(commit.outboxIds);
    d.log.warn(
      { conversationId: fresh.id, err: error instanceof ToolkitError ? error.code : 'unexpected' },
      'turn failed; apology sent',
    );
    return {
      status: 'handled',
      conversationId: fresh.id,
      trace: { statusReported: [], casesCreated: [], intent: 'error' },
      outboxIds: commit.outboxIds,
    };
  }
}
