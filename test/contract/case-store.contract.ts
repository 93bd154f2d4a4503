/**
 * The CaseStore contract: every storage backend passes these (run on PGlite always, on PostgreSQL when
 * TEST_DATABASE_URL is set, and on the in-memory store), after botbuilder's `StorageBaseTests`.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Address, Inbound } from '../../channels/contract.ts';
import type { CaseStore, ConversationRecord, NewCase, OutboxStore } from '../../integrations/contract.ts';
import { StoreError } from '../../integrations/contract.ts';
import type { OpenStores, StoreBackend } from '../helpers/db.ts';
import { commitReplies } from '../helpers/turns.ts';

const now = new Date('2026-03-10T16:00:00Z');

function inbound(address: Address, externalId: string, text = 'hola'): Inbound {
  return { id: randomUUID(), externalId, address, at: now.toISOString(), kind: 'text', text, raw: { text } };
}

function newCase(conv: ConversationRecord, over: Partial<NewCase> = {}): NewCase {
  return {
    category: 'baches',
    description: 'Bache enorme',
    address: 'Av. Juárez 10',
    colonia: 'Centro',
    lat: 18.146,
    lon: -94.4609,
    department: 'Obras Públicas',
    queue: 'obras_publicas',
    sensitive: false,
    visibility: 'public',
    contactId: conv.contactId,
    conversationId: conv.id,
    channel: 'webchat',
    slaDueAt: new Date(now.getTime() + 3_600_000),
    ...over,
  };
}

/** Run the case-store contract against a backend. */
export function caseStoreContract(backend: StoreBackend): void {
  describe(`CaseStore contract (${backend.name})`, () => {
    let stores: OpenStores;
    let store: CaseStore;
    let outbox: OutboxStore;
    const address = (user = randomUUID()): Address => ({ channel: 'webchat', user });
    const resolve = (a: Address) =>
      store.resolveConversation({ channel: a.channel, address: a, locale: 'es-MX', now });

    beforeAll(async () => {
      stores = await backend.open();
    });
    afterAll(async () => {
      await stores.close();
    });
    beforeEach(async () => {
      await stores.reset();
      ({ store, outbox } = stores);
    });

    it('creates a contact, identity and conversation on first contact and finds them again', async () => {
      const a = address();
      const first = await resolve(a);
      const again = await resolve(a);
      expect(again.id).toBe(first.id);
      expect(again.contactId).toBe(first.contactId);
      expect(first.mode).toBe('bot');
      expect(first.stateVersion).toBe(0);
      expect(await store.findConversation('webchat', a.user)).toMatchObject({ id: first.id });
      expect(await store.findConversation('webchat', 'nobody')).toBeNull();
    });

    it('reads its own writes: state, mode and messages after a committed turn', async () => {
      const conv = await resolve(address());
      const commit = await store.transaction(async (tx) => {
        expect(await tx.appendInbound(conv.id, inbound(conv.address, 'm1'), 'hola')).toBe('inserted');
        return tx.commitTurn({
          conversation: conv,
          state: { v: 1, dialog: 'file-complaint', slots: { category: 'baches' } },
          mode: 'queued',
          queue: 'obras_publicas',
          locale: 'en',
          lastInboundAt: now,
          outbound: [{ outbound: { kind: 'text', text: 'Hola' }, author: 'bot' }],
          now,
        });
      });
      expect(commit.stateVersion).toBe(1);
      expect(commit.outboxIds).toHaveLength(1);
      const saved = await store.getConversation(conv.id);
      expect(saved).toMatchObject({
        stateVersion: 1,
        mode: 'queued',
        queue: 'obras_publicas',
        locale: 'en',
        state: { v: 1, dialog: 'file-complaint', slots: { category: 'baches' } },
      });
      expect(saved?.lastInboundAt?.toISOString()).toBe(now.toISOString());
      const msgs = await store.listMessages(conv.id);
      expect(msgs.map((m) => [m.direction, m.text, m.status])).toEqual([
        ['in', 'hola', 'received'],
        ['out', 'Hola', 'pending'],
      ]);
    });

    it('rejects a stale version with STORE_VERSION_CONFLICT and writes nothing of that turn', async () => {
      const conv = await resolve(address());
      const turn = (c: ConversationRecord, ext: string) =>
        store.transaction(async (tx) => {
          await tx.appendInbound(c.id, inbound(c.address, ext), ext);
          return tx.commitTurn({
            conversation: c,
            state: { n: ext },
            mode: 'bot',
            queue: null,
            locale: 'es-MX',
            lastInboundAt: now,
            outbound: [{ outbound: { kind: 'text', text: ext }, author: 'bot' }],
            now,
          });
        });
      await turn(conv, 'first');
      const err = await turn(conv, 'second').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe('STORE_VERSION_CONFLICT');
      expect((err as StoreError).retryable).toBe(true);
      const msgs = await store.listMessages(conv.id);
      expect(msgs.map((m) => m.text)).toEqual(['first', 'first']);
      expect((await store.getConversation(conv.id))?.state).toEqual({ n: 'first' });
    });

    it('keeps append order', async () => {
      const conv = await resolve(address());
      let c = conv;
      for (const n of [1, 2, 3]) {
        const commit = await store.transaction(async (tx) => {
          await tx.appendInbound(c.id, inbound(c.address, `in-${n}`, `in ${n}`), `in ${n}`);
          return tx.commitTurn({
            conversation: c,
            state: null,
            mode: 'bot',
            queue: null,
            locale: 'es-MX',
            lastInboundAt: now,
            outbound: [
              { outbound: { kind: 'text', text: `out ${n}a` }, author: 'bot' },
              {
                outbound: { kind: 'choices', text: `out ${n}b`, choices: [{ id: 'x', label: 'X' }] },
                author: 'bot',
              },
            ],
            now,
          });
        });
        c = { ...c, stateVersion: commit.stateVersion };
      }
      const texts = (await store.listMessages(conv.id)).map((m) => m.text);
      expect(texts).toEqual([
        'in 1',
        'out 1a',
        'out 1b',
        'in 2',
        'out 2a',
        'out 2b',
        'in 3',
        'out 3a',
        'out 3b',
      ]);
      expect((await store.listMessages(conv.id, { limit: 2 })).map((m) => m.text)).toEqual([
        'out 3a',
        'out 3b',
      ]);
    });

    it('appends idempotently by channel external id', async () => {
      const conv = await resolve(address());
      const msg = inbound(conv.address, 'wamid.1');
      expect(await store.transaction((tx) => tx.appendInbound(conv.id, msg, 'hola'))).toBe('inserted');
      expect(await store.transaction((tx) => tx.appendInbound(conv.id, msg, 'hola'))).toBe('duplicate');
      // Same external id, new internal id (a provider redelivering with another envelope): still a duplicate.
      expect(
        await store.transaction((tx) => tx.appendInbound(conv.id, { ...msg, id: randomUUID() }, 'hola')),
      ).toBe('duplicate');
      expect(await store.listMessages(conv.id)).toHaveLength(1);
    });

    it('gives unique, sequential folios per prefix and year, and 50 concurrent creations 50 distinct folios', async () => {
      const conv = await resolve(address());
      const a = await store.transaction((tx) =>
        tx.createCase(newCase(conv), { prefix: 'VER', year: 2026 }, 'bot'),
      );
      const b = await store.transaction((tx) =>
        tx.createCase(newCase(conv), { prefix: 'VER', year: 2026 }, 'bot'),
      );
      const other = await store.transaction((tx) =>
        tx.createCase(newCase(conv), { prefix: 'VER', year: 2027 }, 'bot'),
      );
      expect([a.folio, b.folio, other.folio]).toEqual([
        'VER-2026-000001',
        'VER-2026-000002',
        'VER-2027-000001',
      ]);
      expect(a).toMatchObject({
        status: 'recibido',
        category: 'baches',
        colonia: 'Centro',
        lat: 18.146,
        lon: -94.4609,
        visibility: 'public',
      });
      const many = await Promise.all(
        Array.from({ length: 50 }, () =>
          store.transaction((tx) => tx.createCase(newCase(conv), { prefix: 'VER', year: 2026 }, 'bot')),
        ),
      );
      const folios = new Set(many.map((c) => c.folio));
      expect(folios.size).toBe(50);
      expect([...folios].sort().at(-1)).toBe('VER-2026-000052');
    });

    it('imported cases advance the sequence; new folios never collide with them', async () => {
      const conv = await resolve(address());
      await store.importCase(
        {
          ...newCase(conv),
          folio: 'VER-2026-000652',
          status: 'en_proceso',
          createdAt: new Date('2026-01-05T10:00:00Z'),
        },
        'import',
      );
      const next = await store.transaction((tx) =>
        tx.createCase(newCase(conv), { prefix: 'VER', year: 2026 }, 'bot'),
      );
      expect(next.folio).toBe('VER-2026-000653');
      // An older import does not move the sequence backwards.
      await store.importCase(
        {
          ...newCase(conv),
          folio: 'VER-2026-000010',
          status: 'resuelto',
          createdAt: new Date('2026-01-01T10:00:00Z'),
        },
        'import',
      );
      const after = await store.transaction((tx) =>
        tx.createCase(newCase(conv), { prefix: 'VER', year: 2026 }, 'bot'),
      );
      expect(after.folio).toBe('VER-2026-000654');
      expect((await store.findCase('VER-2026-000652'))?.status).toBe('en_proceso');
    });

    it('keeps an append-only audit trail per case, including views', async () => {
      const conv = await resolve(address());
      const c = await store.transaction((tx) =>
        tx.createCase(newCase(conv), { prefix: 'VER', year: 2026 }, 'bot'),
      );
      await store.addCaseEvent(c.id, 'admin', 'viewed', { via: 'test' });
      const events = await store.caseEvents(c.id);
      expect(events.map((e) => [e.actor, e.kind])).toEqual([
        ['bot', 'created'],
        ['admin', 'viewed'],
      ]);
      expect(events[0]?.data).toMatchObject({ folio: c.folio, status: 'recibido' });
    });

    it('lists conversations by mode and queue, and cases by contact', async () => {
      const convs = await Promise.all([address(), address(), address()].map(resolve));
      const setMode = (c: ConversationRecord, mode: 'bot' | 'queued' | 'agent', queue: string | null) =>
        store.transaction((tx) =>
          tx.commitTurn({
            conversation: c,
            state: null,
            mode,
            queue,
            locale: 'es-MX',
            lastInboundAt: null,
            outbound: [],
            now,
          }),
        );
      await setMode(convs[0]!, 'queued', 'general');
      await setMode(convs[1]!, 'queued', 'alumbrado');
      const queued = await store.listConversations({ mode: 'queued' });
      expect(queued.map((c) => c.id).sort()).toEqual([convs[0]!.id, convs[1]!.id].sort());
      expect(
        (await store.listConversations({ mode: 'queued', queue: 'alumbrado' })).map((c) => c.id),
      ).toEqual([convs[1]!.id]);
      expect((await store.listConversations({ mode: 'bot' })).map((c) => c.id)).toEqual([convs[2]!.id]);
      await store.transaction((tx) =>
        tx.createCase(newCase(convs[2]!), { prefix: 'VER', year: 2026 }, 'bot'),
      );
      expect(await store.listCases({ contactId: convs[2]!.contactId })).toHaveLength(1);
      expect(await store.listCases({ contactId: convs[0]!.contactId })).toHaveLength(0);
    });

    it('rolls a failed transaction back completely', async () => {
      const conv = await resolve(address());
      await expect(
        store.transaction(async (tx) => {
          await tx.appendInbound(conv.id, inbound(conv.address, 'rollback-me'), 'x');
          await tx.createCase(newCase(conv), { prefix: 'VER', year: 2026 }, 'bot');
          throw new Error('flow failed');
        }),
      ).rejects.toThrow('flow failed');
      expect(await store.listMessages(conv.id)).toHaveLength(0);
      expect(await store.findCase('VER-2026-000001')).toBeNull();
      const next = await store.transaction((tx) =>
        tx.createCase(newCase(conv), { prefix: 'VER', year: 2026 }, 'bot'),
      );
      expect(next.folio).toBe('VER-2026-000001');
    });

    it('applies delivery receipts forward only', async () => {
      const conv = await resolve(address());
      await store.transaction((tx) =>
        tx.commitTurn({
          conversation: conv,
          state: null,
          mode: 'bot',
          queue: null,
          locale: 'es-MX',
          lastInboundAt: null,
          outbound: [{ outbound: { kind: 'text', text: 'x' }, author: 'bot' }],
          now,
        }),
      );
      // Delivered through the outbox port, so the suite runs on any backend.
      const [entry] = await outbox.lease({ now, leaseMs: 60_000 });
      expect(await outbox.markSent(entry!.id, entry!.leaseToken!, 'ext-1', now)).toBe(true);
      expect(await store.applyReceipt('webchat', 'ext-1', 'read')).toBe(true);
      expect(await store.applyReceipt('webchat', 'ext-1', 'delivered')).toBe(false);
      expect((await store.listMessages(conv.id))[0]?.status).toBe('read');
      expect(await store.applyReceipt('webchat', 'unknown', 'read')).toBe(false);
    });

    it('leases a turn’s replies at commit when nothing older waits, in order, and never twice', async () => {
      let conv = await resolve(address());
      const turn = (texts: string[], at: Date) =>
        store.transaction(async (tx) => {
          const commit = await commitReplies(tx, conv, texts, {
            now: at,
            address: conv.address,
            lease: { leaseMs: 60_000 },
          });
          conv = { ...conv, stateVersion: commit.stateVersion };
          return commit;
        });
      const first = await turn(['uno', 'dos'], now);
      expect(first.leased.map((e) => e.id)).toEqual(first.outboxIds);
      expect(first.leased.map((e) => e.outbound)).toEqual([
        { kind: 'text', text: 'uno' },
        { kind: 'text', text: 'dos' },
      ]);
      expect(first.leased[0]).toMatchObject({
        conversationId: conv.id,
        channel: 'webchat',
        address: conv.address,
        status: 'sending',
        attempts: 1,
        idempotencyKey: expect.stringMatching(/^out:/) as string,
      });
      // Leased already: nobody else takes them while the lease lasts.
      expect(await outbox.lease({ now, leaseMs: 60_000 })).toEqual([]);
      // An older reply still on its way: the next turn's replies are written, not leased (they wait their turn).
      const second = await turn(['tres'], new Date(now.getTime() + 1_000));
      expect(second.leased).toEqual([]);
      for (const e of first.leased)
        expect(await outbox.markSent(e.id, e.leaseToken!, `ext-${e.id}`, now)).toBe(true);
      const [next] = await outbox.lease({ ids: second.outboxIds, now, leaseMs: 60_000 });
      expect(next?.outbound).toEqual({ kind: 'text', text: 'tres' });
      expect(await outbox.markSent(next!.id, next!.leaseToken!, 'ext-3', now)).toBe(true);
      // Without `lease`, or with nothing to send, nothing is leased.
      const quiet = await turn([], now);
      expect(quiet.leased).toEqual([]);
      // A commit that leased but crashed before sending: after the lease expires the entry is taken again.
      const lost = await turn(['cuatro'], now);
      expect(lost.leased).toHaveLength(1);
      const later = new Date(now.getTime() + 61_000);
      const [again] = await outbox.lease({ now: later, leaseMs: 60_000 });
      expect(again).toMatchObject({ id: lost.outboxIds[0], attempts: 2 });
      expect(await outbox.markSent(lost.leased[0]!.id, lost.leased[0]!.leaseToken!, 'ext-x', later)).toBe(
        false,
      );
    });

    it('finds open cases of a category nearby or at the same address, never closed or sensitive ones', async () => {
      const conv = await resolve(address());
      const here = await store.transaction((tx) =>
        tx.createCase(newCase(conv), { prefix: 'VER', year: 2026 }, 'bot'),
      );
      await store.transaction((tx) =>
        tx.createCase(
          newCase(conv, { lat: 18.16, lon: -94.46, address: 'Lejos 1' }),
          { prefix: 'VER', year: 2026 },
          'bot',
        ),
      );
      const near = await store.transaction((tx) =>
        tx.findOpenCasesNear({ category: 'baches', lat: 18.1461, lon: -94.461, radiusM: 250, address: null }),
      );
      expect(near.map((c) => c.folio)).toEqual([here.folio]);
      const sameAddress = await store.transaction((tx) =>
        tx.findOpenCasesNear({
          category: 'baches',
          lat: null,
          lon: null,
          radiusM: 250,
          address: 'av. JUAREZ 10',
        }),
      );
      expect(sameAddress.map((c) => c.folio)).toEqual([here.folio]);
      const otherCategory = await store.transaction((tx) =>
        tx.findOpenCasesNear({
          category: 'alumbrado',
          lat: 18.146,
          lon: -94.4609,
          radiusM: 250,
          address: null,
        }),
      );
      expect(otherCategory).toHaveLength(0);
      await store.updateCaseStatus({
        folio: here.folio,
        status: 'resuelto',
        note: 'Bacheado',
        actor: 'admin',
        now,
        final: true,
      });
      const afterClose = await store.transaction((tx) =>
        tx.findOpenCasesNear({ category: 'baches', lat: 18.146, lon: -94.4609, radiusM: 250, address: null }),
      );
      expect(afterClose).toHaveLength(0);
    });

    it('lets citizens follow a case once, and tells reporter and followers apart', async () => {
      const reporter = await resolve(address());
      const other = await resolve(address());
      const c = await store.transaction((tx) =>
        tx.createCase(newCase(reporter), { prefix: 'VER', year: 2026 }, 'bot'),
      );
      expect(await store.transaction((tx) => tx.followCase(c.id, other.contactId, other.id, 'bot'))).toBe(
        true,
      );
      expect(await store.transaction((tx) => tx.followCase(c.id, other.contactId, other.id, 'bot'))).toBe(
        false,
      );
      expect(
        await store.transaction((tx) => tx.followCase(c.id, reporter.contactId, reporter.id, 'bot')),
      ).toBe(false);
      const audience = await store.caseAudience(c.id);
      expect(audience.map((a) => [a.role, a.conversationId])).toEqual([
        ['reporter', reporter.id],
        ['follower', other.id],
      ]);
      expect(
        (await store.transaction((tx) => tx.listCases({ contactId: other.contactId }))).map((x) => x.folio),
      ).toEqual([c.folio]);
      const events = await store.caseEvents(c.id);
      expect(events.map((e) => e.kind)).toEqual(['created', 'follower_added']);
    });

    it('keeps one open incident per hotspot, even under concurrent reports, and resolves it with its cases', async () => {
      const conv = await resolve(address());
      const joins = await Promise.all(
        Array.from({ length: 8 }, () =>
          store.transaction(async (tx) => {
            const j = await tx.joinIncident('hs-parque-independencia', now);
            await tx.createCase(
              newCase(conv, {
                category: 'wifi_publico',
                hotspotId: 'hs-parque-independencia',
                incidentId: j.incident.id,
              }),
              { prefix: 'VER', year: 2026 },
              'bot',
            );
            return j;
          }),
        ),
      );
      expect(new Set(joins.map((j) => j.incident.id)).size).toBe(1);
      expect(joins.filter((j) => j.opened)).toHaveLength(1);
      const [open] = await store.listIncidents({ status: 'open' });
      expect(open).toMatchObject({ hotspotId: 'hs-parque-independencia', reports: 8, status: 'open' });
      const resolved = await store.resolveIncident({
        hotspotId: 'hs-parque-independencia',
        note: 'Antena reiniciada',
        actor: 'admin',
        now,
        resolvedStatus: 'resuelto',
      });
      expect(resolved?.cases).toHaveLength(8);
      expect(resolved?.cases.every((c) => c.status === 'resuelto' && c.closedAt !== null)).toBe(true);
      expect(
        await store.resolveIncident({
          hotspotId: 'hs-parque-independencia',
          note: null,
          actor: 'admin',
          now,
          resolvedStatus: 'resuelto',
        }),
      ).toBeNull();
      const next = await store.transaction((tx) => tx.joinIncident('hs-parque-independencia', now));
      expect(next.opened).toBe(true);
      expect(next.incident.id).not.toBe(open!.id);
    });

    it('subscribes, reactivates and unsubscribes by topic and colonia', async () => {
      const conv = await resolve(address());
      const sub = (topic: string, colonia: string) =>
        store.transaction((tx) =>
          tx.subscribe({
            contactId: conv.contactId,
            conversationId: conv.id,
            channel: 'webchat',
            topic,
            colonia,
          }),
        );
      await sub('agua', 'Centro');
      await sub('agua', 'Centro');
      await sub('wifi', '');
      expect(
        (await store.listSubscriptions(conv.contactId)).map((x) => [x.topic, x.colonia, x.active]),
      ).toEqual([
        ['agua', 'Centro', true],
        ['wifi', '', true],
      ]);
      expect(
        await store.transaction((tx) => tx.unsubscribe({ contactId: conv.contactId, topic: 'agua' })),
      ).toBe(1);
      expect(await store.transaction((tx) => tx.unsubscribe({ contactId: conv.contactId }))).toBe(1);
      expect((await store.listSubscriptions(conv.contactId)).every((x) => !x.active)).toBe(true);
      await sub('agua', 'Centro');
      expect(
        (await store.listSubscriptions(conv.contactId)).filter((x) => x.active).map((x) => x.topic),
      ).toEqual(['agua']);
    });

    it('records the privacy notice on the contact with the turn', async () => {
      const conv = await resolve(address());
      expect(conv.privacyNoticeAt).toBeNull();
      await store.transaction((tx) =>
        tx.commitTurn({
          conversation: conv,
          state: null,
          mode: 'bot',
          queue: null,
          locale: 'es-MX',
          lastInboundAt: now,
          outbound: [],
          now,
          privacyNoticeShown: true,
        }),
      );
      expect((await store.getConversation(conv.id))?.privacyNoticeAt?.toISOString()).toBe(now.toISOString());
      expect((await resolve(conv.address)).privacyNoticeAt?.toISOString()).toBe(now.toISOString());
    });

    it('links contacts: finds identities by phone or e-mail, queues a code elsewhere, merges into the older', async () => {
      const phone = `+5222900${String(Math.floor(Math.random() * 1e5)).padStart(5, '0')}`;
      const sms = await store.resolveConversation({
        channel: 'sms',
        address: { channel: 'sms', user: phone },
        locale: 'en',
        now,
        identity: { phone },
      });
      const tick = () => new Promise((r) => setTimeout(r, 5)); // creation order decides which contact is older
      await tick();
      const mail = await store.resolveConversation({
        channel: 'email',
        address: { channel: 'email', user: 'Ana@Example.org' },
        locale: 'es-MX',
        now,
        identity: { email: 'ana@example.org' },
      });
      await tick();
      const web = await resolve(address());
      // The SMS citizen has written (a conversation with an inbound), so it is found first.
      await store.transaction(async (tx) => {
        await tx.appendInbound(sms.id, inbound(sms.address, 'sms-1'), 'hola');
        return tx.commitTurn({
          conversation: sms,
          state: null,
          mode: 'bot',
          queue: null,
          locale: 'en',
          lastInboundAt: now,
          outbound: [],
          now,
        });
      });
      const c = await store.transaction((tx) =>
        tx.createCase(newCase(web), { prefix: 'VER', year: 2026 }, 'bot'),
      );

      const { matches, byEmail, none, outboxId } = await store.transaction(async (tx) => ({
        matches: await tx.findIdentities({ phone }),
        byEmail: await tx.findIdentities({ email: 'ANA@example.org' }),
        none: await tx.findIdentities({ phone: '+15550000000' }),
        outboxId: await tx.queueOutbound(
          sms.id,
          { outbound: { kind: 'text', text: 'Tu código: 123456' }, author: 'bot' },
          now,
        ),
      }));
      expect(matches).toEqual([
        expect.objectContaining({
          contactId: sms.contactId,
          channel: 'sms',
          conversationId: sms.id,
          locale: 'en',
        }),
      ]);
      expect(byEmail.map((m) => m.conversationId)).toEqual([mail.id]);
      expect(none).toEqual([]);
      // The queued message goes out on the other conversation's channel and address.
      const [entry] = await outbox.lease({ ids: [outboxId], now, leaseMs: 60_000 });
      expect(entry).toMatchObject({ conversationId: sms.id, channel: 'sms', address: sms.address });
      expect(entry?.outbound).toEqual({ kind: 'text', text: 'Tu código: 123456' });
      expect((await store.listMessages(sms.id)).at(-1)).toMatchObject({
        direction: 'out',
        text: 'Tu código: 123456',
      });
      await expect(
        store.transaction((tx) =>
          tx.queueOutbound(
            randomUUID() as ConversationRecord['id'],
            { outbound: { kind: 'text', text: 'x' }, author: 'bot' },
            now,
          ),
        ),
      ).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });

      // Link requests: saved, read back, only attempts and linking time change, counted by target or contact.
      const link = {
        id: randomUUID(),
        conversationId: web.id,
        contactId: web.contactId,
        target: phone,
        targetContactId: sms.contactId,
        codeHash: 'ab'.repeat(32),
        attempts: 0,
        expiresAt: new Date(now.getTime() + 600_000),
        createdAt: now,
        linkedAt: null,
      };
      await store.transaction((tx) => tx.saveLinkCode(link));
      await store.transaction((tx) => tx.saveLinkCode({ ...link, attempts: 2, target: 'ignored' }));
      const counts = await store.transaction(async (tx) => ({
        read: await tx.getLinkCode(link.id),
        missing: await tx.getLinkCode(randomUUID()),
        byTarget: await tx.countLinkCodes({ target: phone, contactId: mail.contactId, since: now }),
        byContact: await tx.countLinkCodes({ target: 'x@example.org', contactId: web.contactId, since: now }),
        later: await tx.countLinkCodes({
          target: phone,
          contactId: web.contactId,
          since: new Date(now.getTime() + 1),
        }),
      }));
      expect(counts.read).toEqual({ ...link, attempts: 2 });
      expect(counts.missing).toBeNull();
      expect([counts.byTarget, counts.byContact, counts.later]).toEqual([1, 1, 0]);

      // Merging: the older contact (the SMS one) keeps its id and receives the web chat's case and link request.
      const merged = await store.transaction((tx) => tx.mergeContacts(web, sms.contactId));
      expect(merged).toEqual({ contactId: sms.contactId, moved: true });
      expect(await store.getContact(web.contactId)).toBeNull();
      expect((await store.getContact(sms.contactId))?.identities.map((i) => i.channel).sort()).toEqual([
        'sms',
        'webchat',
      ]);
      const moved = await store.getConversation(web.id);
      expect(moved).toMatchObject({ contactId: sms.contactId, stateVersion: web.stateVersion + 1 });
      expect((await store.findCase(c.folio))?.contactId).toBe(sms.contactId);
      expect(await store.transaction((tx) => tx.getLinkCode(link.id))).toMatchObject({
        contactId: sms.contactId,
        targetContactId: sms.contactId,
      });
      // From the older side the other contact moves, not this conversation; merging twice changes nothing.
      const fromOlder = await store.transaction((tx) => tx.mergeContacts(sms, mail.contactId));
      expect(fromOlder).toEqual({ contactId: sms.contactId, moved: false });
      expect((await store.getConversation(mail.id))?.contactId).toBe(sms.contactId);
      expect(await store.transaction((tx) => tx.mergeContacts(sms, mail.contactId))).toEqual({
        contactId: sms.contactId,
        moved: false,
      });
    });

    it('changes a case status with an audited public note', async () => {
      const conv = await resolve(address());
      const c = await store.transaction((tx) =>
        tx.createCase(newCase(conv), { prefix: 'VER', year: 2026 }, 'bot'),
      );
      const updated = await store.updateCaseStatus({
        folio: c.folio,
        status: 'programado',
        note: 'Se atiende el lunes',
        actor: 'admin',
        now,
        final: false,
      });
      expect(updated).toMatchObject({ status: 'programado', closedAt: null });
      const events = await store.caseEvents(c.id);
      expect(events.at(-1)).toMatchObject({
        kind: 'status_changed',
        actor: 'admin',
        data: { status: 'programado', note: 'Se atiende el lunes' },
      });
      await expect(
        store.updateCaseStatus({
          folio: 'VER-2026-999999',
          status: 'resuelto',
          note: null,
          actor: 'admin',
          now,
          final: true,
        }),
      ).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
    });
  });
}
