/**
 * The conversation runner: one isolated Ventanilla (in-memory PGlite opened once from a migrated template, no
 * background jobs, never a data folder or its lock, a clock the runner sets) serves every script of a run. Per
 * script it empties the database, sets the clock to `context.now`, seeds `existing_cases` and
 * `existing_subscriptions`, then talks to the product through the real channel path — a socket.io client on
 * `/webchat` exactly like the widget, or the provider's own inbound path for WhatsApp, Telegram, SMS and e-mail with
 * replies read at a loopback fake of the provider (see `channels.ts`) — collecting every bot message of each turn
 * and the product's turn trace, and evaluates the script's assertions.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import { OutboundSchema } from '../../channels/contract.ts';
import type { Address, Inbound } from '../../channels/contract.ts';
import { degrade } from '../../channels/index.ts';
import type { ChatMessageDto, SendAck } from '../../channels/index.ts';
import { normalizePhone, secretKey } from '../../channels/kit/index.ts';
import type { TurnOutcome, TurnTrace } from '../../dialogs/contract.ts';
import { pickLocale } from '../../dialogs/index.ts';
import type {
  CaseRecord,
  Catalog,
  ConversationRecord,
  Nlu,
  SubscriptionRecord,
} from '../../integrations/contract.ts';
import { dumpPglite, MIGRATIONS_DIR, openPglite } from '../../integrations/storage/db.ts';
import type { Database } from '../../integrations/storage/db.ts';
import { channelEnvVars, createApp, loadConfig } from '../../main.ts';
import type { App, Config } from '../../main.ts';
import { evaluate } from './assertions.ts';
import type { CaseSnapshot, Observation } from './assertions.ts';
import { startProviders } from './channels.ts';
import type { ChannelDriver, ProviderInput, Providers } from './channels.ts';
import type {
  AssertionResult,
  CaseView,
  ConversationResult,
  HandoffView,
  SubscriptionView,
  TurnResult,
} from './report.ts';
import type { Assertion, ExistingCase, LoadedScript, Script, ScriptTurn } from './script.ts';
import { fold } from './text.ts';

/** Options of {@link createConverseRunner}. */
export interface RunnerOptions {
  /**
   * Product settings to run with (`CATALOG_DIR`, `FOLIO_PREFIX`, `SERVICE_HOURS`, …), usually `process.env`. The
   * runner always overrides what isolates it: database, data folder, address, port, Redis and rate limits.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Product log level (logs go to stderr). Default `silent`. */
  readonly logLevel?: Config['LOG_LEVEL'];
  /** How long to wait for one turn's outcome and replies. Default 10 s. */
  readonly turnTimeoutMs?: number;
  /** Simulated time between two citizen messages. Default 15 s. */
  readonly turnGapMs?: number;
  /** How long to wait after the last turn for proactive messages. Default 50 ms. */
  readonly settleMs?: number;
  /** Replace the product's NLU (experiments); by default the one `main.ts` wires. */
  readonly nlu?: Nlu;
}

/** A running runner. */
export interface ConverseRunner {
  /** Run one script (or report it skipped). Never throws for a failing script. */
  run(loaded: LoadedScript): Promise<ConversationResult>;
  /** Run scripts one after another. */
  runAll(scripts: readonly LoadedScript[]): Promise<ConversationResult[]>;
  /** Stop the product and drop the database and temporary folder. */
  close(): Promise<void>;
}

/** Script channel names → the product's channel names. */
const PRODUCT_CHANNEL: Readonly<Record<string, string>> = { sms: 'twilio-sms', ivr: 'twilio-voice' };
const SCRIPT_CHANNEL: Readonly<Record<string, string>> = {
  'twilio-sms': 'sms',
  'twilio-voice': 'ivr',
  'whatsapp-web': 'whatsapp',
};
const productChannel = (channel: string) => PRODUCT_CHANNEL[channel] ?? channel;
const scriptChannel = (channel: string) => SCRIPT_CHANNEL[channel] ?? channel;

/** The product's slot names → the format's (a yes/no question is a `confirmation`). */
const SLOT_NAMES: Readonly<Record<string, string>> = {
  hotspotConfirmed: 'confirmation',
  join: 'confirmation',
  contactPreference: 'contact_preference',
};
const slotName = (slot: string | null | undefined) => (slot ? (SLOT_NAMES[slot] ?? slot) : null);

