/**
 * `PgBossJobQueue`: pg-boss 10 on the same database. On PGlite it runs through the `executeSql` adapter of
 * `openPglite` (one connection, serialised with our own transactions by PGlite's mutex).
 */
import PgBoss from 'pg-boss';
import type { JobQueue } from '../contract.ts';
import type { Database } from '../storage/db.ts';

/** Options for {@link createPgBossJobQueue}. */
export interface PgBossOptions {
  /** How often workers poll for due jobs (pg-boss minimum is 0.5 s). */
  readonly pollingIntervalSeconds?: number;
  /** Called on pg-boss background errors (maintenance, polling). */
  readonly onError?: (err: Error) => void;
}

/** Start pg-boss on an open database and return the job-queue port. */
export async function createPgBossJobQueue(database: Database, opts: PgBossOptions = {}): Promise<JobQueue> {
  const base = {
    schema: 'pgboss',
    // Supervision (maintenance, monitoring) runs on one timer per node; on a single PGlite connection it competes
    // with turns, so it runs rarely.
    maintenanceIntervalSeconds: database.kind === 'pglite' ? 300 : 120,
    monitorStateIntervalSeconds: database.kind === 'pglite' ? 600 : 60,
    cronMonitorIntervalSeconds: 30,
  };
  const boss =
    typeof database.boss === 'string'
      ? new PgBoss({ ...base, connectionString: database.boss, max: 3 })
      : new PgBoss({ ...base, db: database.boss });
  boss.on('error', (err: Error) => opts.onError?.(err));
  await boss.start();
  const created = new Set<string>();
  const ensure = async (queue: string) => {
    if (created.has(queue)) return;
    await boss.createQueue(queue, { name: queue, retryLimit: 3, retryDelay: 5, retryBackoff: true });
    created.add(queue);
  };
  const polling = Math.max(0.5, opts.pollingIntervalSeconds ?? 1);

  return {
    async send(queue, data, sendOpts = {}) {
      await ensure(queue);
      await boss.send(queue, data, {
        ...(sendOpts.startAfter ? { startAfter: sendOpts.startAfter } : {}),
        ...(sendOpts.singletonKey ? { singletonKey: sendOpts.singletonKey } : {}),
      });
    },
    async work(queue, handler) {
      await ensure(queue);
      await boss.work<Record<string, unknown>>(
        queue,
        { pollingIntervalSeconds: polling, batchSize: 1 },
        async (jobs) => {
          for (const job of jobs) await handler(job.data);
        },
      );
    },
    async schedule(queue, cron) {
      await ensure(queue);
      await boss.schedule(queue, cron);
    },
    async stop(timeoutMs) {
      await boss.stop({ graceful: true, wait: true, timeout: timeoutMs });
    },
  };
}
