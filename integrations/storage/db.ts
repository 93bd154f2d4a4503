/**
 * Opening the database: embedded PGlite in a data folder (one owning process, held by a lock file) or PostgreSQL
 * through `pg` when a connection string is given. Both get the same drizzle schema and migrations.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { Logger as DrizzleLogger } from 'drizzle-orm';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { StoreError } from '../contract.ts';
import * as schema from './schema.ts';

/** The drizzle database type shared by both drivers. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** Minimal SQL access for pg-boss and health checks, on either driver. */
export interface RawSql {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/** Counts statements sent to the database (for metrics and the benchmark). */
export interface StatementCounter {
  statements: number;
  transactions: number;
}

/** An open database. */
export interface Database {
  readonly kind: 'pglite' | 'postgres';
  readonly db: Db;
  readonly raw: RawSql;
  readonly counter: StatementCounter;
  /** A pg-boss `db` adapter (`executeSql`), or a connection string for pg-boss's own pool. */
  readonly boss: { executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> } | string;
  /** Apply pending migrations. */
  migrate(): Promise<void>;
  /** Whether every shipped migration is applied. */
  migrationsApplied(): Promise<boolean>;
  close(): Promise<void>;
}

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));

function countingLogger(counter: StatementCounter): DrizzleLogger {
  return {
    logQuery(query: string) {
      // BEGIN/COMMIT are counted per transaction by the store, the same way on both drivers.
      if (/^(begin|commit|rollback)\b/i.test(query)) return;
      counter.statements++;
    },
  };
}

function shippedMigrationCount(): number {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as {
    entries: unknown[];
  };
  return journal.entries.length;
}

async function appliedCount(raw: RawSql, migrationsSchema: string): Promise<number> {
  try {
    const r = await raw.query(`select count(*)::int as n from "${migrationsSchema}"."__drizzle_migrations"`);
    return Number(r.rows[0]?.n ?? 0);
  } catch {
    return 0;
  }
}

/** Options for {@link openPglite}. */
export interface PgliteOptions {
  /** Data folder; `undefined` opens an in-memory database. */
  readonly dataDir?: string;
  /** A migrated template (`dumpDataDir` output) to start from, for fast tests. */
  readonly loadDataDir?: Blob | File;
}

/** The lock file that makes one process own an embedded data folder. */
export function acquireDataLock(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const lockPath = join(dataDir, 'ventanilla.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          unlinkSync(lockPath);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(lockPath, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new StoreError(
          'STORE_LOCKED',
          `The data folder ${dataDir} is in use by another Ventanilla process (pid ${pid}). Stop it first, or set DATA_DIR to another folder, or set DATABASE_URL to share a PostgreSQL server. Lock file: ${lockPath}`,
        );
      }
      // The owner died without cleaning up: take the folder over.
      unlinkSync(lockPath);
    }
  }
  throw new StoreError('STORE_LOCKED', `Could not take the lock file ${lockPath}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Open embedded PostgreSQL (PGlite). With a data folder, the caller must hold {@link acquireDataLock}. */
export async function openPglite(opts: PgliteOptions = {}): Promise<Database> {
  const pgDir = opts.dataDir ? join(opts.dataDir, 'pgdata') : undefined;
  // PostgreSQL's default 128 MB of shared buffers is most of PGlite's memory; the data files are read through
  // Node's fs (and so the OS page cache), so 16 MB costs little speed and saves ~100 MB of RSS.
  const startParams = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB', '-c', 'temp_buffers=4MB'];
  if (pgDir && !existsSync(join(pgDir, 'PG_VERSION'))) {
    // initdb grows the WASM heap to ~850 MB and a WebAssembly memory never shrinks: create the cluster in a
    // throw-away instance so the long-lived one starts small.
    mkdirSync(pgDir, { recursive: true });
    const init = await PGlite.create({ dataDir: pgDir, startParams });
    await init.close();
  }
  const client = await PGlite.create({
    ...(pgDir ? { dataDir: pgDir } : {}),
    ...(opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {}),
    startParams,
  });
  const counter: StatementCounter = { statements: 0, transactions: 0 };
  const db = drizzlePglite(client, { schema, logger: countingLogger(counter) }) as unknown as Db;
  const raw: RawSql = {
    async query(text, values) {
      const r = await client.query<Record<string, unknown>>(text, values);
      return { rows: r.rows };
    },
  };
  return {
    kind: 'pglite',
    db,
    raw,
    counter,
    boss: {
      // pg-boss sends multi-statement scripts without parameters (schema creation); `query` accepts only one.
      async executeSql(text, values) {
        if (values && values.length > 0) return { rows: (await client.query(text, values)).rows };
        const results = await client.exec(text);
        return { rows: results.at(-1)?.rows ?? [] };
      },
    },
    async migrate() {
      try {
        await migratePglite(drizzlePglite(client), { migrationsFolder: MIGRATIONS_DIR });
      } catch (cause) {
        throw new StoreError('STORE_MIGRATION_FAILED', 'Applying migrations failed', { cause });
      }
    },
    async migrationsApplied() {
      return (await appliedCount(raw, 'drizzle')) >= shippedMigrationCount();
    },
    async close() {
      if (!client.closed) await client.close();
    },
  };
}

/** Dump a migrated in-memory database to a tarball (the test template). */
export async function dumpPglite(database: Database): Promise<Blob> {
  const client = (database.db as unknown as { $client: PGlite }).$client;
  return client.dumpDataDir('none');
}

/** Open PostgreSQL through `pg`. */
export async function openPostgres(connectionString: string, opts: { max?: number } = {}): Promise<Database> {
  // Loaded only when a server is configured; the embedded default never needs them.
  const [{ default: pg }, { drizzle: drizzlePg }, { migrate: migratePg }] = await Promise.all([
    import('pg'),
    import('drizzle-orm/node-postgres'),
    import('drizzle-orm/node-postgres/migrator'),
  ]);
  const pool = new pg.Pool({ connectionString, max: opts.max ?? 10 });
  pool.on('error', () => {
    // Idle-client errors (server restart) surface on the next query; without a listener they crash the process.
  });
  try {
    const c = await pool.connect();
    c.release();
  } catch (cause) {
    await pool.end().catch(() => undefined);
    throw new StoreError('STORE_UNAVAILABLE', 'Could not connect to PostgreSQL (check DATABASE_URL)', {
      cause,
      retryable: true,
    });
  }
  const counter: StatementCounter = { statements: 0, transactions: 0 };
  const db = drizzlePg(pool, { schema, logger: countingLogger(counter) }) as unknown as Db;
  const raw: RawSql = {
    async query(text, values) {
      const r = await pool.query(text, values);
      return { rows: r.rows as Record<string, unknown>[] };
    },
  };
  return {
    kind: 'postgres',
    db,
    raw,
    counter,
    boss: connectionString,
    async migrate() {
      try {
        // Serialise migrations across nodes starting together.
        const client = await pool.connect();
        try {
          await client.query('select pg_advisory_lock(774411)');
          await migratePg(drizzlePg(client), { migrationsFolder: MIGRATIONS_DIR });
        } finally {
          await client.query('select pg_advisory_unlock(774411)').catch(() => undefined);
          client.release();
        }
      } catch (cause) {
        throw new StoreError('STORE_MIGRATION_FAILED', 'Applying migrations failed', { cause });
      }
    },
    async migrationsApplied() {
      return (await appliedCount(raw, 'drizzle')) >= shippedMigrationCount();
    },
    async close() {
      await pool.end();
    },
  };
}

/** A cheap liveness query. */
export async function ping(database: Database): Promise<void> {
  await database.db.execute(sql`select 1`);
}