/** Channels the runner can drive; the others (`ivr`) are reported skipped, never passed. */
export const DRIVABLE_CHANNELS: ReadonlySet<string> = new Set([
  'webchat',
  'whatsapp',
  'telegram',
  'sms',
  'email',
]);

/** A clock the runner sets per script and advances per turn. */
export class ScriptClock {
  #ms = Date.now();
  /** The current simulated time. */
  now(): Date {
    return new Date(this.#ms);
  }
  /** Jump to a time. */
  set(at: string | Date): void {
    this.#ms = new Date(at).getTime();
  }
  /** Move forward. */
  advance(ms: number): void {
    this.#ms += ms;
  }
}

/** A failure of the runner itself (timeouts, refused messages, bad seed data), reported as a `must` failure. */
class RunnerError extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RunnerError(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** What a web-chat message looks like to the citizen: its text, then the choice labels as buttons. */
function render(m: ChatMessageDto): string {
  const labels = (m.choices ?? []).map((c) => `[${c.label}]`).join(' ');
  return [m.text ?? '', labels].filter(Boolean).join('\n');
}

/** One bot message the runner waits for: the stored message id and how many parts the channel sends it in. */
interface Expected {
  readonly messageId: string;
  readonly parts: number;
}

/** A web-chat citizen: a socket.io client on `/webchat`, as the widget connects. */
class WebchatSession {
  readonly #socket: Socket;
  readonly #received: ChatMessageDto[] = [];
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('message.created', (m: ChatMessageDto) => {
      if (m.direction !== 'out') return;
      this.#received.push(m);
      for (const w of this.#waiters) w();
    });
  }

  static async open(url: string, secret: string, locale: string, timeoutMs: number): Promise<WebchatSession> {
    const socket = io(`${url}/webchat`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { secret, locale },
    });
    const session = new WebchatSession(socket);
    const ready = new Promise<void>((resolve, reject) => {
      socket.once('session', (s: { secret?: string }) => {
        if (s.secret !== secret) reject(new RunnerError('web chat did not resume the scripted session'));
      });
      socket.once('history', () => resolve());
      socket.once('connect_error', (err: Error) =>
        reject(new RunnerError(`web chat refused the connection: ${err.message}`)),
      );
    });
    try {
      await withTimeout(ready, timeoutMs, 'the web-chat session');
    } catch (err) {
      socket.close();
      throw err;
    }
    return session;
  }

  async send(payload: Record<string, unknown>, timeoutMs: number): Promise<void> {
    const ack = (await this.#socket
      .timeout(timeoutMs)
      .emitWithAck('message.send', { clientId: crypto.randomUUID(), ...payload })
      .catch(() => {
        throw new RunnerError(`no acknowledgement from web chat within ${timeoutMs} ms`);
      })) as SendAck;
    if (!ack.ok) throw new RunnerError(`web chat refused the message: ${ack.code} ${ack.message}`);
  }

  /** The parts received so far of one message (a long text is delivered as `<id>#0`, `<id>#1`, …). */
  #partsOf(messageId: string): ChatMessageDto[] {
    return this.#received.filter((m) => m.id === messageId || m.id.startsWith(`${messageId}#`));
  }

