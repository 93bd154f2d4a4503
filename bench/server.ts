/**
 * The Ventanilla server as the benchmark runs it, in its own process so the client's CPU does not count as the
 * server's. Prints one JSON line `{"url": ...}` on stdout once listening; SIGTERM closes gracefully.
 *
 * Environment: BENCH_DATA_DIR (required), BENCH_PORT (default 0), BENCH_DATABASE_URL (PostgreSQL instead of
 * PGlite), BENCH_TRUST_PROXY (default true: simulated citizens carry their own X-Forwarded-For so the per-IP
 * limits apply per citizen, as behind a reverse proxy), BENCH_TX_PROBE (default true, see below), BENCH_ENV_JSON
 * (a JSON object of further configuration variables, e.g. `TELEGRAM_*` and `PUBLIC_URL` for bench/telegram.ts; only
 * these, never the whole environment, so a developer's own channel variables cannot switch a real provider on),
 * BENCH_CPU_PROFILE (a file: the server's V8 CPU profile, written on SIGTERM, for chrome://inspect or speedscope).
 *
 * Transaction probe (measurement only, no product code changed): wraps `store.transaction` so statements logged
 * by the product's own statement counter while a transaction callback runs (AsyncLocalStorage) are attributed to
 * that transaction, the BEGIN/COMMIT pair included as the store counts it. Exposed at `GET /bench/tx-stats` as a
 * histogram statements-per-transaction → count, so "≤ N statements per durable turn" is measured directly instead
 * of being inferred from global counters that also include the post-commit outbox dispatch.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createApp, loadConfig } from '../main.ts';

const dataDir = process.env.BENCH_DATA_DIR;
if (!dataDir) {
  process.stderr.write('BENCH_DATA_DIR is required\n');
  process.exit(2);
}
const databaseUrl = process.env.BENCH_DATABASE_URL;
const trustProxy = process.env.BENCH_TRUST_PROXY !== 'false';
const probe = process.env.BENCH_TX_PROBE !== 'false';
const extraEnv = JSON.parse(process.env.BENCH_ENV_JSON ?? '{}') as Record<string, string>;

const config = loadConfig({
  DATA_DIR: dataDir,
  PORT: process.env.BENCH_PORT ?? '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  TRUST_PROXY: trustProxy ? 'true' : 'false',
  ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  ...extraEnv,
});

const app = await createApp(config);

interface TxStats {
  statements: number;
}
const histogram = new Map<number, number>();
let transactions = 0;
let failedTransactions = 0;

if (probe) {
  const als = new AsyncLocalStorage<TxStats>();
  const counter = app.database.counter;
  let value = counter.statements;
  Object.defineProperty(counter, 'statements', {
    configurable: true,
    enumerable: true,
    get: () => value,
    set: (v: number) => {
      const current = als.getStore();
      if (current) current.statements += v - value;
      value = v;
    },
  });
  const store = app.store as { transaction: typeof app.store.transaction };
  const original = store.transaction.bind(app.store);
  store.transaction = <T>(fn: Parameters<typeof original<T>>[0]): Promise<T> => {
    const stats: TxStats = { statements: 0 };
    return als.run(stats, async () => {
      try {
        const result = await original(fn);
        transactions++;
        histogram.set(stats.statements, (histogram.get(stats.statements) ?? 0) + 1);
        return result;
      } catch (err) {
        failedTransactions++;
        throw err;
      }
    });
  };
}

app.http.get('/bench/tx-stats', async () => ({
  probe,
  transactions,
  failedTransactions,
  histogram: Object.fromEntries([...histogram].sort((a, b) => a[0] - b[0])),
}));

const url = await app.listen();
process.stdout.write(
  `${JSON.stringify({ url, database: app.database.kind, sinceProcessStartMs: Math.round(performance.now()) })}\n`,
);

// Measurement only: NODE_OPTIONS may not carry --cpu-prof, so the inspector records the profile.
const profileFile = process.env.BENCH_CPU_PROFILE;
const profiler = profileFile ? new Session() : undefined;
if (profiler) {
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.start');
}

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  if (profiler && profileFile) {
    const { profile } = await profiler.post('Profiler.stop');
    writeFileSync(profileFile, JSON.stringify(profile));
  }
  app.close().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`close failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
