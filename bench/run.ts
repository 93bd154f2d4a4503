/**
 * `npm run bench` → `tsx bench/run.ts`: the reference echo server, then the web-chat benchmark on PGlite (load,
 * then cold start on the populated data folder), then on PostgreSQL when TEST_DATABASE_URL is set, then the dialog
 * benchmark, then the Telegram webhook benchmark (bench/telegram.ts: a bare telegraf webhook, then Ventanilla on
 * PGlite and on PostgreSQL, all replying to a fake Bot API in its own process). Each benchmark
 * has a hard timeout (children killed, "timed out" printed). Prints one plain-text table; exit code 0 whatever
 * the figures are (a missed target is marked MISSED).
 *
 * Environment: BENCH_CITIZENS (50), BENCH_WARMUP_CITIZENS (2), BENCH_ECHO_MS (3000), BENCH_TIMEOUT_MS (60000 per
 * benchmark), BENCH_SAME_IP=1 (all citizens from one IP, as behind one NAT), TEST_DATABASE_URL.
 * The dialog benchmark (bench/dialogs/: Ventanilla's router vs botbuilder-dialogs, in process) reads
 * BENCH_DIALOG_CITIZENS (BENCH_CITIZENS), BENCH_DIALOG_WARMUP_MS (2000), BENCH_DIALOG_MS (10000) and
 * BENCH_DIALOG_STORE (Ventanilla's storage: `memory`, the default, or `pglite`).
 * The Telegram benchmark reads BENCH_TELEGRAM_CONNECTIONS (50 keep-alive connections), BENCH_TELEGRAM_CHATS (2 × the
 * connections: the citizens they take turns from), BENCH_TELEGRAM_WARMUP_MS (2000) and BENCH_TELEGRAM_MS (8000
 * measured), per side; BENCH_CPU_PROFILE=<file> has a benchmarked server write its V8 CPU profile on shutdown.
 */
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import type { EchoResult } from './echo.ts';
import { runEcho } from './echo.ts';
import type { DialogBenchResult } from './dialogs/index.ts';
import { runDialogSide } from './dialogs/index.ts';
import type { Child } from './lib.ts';
import { MB, TimeoutError, fmt, killChildren, tempDir, withTimeout } from './lib.ts';
import type { TelegramResult } from './telegram.ts';
import { runTelegramSide, telegramNotes, telegramRows } from './telegram.ts';
import type { ColdStartResult, WebchatResult } from './webchat.ts';
import { SCRIPT, createBenchDatabase, runColdStart, runWebchat } from './webchat.ts';

const citizens = Number(process.env.BENCH_CITIZENS ?? 50);
const warmupCitizens = Number(process.env.BENCH_WARMUP_CITIZENS ?? 2);
const echoMs = Number(process.env.BENCH_ECHO_MS ?? 3_000);
const timeoutMs = Number(process.env.BENCH_TIMEOUT_MS ?? 60_000);
const sameIp = process.env.BENCH_SAME_IP === '1';
const testDatabaseUrl = process.env.TEST_DATABASE_URL;

const TARGET = {
  transactionsPerTurn: 1,
  statementsPerTransaction: 6,
  coldStartMs: 10_000,
  idleRssMb: 300,
  failedConversations: 0,
};

type Outcome<T> = { ok: true; value: T; ms: number } | { ok: false; error: string; ms: number };

const notes: string[] = [];

/** Run one benchmark under the hard timeout; on timeout or error kill its children and carry on. */
async function bench<T>(name: string, fn: (track: (c: Child) => void) => Promise<T>): Promise<Outcome<T>> {
  const t0 = performance.now();
  const own: Child[] = [];
  process.stderr.write(`… ${name}\n`);
  try {
    const value = await withTimeout(
      fn((c) => own.push(c)),
      timeoutMs,
      name,
    );
    return { ok: true, value, ms: performance.now() - t0 };
  } catch (err) {
    for (const c of own) c.kill();
    killChildren();
    const timedOut = err instanceof TimeoutError;
    const error = timedOut ? `timed out after ${timeoutMs} ms` : `failed: ${(err as Error).message}`;
    const tails = own.flatMap((c) => c.stderrTail.slice(-5));
    notes.push(
      `${name}: ${error}${tails.length ? `\n    server stderr tail:\n      ${tails.join('\n      ')}` : ''}`,
    );
    process.stderr.write(`  ${name} ${error}\n`);
    return { ok: false, error: timedOut ? 'timed out' : 'failed (see notes)', ms: performance.now() - t0 };
  }
}

