/**
 * End-to-end web-chat benchmark: N concurrent simulated citizens file a pothole complaint over socket.io and ask
 * for its status (7 turns each), against the server in a child process (`bench/server.ts`), on PGlite or
 * PostgreSQL. Also: cold start to ready on a populated data folder, idle RSS, graceful shutdown time.
 *
 * Standalone: `npx tsx bench/webchat.ts` (BENCH_CITIZENS, TEST_DATABASE_URL honoured).
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import type { ChatMessageDto } from '../channels/index.ts';
import type { Child, Metrics } from './lib.ts';
import {
  MB,
  cpuOfProcessesNamed,
  freePort,
  onCleanup,
  percentile,
  procCpuMs,
  procMemory,
  rssSampler,
  scrape,
  sleep,
  spawnTs,
  tempDir,
} from './lib.ts';

const TURN_TIMEOUT_MS = 30_000;
const FOLIO_RE = /\b([A-Z]{2,6}-\d{4}-\d{6,})\b/;

type Payload = { kind: 'text'; text: string } | { kind: 'choice'; choiceId: string };

interface Step {
  readonly send: (folio: string | undefined) => Payload;
  /** Why the reply is wrong, or undefined when it is what this step expects. */
  readonly check: (reply: ChatMessageDto, folio: string | undefined) => string | undefined;
}

const hasChoice = (id: string) => (m: ChatMessageDto) =>
  m.kind === 'choices' && m.choices?.some((c) => c.id === id)
    ? undefined
    : `expected choices with "${id}", got ${m.kind}: ${m.text?.slice(0, 60)}`;
const isText = (m: ChatMessageDto) =>
  m.kind === 'text' && m.text ? undefined : `expected a text reply, got ${m.kind}`;

/** The script of one citizen: 7 turns, one bot message each. */
export const SCRIPT: readonly Step[] = [
  { send: () => ({ kind: 'text', text: 'hola' }), check: hasChoice('menu:file-complaint') },
  { send: () => ({ kind: 'choice', choiceId: 'menu:file-complaint' }), check: hasChoice('category:baches') },
  { send: () => ({ kind: 'choice', choiceId: 'category:baches' }), check: isText },
  { send: () => ({ kind: 'text', text: 'Hay un bache enorme frente a la escuela' }), check: isText },
  // A different address per citizen: the same one would (rightly) be offered to join the first citizen's case.
  {
    send: () => ({ kind: 'text', text: `Av. Juárez ${1 + Math.floor(Math.random() * 1e9)}, col. Centro` }),
    check: hasChoice('yes'),
  },
  {
    send: () => ({ kind: 'text', text: 'sí' }),
    check: (m) =>
      m.text && FOLIO_RE.test(m.text) ? undefined : `expected a folio, got: ${m.text?.slice(0, 80)}`,
  },
  {
    send: (folio) => ({ kind: 'text', text: `¿cómo va mi folio ${folio}?` }),
    check: (m, folio) =>
      m.text && folio && m.text.includes(folio) && !/no encontr/i.test(m.text)
        ? undefined
        : `expected the status of ${folio}, got: ${m.text?.slice(0, 80)}`,
  },
];

interface Arrival {
  readonly dto: ChatMessageDto;
  readonly at: number;
}

/** One simulated citizen on its own socket (own X-Forwarded-For, so per-IP limits apply per citizen). */
class Citizen {
  readonly socket: Socket;
  readonly inbox: Arrival[] = [];
  extras = 0;
  #waiter: ((a: Arrival) => void) | undefined;

