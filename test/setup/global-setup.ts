/**
 * Prepares migrated database templates once per run: a PGlite data-dir tarball (loaded per test file with
 * `loadDataDir`) and, when TEST_DATABASE_URL is set, a template database that per-file databases are cloned from.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { dumpPglite, openPglite, openPostgres } from '../../integrations/storage/db.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string;
    pgTemplate: string | null;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = join(process.cwd(), '.tmp', `vitest-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const lite = await openPglite();
  await lite.migrate();
  const blob = await dumpPglite(lite);
  await lite.close();
  const file = join(dir, 'pglite-template.tar');
  writeFileSync(file, Buffer.from(await blob.arrayBuffer()));
  project.provide('pgliteTemplate', file);

  let pgTemplate: string | null = null;
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    pgTemplate = `vt_template_${process.pid}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`drop database if exists ${pgTemplate}`);
    await admin.query(`create database ${pgTemplate}`);
    await admin.end();
    const target = new URL(url);
    target.pathname = `/${pgTemplate}`;
    const db = await openPostgres(target.toString(), { max: 1 });
    await db.migrate();
    await db.close();
  }
  project.provide('pgTemplate', pgTemplate);

  return async () => {
    rmSync(dir, { recursive: true, force: true });
    if (url && pgTemplate) {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      const { rows } = await admin.query<{ datname: string }>(
        `select datname from pg_database where datname like 'vt\\_%' escape '\\' and datname like $1`,
        [`%${process.pid}%`],
      );
      for (const r of rows) await admin.query(`drop database if exists ${r.datname} with (force)`);
      await admin.end();
    }
  };
}
