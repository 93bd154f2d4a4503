/**
 * The OutboxStore contract: lease, retry, dead-letter (PGlite always, PostgreSQL when TEST_DATABASE_URL is set, and
 * the in-memory store).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CaseStore, ConversationRecord, OutboxStore } from '../../integrations/contract.ts';
import type { OpenStores, StoreBackend } from '../helpers/db.ts';
import { commitReplies } from '../helpers/turns.ts';

const t0 = new Date('2026-03-10T16:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

/** Run the outbox-store contract against a backend. */
export function outboxContract(backend: StoreBackend): void {
  describe(`OutboxStore contract (${backend.name})`, () => {
    let stores: OpenStores;
    let store: CaseStore;
    let outbox: OutboxStore;
    let conv: ConversationRecord;

    const write = async (...texts: string[]) => {
      const commit = await store.transaction((tx) => commitReplies(tx, conv, texts, { now: t0 }));
      conv = { ...conv, stateVersion: commit.stateVersion };
      return commit.outboxIds;
    };

    beforeAll(async () => {
      stores = await backend.open();
    });
    afterAll(async () => {
      await stores.close();
    });
    beforeEach(async () => {
      await stores.reset();
      ({ store, outbox } = stores);
      const address = { channel: 'loopback', user: randomUUID() };
      conv = await store.resolveConversation({ channel: 'loopback', address, locale: 'es-MX', now: t0 });
    });

    it('leases named entries in order, once, and counts attempts', async () => {
      const ids = await write('uno', 'dos');
      const leased = await outbox.lease({ ids, now: t0, leaseMs: 60_000 });
      expect(leased.map((e) => [(e.outbound as { text: string }).text, e.status, e.attempts])).toEqual([
        ['uno', 'sending', 1],
        ['dos', 'sending', 1],
      ]);
      expect(leased[0]).toMatchObject({ channel: 'loopback', address: conv.address, lastInboundAt: t0 });
      expect(await outbox.lease({ ids, now: at(1000), leaseMs: 60_000 })).toHaveLength(0);
      // A lease that expired (the sender crashed) can be taken again.
      const again = await outbox.lease({ ids, now: at(61_000), leaseMs: 60_000 });
      expect(again.map((e) => e.attempts)).toEqual([2, 2]);
      expect(await outbox.depth()).toBe(2);
    });

    it('marks sent: entry done, message sent with the provider id', async () => {
      const [id] = await write('hola');
      const [e] = await outbox.lease({ ids: [id!], now: t0, leaseMs: 60_000 });
      expect(await outbox.markSent(id!, e!.leaseToken!, 'prov-1', at(10))).toBe(true);
      expect((await outbox.get(id!))?.status).toBe('sent');
      const [msg] = await store.listMessages(conv.id);
      expect(msg).toMatchObject({ status: 'sent', externalId: 'prov-1' });
      expect(await outbox.depth()).toBe(0);
      expect(await outbox.lease({ now: at(100_000), leaseMs: 1000 })).toHaveLength(0);
    });

    it('reschedules a retry and hands it out only when due', async () => {
      const [id] = await write('hola');
      const [e] = await outbox.lease({ ids: [id!], now: t0, leaseMs: 60_000 });
      expect(await outbox.markRetry(id!, e!.leaseToken!, 'CHANNEL_UNAVAILABLE: 503', at(5_000), at(10))).toBe(
        true,
      );
      expect(await outbox.get(id!)).toMatchObject({
        status: 'retrying',
        lastError: 'CHANNEL_UNAVAILABLE: 503',
        attempts: 1,
      });
      expect(await outbox.lease({ now: at(4_000), leaseMs: 1000 })).toHaveLength(0);
      const due = await outbox.lease({ now: at(5_000), leaseMs: 1000 });
      expect(due.map((e) => [e.id, e.attempts])).toEqual([[id, 2]]);
    });

    it('dead-letters with the reason recorded on the message', async () => {
      const [id] = await write('hola');
      const [e] = await outbox.lease({ ids: [id!], now: t0, leaseMs: 60_000 });
      expect(
        await outbox.markDead(id!, e!.leaseToken!, 'CHANNEL_REJECTED: 400 invalid recipient', at(10)),
      ).toBe(true);
      const [msg] = await store.listMessages(conv.id);
      expect(msg).toMatchObject({
        status: 'failed',
        failureReason: 'CHANNEL_REJECTED: 400 invalid recipient',
      });
      expect((await outbox.listDead(10)).map((e) => e.id)).toEqual([id]);
      expect(await outbox.depth()).toBe(0);
      expect(await outbox.lease({ ids: [id!], now: at(100_000), leaseMs: 1000 })).toHaveLength(0);
    });

    it('never hands the same entry to two concurrent dispatchers', async () => {
      const ids = await write(...Array.from({ length: 20 }, (_, i) => `m${i}`));
      const [a, b] = await Promise.all([
        outbox.lease({ now: t0, leaseMs: 60_000 }),
        outbox.lease({ now: t0, leaseMs: 60_000 }),
      ]);
      const taken = [...a, ...b].map((e) => e.id);
      expect(new Set(taken).size).toBe(taken.length);
      expect(taken.sort()).toEqual([...ids].sort());
    });

    it('fences leases: a worker whose lease expired cannot overwrite the outcome of the new holder', async () => {
      const [id] = await write('hola');
      const [a] = await outbox.lease({ ids: [id!], now: t0, leaseMs: 60_000 });
      const [b] = await outbox.lease({ ids: [id!], now: at(61_000), leaseMs: 60_000 });
      expect(b!.leaseToken).not.toBe(a!.leaseToken);
      expect(await outbox.markSent(id!, b!.leaseToken!, 'prov-b', at(61_500))).toBe(true);
      expect(await outbox.markRetry(id!, a!.leaseToken!, 'late failure', at(70_000), at(62_000))).toBe(false);
      expect(await outbox.get(id!)).toMatchObject({ status: 'sent' });
      expect(await outbox.lease({ now: at(100_000), leaseMs: 1000 })).toHaveLength(0);
    });

    it('keeps replies in order: a newer reply waits behind an older undelivered one', async () => {
      const [first] = await write('primero');
      const [e1] = await outbox.lease({ ids: [first!], now: t0, leaseMs: 60_000 });
      await outbox.markRetry(first!, e1!.leaseToken!, 'CHANNEL_UNAVAILABLE: 503', at(5_000), at(10));
      const [second] = await write('segundo');
      expect(await outbox.lease({ ids: [second!], now: at(20), leaseMs: 60_000 })).toHaveLength(0);
      expect(await outbox.lease({ now: at(1_000), leaseMs: 60_000 })).toHaveLength(0);
      const due = await outbox.lease({ now: at(5_000), leaseMs: 60_000 });
      expect(due.map((e) => (e.outbound as { text: string }).text)).toEqual(['primero', 'segundo']);
    });

    it('gives a held entry back without counting the attempt', async () => {
      const [id] = await write('hola');
      const [e] = await outbox.lease({ ids: [id!], now: t0, leaseMs: 60_000 });
      await outbox.release(id!, e!.leaseToken!);
      expect(await outbox.get(id!)).toMatchObject({ status: 'pending', attempts: 0 });
    });
  });
}