  constructor(url: string, ip: string | undefined) {
    this.socket = io(`${url}/webchat`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: 20_000,
      ...(ip ? { extraHeaders: { 'x-forwarded-for': ip } } : {}),
    });
    this.socket.on('message.created', (dto: ChatMessageDto) => {
      if (dto.direction !== 'out') return;
      const arrival = { dto, at: performance.now() };
      const w = this.#waiter;
      if (w) {
        this.#waiter = undefined;
        w(arrival);
      } else this.inbox.push(arrival);
    });
  }

  connected(): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((res, rej) => {
      this.socket.once('connect', () => res());
      this.socket.once('connect_error', (err) => rej(new Error(`connect_error: ${err.message}`)));
    });
  }

  #next(timeoutMs: number): Promise<Arrival> {
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((res, rej) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        rej(new Error('no bot reply within the turn timeout'));
      }, timeoutMs);
      timer.unref();
      this.#waiter = (a) => {
        clearTimeout(timer);
        res(a);
      };
    });
  }

  /** One turn: emit, wait for the ack and the bot's message; latency = emit → arrival of that message. */
  async turn(payload: Payload): Promise<{ latencyMs: number; reply: ChatMessageDto }> {
    if (this.inbox.length > 0) {
      // A previous turn produced more than one bot message: not this script's contract.
      this.extras += this.inbox.length;
      this.inbox.length = 0;
    }
    const t0 = performance.now();
    const reply = this.#next(TURN_TIMEOUT_MS);
    reply.catch(() => undefined);
    const ack = (await this.socket
      .timeout(TURN_TIMEOUT_MS)
      .emitWithAck('message.send', { clientId: randomUUID(), ...payload })) as {
      ok: boolean;
      code?: string;
      message?: string;
    };
    if (!ack.ok) throw new Error(`ack ${ack.code}: ${ack.message}`);
    const arrival = await reply;
    return { latencyMs: arrival.at - t0, reply: arrival.dto };
  }

  close(): void {
    this.socket.disconnect();
  }
}

interface ConversationResult {
  readonly ok: boolean;
  readonly turns: number;
  /** Optional questions answered with "skip" (not in the 7-turn script). */
  readonly skips: number;
  readonly folio?: string;
  readonly reason?: string;
}

/** The choice id of optional questions ("Omitir"), answered with it when the script does not expect them. */
export const SKIP_CHOICE_ID = 'skip';
const MAX_SKIPS_PER_STEP = 2;

const skippable = (m: ChatMessageDto) =>
  m.kind === 'choices' && m.choices?.some((c) => c.id === SKIP_CHOICE_ID);

async function converse(citizen: Citizen, latencies: number[]): Promise<ConversationResult> {
  let folio: string | undefined;
  let turns = 0;
  let skips = 0;
  const fail = (step: number, reason: string): ConversationResult => ({
    ok: false,
    turns,
    skips,
    ...(folio ? { folio } : {}),
    reason: `turn ${step}: ${reason}`,
  });
  for (const [i, step] of SCRIPT.entries()) {
    let payload = step.send(folio);
    for (let attempt = 0; ; attempt++) {
      let result: { latencyMs: number; reply: ChatMessageDto };
      try {
        result = await citizen.turn(payload);
      } catch (err) {
        return fail(i + 1, (err as Error).message);
      }
      turns++;
      latencies.push(result.latencyMs);
      const wrong = step.check(result.reply, folio);
      if (!wrong) {
        if (i === 5) folio = FOLIO_RE.exec(result.reply.text ?? '')?.[1];
        break;
      }
      // An optional question the script does not know (e.g. "send a photo or skip"): skip it, then expect the
      // same reply as before. Counted, so the table shows the conversation grew.
      if (attempt >= MAX_SKIPS_PER_STEP || !skippable(result.reply)) return fail(i + 1, wrong);
      skips++;
      payload = { kind: 'choice', choiceId: SKIP_CHOICE_ID };
    }
  }
  return { ok: true, turns, skips, ...(folio ? { folio } : {}) };
}

let ipCounter = 0;
const nextIp = () => {
  ipCounter++;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
};

