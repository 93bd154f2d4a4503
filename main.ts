/**
 * The composition root: reads the environment once (zod), opens the database, builds adapters and the runtime,
 * mounts HTTP routes and socket.io. `createApp(config)` is also what `cli/`, tests and benchmarks use.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import pino from 'pino';
import type { Logger } from 'pino';
import client from 'prom-client';
import { Server as SocketServer } from 'socket.io';
import { z } from 'zod';
import { ToolkitError } from './channels/contract.ts';
import type { ChannelAdapter, ContactId, ConversationId, Inbound } from './channels/contract.ts';
import { ChannelHost } from './channels/host.ts';
import { channels as channelRegistry, outboundDto, webchat, webchatConfig } from './channels/index.ts';
import type { ChannelDeps } from './channels/kit/index.ts';
import type { WhatsappWebAdapter } from './channels/whatsapp-web.ts';
import type { ChatMessageDto, WebchatAdapter } from './channels/index.ts';
import type { DeskPort, TurnOutcome } from './dialogs/contract.ts';
import { createRuntime, parseServiceHours } from './dialogs/index.ts';
import type { Clock, RetryPolicy, Runtime } from './dialogs/index.ts';
import { loadCatalog } from './integrations/catalog/index.ts';
import { createNlu } from './integrations/nlu/index.ts';
import { IntegrationError } from './integrations/contract.ts';
import type {
  CaseStore,
  Catalog,
  JobQueue,
  MediaStore,
  MessageRecord,
  Nlu,
  OutboxStore,
} from './integrations/contract.ts';
import { createPgBossJobQueue } from './integrations/jobs/pg-boss.ts';
import { acquireDataLock, openPglite, openPostgres, ping } from './integrations/storage/db.ts';
import type { Database } from './integrations/storage/db.ts';
import { createFileMediaStore } from './integrations/storage/media.ts';
import { createOpenAiTranscriber } from './integrations/transcribe/openai.ts';
import { boxAround, createNominatimGeocoder } from './integrations/geocode/nominatim.ts';
import { createPostgresCaseStore, createPostgresOutboxStore } from './integrations/storage/store.ts';

const ROOT = fileURLToPath(new URL('.', import.meta.url));

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Every environment variable Ventanilla reads (documented in the README's configuration table). */
export const ConfigSchema = z
  .object({
    HOST: z.string().default('0.0.0.0'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    DATA_DIR: z.string().default('./data'),
    DATABASE_URL: z.string().url().optional(),
    REDIS_URL: z.string().url().optional(),
    PUBLIC_URL: z.string().url().optional(),
    FOLIO_PREFIX: z
      .string()
      .regex(/^[A-Z]{2,6}$/, 'must be 2-6 capital letters')
      .default('VER'),
    CATALOG_DIR: z.string().default(resolve(ROOT, 'catalog')),
    SERVICE_TIMEZONE: z
      .string()
      .default('America/Mexico_City')
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat('en', { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      }, 'must be an IANA time zone such as America/Mexico_City'),
    ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    WEBCHAT_ALLOWED_ORIGINS: z
      .string()
      .default('')
      .transform((s) =>
        s
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean),
      ),
    TRUST_PROXY: bool.default(false),
    WEBCHAT_CONNECTIONS_PER_MINUTE: z.coerce.number().int().positive().default(120),
    WEBCHAT_MESSAGES_PER_MINUTE: z.coerce.number().int().positive().default(600),
    WEBCHAT_UPLOADS_PER_MINUTE: z.coerce.number().int().positive().default(60),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    MAX_INBOUND_TEXT: z.coerce.number().int().positive().default(4096),
    PRIVACY_NOTICE_URL: z.string().url().optional(),
    NLU_THRESHOLD: z.coerce.number().min(0).max(1).default(0.35),
    NLU_CACHE_DIR: z.string().optional(),
    LLM_BASE_URL: z.string().url().optional(),
    LLM_API_KEY: z.string().default('not-needed'),
    LLM_MODEL: z.string().default('gpt-4o-mini'),
    LLM_TIMEOUT_MS: z.coerce.number().int().positive().default(3000),
    TRANSCRIBE_BASE_URL: z.string().url().optional(),
    TRANSCRIBE_API_KEY: z.string().default('not-needed'),
    TRANSCRIBE_MODEL: z.string().default('whisper-1'),
    TRANSCRIBE_TIMEOUT_MS: z.coerce.number().int().positive().default(20_000),
    CALL_CENTRE_PHONE: z.string().max(40).optional(),
    GEOCODER_URL: z.string().url().optional(),
    GEOCODER_USER_AGENT: z.string().min(3).optional(),
    GEOCODER_CONTEXT: z.string().default('Veracruz, México'),
    GEOCODER_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
    GEOCODER_MIN_INTERVAL_MS: z.coerce.number().int().min(0).default(1_000),
    WOMENS_INSTITUTE: z
      .string()
      .min(3)
      .default('Instituto Municipal de las Mujeres, 921 000 0000 (lunes a viernes, 8 a 16 h)'),
    SERVICE_HOURS: z
      .string()
      .default('mon-fri 08:00-20:00; sat 09:00-14:00')
      .transform((text, ctx) => {
        try {
          return parseServiceHours(text);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      }),
    ALWAYS_OPEN_QUEUES: z
      .string()
      .default('restricted_gender_violence')
      .transform((s) =>
        s
          .split(',')
          .map((q) => q.trim())
          .filter(Boolean),
      ),
    OUTBOX_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  })
  .transform((c) => {
    const publicUrl = c.PUBLIC_URL ?? `http://localhost:${c.PORT}`;
    return {
      ...c,
      PUBLIC_URL: publicUrl,
      PRIVACY_NOTICE_URL: c.PRIVACY_NOTICE_URL ?? `${publicUrl.replace(/\/$/, '')}/privacidad`,
    };
  });

/** Parsed configuration: the core variables plus, per configured provider channel, its own variables. */
export type Config = z.infer<typeof ConfigSchema> & {
  /** Raw variables of each channel that is on (any of its variables set), already validated by its schema. */
  readonly channels: Readonly<Record<string, Readonly<Record<string, string>>>>;
};

/** Every provider channel definition with its environment mapping. */
function providerChannels(): ProviderDefinition[] {
  return Object.values(channelRegistry as Record<string, { env?: unknown }>).filter(
    (d): d is ProviderDefinition => d.env !== undefined,
  );
}

/**
 * A provider channel definition seen from the composition root. `create` takes what its own schema parsed, so
 * the loop over the registry can call it without knowing each channel's config type.
 */
interface ProviderDefinition {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
  readonly enabledBy?: readonly string[];
  readonly config: z.ZodType;
  create(config: never, deps: ChannelDeps): ChannelAdapter;
}

/** Every environment variable the channels read (for `loadConfig` and the README parity test). */
export function channelEnvVars(): string[] {
  return providerChannels().flatMap((d) => Object.keys(d.env));
}

/** A channel's config object from its variables (keys renamed to the schema's). */
function channelInput(env: Readonly<Record<string, string>>, mapping: Readonly<Record<string, string>>) {
  return Object.fromEntries(
    Object.entries(mapping).flatMap(([v, key]) => (env[v] !== undefined ? [[key, env[v]]] : [])),
  );
}

/** Parse the environment; every problem names the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(ConfigSchema.in.shape).flatMap((k) =>
      env[k] !== undefined && env[k] !== '' ? [[k, env[k]]] : [],
    ),
  );
  const parsed = ConfigSchema.safeParse(known);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  const channels: Record<string, Record<string, string>> = {};
  for (const def of providerChannels()) {
    const set = Object.fromEntries(
      Object.keys(def.env).flatMap((v) => (env[v] !== undefined && env[v] !== '' ? [[v, env[v]]] : [])),
    );
    const on = (def.enabledBy ?? Object.keys(def.env)).some((v) => set[v] !== undefined);
    if (!on) continue; // not configured: the channel is simply off
    const result = def.config.safeParse(channelInput(set, def.env));
    if (!result.success) {
      const byKey = new Map(Object.entries(def.env).map(([v, key]) => [key, v]));
      for (const i of result.error.issues) {
        const key = String(i.path[0] ?? '');
        const variable = byKey.get(key) ?? `${def.name} ${i.path.join('.')}`;
        problems.push(
          `${variable}: ${i.message === 'Invalid input: expected string, received undefined' ? 'required' : i.message} (channel ${def.name})`,
        );
      }
      continue;
    }
    channels[def.name] = set;
  }
  if (!parsed.success || problems.length) {
    throw new IntegrationError('CONFIG_INVALID', `Invalid configuration: ${problems.join('; ')}`);
  }
  return { ...parsed.data, channels };
}

/** Test and tool hooks that are not configuration. */
export interface AppOverrides {
  /** An already-open database (tests open PGlite from a migrated template). Not closed by the app. */
  readonly database?: Database;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Extra adapters (e.g. a test-only loopback channel). */
  readonly extraChannels?: readonly ChannelAdapter[];
  readonly retry?: RetryPolicy;
  /** Run pg-boss (retries, sweeps). Default true. */
  readonly jobs?: boolean;
  /** pg-boss polling interval (seconds). */
  readonly jobPollingSeconds?: number;
  readonly random?: () => number;
  /** Observe every turn's outcome (trace included): the conversation runner and tests use it. */
  readonly onTurn?: (outcome: TurnOutcome, inbound: Inbound) => void;
  /** Replace the NLU (tests); by default the product's own. */
  readonly nlu?: Nlu;
}

/** A built application. */
export interface App {
  readonly config: Config;
  readonly http: FastifyInstance;
  readonly io: SocketServer;
  readonly runtime: Runtime;
  readonly store: CaseStore;
  readonly outbox: OutboxStore;
  /** Inbound media (what adapters saved). */
  readonly media: MediaStore;
  readonly database: Database;
  readonly catalog: Catalog;
  readonly webchat: WebchatAdapter;
  /** The provider channels that are on, with their health. */
  readonly channels: ChannelHost;
  readonly metrics: client.Registry;
  readonly log: Logger;
  /** Listen on HOST:PORT; resolves to the base URL. */
  listen(): Promise<string>;
  /** Graceful shutdown: stop intake, drain turns and deliveries, close the database. */
  close(): Promise<void>;
}

/** Error codes of the HTTP surface itself (admin auth, unknown routes, unexpected failures). */
export const APP_ERROR_CODES = {
  ADMIN_UNAUTHORIZED: 'An admin endpoint was called without the right `Authorization: Bearer $ADMIN_TOKEN`.',
  HTTP_NOT_FOUND: 'No route matches the request.',
  HTTP_INTERNAL: 'An unexpected server error; details are in the server log, never in the response.',
} as const;

/** The stable code of any error (ours carry one; anything else is unexpected). */
function codeOf(err: unknown): string {
  return err instanceof ToolkitError ? String((err as ToolkitError).code) : 'UNEXPECTED';
}

// A Mexican phone number, not part of a longer token (folios `VER-2026-000123` and uuids stay readable).
const PHONE = /(?<![\w-])(?:\+?52[\s-]?)?(?:\d{2,3}[\s.-]?)\d{3,4}[\s.-]?\d{4}(?![\w-])/g;
const EMAIL = /[\w.+-]+@[\w-]+\.[\w.-]+/g;
const SECRET_KEY = /^(secret|token|password|passwd|authorization|api[-_]?key|cookie)$/i;

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.replace(EMAIL, '[email]').replace(PHONE, '[phone]');
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) ? '[redacted]' : scrub(v, depth + 1)]),
  );
}