// ---------------------------------------------------------------- run

const startedAt = new Date();
const runStarted = performance.now();
const loadBefore = loadavg();

const echo = await bench('echo', () => runEcho({ clients: citizens, durationMs: echoMs }));

const pgliteDir = tempDir('ventanilla-bench-pglite-');
const pglite = await bench('webchat pglite', (track) =>
  runWebchat({ backend: 'pglite', citizens, warmupCitizens, dataDir: pgliteDir, sameIp, onChild: track }),
);
const cold = await bench('cold start pglite', (track) =>
  runColdStart({ dataDir: pgliteDir, loadCitizens: citizens, sameIp, onChild: track }),
);

let postgres: Outcome<WebchatResult> | undefined;
if (testDatabaseUrl) {
  let database: Awaited<ReturnType<typeof createBenchDatabase>> | undefined;
  postgres = await bench('webchat postgres', async (track) => {
    database = await createBenchDatabase(testDatabaseUrl);
    return runWebchat({
      backend: 'postgres',
      citizens,
      warmupCitizens,
      databaseUrl: database.url,
      sameIp,
      onChild: track,
    });
  });
  if (database) {
    await withTimeout(database.drop(), 15_000, 'drop database').catch((err: unknown) =>
      notes.push(`could not drop ${database?.name}: ${String(err)}`),
    );
  }
}

const dialogCitizens = Number(process.env.BENCH_DIALOG_CITIZENS ?? citizens);
const dialogsVentanilla = await bench('dialogs ventanilla', (track) =>
  runDialogSide('ventanilla', { citizens: dialogCitizens, onChild: track }),
);
const dialogsBotbuilder = await bench('dialogs botbuilder', (track) =>
  runDialogSide('botbuilder', { citizens: dialogCitizens, onChild: track }),
);

const telegramBare = await bench('telegram bare telegraf', (track) =>
  runTelegramSide('bare', { onChild: track }),
);
const telegramPglite = await bench('telegram pglite', (track) =>
  runTelegramSide('pglite', { onChild: track }),
);
let telegramPostgres: Outcome<TelegramResult> | undefined;
if (testDatabaseUrl) {
  let database: Awaited<ReturnType<typeof createBenchDatabase>> | undefined;
  telegramPostgres = await bench('telegram postgres', async (track) => {
    database = await createBenchDatabase(testDatabaseUrl);
    return runTelegramSide('postgres', { databaseUrl: database.url, onChild: track });
  });
  if (database) {
    await withTimeout(database.drop(), 15_000, 'drop database').catch((err: unknown) =>
      notes.push(`could not drop ${database?.name}: ${String(err)}`),
    );
  }
}

const totalMs = performance.now() - runStarted;

// ---------------------------------------------------------------- table

type Row = readonly [string, string, string, string];
const rows: (Row | 'sep')[] = [];

function target(value: number, op: '≤' | '=', limit: number, unit = ''): string {
  if (!Number.isFinite(value)) return `${op} ${fmt(limit, 0)}${unit}  n/a`;
  const ok = op === '≤' ? value <= limit + 1e-9 : Math.abs(value - limit) < 1e-9;
  return `${op} ${fmt(limit, 0)}${unit}  ${ok ? 'OK' : 'MISSED'}`;
}

const ratio = (a: number, b: number) =>
  Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : Number.NaN;
const times = (n: number) => (Number.isFinite(n) ? `×${fmt(n, n < 10 ? 2 : 1)}` : 'n/a');

const e: EchoResult | undefined = echo.ok ? echo.value : undefined;
if (echo.ok) {
  const v = echo.value;
  rows.push([
    'echo req/s',
    fmt(v.requestsPerSec, 0),
    '',
    `${v.clients} keep-alive clients, ${fmt(v.wallMs / 1000, 1)} s, ${v.requests} requests, ${v.failed} failed`,
  ]);
  rows.push([
    'echo p50 / p99 ms',
    `${fmt(v.p50Ms, 1)} / ${fmt(v.p99Ms, 1)}`,
    '',
    'POST small JSON → echoed JSON (global fetch)',
  ]);
  rows.push([
    'echo server CPU ms/request',
    fmt(v.cpuMsPerRequest, 3),
    '',
    'process.cpuUsage() of the echo process',
  ]);
} else {
  rows.push(['echo', echo.error, '', '']);
}