/** Run `n` citizens at once (connect all, then start all conversations together). */
async function crowd(
  url: string,
  n: number,
  sameIp: boolean,
): Promise<{ results: ConversationResult[]; latencies: number[]; wallMs: number; extras: number }> {
  const citizens = Array.from({ length: n }, () => new Citizen(url, sameIp ? undefined : nextIp()));
  const connected = await Promise.all(
    citizens.map((c) =>
      c.connected().then(
        () => undefined,
        (err: Error) => err.message,
      ),
    ),
  );
  const latencies: number[] = [];
  const started = performance.now();
  const results = await Promise.all(
    citizens.map((c, i) => {
      const error = connected[i];
      return error === undefined
        ? converse(c, latencies)
        : Promise.resolve<ConversationResult>({ ok: false, turns: 0, skips: 0, reason: `connect: ${error}` });
    }),
  );
  const wallMs = performance.now() - started;
  await sleep(300); // late extra messages, post-commit dispatch bookkeeping
  let extras = 0;
  for (const c of citizens) {
    extras += c.extras + c.inbox.length;
    c.close();
  }
  return { results, latencies, wallMs, extras };
}

/** Transaction probe of bench/server.ts. */
interface TxStats {
  probe: boolean;
  transactions: number;
  failedTransactions: number;
  histogram: Record<string, number>;
}

async function txStats(url: string): Promise<TxStats> {
  return (await (await fetch(`${url}/bench/tx-stats`)).json()) as TxStats;
}

function histogramDelta(a: TxStats, b: TxStats): Map<number, number> {
  const out = new Map<number, number>();
  for (const [k, v] of Object.entries(b.histogram)) {
    const d = v - (a.histogram[k] ?? 0);
    if (d > 0) out.set(Number(k), d);
  }
  return out;
}

/** Δ of a Prometheus histogram between two scrapes: count, mean, share of observations ≤ `limit`, top bucket. */
function histogramFromMetrics(
  m0: Metrics,
  m1: Metrics,
  name: string,
  limit: number,
): WebchatResult['productHistogram'] | undefined {
  const count = m1.sum(`${name}_count`) - (m0.sum(`${name}_count`) || 0);
  if (!Number.isFinite(count) || count <= 0) return undefined;
  const sum = m1.sum(`${name}_sum`) - (m0.sum(`${name}_sum`) || 0);
  const bucket = (le: string) => m1.sum(`${name}_bucket`, { le }) - (m0.sum(`${name}_bucket`, { le }) || 0);
  const les = m1.samples
    .filter((x) => x.name === `${name}_bucket`)
    .map((x) => x.labels.le ?? '')
    .sort((a, b) => (a === '+Inf' ? 1 : b === '+Inf' ? -1 : Number(a) - Number(b)));
  const maxBucket = les.find((le) => bucket(le) >= count) ?? '+Inf';
  return { count, mean: sum / count, atMost6: bucket(String(limit)) / count, maxBucket };
}

/** A fresh database `bench_<pid>` on the server of `testUrl`, dropped by `drop()` (also on Ctrl-C). */
export async function createBenchDatabase(
  testUrl: string,
): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: testUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(testUrl);
  u.pathname = `/${name}`;
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    unregister();
    const c = new pg.Client({ connectionString: testUrl });
    await c.connect();
    try {
      await c.query(`drop database if exists ${name} with (force)`);
    } finally {
      await c.end();
    }
  };
  const unregister = onCleanup(drop);
  return { url: u.toString(), name, drop };
}

/** Options of {@link runWebchat}. */
export interface WebchatOptions {
  readonly backend: 'pglite' | 'postgres';
  readonly citizens: number;
  readonly warmupCitizens: number;
  /** Data folder (kept for the cold-start run when given; a temp folder otherwise). */
  readonly dataDir?: string;
  /** PostgreSQL connection string (backend `postgres`). */
  readonly databaseUrl?: string;
  /** Called as soon as the server child exists (so a caller's timeout can report on it). */
  readonly onChild?: (child: Child) => void;
  /**
   * All citizens from one IP (no X-Forwarded-For, TRUST_PROXY off), as behind one NAT: the per-IP connection and
   * message limits of the web-chat channel then apply to the whole crowd. Default false.
   */
  readonly sameIp?: boolean;
}