/** The pino logger: JSON lines, secrets redacted by path, phone numbers and e-mails scrubbed from values. */
export function createLogger(level: Config['LOG_LEVEL'], destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: {
        paths: [
          'secret',
          'token',
          'password',
          'authorization',
          '*.secret',
          '*.token',
          '*.password',
          '*.authorization',
          'headers.authorization',
          'req.headers.authorization',
          'req.headers.cookie',
          'config.ADMIN_TOKEN',
          'config.DATABASE_URL',
          'config.REDIS_URL',
        ],
        censor: '[redacted]',
      },
      formatters: { log: (obj) => scrub(obj) as Record<string, unknown> },
    },
    destination ?? pino.destination({ dest: 2, sync: false }),
  );
}

function messageDto(m: MessageRecord): ChatMessageDto {
  if (m.direction === 'out') {
    const dto = outboundDto(m.id, m.body as Parameters<typeof outboundDto>[1], m.createdAt);
    return { ...dto, status: m.status };
  }
  return { id: m.id, direction: 'in', kind: m.kind, text: m.text, at: m.createdAt.toISOString() };
}

/** Build the whole product. Nothing listens until `listen()`. */
export async function createApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  const log = overrides.logger ?? createLogger(config.LOG_LEVEL);
  const catalog = await loadCatalog(config.CATALOG_DIR);

  let releaseLock: (() => void) | undefined;
  let database = overrides.database;
  const ownsDatabase = !database;
  if (!database) {
    if (config.DATABASE_URL) {
      database = await openPostgres(config.DATABASE_URL);
    } else {
      const dataDir = resolve(config.DATA_DIR);
      releaseLock = acquireDataLock(dataDir);
      try {
        database = await openPglite({ dataDir });
      } catch (err) {
        releaseLock();
        throw err;
      }
    }
    try {
      await database.migrate();
    } catch (err) {
      await database.close();
      releaseLock?.();
      throw err;
    }
  }
  const db: Database = database;

  const registry = new client.Registry();
  const txStatements = new client.Histogram({
    name: 'ventanilla_transaction_statements',
    help: 'SQL statements per committed store transaction (one per durable turn), BEGIN and COMMIT included',
    buckets: [3, 4, 5, 6, 7, 8, 10, 15],
    registers: [registry],
  });
  const nlu =
    overrides.nlu ??
    (await createNlu({
      catalog,
      folioPrefix: config.FOLIO_PREFIX,
      threshold: config.NLU_THRESHOLD,
      // The trained model is cached by a hash of the training files, so restarts do not retrain.
      cacheDir: config.NLU_CACHE_DIR ?? resolve(config.DATA_DIR, 'nlu'),
      ...(config.LLM_BASE_URL
        ? {
            llm: {
              baseUrl: config.LLM_BASE_URL,
              apiKey: config.LLM_API_KEY,
              model: config.LLM_MODEL,
              timeoutMs: config.LLM_TIMEOUT_MS,
            },
          }
        : {}),
      log: log.child({ component: 'nlu' }),
    }));

  const store = createPostgresCaseStore(db, {
    initialStatus: catalog.initialStatus,
    onTransaction: (n) => txStatements.observe(n),
  });
  const outbox = createPostgresOutboxStore(db);
  const media = createFileMediaStore(db, resolve(config.DATA_DIR, 'media'));

  // Metrics
  client.collectDefaultMetrics({ register: registry, prefix: 'ventanilla_' });
  const turns = new client.Counter({
    name: 'ventanilla_turns_total',
    help: 'Turns by channel and outcome',
    labelNames: ['channel', 'outcome'],
    registers: [registry],
  });
  const turnSeconds = new client.Histogram({
    name: 'ventanilla_turn_duration_seconds',
    help: 'Time from inbound to committed turn',
    labelNames: ['channel'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const messages = new client.Counter({
    name: 'ventanilla_messages_total',
    help: 'Messages by direction and channel',
    labelNames: ['direction', 'channel'],
    registers: [registry],
  });
  const transcriptions = new client.Counter({
    name: 'ventanilla_transcriptions_total',
    help: 'Voice-note transcriptions by outcome (ok, failed)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const outboxFailures = new client.Counter({
    name: 'ventanilla_outbox_failures_total',
    help: 'Failed delivery attempts (final = dead-lettered)',
    labelNames: ['channel', 'final'],
    registers: [registry],
  });
  new client.Gauge({
    name: 'ventanilla_outbox_depth',
    help: 'Outbox entries not yet sent nor dead',
    registers: [registry],
    async collect() {
      this.set(await outbox.depth().catch(() => -1));
    },
  });
  new client.Gauge({
    name: 'ventanilla_db_statements',
    help: 'SQL statements sent since start (BEGIN and COMMIT included)',
    registers: [registry],
    collect() {
      this.set(db.counter.statements);
    },
  });
  new client.Gauge({
    name: 'ventanilla_db_transactions',
    help: 'Transactions since start',
    registers: [registry],
    collect() {
      this.set(db.counter.transactions);
    },
  });

  // HTTP + socket.io
  const http: FastifyInstance = Fastify({
    // Pin the default logger type so routes and plugins are typed against FastifyInstance's defaults.
    loggerInstance: log as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: config.TRUST_PROXY,
    bodyLimit: 1024 * 1024,
  });
  const io = new SocketServer(http.server, {
    maxHttpBufferSize: 64 * 1024,
    serveClient: false,
    cors: {
      origin: (origin, cb) => cb(null, webchatAdapter.originAllowed(origin, undefined) ? true : false),
      credentials: false,
    },
  });
  let redisClose: (() => Promise<void>) | undefined;
  if (config.REDIS_URL) {
    const { createClient } = await import('redis');
    const { createAdapter } = await import('@socket.io/redis-adapter');
    const pub = createClient({ url: config.REDIS_URL });
    const sub = pub.duplicate();
    pub.on('error', (err: Error) => log.warn({ err: err.message }, 'redis error'));
    sub.on('error', (err: Error) => log.warn({ err: err.message }, 'redis error'));
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
    redisClose = async () => {
      await Promise.allSettled([pub.quit(), sub.quit()]);
    };
  }

  const webchatAdapter: WebchatAdapter = webchat.create(
    webchatConfig.parse({
      allowedOrigins: config.WEBCHAT_ALLOWED_ORIGINS,
      publicOrigin: config.PUBLIC_URL,
      trustProxy: config.TRUST_PROXY,
      // Per IP: a CDAIE or a school behind one NAT address has many citizens, so bursts are a full minute's worth.
      connectionsPerIp: {
        burst: config.WEBCHAT_CONNECTIONS_PER_MINUTE,
        perSecond: config.WEBCHAT_CONNECTIONS_PER_MINUTE / 60,
      },
      messagesPerIp: {
        burst: config.WEBCHAT_MESSAGES_PER_MINUTE,
        perSecond: config.WEBCHAT_MESSAGES_PER_MINUTE / 60,
      },
      uploadsPerIp: {
        burst: config.WEBCHAT_UPLOADS_PER_MINUTE,
        perSecond: config.WEBCHAT_UPLOADS_PER_MINUTE / 60,
      },
      maxOpenPerIp: Math.max(50, config.WEBCHAT_CONNECTIONS_PER_MINUTE),
    }),
    {
      io,
      media,
      log: log.child({ channel: 'webchat' }),
      ...(overrides.clock ? { now: () => overrides.clock!.now() } : {}),
      sessionExists: async (user) => (await store.findConversation('webchat', user)) !== null,
      history: async (user) => {
        const conversation = await store.findConversation('webchat', user);
        if (!conversation) return [];
        return (await store.listMessages(conversation.id, { limit: 100 })).map(messageDto);
      },
    },
  );

  const host = new ChannelHost({
    registry,
    log: log.child({ component: 'channels' }),
    now: () => overrides.clock?.now() ?? new Date(),
    emit: (inbound) => deliver(inbound),
  });
  const adapters = new Map<string, ChannelAdapter>([[webchatAdapter.name, webchatAdapter]]);
  for (const def of providerChannels()) {
    const vars = config.channels[def.name];
    if (!vars) continue;
    const deps: ChannelDeps = {
      media,
      log: log.child({ channel: def.name }),
      now: () => overrides.clock?.now() ?? new Date(),
      dataDir: resolve(config.DATA_DIR, 'channels', def.name),
      publicUrl: config.PUBLIC_URL,
      count: host.counter(def.name),
    };
    // loadConfig validated these variables with the same schema; `create` receives exactly what it parses.
    const create = def.create.bind(def) as (c: unknown, d: ChannelDeps) => ChannelAdapter;
    const adapter = host.add(create(def.config.parse(channelInput(vars, def.env)), deps));
    adapters.set(adapter.name, adapter);
    log.info({ channel: def.name }, 'channel configured');
  }
  for (const extra of overrides.extraChannels ?? []) adapters.set(extra.name, extra);

  let jobs: JobQueue | undefined;
  if (overrides.jobs !== false) {
    jobs = await createPgBossJobQueue(db, {
      pollingIntervalSeconds: overrides.jobPollingSeconds ?? 2,
      onError: (err) => log.warn({ err: err.message }, 'pg-boss error'),
    });
  }

  // Until the agent desk lands, queued conversations are persisted and listed through the admin API.
  const desk: DeskPort = {
    async deliver(conversation) {
      log.info({ conversationId: conversation.id, mode: conversation.mode }, 'message stored for the desk');
    },
    async requested(conversation, summary) {
      log.info(
        { conversationId: conversation.id, queue: conversation.queue, intent: summary.intent },
        'hand-off requested',
      );
    },
  };

  const runtime = createRuntime({
    store,
    outbox,
    channels: adapters,
    desk,
    catalog,
    ...(jobs ? { jobs } : {}),
    ...(overrides.clock ? { clock: overrides.clock } : {}),
    ...(overrides.random ? { random: overrides.random } : {}),
    nlu,
    media,
    ...(config.GEOCODER_URL
      ? {
          geocoder: createNominatimGeocoder({
            baseUrl: config.GEOCODER_URL,
            userAgent: config.GEOCODER_USER_AGENT ?? `Ventanilla/1.0 (+${config.PUBLIC_URL})`,
            context: config.GEOCODER_CONTEXT,
            box: boxAround(catalog.colonias),
            timeoutMs: config.GEOCODER_TIMEOUT_MS,
            minIntervalMs: config.GEOCODER_MIN_INTERVAL_MS,
            log: log.child({ component: 'geocoder' }),
          }),
        }
      : {}),
    ...(config.TRANSCRIBE_BASE_URL
      ? {
          transcriber: createOpenAiTranscriber({
            baseUrl: config.TRANSCRIBE_BASE_URL,
            apiKey: config.TRANSCRIBE_API_KEY,
            model: config.TRANSCRIBE_MODEL,
            timeoutMs: config.TRANSCRIBE_TIMEOUT_MS,
          }),
        }
      : {}),
    log: log.child({ component: 'runtime' }),
    settings: {
      folioPrefix: config.FOLIO_PREFIX,
      timeZone: config.SERVICE_TIMEZONE,
      privacyNoticeUrl: config.PRIVACY_NOTICE_URL,
      womensInstitute: config.WOMENS_INSTITUTE,
      ...(config.CALL_CENTRE_PHONE ? { callCentrePhone: config.CALL_CENTRE_PHONE } : {}),
      serviceHours: config.SERVICE_HOURS,
      holidays: catalog.holidays.map((h) => h.date),
      alwaysOpenQueues: config.ALWAYS_OPEN_QUEUES,
    },
    maxInboundText: config.MAX_INBOUND_TEXT,
    retry: overrides.retry ?? {
      maxAttempts: config.OUTBOX_MAX_ATTEMPTS,
      baseDelayMs: 2_000,
      maxDelayMs: 15 * 60_000,
    },
    metrics: {
      turn: (channel, seconds, outcome) => {
        turns.inc({ channel, outcome });
        turnSeconds.observe({ channel }, seconds);
      },
      message: (direction, channel) => messages.inc({ direction, channel }),
      transcription: (outcome) => transcriptions.inc({ outcome }),
    },
    outboxEvents: {
      sent: (entry) => messages.inc({ direction: 'out', channel: entry.channel }),
      retry: (entry) => outboxFailures.inc({ channel: entry.channel, final: 'false' }),
      dead: (entry) => outboxFailures.inc({ channel: entry.channel, final: 'true' }),
    },
    onError: (e) =>
      log.error(
        {
          conversationId: e.conversationId,
          channel: e.inbound.address.channel,
          code: codeOf(e.error),
          err: e.error instanceof Error ? e.error.message : String(e.error),
        },
        'turn failed',
      ),
  });

  // Routes
  http.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status =
      err instanceof z.ZodError
        ? 400
        : err instanceof ToolkitError && err.code === 'STORE_NOT_FOUND'
          ? 404
          : err.statusCode && err.statusCode >= 400 && err.statusCode < 600
            ? err.statusCode
            : 500;
    if (status >= 500)
      log.error({ code: err.code, err: err.message, url: req.url.split('?')[0] }, 'request failed');
    const code =
      err instanceof ToolkitError
        ? codeOf(err)
        : status === 413
          ? 'CHANNEL_UPLOAD_TOO_LARGE'
          : status < 500
            ? 'CHANNEL_PAYLOAD_INVALID'
            : 'HTTP_INTERNAL';
    const message =
      status >= 500
        ? 'Internal error'
        : err instanceof z.ZodError
          ? err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')
          : err.message;
    void reply.status(status).send({ code, message });
  });
  http.setNotFoundHandler((_req, reply) => {
    void reply.status(404).send({ code: 'HTTP_NOT_FOUND', message: 'Not found' });
  });

  http.addContentTypeParser(
    /^image\/.*/,
    { parseAs: 'buffer', bodyLimit: 10 * 1024 * 1024 },
    (_req, body, done) => done(null, body),
  );
  http.addContentTypeParser(
    'application/octet-stream',
    { parseAs: 'buffer', bodyLimit: 10 * 1024 * 1024 },
    (_req, body, done) => done(null, body),
  );

  const corsHeaders = (req: FastifyRequest, reply: FastifyReply) => {
    const origin = req.headers.origin;
    if (origin && webchatAdapter.originAllowed(origin, req.headers.host)) {
      void reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    }
  };
  http.options('/webchat/uploads', async (req, reply) => {
    corsHeaders(req, reply);
    return reply
      .header('access-control-allow-methods', 'POST')
      .header('access-control-allow-headers', 'authorization, content-type')
      .status(204)
      .send();
  });
  http.post(
    '/webchat/uploads',
    {
      bodyLimit: 10 * 1024 * 1024 + 1,
      // Rate limit, credentials and declared size are checked before the body is read.
      onRequest: async (req, reply) => {
        const early = webchatAdapter.precheckUpload({ headers: req.headers, ip: req.ip });
        if (early) {
          corsHeaders(req, reply);
          if (early.headers) void reply.headers(early.headers);
          return reply.status(early.status).send(early.body);
        }
      },
    },
    async (req, reply) => {
      corsHeaders(req, reply);
      if (req.headers.origin && !webchatAdapter.originAllowed(req.headers.origin, req.headers.host)) {
        return reply.status(403).send({ code: 'CHANNEL_ORIGIN_FORBIDDEN', message: 'Origin not allowed' });
      }
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const result = await webchatAdapter.upload({ headers: req.headers, ip: req.ip, body });
      if (result.headers) void reply.headers(result.headers);
      return reply.status(result.status).send(result.body);
    },
  );

  let widget: Promise<string> | undefined;
  const widgetJs = () =>
    (widget ??= build({
      entryPoints: [resolve(ROOT, 'channels/webchat-widget/widget.ts')],
      bundle: true,
      minify: true,
      format: 'iife',
      target: ['es2020', 'chrome80', 'firefox78', 'safari15'],
      write: false,
      legalComments: 'none',
    }).then(
      (r) => r.outputFiles[0]?.text ?? '',
      (err: unknown) => {
        widget = undefined; // try again on the next request instead of serving the failure until restart
        throw err;
      },
    ));
  const escapeHtml = (text: string) =>
    text.replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
    );
  const demoHtml = readFileSync(resolve(ROOT, 'channels/webchat-widget/demo.html'), 'utf8')
    .replaceAll('{{municipality}}', escapeHtml(catalog.municipality))
    .replaceAll('{{folioExample}}', `${config.FOLIO_PREFIX}-${runtime.folioYear()}-000123`);

  http.get('/widget.js', async (_req, reply) =>
    reply
      .header('content-type', 'application/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=300')
      .send(await widgetJs()),
  );
  http.get('/', async (_req, reply) =>
    reply.header('content-type', 'text/html; charset=utf-8').send(demoHtml),
  );
  const privacyHtml = readFileSync(resolve(ROOT, 'channels/webchat-widget/privacy.html'), 'utf8').replaceAll(
    '{{municipality}}',
    escapeHtml(catalog.municipality),
  );
  http.get('/privacidad', async (_req, reply) =>
    reply.header('content-type', 'text/html; charset=utf-8').send(privacyHtml),
  );
  http.get('/healthz', async () => ({ status: 'ok' }));
  http.get('/readyz', async (_req, reply) => {
    try {
      await ping(db);
      const migrated = await db.migrationsApplied();
      if (!migrated)
        return reply.status(503).send({ status: 'not-ready', database: 'ok', migrations: 'pending' });
      const channels: Record<string, string> = { webchat: 'ready' };
      // Channels are reported but never fail readiness: one provider being down must not take the others off.
      for (const c of host.status()) channels[c.name] = c.state;
      return { status: 'ready', database: 'ok', migrations: 'applied', channels };
    } catch {
      return reply.status(503).send({ status: 'not-ready', database: 'unreachable' });
    }
  });
  http.get('/metrics', async (_req, reply) =>
    reply.header('content-type', registry.contentType).send(await registry.metrics()),
  );

  if (config.ADMIN_TOKEN) registerAdmin(http, config.ADMIN_TOKEN, store, outbox, runtime, host);

  async function deliver(inbound: Inbound): Promise<void> {
    const outcome = await runtime.handle(inbound);
    overrides.onTurn?.(outcome, inbound);
  }
  await webchatAdapter.start?.(deliver);
  host.register(http);
  await runtime.start();
  await host.start();

  let closing: Promise<void> | undefined;
  return {
    config,
    http,
    io,
    runtime,
    store,
    outbox,
    media,
    database: db,
    catalog,
    webchat: webchatAdapter,
    channels: host,
    metrics: registry,
    log,
    async listen() {
      await http.listen({ host: config.HOST, port: config.PORT });
      const addr = http.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.PORT;
      return `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
    },
    close() {
      closing ??= (async () => {
        const deadline = new Promise<void>((r) => setTimeout(r, config.SHUTDOWN_TIMEOUT_MS).unref());
        await webchatAdapter.stop?.();
        await host.stop();
        await Promise.race([runtime.drain(), deadline]);
        await jobs?.stop(Math.min(5_000, config.SHUTDOWN_TIMEOUT_MS)).catch(() => undefined);
        await io.close();
        await http.close().catch(() => undefined);
        await redisClose?.();
        if (ownsDatabase) await db.close();
        releaseLock?.();
      })();
      return closing;
    },
  };
}

function registerAdmin(
  http: FastifyInstance,
  token: string,
  store: CaseStore,
  outbox: OutboxStore,
  runtime: Runtime,
  host: ChannelHost,
): void {
  const expected = Buffer.from(`Bearer ${token}`);
  http.register(
    async (admin) => {
      admin.addHook('onRequest', async (req, reply) => {
        const given = Buffer.from(req.headers.authorization ?? '');
        const { timingSafeEqual } = await import('node:crypto');
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
          return reply
            .status(401)
            .send({ code: 'ADMIN_UNAUTHORIZED', message: 'Send Authorization: Bearer $ADMIN_TOKEN' });
        }
      });
      const limit = z.coerce.number().int().min(1).max(500).default(100);
      admin.get('/channels', async () => ({
        channels: [{ name: 'webchat', kind: 'event-source', state: 'ready' }, ...host.status()],
      }));
      admin.get('/channels/whatsapp-web/qr', async (_req, reply) => {
        // The QR *is* the account: only here, behind the admin token, never in logs.
        const adapter = host.adapter('whatsapp-web') as WhatsappWebAdapter | undefined;
        if (!adapter)
          return reply
            .status(404)
            .send({ code: 'CHANNEL_NOT_CONFIGURED', message: 'whatsapp-web is not configured' });
        return reply.header('cache-control', 'no-store').send(adapter.pairing());
      });
      admin.get('/contacts/:id', async (req, reply) => {
        const { id } = z.object({ id: z.string().uuid() }).parse(req.params);
        const contact = await store.getContact(id as ContactId);
        if (!contact) return reply.status(404).send({ code: 'STORE_NOT_FOUND', message: `No contact ${id}` });
        return { contact };
      });
      admin.get('/cases', async (req) => {
        const q = z
          .object({ status: z.string().optional(), limit, contactId: z.string().uuid().optional() })
          .parse(req.query);
        return {
          cases: await store.listCases({
            ...(q.status ? { status: q.status } : {}),
            limit: q.limit,
            ...(q.contactId ? { contactId: q.contactId as ContactId } : {}),
          }),
        };
      });
      admin.get('/cases/:folio', async (req, reply) => {
        const { folio } = z.object({ folio: z.string().min(1).max(40) }).parse(req.params);
        const found = await store.findCase(folio.toUpperCase());
        if (!found) return reply.status(404).send({ code: 'STORE_NOT_FOUND', message: `No case ${folio}` });
        await store.addCaseEvent(found.id, 'admin', 'viewed', { via: 'admin-api' });
        return { case: found, events: await store.caseEvents(found.id) };
      });
      admin.get('/conversations', async (req) => {
        const q = z
          .object({
            mode: z.enum(['bot', 'queued', 'agent']).optional(),
            queue: z.string().optional(),
            limit,
          })
          .parse(req.query);
        return {
          conversations: await store.listConversations(
            q.mode
              ? { mode: q.mode, ...(q.queue ? { queue: q.queue } : {}), limit: q.limit }
              : { limit: q.limit },
          ),
        };
      });
      admin.get('/conversations/:id/messages', async (req) => {
        const { id } = z.object({ id: z.string().uuid() }).parse(req.params);
        return { messages: await store.listMessages(id as ConversationId) };
      });
      admin.get('/incidents', async (req) => {
        const q = z.object({ status: z.enum(['open', 'resolved']).optional(), limit }).parse(req.query);
        return {
          incidents: await store.listIncidents({ ...(q.status ? { status: q.status } : {}), limit: q.limit }),
        };
      });
      admin.post('/incidents/:hotspotId/resolve', async (req, reply) => {
        const { hotspotId } = z.object({ hotspotId: z.string().min(1).max(100) }).parse(req.params);
        const body = z
          .object({ note: z.string().max(1000).optional(), by: z.string().max(100).optional() })
          .parse(req.body ?? {});
        const done = await runtime.staff.resolveIncident({
          hotspotId,
          ...(body.note ? { note: body.note } : {}),
          by: `admin:${body.by ?? 'api'}`,
        });
        if (!done)
          return reply
            .status(404)
            .send({ code: 'STORE_NOT_FOUND', message: `No open incident for ${hotspotId}` });
        return { incident: done.incident, cases: done.cases.map((c) => c.folio), notified: done.notified };
      });
      admin.post('/cases/:folio/status', async (req) => {
        const { folio } = z.object({ folio: z.string().min(1).max(40) }).parse(req.params);
        const body = z
          .object({
            status: z.string().min(1).max(40),
            note: z.string().max(1000).optional(),
            by: z.string().max(100).optional(),
          })
          .parse(req.body);
        const done = await runtime.staff.changeCaseStatus({
          folio: folio.toUpperCase(),
          status: body.status,
          ...(body.note ? { note: body.note } : {}),
          by: `admin:${body.by ?? 'api'}`,
        });
        return { case: done.case, notified: done.notified };
      });
      admin.get('/outbox/dead', async (req) => {
        const q = z.object({ limit }).parse(req.query);
        return { entries: await outbox.listDead(q.limit) };
      });
    },
    { prefix: '/admin' },
  );
}

/** Run the server (`npm start`). */
async function main(): Promise<void> {
  // LangChain reports to LangSmith when these are set: citizens' messages must never leave the deployment that way.
  delete process.env.LANGSMITH_TRACING;
  delete process.env.LANGCHAIN_TRACING_V2;
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const log = createLogger(config.LOG_LEVEL);
  const started = performance.now();
  let app: App;
  try {
    app = await createApp(config, { logger: log });
  } catch (err) {
    const code = codeOf(err);
    log.fatal({ code, err: (err as Error).message }, 'could not start');
    log.flush();
    process.stderr.write(`Ventanilla could not start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  let url: string;
  try {
    url = await app.listen();
  } catch (err) {
    // e.g. the port is taken: close the database cleanly and release the data folder before leaving.
    log.fatal({ err: (err as Error).message }, 'could not listen');
    await app.close().catch(() => undefined);
    log.flush();
    process.stderr.write(
      `Ventanilla could not listen on ${config.HOST}:${config.PORT}: ${(err as Error).message}\n`,
    );
    process.exit(1);
  }
  log.info(
    {
      url,
      publicUrl: config.PUBLIC_URL,
      database: app.database.kind,
      startupMs: Math.round(performance.now() - started),
    },
    'Ventanilla is ready',
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      // A second Ctrl-C means "now": leave without waiting for the drain.
      log.warn({ signal }, 'forced exit');
      process.exit(130);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    void app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('unhandledRejection', (reason) => {
    // Logged, not fatal: one failed background task must not take every citizen's conversation down.
    log.error({ err: reason instanceof Error ? reason.message : String(reason) }, 'unhandled rejection');
  });
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void main();
}