function webchatRows(label: string, o: Outcome<WebchatResult>): void {
  rows.push('sep');
  if (!o.ok) {
    rows.push([`${label}`, o.error, '', '']);
    return;
  }
  const w = o.value;
  const hist = [...w.statementsPerTransactionHistogram].map(([k, v]) => `${k} stmts × ${v}`).join(', ');
  rows.push([
    `${label} turns/s`,
    fmt(w.turnsPerSec, 1),
    '',
    `${times(ratio(w.turnsPerSec, e?.requestsPerSec ?? Number.NaN))} echo req/s; ${w.turns} turns in ${fmt(w.wallMs / 1000, 2)} s` +
      (w.optionalSkips
        ? `; ${fmt(w.turnsPerConversation, 2)} turns/conversation (${w.optionalSkips} optional questions skipped)`
        : ''),
  ]);
  rows.push([
    `${label} p50 / p99 ms`,
    `${fmt(w.p50Ms, 1)} / ${fmt(w.p99Ms, 1)}`,
    '',
    `p50 ${times(ratio(w.p50Ms, e?.p50Ms ?? Number.NaN))}, p99 ${times(ratio(w.p99Ms, e?.p99Ms ?? Number.NaN))} echo; max ${fmt(w.maxMs, 0)}`,
  ]);
  rows.push([
    `${label} server CPU ms/turn`,
    fmt(w.cpuMsPerTurn, 2),
    '',
    `${times(ratio(w.cpuMsPerTurn, e?.cpuMsPerRequest ?? Number.NaN))} echo CPU/request` +
      (w.pgCpuMsPerTurn !== undefined
        ? `; + PostgreSQL processes ${fmt(w.pgCpuMsPerTurn, 2)} ms/turn`
        : '; PGlite runs inside the server process'),
  ]);
  rows.push([
    `${label} DB statements/turn (all)`,
    fmt(w.statementsPerTurn, 2),
    '',
    'ventanilla_db_statements Δ / turns; includes post-commit dispatch',
  ]);
  rows.push([
    `${label} DB transactions/turn`,
    fmt(w.transactionsPerTurn, 2),
    target(w.transactionsPerTurn, '=', TARGET.transactionsPerTurn),
    `${w.serverTurns} server turns ${JSON.stringify(w.turnOutcomes)}`,
  ]);
  const ph = w.productHistogram;
  rows.push([
    `${label} statements/transaction`,
    w.probe
      ? `${fmt(w.statementsPerTransactionMean, 2)} (max ${fmt(w.statementsPerTransactionMax, 0)})`
      : 'probe off',
    target(w.statementsPerTransactionMax, '≤', TARGET.statementsPerTransaction),
    `incl. BEGIN+COMMIT; bench probe: ${hist}`,
  ]);
  rows.push([
    `${label} ventanilla_transaction_statements`,
    ph ? `${fmt(ph.mean, 2)} (≤ ${ph.maxBucket})` : 'absent',
    ph ? target(ph.atMost6, '=', 1).replace('= 1', 'all ≤ 6') : '',
    ph
      ? `product histogram Δ: ${ph.count} transactions, ${fmt(ph.atMost6 * 100, 1)} % in le="6"`
      : 'product metric not exposed by this build',
  ]);
  rows.push([
    `${label} statements outside tx/turn`,
    fmt(w.statementsOutsideTransactionsPerTurn, 2),
    '',
    'outbox lease + markSent per reply, 1st-turn resolveConversation, /metrics',
  ]);
  rows.push([
    `${label} peak RSS under load MB`,
    fmt(w.peakRssMb, 0),
    '',
    `VmRSS sampled every 100 ms; VmHWM since start ${fmt(w.hwmMb, 0)}`,
  ]);
  rows.push([
    `${label} failed conversations`,
    `${w.failed}/${w.citizens}`,
    target(w.failed, '=', TARGET.failedConversations),
    `folios ${w.folios}, duplicate folios ${w.duplicateFolios.length}, extra bot messages ${w.extraBotMessages}, outbox depth after ${fmt(w.outboxDepthAfter, 0)}, delivery failures ${fmt(w.outboxFailures, 0)}`,
  ]);
  rows.push([
    `${label} first start ms`,
    fmt(w.firstStartMs, 0),
    '',
    'empty data folder/database: spawn → /readyz 200 (migrations, pg-boss schema)',
  ]);
  rows.push([
    `${label} graceful shutdown ms`,
    fmt(w.shutdownMs, 0),
    '',
    w.shutdownKilled ? 'had to SIGKILL' : 'SIGTERM → exit, after the load run',
  ]);
}