/** Result of {@link runWebchat}. */
export interface WebchatResult {
  readonly backend: 'pglite' | 'postgres';
  readonly citizens: number;
  /** Spawn → URL printed and /readyz 200, on an empty data folder / database (migrations included). */
  readonly firstStartMs: number;
  readonly turns: number;
  readonly serverTurns: number;
  readonly turnOutcomes: Record<string, number>;
  readonly wallMs: number;
  readonly turnsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly cpuMsPerTurn: number;
  readonly procCpuMsPerTurn: number;
  /** PostgreSQL server processes' CPU per turn (postgres backend only; approximate, all databases). */
  readonly pgCpuMsPerTurn?: number;
  readonly statementsPerTurn: number;
  readonly transactionsPerTurn: number;
  readonly statementsPerTransactionMean: number;
  readonly statementsPerTransactionMax: number;
  readonly statementsPerTransactionHistogram: Map<number, number>;
  readonly statementsOutsideTransactionsPerTurn: number;
  readonly probe: boolean;
  readonly peakRssMb: number;
  readonly hwmMb: number;
  readonly failed: number;
  readonly failures: Map<string, number>;
  readonly extraBotMessages: number;
  /** Optional questions the citizens skipped (turns beyond the 7-turn script), and mean turns per conversation. */
  readonly optionalSkips: number;
  readonly turnsPerConversation: number;
  /** From the product's own `ventanilla_transaction_statements` histogram (Δ over the run), when it exists. */
  readonly productHistogram?: {
    readonly count: number;
    readonly mean: number;
    readonly atMost6: number;
    readonly maxBucket: string;
  };
  /** `ventanilla_outbox_depth` after the run (replies not yet sent nor dead) and Δ `ventanilla_outbox_failures_total`. */
  readonly outboxDepthAfter: number;
  readonly outboxFailures: number;
  readonly folios: number;
  readonly duplicateFolios: string[];
  readonly shutdownMs: number;
  readonly shutdownKilled: boolean;
  readonly serverLog: Map<string, number>;
}

