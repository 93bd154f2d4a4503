/**
 * A lost race inside PostgreSQL (a deadlock between two turns, e.g. a contact merge and a turn on the merged
 * contact's other conversation) surfaces as STORE_VERSION_CONFLICT, which the router answers by running the turn
 * again, instead of an apology for an "unavailable" database. PostgreSQL only: PGlite has one connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseStore, ConversationRecord, StoreTx } from '../../../integrations/contract.ts';
import type { Database } from '../../../integrations/storage/db.ts';
import { createPostgresCaseStore } from '../../../integrations/storage/store.ts';
import { openTestPostgres } from '../../helpers/db.ts';
import { commitReplies } from '../../helpers/turns.ts';

const pg = process.env.TEST_DATABASE_URL;
if (!pg) console.warn('races.test.ts skipped: set TEST_DATABASE_URL to run the PostgreSQL-only race tests');

describe.skipIf(!pg)('PostgreSQL races', () => {
  let db: Database;
  let store: CaseStore;
  beforeAll(async () => {
    db = await openTestPostgres();
    store = createPostgresCaseStore(db);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('reports a deadlock as a version conflict (retryable), and the other turn commits', async () => {
    const now = new Date();
    const open = (user: string) =>
      store.resolveConversation({
        channel: 'webchat',
        address: { channel: 'webchat', user },
        locale: 'es-MX',
        now,
      });
    const [a, b] = await Promise.all([open('race-a'), open('race-b')]);
    const touch = (tx: StoreTx, c: ConversationRecord) => commitReplies(tx, c, [], { now });
    let bothHoldOne: () => void = () => {};
    const held = new Promise<void>((r) => (bothHoldOne = r));
    let holding = 0;
    const hold = async () => {
      if (++holding === 2) bothHoldOne();
      await held;
    };
    // Each turn locks its own conversation, then wants the other's: one of them must lose.
    const results = await Promise.allSettled([
      store.transaction(async (tx) => {
        await touch(tx, a);
        await hold();
        await touch(tx, b);
      }),
      store.transaction(async (tx) => {
        await touch(tx, b);
        await hold();
        await touch(tx, a);
      }),
    ]);
    const lost = results.filter((r) => r.status === 'rejected');
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({
      code: 'STORE_VERSION_CONFLICT',
      retryable: true,
    });
    const reason: unknown = (lost[0] as PromiseRejectedResult).reason;
    expect(reason instanceof Error ? reason.message : '').toMatch(/^Database race: deadlock/);
  });
});