  /** Wait until every part of every expected message has arrived; returns them in message order. */
  async waitFor(expected: readonly Expected[], timeoutMs: number): Promise<ChatMessageDto[]> {
    const done = () => expected.every((e) => this.#partsOf(e.messageId).length >= e.parts);
    if (!done()) {
      let waiter: (() => void) | undefined;
      const arrived = new Promise<void>((resolve) => {
        waiter = () => {
          if (done()) resolve();
        };
        this.#waiters.push(waiter);
      });
      const want = expected.reduce((n, e) => n + e.parts, 0);
      try {
        await withTimeout(
          arrived,
          timeoutMs,
          `${want} bot messages (got ${expected.reduce((n, e) => n + Math.min(e.parts, this.#partsOf(e.messageId).length), 0)})`,
        );
      } finally {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
      }
    }
    return expected.flatMap((e) => this.#partsOf(e.messageId));
  }

  close(): void {
    this.#socket.close();
  }
}

interface OutboxRow {
  readonly id: string;
  readonly messageId: string;
  readonly channel: string;
  readonly payload: unknown;
  readonly text: string | null;
  readonly seq: number;
}

function outboundText(payload: unknown): string | null {
  if (payload === null || typeof payload !== 'object') return null;
  const p = payload as Record<string, unknown>;
  const text = p.text ?? p.caption ?? p.fallbackText;
  return typeof text === 'string' ? text : null;
}

/** Where the runner keeps what is safe to share between runs (the migrated database template, the NLU model). */
const CACHE_DIR = join(tmpdir(), 'ventanilla-converse');

/**
 * An in-memory PGlite with every migration applied. Creating a cluster takes seconds, so the migrated template is
 * dumped once to a cache file keyed by the migrations' contents and loaded from there on later runs.
 */
async function openMigrated(): Promise<Database> {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else hash.update(e.name).update(readFileSync(join(dir, e.name)));
    }
  };
  walk(MIGRATIONS_DIR);
  const file = join(CACHE_DIR, `pglite-${hash.digest('hex').slice(0, 24)}.tar`);
  try {
    const db = await openPglite({ loadDataDir: new Blob([readFileSync(file)]) });
    await db.migrate();
    return db;
  } catch {
    // No usable template yet: build it.
  }
  const db = await openPglite();
  await db.migrate();
  try {
    mkdirSync(CACHE_DIR, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, Buffer.from(await (await dumpPglite(db)).arrayBuffer()));
    renameSync(tmp, file);
  } catch {
    // The cache only saves time.
  }
  return db;
}