/** Load benchmark: warm-up, then N concurrent citizens; metrics deltas around the measured phase. */
export async function runWebchat(opts: WebchatOptions): Promise<WebchatResult> {
  const dataDir = opts.dataDir ?? tempDir(`ventanilla-bench-${opts.backend}-`);
  const child = spawnTs('bench/server.ts', {
    BENCH_DATA_DIR: dataDir,
    ...(opts.databaseUrl ? { BENCH_DATABASE_URL: opts.databaseUrl } : {}),
    ...(opts.sameIp ? { BENCH_TRUST_PROXY: 'false' } : {}),
  });
  opts.onChild?.(child);
  try {
    const { url } = (await child.ready) as { url: string };
    const readyRes = await fetch(`${url}/readyz`);
    const firstStartMs = performance.now() - child.spawnedAt;
    if (readyRes.status !== 200) throw new Error(`/readyz answered ${readyRes.status}`);

    const sampler = rssSampler(child.pid, 100);

    // Warm-up (JIT, caches, first folio of the year, connection pools).
    const warm = await crowd(url, opts.warmupCitizens, opts.sameIp ?? false);
    const warmFailures = warm.results.filter((r) => !r.ok).map((r) => r.reason);

    const m0 = await scrape(url);
    const tx0 = await txStats(url);
    const cpu0 = procCpuMs(child.pid) ?? Number.NaN;
    const pg0 = opts.backend === 'postgres' ? cpuOfProcessesNamed('postgres') : Number.NaN;

    const run = await crowd(url, opts.citizens, opts.sameIp ?? false);

    const m1 = await scrape(url);
    const tx1 = await txStats(url);
    const cpu1 = procCpuMs(child.pid) ?? Number.NaN;
    const pg1 = opts.backend === 'postgres' ? cpuOfProcessesNamed('postgres') : Number.NaN;
    const rss = sampler.stop();

    const delta = (name: string, filter?: Record<string, string>) =>
      m1.sum(name, filter) - m0.sum(name, filter);
    const serverTurns = delta('ventanilla_turns_total', { channel: 'webchat' });
    const turnOutcomes: Record<string, number> = {};
    for (const outcome of new Set(
      m1.samples.filter((s) => s.name === 'ventanilla_turns_total').map((s) => s.labels.outcome ?? ''),
    )) {
      const d =
        (m1.sum('ventanilla_turns_total', { channel: 'webchat', outcome }) || 0) -
        (m0.sum('ventanilla_turns_total', { channel: 'webchat', outcome }) || 0);
      if (d) turnOutcomes[outcome] = d;
    }
    const statements = delta('ventanilla_db_statements');
    const transactions = delta('ventanilla_db_transactions');
    const hist = histogramDelta(tx0, tx1);
    let inTx = 0;
    let txCount = 0;
    let maxPerTx = 0;
    for (const [k, v] of hist) {
      inTx += k * v;
      txCount += v;
      maxPerTx = Math.max(maxPerTx, k);
    }

    const productHistogram = histogramFromMetrics(m0, m1, 'ventanilla_transaction_statements', 6);

    const failures = new Map<string, number>();
    for (const reason of [
      ...warmFailures.map((r) => `warm-up: ${r}`),
      ...run.results.filter((r) => !r.ok).map((r) => r.reason ?? '?'),
    ]) {
      const key = reason.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<uuid>').replace(/VER-\d{4}-\d+/g, '<folio>');
      failures.set(key, (failures.get(key) ?? 0) + 1);
    }
    const folios = [...warm.results, ...run.results].flatMap((r) => (r.folio ? [r.folio] : []));
    const seen = new Set<string>();
    const duplicateFolios = folios.filter((f) => (seen.has(f) ? true : (seen.add(f), false)));
    const turns = run.latencies.length;

    const shutdown = await child.terminate(20_000);
    return {
      backend: opts.backend,
      citizens: opts.citizens,
      firstStartMs,
      turns,
      serverTurns,
      turnOutcomes,
      wallMs: run.wallMs,
      turnsPerSec: (turns / run.wallMs) * 1000,
      p50Ms: percentile(run.latencies, 50),
      p99Ms: percentile(run.latencies, 99),
      maxMs: percentile(run.latencies, 100),
      cpuMsPerTurn: (delta('ventanilla_process_cpu_seconds_total') * 1000) / serverTurns,
      procCpuMsPerTurn: (cpu1 - cpu0) / serverTurns,
      ...(opts.backend === 'postgres' ? { pgCpuMsPerTurn: (pg1 - pg0) / serverTurns } : {}),
      statementsPerTurn: statements / serverTurns,
      transactionsPerTurn: transactions / serverTurns,
      statementsPerTransactionMean: txCount ? inTx / txCount : Number.NaN,
      statementsPerTransactionMax: txCount ? maxPerTx : Number.NaN,
      statementsPerTransactionHistogram: hist,
      statementsOutsideTransactionsPerTurn: tx1.probe ? (statements - inTx) / serverTurns : Number.NaN,
      probe: tx1.probe,
      peakRssMb: rss.peak / MB,
      hwmMb: rss.hwm / MB,
      failed: run.results.filter((r) => !r.ok).length,
      failures,
      extraBotMessages: run.extras + warm.extras,
      optionalSkips: run.results.reduce((n, r) => n + r.skips, 0),
      turnsPerConversation: turns / opts.citizens,
      ...(productHistogram ? { productHistogram } : {}),
      outboxDepthAfter: m1.sum('ventanilla_outbox_depth'),
      outboxFailures:
        (m1.sum('ventanilla_outbox_failures_total') || 0) - (m0.sum('ventanilla_outbox_failures_total') || 0),
      folios: folios.length,
      duplicateFolios,
      shutdownMs: shutdown.ms,
      shutdownKilled: shutdown.killed,
      serverLog: child.stderrCounts,
    };
  } finally {
    child.kill();
  }
}