if (pglite) webchatRows('webchat pglite', pglite);

rows.push('sep');
if (cold.ok) {
  const c: ColdStartResult = cold.value;
  rows.push([
    'cold start pglite → ready ms',
    fmt(c.readyMs, 0),
    target(c.readyMs, '≤', TARGET.coldStartMs),
    'populated data folder; spawn → GET /readyz 200, polled every 50 ms',
  ]);
  rows.push([
    'idle RSS pglite MB',
    fmt(c.idleRssMb, 0),
    target(c.idleRssMb, '≤', TARGET.idleRssMb),
    `VmRSS ${fmt(c.idleWaitMs / 1000, 0)} s after ready; VmHWM ${fmt(c.idleHwmMb, 0)}`,
  ]);
  if (c.load) {
    rows.push([
      'restarted pglite peak RSS under load MB',
      fmt(c.load.peakRssMb, 0),
      '',
      `same ${c.load.citizens}-citizen load after the idle reading: ${fmt(c.load.turnsPerSec, 1)} turns/s, p50/p99 ${fmt(c.load.p50Ms, 0)}/${fmt(c.load.p99Ms, 0)} ms, ${c.load.failed} failed`,
    ]);
  }
  rows.push([
    'graceful shutdown pglite ms',
    fmt(c.shutdownMs, 0),
    '',
    c.shutdownKilled ? 'had to SIGKILL' : c.load ? 'SIGTERM → exit, after that load' : 'SIGTERM → exit',
  ]);
} else {
  // A timeout longer than the target means the target was missed too.
  const missed = cold.error === 'timed out' && timeoutMs >= TARGET.coldStartMs;
  rows.push([
    'cold start pglite',
    cold.error,
    target(missed ? Number.MAX_VALUE : Number.NaN, '≤', TARGET.coldStartMs),
    '',
  ]);
}

if (postgres) webchatRows('webchat postgres', postgres);
else {
  rows.push('sep');
  rows.push(['webchat postgres', 'skipped', '', 'set TEST_DATABASE_URL to run it']);
}

function dialogRows(label: string, o: Outcome<DialogBenchResult>): DialogBenchResult | undefined {
  if (!o.ok) {
    rows.push([`dialogs ${label}`, o.error, '', '']);
    return undefined;
  }
  const d = o.value;
  rows.push([
    `dialogs ${label} turns/s`,
    fmt(d.turnsPerSec, 1),
    '',
    `${d.citizens} concurrent citizens, ${d.turns} turns, ${d.conversations} complaints in ${fmt(d.wallMs / 1000, 2)} s; ${d.notes ?? ''}`,
  ]);
  rows.push([
    `dialogs ${label} p50 / p99 ms`,
    `${fmt(d.p50Ms, 1)} / ${fmt(d.p99Ms, 1)}`,
    '',
    `max ${fmt(d.maxMs, 0)}`,
  ]);
  rows.push([
    `dialogs ${label} CPU ms/turn`,
    fmt(d.cpuMsPerTurn, 2),
    '',
    'process.cpuUsage() Δ of the child / turns',
  ]);
  rows.push([
    `dialogs ${label} peak RSS MB`,
    fmt(d.peakRssMb, 0),
    '',
    `process.memoryUsage().rss every 50 ms; start-up ${fmt(d.startupMs, 0)} ms (NLU ${d.nluTrained ? 'trained' : 'cached'} ${fmt(d.nluMs, 0)} ms)`,
  ]);
  rows.push([
    `dialogs ${label} failed conversations`,
    `${d.failedConversations}/${d.conversations}`,
    target(d.failedConversations, '=', 0),
    d.firstFailure ?? 'each conversation ended with a folio',
  ]);
  return d;
}