/** Build the runner: opens a migrated in-memory database and starts the product on a loopback port. */
export async function createConverseRunner(options: RunnerOptions = {}): Promise<ConverseRunner> {
  const timeoutMs = options.turnTimeoutMs ?? 10_000;
  const gapMs = options.turnGapMs ?? 15_000;
  const settleMs = options.settleMs ?? 50;
  const dataDir = mkdtempSync(join(tmpdir(), 'ventanilla-converse-'));
  const runId = randomBytes(8).toString('hex');
  let database: Database | undefined;
  let app: App | undefined;
  let providers: Providers | undefined;
  try {
    // Never a data folder (and so never its lock): one in-memory database, migrated once, emptied per script.
    database = await openMigrated();
    const db = database;
    const tables = (
      await db.raw.query(`select tablename from pg_tables where schemaname = 'public' order by tablename`)
    ).rows.map((r) => `"${String(r.tablename)}"`);

    const clock = new ScriptClock();
    const waiting = new Map<string, (outcome: TurnOutcome) => void>();
    const keyOf = (address: Address) => `${address.channel}\u0000${address.user}`;
    // Every provider channel talks to a loopback fake only: a city's real credentials are never used.
    providers = await startProviders();
    const provided: Providers = providers;
    const env = { ...options.env };
    for (const k of [
      'DATABASE_URL',
      'REDIS_URL',
      'TRUST_PROXY',
      'WEBCHAT_ALLOWED_ORIGINS',
      ...channelEnvVars(),
      ...Object.keys(env).filter((k) => k.startsWith('TRANSCRIBE_')),
    ])
      delete env[k];
    const config = loadConfig({
      // Links in replies (the privacy notice) point at the usual local address, not at the ephemeral port.
      PUBLIC_URL: 'http://localhost:3000',
      // The trained NLU model is cached by a hash of its training files: share it across runs, not the data folder.
      NLU_CACHE_DIR: join(CACHE_DIR, 'nlu'),
      ...env,
      ...provided.env,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: options.logLevel ?? 'silent',
      DATA_DIR: dataDir,
      ADMIN_TOKEN: randomBytes(24).toString('base64url'),
      // Every scripted citizen shares 127.0.0.1.
      WEBCHAT_CONNECTIONS_PER_MINUTE: '1000000',
      WEBCHAT_MESSAGES_PER_MINUTE: '1000000',
      WEBCHAT_UPLOADS_PER_MINUTE: '1000000',
    });
    app = await createApp(config, {
      database: db,
      jobs: false,
      clock,
      onTurn: (outcome: TurnOutcome, inbound: Inbound) => {
        const key = keyOf(inbound.address);
        const resolve = waiting.get(key);
        if (resolve) {
          waiting.delete(key);
          resolve(outcome);
        }
      },
      ...(options.nlu ? { nlu: options.nlu } : {}),
    });
    const url = await app.listen();
    const running: App = app;
    const smtp = running.channels.status().find((c) => c.name === 'email');
    const smtpPort = Number(/:(\d+)$/.exec(smtp?.detail ?? '')?.[1] ?? NaN);
    provided.attach({
      url,
      publicUrl: running.config.PUBLIC_URL,
      smtpPort: Number.isInteger(smtpPort) ? smtpPort : null,
    });
    const catalog: Catalog = running.catalog;
    const store = running.store;
    let sequence = 0;

    /** How many messages the web-chat adapter sends for one outbox entry (long texts are split). */
    const partsOf = (row: OutboxRow): number => {
      const outbound = OutboundSchema.safeParse(row.payload);
      return outbound.success ? degrade(outbound.data, running.webchat.capabilities).length : 1;
    };
    const queueType = (queue: string): 'general' | 'restricted' =>
      catalog.categories.some((c) => c.queue === queue && c.routing === 'restricted')
        ? 'restricted'
        : 'general';

    const caseView = async (c: CaseRecord): Promise<CaseView> => {
      let phone: string | null = null;
      if (
        c.conversationId &&
        c.channel &&
        /^(whatsapp|whatsapp-web|twilio-sms|twilio-voice)$/.test(c.channel)
      ) {
        const conv = await store.getConversation(c.conversationId);
        // WhatsApp addresses are wa_ids (no `+`, Mexico's mobiles may carry the old `521`).
        phone = /^\+52(\d{10})$/.exec(normalizePhone(conv?.address.user) ?? '')?.[1] ?? null;
      }
      const category = catalog.categories.find((x) => x.id === c.category);
      return {
        folio: c.folio,
        status: c.status,
        category: c.category,
        channel: c.channel ? scriptChannel(c.channel) : null,
        colonia: c.colonia,
        address: c.address,
        description: c.description,
        has_location: (c.lat !== null && c.lon !== null) || c.address !== null,
        lat: c.lat,
        lon: c.lon,
        hotspot_id: c.hotspotId,
        phone,
        sensitive: c.sensitive,
        queue: c.queue,
        routing: category?.routing ?? 'standard',
        visibility: c.visibility,
        contact_preference: c.contactPreference,
      };
    };
    const subscriptionView = (s: SubscriptionRecord): SubscriptionView => ({
      topic: s.topic,
      colonia: s.colonia,
      channel: scriptChannel(s.channel),
      active: s.active,
    });
    const handoffView = (h: TurnTrace['handoff']): HandoffView | null =>
      h
        ? {
            queue: h.queue,
            queue_type: h.queueType,
            summary: {
              intent: h.summary.intent,
              language: h.summary.language,
              category: h.summary.category ?? null,
              procedure: h.summary.procedure ?? null,
              folio: h.summary.folio ?? null,
              slots: h.summary.slots,
              recent_messages: h.summary.recentMessages,
              reason: h.summary.reason,
            },
          }
        : null;

    /** A web-chat secret derived from the script's channel id (unique per script, so no state leaks across). */
    const secretFor = (channelId: string) =>
      createHash('sha256')
        .update(`ventanilla-converse\u0000${runId}\u0000${sequence}\u0000${channelId}`)
        .digest('base64url');
    const addressFor = (channelId: string): Address => ({
      channel: 'webchat',
      user: secretKey(secretFor(channelId)),
    });

    const canonicalColonia = (name: string | null | undefined): string | null => {
      if (!name) return null;
      const n = fold(name.trim());
      const found = catalog.colonias.find((c) => [c.name, ...c.aliases].some((a) => fold(a) === n));
      return found?.name ?? name;
    };

    async function seedCase(
      ec: ExistingCase,
      i: number,
      reporterOf: (channelId: string) => Promise<ConversationRecord>,
    ): Promise<CaseSnapshot> {
      const at = `context.existing_cases.${i}`;
      const category = catalog.categories.find((c) => c.id === ec.category);
      if (!category) throw new RunnerError(`${at}.category: unknown category "${ec.category}"`);
      if (!catalog.statuses.some((s) => s.id === ec.status)) {
        throw new RunnerError(
          `${at}.status: unknown status "${ec.status}" (one of ${catalog.statuses.map((s) => s.id).join(', ')})`,
        );
      }
      const hotspot = ec.hotspot_id ? catalog.hotspots.find((h) => h.id === ec.hotspot_id) : undefined;
      if (ec.hotspot_id && !hotspot)
        throw new RunnerError(`${at}.hotspot_id: unknown hotspot "${ec.hotspot_id}"`);
      const colonia = canonicalColonia(ec.colonia ?? hotspot?.colonia);
      // Only a given point (or the hotspot's) is a position: importCase keeps no geo source, so a colonia centroid
      // would later pass for a precise point in duplicate checks.
      const lat = ec.lat ?? hotspot?.lat ?? null;
      const lon = ec.lon ?? hotspot?.lon ?? null;
      const createdAt = new Date(ec.created_at);
      const reporter = ec.reporter_channel_id ? await reporterOf(ec.reporter_channel_id) : null;
      const open = !catalog.statuses.find((s) => s.id === ec.status)?.final;
      const incident =
        hotspot && open
          ? (await store.transaction((tx) => tx.joinIncident(hotspot.id, createdAt))).incident
          : null;
      const imported = await store.importCase(
        {
          folio: ec.folio,
          status: ec.status,
          createdAt,
          category: category.id,
          description: ec.description ?? `${category.name} (caso existente ${ec.folio})`,
          address: ec.address ?? hotspot?.name ?? null,
          colonia,
          lat,
          lon,
          geoSource: ec.lat !== undefined ? 'pin' : hotspot ? 'hotspot' : null,
          department: ec.department ?? category.department,
          queue: category.queue,
          sensitive: category.sensitive,
          visibility: category.routing === 'restricted' ? 'restricted' : 'public',
          contactPreference: ec.contact_preference ?? 'any',
          contactId: reporter?.contactId ?? null,
          conversationId: reporter?.id ?? null,
          channel: reporter?.channel ?? null,
          slaDueAt: new Date(createdAt.getTime() + category.sla_hours * 3_600_000),
          hotspotId: hotspot?.id ?? null,
          incidentId: incident?.id ?? null,
          closedAt: open ? null : createdAt,
        },
        'converse:seed',
      );
      return { status: imported.status, category: imported.category, address: imported.address };
    }

    async function run(loaded: LoadedScript): Promise<ConversationResult> {
      const { script, file } = loaded;
      const base = { id: script.id, file };
      if (!DRIVABLE_CHANNELS.has(script.channel)) {
        return {
          ...base,
          skipped: true,
          skip_reason: `channel adapter not available yet: ${script.channel}`,
          turns: [],
          assertions: [],
        };
      }
      sequence++;
      const turns: TurnResult[] = [];
      const assertions: AssertionResult[] = [];
      const created: string[] = [];
      const seeded = new Map<string, CaseSnapshot>();
      let current: number | null = null;
      let session: WebchatSession | undefined;
      const driver = provided.drivers.get(script.channel);
      try {
        await db.raw.query(`truncate ${tables.join(', ')} restart identity cascade`);
        // The same phone or address may come back in a later script, whose clock may be earlier.
        running.runtime.forget();
        provided.reset();
        clock.set(script.context.now);
        const locale = script.locale;
        const citizenId = script.context.citizen.channel_id;
        const secret = secretFor(citizenId);
        // Conversations (the citizen's and seeded reporters') live on the script's channel, at the address and
        // with the identity that channel's adapter gives them.
        const resolveFor = (channelId: string) => {
          const on = driver?.addressOf(channelId) ?? { address: addressFor(channelId) };
          return store.resolveConversation({
            channel: on.address.channel,
            address: on.address,
            locale: pickLocale(channelId === citizenId ? locale : 'es-MX'),
            now: clock.now(),
            ...(on.identity ? { identity: on.identity } : {}),
          });
        };
        const conversation = await resolveFor(citizenId);
        const others = new Map<string, ConversationRecord>([[citizenId, conversation]]);
        const reporterOf = async (channelId: string) => {
          let c = others.get(channelId);
          if (!c) others.set(channelId, (c = await resolveFor(channelId)));
          return c;
        };
        for (const [i, ec] of script.context.existing_cases.entries()) {
          seeded.set(ec.folio, await seedCase(ec, i, reporterOf));
        }
        for (const sub of script.context.existing_subscriptions) {
          const owner = await reporterOf(sub.channel_id ?? citizenId);
          const colonia = canonicalColonia(sub.colonia) ?? '';
          await store.transaction(async (tx) => {
            await tx.subscribe({
              contactId: owner.contactId,
              conversationId: owner.id,
              channel: owner.channel,
              topic: sub.topic,
              colonia,
            });
            if (!sub.active) await tx.unsubscribe({ contactId: owner.contactId, topic: sub.topic, colonia });
          });
        }

        let lastSeq = 0;
        const newOutbox = async (): Promise<OutboxRow[]> => {
          const { rows } = await db.raw.query(
            `select id, message_id, channel, payload, seq::double precision as seq from outbox where seq > $1 order by seq`,
            [lastSeq],
          );
          const list = rows.map((r) => ({
            id: String(r.id),
            messageId: String(r.message_id),
            channel: String(r.channel),
            payload: r.payload,
            text: outboundText(r.payload),
            seq: Number(r.seq),
          }));
          lastSeq = Math.max(lastSeq, ...list.map((r) => r.seq));
          return list;
        };
        /** Wait until the outbox sent these entries (their provider calls are then recorded at the fake). */
        const deliveredAll = async (ids: readonly string[], channel: string): Promise<void> => {
          if (ids.length === 0) return;
          const deadline = Date.now() + timeoutMs;
          const list = ids.map((_, i) => `$${i + 1}`).join(', ');
          for (;;) {
            const { rows } = await db.raw.query(
              `select status, last_error from outbox where id in (${list})`,
              [...ids],
            );
            const failed = rows.find((r) => r.status === 'dead' || r.status === 'retrying');
            if (failed)
              throw new RunnerError(`a reply was not delivered on ${channel}: ${String(failed.last_error)}`);
            if (rows.length === ids.length && rows.every((r) => r.status === 'sent')) return;
            if (Date.now() > deadline)
              throw new RunnerError(
                `timed out after ${timeoutMs} ms waiting for ${ids.length} replies to be sent on ${channel}`,
              );
            await new Promise((r) => setTimeout(r, 5));
          }
        };
        const viewOf = async (folio: string) => {
          const c = await store.findCase(folio);
          if (!c) throw new RunnerError(`created case ${folio} not found`);
          return caseView(c);
        };
        const observe = async (inScope: readonly TurnResult[]): Promise<Observation> => {
          const fresh = await store.getConversation(conversation.id);
          return {
            turns: inScope,
            cases: await Promise.all(created.map(viewOf)),
            subscriptions: (await store.listSubscriptions(conversation.contactId)).map(subscriptionView),
            outbound: inScope.flatMap((t) => t.outbound),
            queue: { mode: fresh?.mode ?? 'bot', queue: fresh?.queue ?? null },
            queueType,
            productChannel,
            async seeded(folio) {
              const before = seeded.get(folio);
              if (!before) return undefined;
              const now = await store.findCase(folio);
              return {
                before,
                after: now ? { status: now.status, category: now.category, address: now.address } : null,
              };
            },
          };
        };
        const check = async (list: readonly Assertion[], o: Observation, turn: number | null) => {
          for (const a of list) {
            const v = await evaluate(a, o);
            assertions.push({ turn, kind: a.kind, level: a.level, ok: v.ok, detail: v.detail });
          }
        };

        const web = driver ? undefined : await WebchatSession.open(url, secret, locale, timeoutMs);
        session = web;
        const key = keyOf(conversation.address);
        for (const [i, turn] of script.turns.entries()) {
          current = turn.n;
          if (i > 0) clock.advance(gapMs);
          const outcome = new Promise<TurnOutcome>((resolve) => waiting.set(key, resolve));
          let done: TurnOutcome;
          const mark = driver?.mark() ?? 0;
          let voice = false;
          try {
            if (driver) {
              const input = providerInput(turn, driver);
              voice = input.kind === 'voice';
              if (input.kind === 'voice') provided.willTranscribe(input.transcript);
              await withTimeout(
                driver.deliver(citizenId, input, clock.now(), locale),
                timeoutMs,
                `the ${script.channel} provider's delivery to be acknowledged`,
              );
            } else await web?.send(inputPayload(turn), timeoutMs);
            done = await withTimeout(outcome, timeoutMs, 'the turn to finish');
          } finally {
            waiting.delete(key);
            if (voice) await provided.settleTranscripts();
          }
          const trace = done.status === 'handled' ? done.trace : null;
          const ids = done.status === 'handled' ? done.outboxIds : [];
          const rows = await newOutbox();
          const mine = ids
            .map((id) => rows.find((r) => r.id === id))
            .filter((r): r is OutboxRow => r !== undefined);
          const proactive = rows.filter((r) => !ids.includes(r.id));
          let replies: string[] = [];
          if (driver) {
            // Sends of this turn's replies are done once the outbox marked them sent; read them at the fake.
            await deliveredAll(
              mine.filter((r) => r.channel === driver.channel).map((r) => r.id),
              driver.channel,
            );
            replies = driver.received(citizenId, mark);
          } else if (web) {
            const messages = await web.waitFor(
              mine
                .filter((r) => r.channel === 'webchat')
                .map((r) => ({ messageId: r.messageId, parts: partsOf(r) })),
              timeoutMs,
            );
            replies = messages.map(render);
          }
          created.push(...(trace?.casesCreated ?? []));
          const outbound = proactive.map((r) => ({ channel: scriptChannel(r.channel), text: r.text }));
          const result: TurnResult = {
            n: turn.n,
            replies: replies.filter((t) => t !== ''),
            nlu: trace?.nlu
              ? { intent: trace.nlu.intent, confidence: trace.nlu.confidence, entities: trace.nlu.entities }
              : null,
            active_form: trace?.activeForm ?? null,
            asks_for: slotName(trace?.awaiting),
            handoff: handoffView(trace?.handoff ?? null),
            status_reported: trace?.statusReported ?? [],
            cases_created: await Promise.all((trace?.casesCreated ?? []).map(viewOf)),
            subscriptions: (await store.listSubscriptions(conversation.contactId)).map(subscriptionView),
            outbound,
          };
          turns.push(result);
          if (turn.expect.length > 0) await check(turn.expect, await observe([result]), turn.n);
        }
        current = null;
        // Proactive messages written after the last turn (none are expected within a script today).
        await new Promise((r) => setTimeout(r, settleMs));
        const late = (await newOutbox()).map((r) => ({ channel: scriptChannel(r.channel), text: r.text }));
        turns.at(-1)?.outbound.push(...late);
        await check(script.final, await observe(turns), null);
      } catch (err) {
        assertions.push({
          turn: current,
          kind: 'runner',
          level: 'must',
          ok: false,
          detail: err instanceof Error ? err.message : String(err),
        });
      } finally {
        session?.close();
      }
      return { ...base, skipped: false, skip_reason: null, turns, assertions };
    }

    return {
      run,
      async runAll(scripts) {
        const results: ConversationResult[] = [];
        for (const s of scripts) results.push(await run(s));
        return results;
      },
      async close() {
        provided.hangUp();
        await running.close();
        await provided.close();
        await db.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await providers?.close().catch(() => undefined);
    await database?.close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * One citizen input for a provider channel: `speech` is a voice note where the channel has them (WhatsApp,
 * Telegram), else typed; SMS and e-mail type a pin's coordinates (the driver does).
 */
function providerInput(turn: ScriptTurn, driver: ChannelDriver): ProviderInput {
  const c = turn.citizen;
  if (c.text !== undefined) return { kind: 'text', text: c.text };
  if (c.speech !== undefined)
    return driver.voiceNotes ? { kind: 'voice', transcript: c.speech } : { kind: 'text', text: c.speech };
  if (c.location !== undefined) return { kind: 'location', lat: c.location.lat, lon: c.location.lon };
  throw new RunnerError(
    `turn ${turn.n}: input ${Object.keys(c).join(', ')} is not available on ${driver.channel}`,
  );
}

/** The web-chat payload for one citizen input (speech on web chat is typed text). */
function inputPayload(turn: ScriptTurn): Record<string, unknown> {
  const c = turn.citizen;
  if (c.text !== undefined) return { kind: 'text', text: c.text };
  if (c.speech !== undefined) return { kind: 'text', text: c.speech };
  if (c.location !== undefined) return { kind: 'location', lat: c.location.lat, lon: c.location.lon };
  throw new RunnerError(`turn ${turn.n}: input ${Object.keys(c).join(', ')} is not available on web chat`);
}

/** The locales a set of scripts covers (`es-MX`, `en`). */
export function localesOf(scripts: readonly Script[]): Set<string> {
  return new Set(scripts.map((s) => pickLocale(s.locale)));
}