/** Result of {@link runColdStart}. */
export interface ColdStartResult {
  readonly readyMs: number;
  readonly idleRssMb: number;
  readonly idleHwmMb: number;
  readonly idleWaitMs: number;
  readonly shutdownMs: number;
  readonly shutdownKilled: boolean;
  readonly serverLog: Map<string, number>;
  /** A second load run on the restarted server (no first-start/initdb residue in its memory). */
  readonly load?: {
    readonly citizens: number;
    readonly turnsPerSec: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly peakRssMb: number;
    readonly failed: number;
    readonly failures: Map<string, number>;
  };
}

/** Start on an existing (populated) data folder; spawn → GET /readyz 200 polled every 50 ms; idle RSS; SIGTERM. */
export async function runColdStart(opts: {
  dataDir: string;
  databaseUrl?: string;
  idleMs?: number;
  /** Citizens of a load run after the idle measurement (0 = none). */
  loadCitizens?: number;
  sameIp?: boolean;
  onChild?: (child: Child) => void;
}): Promise<ColdStartResult> {
  const port = await freePort();
  const child = spawnTs('bench/server.ts', {
    BENCH_DATA_DIR: opts.dataDir,
    BENCH_PORT: String(port),
    ...(opts.databaseUrl ? { BENCH_DATABASE_URL: opts.databaseUrl } : {}),
    ...(opts.sameIp ? { BENCH_TRUST_PROXY: 'false' } : {}),
  });
  opts.onChild?.(child);
  try {
    const base = `http://127.0.0.1:${port}`;
    let readyMs = Number.NaN;
    for (;;) {
      if (child.process.exitCode !== null)
        throw new Error(`server exited during cold start: ${child.stderrTail.slice(-3).join(' | ')}`);
      try {
        const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        if (res.status === 200) {
          readyMs = performance.now() - child.spawnedAt;
          break;
        }
      } catch {
        // not listening yet
      }
      if (performance.now() - child.spawnedAt > 45_000) throw new Error('not ready after 45 s');
      await sleep(50);
    }
    const idleMs = opts.idleMs ?? 3_000;
    await sleep(idleMs);
    const mem = procMemory(child.pid);
    let load: ColdStartResult['load'];
    if (opts.loadCitizens) {
      const sampler = rssSampler(child.pid, 100);
      const run = await crowd(base, opts.loadCitizens, opts.sameIp ?? false);
      const rss = sampler.stop();
      const failures = new Map<string, number>();
      for (const r of run.results)
        if (!r.ok) failures.set(r.reason ?? '?', (failures.get(r.reason ?? '?') ?? 0) + 1);
      load = {
        citizens: opts.loadCitizens,
        turnsPerSec: (run.latencies.length / run.wallMs) * 1000,
        p50Ms: percentile(run.latencies, 50),
        p99Ms: percentile(run.latencies, 99),
        peakRssMb: rss.peak / MB,
        failed: run.results.filter((r) => !r.ok).length,
        failures,
      };
    }
    const shutdown = await child.terminate(20_000);
    return {
      ...(load ? { load } : {}),
      readyMs,
      idleRssMb: (mem?.rss ?? Number.NaN) / MB,
      idleHwmMb: (mem?.hwm ?? Number.NaN) / MB,
      idleWaitMs: idleMs,
      shutdownMs: shutdown.ms,
      shutdownKilled: shutdown.killed,
      serverLog: child.stderrCounts,
    };
  } finally {
    child.kill();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const citizens = Number(process.env.BENCH_CITIZENS ?? 50);
  const dataDir = tempDir('ventanilla-bench-pglite-');
  const sameIp = process.env.BENCH_SAME_IP === '1';
  const result = await runWebchat({ backend: 'pglite', citizens, warmupCitizens: 2, dataDir, sameIp });
  console.log(result);
  console.log(await runColdStart({ dataDir, loadCitizens: citizens, sameIp }));
  if (process.env.TEST_DATABASE_URL) {
    const db = await createBenchDatabase(process.env.TEST_DATABASE_URL);
    try {
      console.log(
        await runWebchat({ backend: 'postgres', citizens, warmupCitizens: 2, databaseUrl: db.url, sameIp }),
      );
    } finally {
      await db.drop();
    }
  }
  process.exit(0);
}
