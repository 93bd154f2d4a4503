/**
 * `npm run migrate`: apply pending migrations to DATABASE_URL, or to the embedded database in DATA_DIR
 * (which must not be held by a running server; `npm start` migrates by itself anyway).
 */
import { resolve } from 'node:path';
import { acquireDataLock, openPglite, openPostgres } from '../integrations/storage/db.ts';
import { loadConfig } from '../main.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const started = performance.now();
  let release: (() => void) | undefined;
  const database = config.DATABASE_URL
    ? await openPostgres(config.DATABASE_URL, { max: 1 })
    : await (async () => {
        const dir = resolve(config.DATA_DIR);
        release = acquireDataLock(dir);
        return openPglite({ dataDir: dir });
      })();
  try {
    await database.migrate();
    process.stderr.write(
      `Migrations applied to ${database.kind === 'postgres' ? 'PostgreSQL (DATABASE_URL)' : resolve(config.DATA_DIR)} in ${Math.round(performance.now() - started)} ms\n`,
    );
  } finally {
    await database.close();
    release?.();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`Migration failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
