/** Test databases: PGlite from the migrated template (always), PostgreSQL clones (when TEST_DATABASE_URL is set). */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { inject } from 'vitest';
import type { CaseStore, OutboxStore } from '../../integrations/contract.ts';
import type { Database } from '../../integrations/storage/db.ts';
import { openPglite, openPostgres } from '../../integrations/storage/db.ts';
import { createPostgresCaseStore, createPostgresOutboxStore } from '../../integrations/storage/store.ts';

/** The databases the SQL store runs on. */
export interface Backend {
  readonly name: 'pglite' | 'postgres';
  open(): Promise<Database>;
}

/** What the store contract suites run against: any implementation of the storage ports. */
export interface StoreBackend {
  readonly name: string;
  /** Open once per file (PGlite's first open costs seconds). */
  open(): Promise<OpenStores>;
}

/** Stores opened by a {@link StoreBackend}; read `store` and `outbox` again after `reset()`. */
export interface OpenStores {
  readonly store: CaseStore;
  readonly outbox: OutboxStore;
  /** Empty everything (between tests). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** The PostgreSQL store on a database backend. */
export function sqlStores(backend: Backend): StoreBackend {
  return {
    name: backend.name,
    async open() {
      const db = await backend.open();
      return {
        store: createPostgresCaseStore(db),
        outbox: createPostgresOutboxStore(db),
        reset: () => resetDatabase(db),
        close: () => db.close(),
      };
    },
  };
}

const APP_TABLES = [
  'contact_links',
  'case_followers',
  'subscriptions',
  'incidents',
  'case_events',
  'attachments',
  'outbox',
  'messages',
  'cases',
  'case_sequences',
  'conversations',
  'channel_identities',
  'contacts',
];

/** A fresh in-memory PGlite, already migrated (loaded from the template tarball). */
export async function openTestPglite(): Promise<Database> {
  const bytes = readFileSync(inject('pgliteTemplate'));
  return openPglite({ loadDataDir: new Blob([bytes]) });
}

let counter = 0;
/** A fresh PostgreSQL database cloned from the migrated template; dropped by the global teardown. */
export async function openTestPostgres(): Promise<Database> {
  const url = process.env.TEST_DATABASE_URL;
  const template = inject('pgTemplate');
  if (!url || !template) throw new Error('TEST_DATABASE_URL is not set');
  const name = `vt_${process.pid}_${Date.now().toString(36)}_${counter++}_${template.replace(/\D/g, '')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`create database ${name} template ${template}`);
  } finally {
    await admin.end();
  }
  const target = new URL(url);
  target.pathname = `/${name}`;
  return openPostgres(target.toString(), { max: 10 });
}

/** PGlite always; PostgreSQL too when TEST_DATABASE_URL is set. */
export function backends(): Backend[] {
  const list: Backend[] = [{ name: 'pglite', open: openTestPglite }];
  if (process.env.TEST_DATABASE_URL) list.push({ name: 'postgres', open: openTestPostgres });
  return list;
}

/** Empty every application table (between tests). */
export async function resetDatabase(db: Database): Promise<void> {
  await db.raw.query(`truncate ${APP_TABLES.join(', ')} restart identity cascade`);
}