rows.push('sep');
const dv = dialogRows('ventanilla', dialogsVentanilla);
const db = dialogRows('botbuilder', dialogsBotbuilder);
{
  const r = ratio(dv?.turnsPerSec ?? Number.NaN, db?.turnsPerSec ?? Number.NaN);
  rows.push([
    'dialogs ratio (≥ 1.5×)',
    times(r),
    Number.isFinite(r) ? `≥ ×1.5  ${r >= 1.5 ? 'OK' : 'MISSED'}` : '≥ ×1.5  n/a',
    'Ventanilla ÷ botbuilder turns/s; complaint flow, NLU on every turn, in process, same citizens',
  ]);
}

rows.push('sep');
rows.push(
  ...telegramRows(telegramBare, [
    ['pglite', telegramPglite],
    ['postgres', telegramPostgres],
  ]),
);

const header: Row = ['benchmark', 'value', 'target', 'ratio/notes'];
const widths = [0, 1, 2].map((i) =>
  Math.max(header[i]!.length, ...rows.map((r) => (r === 'sep' ? 0 : r[i]!.length))),
);
const line = (r: Row) =>
  `${r[0].padEnd(widths[0]!)}  ${r[1].padStart(widths[1]!)}  ${r[2].padEnd(widths[2]!)}  ${r[3]}`.trimEnd();

const cpuModel = cpus()[0]?.model.trim() ?? 'unknown CPU';
const out: string[] = [];
out.push(`Ventanilla benchmark — ${startedAt.toISOString()}`);
out.push(
  `node ${process.version}, ${availableParallelism()} cores (${cpuModel}), ${fmt(totalmem() / MB / 1024, 0)} GiB; ${citizens} concurrent citizens, ${SCRIPT.length}-turn script (+ "skip" on optional questions), after ${warmupCitizens} warm-up citizens; ` +
    `${sameIp ? 'all citizens from ONE IP (BENCH_SAME_IP=1)' : 'one X-Forwarded-For per citizen (TRUST_PROXY=true)'}; loopback only.`,
);
const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
out.push(
  `load average before ${la(loadBefore)}, after ${la(loadavg())} (other processes on the machine skew absolute figures).`,
);
out.push(
  'Client and server share the machine: absolute figures are machine-bound, ratios to the echo reference are the comparable ones.',
);
out.push('');
out.push(line(header));
out.push(line(['-'.repeat(widths[0]!), '-'.repeat(widths[1]!), '-'.repeat(widths[2]!), '-'.repeat(11)]));
for (const r of rows) out.push(r === 'sep' ? '' : line(r));
out.push('');
out.push(`whole run ${fmt(totalMs / 1000, 1)} s`);

const details: string[] = [];
for (const [label, o] of [
  ['pglite', pglite],
  ['postgres', postgres],
] as const) {
  if (!o?.ok) continue;
  for (const [reason, n] of o.value.failures) details.push(`${label}: ${n} × ${reason}`);
  if (o.value.duplicateFolios.length)
    details.push(`${label}: DUPLICATE FOLIOS ${o.value.duplicateFolios.join(', ')}`);
  for (const [msg, n] of o.value.serverLog) details.push(`${label} server log (warn+): ${n} × ${msg}`);
}
if (cold.ok) {
  for (const [reason, n] of cold.value.load?.failures ?? [])
    details.push(`restarted pglite: ${n} × ${reason}`);
  for (const [msg, n] of cold.value.serverLog) details.push(`cold start server log (warn+): ${n} × ${msg}`);
}
details.push(
  ...telegramNotes('bare', telegramBare),
  ...telegramNotes('pglite', telegramPglite),
  ...telegramNotes('postgres', telegramPostgres),
);
if (details.length || notes.length) {
  out.push('');
  out.push('notes:');
  for (const d of [...details, ...notes]) out.push(`  ${d}`);
}

process.stdout.write(`${out.join('\n')}\n`);
process.exit(0);
