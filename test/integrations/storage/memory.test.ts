import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CaseStore, ConversationRecord, StoreTx } from '../../../integrations/contract.ts';
import { createMemoryStores } from '../../../integrations/storage/memory.ts';
import { caseStoreContract } from '../../contract/case-store.contract.ts';
import { outboxContract } from '../../contract/outbox.contract.ts';
import type { StoreBackend } from '../../helpers/db.ts';

/** The in-memory stores; `reset()` starts from an empty dataset. */
const memory: StoreBackend = {
  name: 'memory',
  async open() {
    let current = createMemoryStores();
    return {
      get store() {
        return current.store;
      },
      get outbox() {
        return current.outbox;
      },
      async reset() {
        current = createMemoryStores();
      },
      async close() {},
    };
  },
};

caseStoreContract(memory);
outboxContract(memory);

/** Identity linking and a contact merge, observed through the ports (checked to match the SQL store). */
async function identityScenario(store: CaseStore, now: Date) {
  const P = '+522291110000';
  const res = (channel: string, user: string, identity?: { phone?: string; email?: string }) =>
    store.resolveConversation({
      channel,
      address: { channel, user },
      locale: 'es-MX',
      now,
      ...(identity ? { identity } : {}),
    });
  const A = await res('sms', P, { phone: P });
  const B = await res('wa', '521', { phone: P });
  const E = await res('mail', 'x@y.mx', { email: 'X@Y.mx' });
  const E2 = await res('mail2', 'x2', { email: 'x@y.mx' });
  const C = await res('tg', 't1');
  const base = (c: ConversationRecord) => ({
    category: 'baches',
    description: 'd',
    department: 'x',
    queue: 'q',
    sensitive: false,
    visibility: 'public' as const,
    contactId: c.contactId,
    conversationId: c.id,
    channel: c.channel,
    slaDueAt: now,
    openedAt: now,
  });
  const turn = (c: ConversationRecord, extra = {}) => ({
    conversation: c,
    state: { s: 1 },
    mode: 'bot' as const,
    queue: null,
    locale: 'es-MX',
    lastInboundAt: now,
    outbound: [],
    now,
    ...extra,
  });
  const caseA = await store.transaction(async (tx) => {
    const k = await tx.createCase(base(A), { prefix: 'VER', year: 2026 }, 'bot');
    await tx.subscribe({
      contactId: A.contactId,
      conversationId: A.id,
      channel: 'sms',
      topic: 'agua',
      colonia: '',
    });
    await tx.commitTurn(turn(A));
    return k;
  });
  let C1 = C;
  await store.transaction(async (tx) => {
    await tx.createCase(base(C), { prefix: 'VER', year: 2026 }, 'bot');
    await tx.followCase(caseA.id, C.contactId, C.id, 'citizen');
    await tx.subscribe({
      contactId: C.contactId,
      conversationId: C.id,
      channel: 'tg',
      topic: 'agua',
      colonia: '',
    });
    await tx.subscribe({
      contactId: C.contactId,
      conversationId: C.id,
      channel: 'tg',
      topic: 'wifi',
      colonia: 'Centro',
    });
    const c = await tx.commitTurn(turn(C, { privacyNoticeShown: true }));
    C1 = { ...C, stateVersion: c.stateVersion };
  });
  const inTx = await store.transaction(async (tx) => {
    const linked = await tx.attachPhone(C1, P);
    const conv = { ...C1, contactId: linked.contactId, stateVersion: C1.stateVersion + 1 };
    const cases = (await tx.listCases({ contactId: linked.contactId })).map((x) => x.folio);
    const subs = (await tx.listSubscriptions(linked.contactId)).map((x) => [x.topic, x.colonia, x.active]);
    const unsub = await tx.unsubscribe({ contactId: linked.contactId, topic: 'wifi' });
    const commit = await tx.commitTurn(turn(conv));
    return {
      merged: linked.merged,
      same: linked.contactId === A.contactId,
      cases,
      subs,
      unsub,
      v: commit.stateVersion,
    };
  });
  const again = await store.transaction((tx) => tx.attachPhone({ ...C1, contactId: A.contactId }, P));
  const contact = await store.getContact(A.contactId);
  const gone = await store.getContact(C.contactId);
  const convC = await store.findConversation('tg', 't1');
  const emailContact = await store.getContact(E.contactId);
  return {
    BsameA: B.contactId === A.contactId,
    E2sameE: E2.contactId === E.contactId,
    EnotA: E.contactId !== A.contactId,
    inTx,
    again: { merged: again.merged, same: again.contactId === A.contactId },
    identities: contact?.identities.map((i) => [i.channel, i.user, i.phone, i.email]),
    emailIdents: emailContact?.identities.map((i) => [i.channel, i.email]),
    privacy: contact?.privacyConsentAt?.toISOString() ?? null,
    gone,
    convC: {
      same: convC?.contactId === A.contactId,
      v: convC?.stateVersion,
      privacy: convC?.privacyNoticeAt?.toISOString() ?? null,
    },
    cases: (await store.listCases({ contactId: A.contactId })).map((x) => x.folio),
    subs: (await store.listSubscriptions(A.contactId)).map((x) => [x.topic, x.colonia, x.active, x.channel]),
    audience: (await store.caseAudience(caseA.id)).map((a) => [
      a.role,
      a.contactId === A.contactId,
      a.channel,
    ]),
  };
}

describe('memory store specifics', () => {
  const now = new Date('2026-03-10T16:00:00Z');
  const open = async () => {
    const { store, outbox } = createMemoryStores({ now: () => now });
    const address = { channel: 'webchat', user: randomUUID() };
    const conv = await store.resolveConversation({ channel: 'webchat', address, locale: 'es-MX', now });
    return { store, outbox, conv };
  };

  it('never hands out its own objects: mutating what was written or read changes nothing stored', async () => {
    const { store, outbox, conv } = await open();
    const state = { v: 1, slots: { category: 'baches' }, list: [1, 2] };
    const outbound = { kind: 'choices' as const, text: 'Elija', choices: [{ id: 'a', label: 'A' }] };
    const commit = await store.transaction((tx) =>
      tx.commitTurn({
        conversation: conv,
        state,
        mode: 'bot',
        queue: null,
        locale: 'es-MX',
        lastInboundAt: now,
        outbound: [{ outbound, author: 'bot' }],
        now,
      }),
    );
    state.slots.category = 'changed';
    state.list.push(3);
    outbound.choices[0]!.label = 'changed';
    const read = await store.getConversation(conv.id);
    expect(read?.state).toEqual({ v: 1, slots: { category: 'baches' }, list: [1, 2] });
    (read!.state as { v: number }).v = 99;
    (read!.address as { user: string }).user = 'changed';
    read!.lastInboundAt!.setTime(0);
    expect((await store.getConversation(conv.id))?.state).toEqual({
      v: 1,
      slots: { category: 'baches' },
      list: [1, 2],
    });
    expect((await store.getConversation(conv.id))?.address).toEqual(conv.address);
    expect((await store.getConversation(conv.id))?.lastInboundAt?.getTime()).toBe(now.getTime());
    const [entry] = await outbox.lease({ ids: commit.outboxIds, now, leaseMs: 1000 });
    expect(entry?.outbound).toEqual({ kind: 'choices', text: 'Elija', choices: [{ id: 'a', label: 'A' }] });
    (entry!.outbound as { text: string }).text = 'changed';
    expect((await outbox.get(entry!.id))?.outbound).toMatchObject({ text: 'Elija' });
    const [msg] = await store.listMessages(conv.id);
    (msg!.body as { text: string }).text = 'changed';
    expect((await store.listMessages(conv.id))[0]?.body).toMatchObject({ text: 'Elija' });
  });

  it('reads its own writes inside a transaction: folios, cases, followers, subscriptions, texts, versions', async () => {
    const { store, conv } = await open();
    const other = await store.resolveConversation({
      channel: 'webchat',
      address: { channel: 'webchat', user: randomUUID() },
      locale: 'es-MX',
      now,
    });
    const base = {
      category: 'baches',
      description: 'Bache',
      address: 'Av. Juárez 10',
      department: 'Obras Públicas',
      queue: 'obras_publicas',
      sensitive: false,
      visibility: 'public' as const,
      contactId: conv.contactId,
      conversationId: conv.id,
      channel: 'webchat',
      slaDueAt: now,
    };
    await store.transaction(async (tx) => {
      const a = await tx.createCase({ ...base, openedAt: now }, { prefix: 'VER', year: 2026 }, 'bot');
      const b = await tx.createCase(
        { ...base, openedAt: new Date(now.getTime() + 1) },
        { prefix: 'VER', year: 2026 },
        'bot',
      );
      expect([a.folio, b.folio]).toEqual(['VER-2026-000001', 'VER-2026-000002']);
      expect((await tx.findCase(a.folio))?.id).toBe(a.id);
      expect(await tx.followCase(a.id, other.contactId, other.id, 'bot')).toBe(true);
      expect(await tx.followCase(a.id, other.contactId, other.id, 'bot')).toBe(false);
      expect((await tx.listCases({ contactId: conv.contactId })).map((c) => c.folio)).toEqual([
        b.folio,
        a.folio,
      ]);
      expect((await tx.listCases({ contactId: other.contactId })).map((c) => c.folio)).toEqual([a.folio]);
      const near = await tx.findOpenCasesNear({
        category: 'baches',
        lat: null,
        lon: null,
        radiusM: 250,
        address: 'AV JUAREZ 10',
      });
      expect(near.map((c) => c.folio)).toEqual([b.folio, a.folio]);
      const j = await tx.joinIncident('hs-1', now);
      expect(j.opened).toBe(true);
      expect((await tx.joinIncident('hs-1', now)).incident.id).toBe(j.incident.id);
      await tx.subscribe({
        contactId: conv.contactId,
        conversationId: conv.id,
        channel: 'webchat',
        topic: 'agua',
        colonia: '',
      });
      expect(await tx.unsubscribe({ contactId: conv.contactId })).toBe(1);
      expect((await tx.listSubscriptions(conv.contactId)).map((x) => x.active)).toEqual([false]);
      await tx.appendInbound(
        conv.id,
        {
          id: randomUUID(),
          externalId: 'e1',
          address: conv.address,
          at: now.toISOString(),
          kind: 'text',
          text: 'hola',
          raw: {},
        },
        'hola',
      );
      expect(await tx.recentTexts(conv.id, 5)).toEqual(['citizen: hola']);
      const first = await tx.commitTurn({
        conversation: conv,
        state: null,
        mode: 'bot',
        queue: null,
        locale: 'es-MX',
        lastInboundAt: now,
        outbound: [{ outbound: { kind: 'text', text: 'qué tal' }, author: 'bot' }],
        now,
      });
      expect(await tx.recentTexts(conv.id, 5)).toEqual(['citizen: hola', 'bot: qué tal']);
      const second = await tx.commitTurn({
        conversation: { ...conv, stateVersion: first.stateVersion },
        state: null,
        mode: 'bot',
        queue: null,
        locale: 'es-MX',
        lastInboundAt: null,
        outbound: [],
        now,
      });
      expect(second.stateVersion).toBe(2);
      await expect(
        tx.commitTurn({
          conversation: conv,
          state: null,
          mode: 'bot',
          queue: null,
          locale: 'es-MX',
          lastInboundAt: null,
          outbound: [],
          now,
        }),
      ).rejects.toMatchObject({ code: 'STORE_VERSION_CONFLICT' });
    });
    expect(
      (await store.caseAudience((await store.findCase('VER-2026-000001'))!.id)).map((a) => a.role),
    ).toEqual(['reporter', 'follower']);
    expect((await store.listIncidents({ status: 'open' })).map((i) => i.hotspotId)).toEqual(['hs-1']);
    expect((await store.getConversation(conv.id))?.stateVersion).toBe(2);
    await store.transaction(async (tx) => {
      const sub = { contactId: conv.contactId, conversationId: conv.id, channel: 'webchat', colonia: '' };
      await tx.subscribe({ ...sub, topic: 'agua' });
      await tx.subscribe({ ...sub, topic: 'wifi' });
      expect((await tx.listSubscriptions(conv.contactId)).map((x) => [x.topic, x.active])).toEqual([
        ['agua', true],
        ['wifi', true],
      ]);
      expect(await tx.unsubscribe({ contactId: conv.contactId, topic: 'wifi' })).toBe(1);
    });
    expect((await store.listSubscriptions(conv.contactId)).map((x) => [x.topic, x.active])).toEqual([
      ['agua', true],
      ['wifi', false],
    ]);
  });

  it('keeps an entry behind an older one of its conversation that is not being taken, even when named', async () => {
    const { store, outbox, conv } = await open();
    const write = (c: typeof conv, text: string) =>
      store.transaction((tx) =>
        tx.commitTurn({
          conversation: c,
          state: null,
          mode: 'bot',
          queue: null,
          locale: 'es-MX',
          lastInboundAt: null,
          outbound: [{ outbound: { kind: 'text', text }, author: 'bot' }],
          now,
        }),
      );
    const a = await write(conv, 'uno');
    const b = await write({ ...conv, stateVersion: a.stateVersion }, 'dos');
    // Only the newer one is named: the older one is pending and not taken, so it blocks.
    expect(await outbox.lease({ ids: b.outboxIds, now, leaseMs: 1000 })).toHaveLength(0);
    const both = await outbox.lease({ ids: [...b.outboxIds, ...a.outboxIds], now, leaseMs: 1000 });
    expect(both.map((e) => (e.outbound as { text: string }).text)).toEqual(['uno', 'dos']);
    expect(new Set(both.map((e) => e.leaseToken)).size).toBe(1);
    for (const e of both) await outbox.markSent(e.id, e.leaseToken!, `x-${e.id}`, now);
    // The older one named alone goes; the newer one, not named, waits and does not hold it back.
    const c = await write({ ...conv, stateVersion: b.stateVersion }, 'tres');
    await write({ ...conv, stateVersion: c.stateVersion }, 'cuatro');
    const third = await outbox.lease({ ids: c.outboxIds, now, leaseMs: 1000 });
    expect(third.map((e) => (e.outbound as { text: string }).text)).toEqual(['tres']);
  });

  it('links identities by phone and e-mail and merges contacts as the SQL store does', async () => {
    expect(await identityScenario(createMemoryStores({ now: () => now }).store, now)).toEqual({
      BsameA: true,
      E2sameE: true,
      EnotA: true,
      inTx: {
        merged: true,
        same: true,
        cases: ['VER-2026-000002', 'VER-2026-000001'],
        subs: [
          ['agua', '', true],
          ['wifi', 'Centro', true],
        ],
        unsub: 1,
        v: 3,
      },
      again: { merged: false, same: true },
      identities: [
        ['sms', '+522291110000', '+522291110000', null],
        ['wa', '521', '+522291110000', null],
        ['tg', 't1', '+522291110000', null],
      ],
      emailIdents: [
        ['mail', 'x@y.mx'],
        ['mail2', 'x@y.mx'],
      ],
      privacy: '2026-03-10T16:00:00.000Z',
      gone: null,
      convC: { same: true, v: 3, privacy: '2026-03-10T16:00:00.000Z' },
      cases: ['VER-2026-000002', 'VER-2026-000001'],
      subs: [
        ['agua', '', true, 'sms'],
        ['wifi', 'Centro', false, 'tg'],
      ],
      audience: [
        ['reporter', true, 'sms'],
        ['follower', true, 'tg'],
      ],
    });
  });

  it('imports a closed case with its hotspot and coordinates; it is no duplicate candidate', async () => {
    const { store, conv } = await open();
    const imported = await store.importCase(
      {
        category: 'wifi_publico',
        description: 'Sin señal',
        address: 'Parque Independencia',
        lat: 18.146,
        lon: -94.4609,
        department: 'Innovación',
        queue: 'innovacion',
        sensitive: false,
        visibility: 'public',
        contactId: conv.contactId,
        conversationId: conv.id,
        channel: 'webchat',
        slaDueAt: now,
        hotspotId: 'hs-1',
        folio: 'VER-2025-000007',
        status: 'resuelto',
        createdAt: new Date('2025-05-01T10:00:00Z'),
        closedAt: new Date('2025-05-02T10:00:00Z'),
      },
      'import',
    );
    expect(imported).toMatchObject({ hotspotId: 'hs-1', geoSource: 'pin', status: 'resuelto' });
    expect(imported.closedAt?.toISOString()).toBe('2025-05-02T10:00:00.000Z');
    const near = await store.transaction((tx) =>
      tx.findOpenCasesNear({
        category: 'wifi_publico',
        lat: 18.146,
        lon: -94.4609,
        radiusM: 250,
        address: null,
      }),
    );
    expect(near).toHaveLength(0);
  });

  it("replaces the stored address with the turn's, and its replies go there", async () => {
    const { store, outbox, conv } = await open();
    const address = { ...conv.address, thread: 'msg-2@example.com' };
    const commit = await store.transaction((tx) =>
      tx.commitTurn({
        conversation: conv,
        state: null,
        mode: 'bot',
        queue: null,
        locale: 'es-MX',
        lastInboundAt: now,
        address,
        outbound: [{ outbound: { kind: 'text', text: 'hola' }, author: 'bot' }],
        now,
      }),
    );
    expect((await store.getConversation(conv.id))?.address).toEqual(address);
    const [entry] = await outbox.lease({ ids: commit.outboxIds, now, leaseMs: 1000 });
    expect(entry?.address).toEqual(address);
  });

  it('stores JSON as a jsonb round trip would', async () => {
    const { store, conv } = await open();
    await store.transaction((tx) =>
      tx.commitTurn({
        conversation: conv,
        state: { at: now, gone: undefined, n: Number.NaN, list: [undefined, 1] },
        mode: 'bot',
        queue: null,
        locale: 'es-MX',
        lastInboundAt: null,
        outbound: [],
        now,
      }),
    );
    expect((await store.getConversation(conv.id))?.state).toEqual({
      at: now.toISOString(),
      n: null,
      list: [null, 1],
    });
  });

  it('hides a transaction from other readers until it commits, and refuses a transaction used after it ended', async () => {
    const { store, outbox, conv } = await open();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let kept: StoreTx | undefined;
    const turn = store.transaction(async (tx) => {
      kept = tx;
      await tx.commitTurn({
        conversation: conv,
        state: { n: 1 },
        mode: 'bot',
        queue: null,
        locale: 'es-MX',
        lastInboundAt: now,
        outbound: [{ outbound: { kind: 'text', text: 'hola' }, author: 'bot' }],
        now,
      });
      await gate;
    });
    await new Promise((r) => setImmediate(r));
    expect((await store.getConversation(conv.id))?.stateVersion).toBe(0);
    expect(await store.listMessages(conv.id)).toHaveLength(0);
    expect(await outbox.depth()).toBe(0);
    release();
    await turn;
    expect((await store.getConversation(conv.id))?.stateVersion).toBe(1);
    expect(await outbox.depth()).toBe(1);
    await expect(kept!.findCase('VER-2026-000001')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });
});
