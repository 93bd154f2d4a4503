/** One-time linking codes (dialogs/runtime/link.ts) on the in-memory store: limits, expiry and what is stored. */
import { describe, expect, it } from 'vitest';
import type { ConversationRecord } from '../../integrations/contract.ts';
import { createMemoryStores } from '../../integrations/storage/memory.ts';
import {
  LINK_CODE_MINUTES,
  LINK_MAX_ATTEMPTS,
  LINK_MAX_PER_DAY,
  LINK_MAX_PER_HOUR,
  confirmLink,
  startLink,
} from '../../dialogs/runtime/link.ts';
import { linkTarget } from '../../dialogs/flows/link-channel.ts';

const t0 = new Date('2026-11-24T16:00:00Z');
const t = (_locale: string, key: string, params?: Record<string, string | number>) =>
  `${key} ${JSON.stringify(params ?? {})}`;

async function setup() {
  let clock = t0;
  const { store, outbox } = createMemoryStores({ now: () => clock });
  const phone = '+522291234567';
  const sms = await store.resolveConversation({
    channel: 'twilio-sms',
    address: { channel: 'twilio-sms', user: phone },
    locale: 'en',
    now: t0,
    identity: { phone },
  });
  clock = new Date(t0.getTime() + 1);
  const web = await store.resolveConversation({
    channel: 'webchat',
    address: { channel: 'webchat', user: 'w1' },
    locale: 'es-MX',
    now: t0,
  });
  const start = (conversation: ConversationRecord, target: string, now = t0) =>
    store.transaction((tx) => startLink({ tx, conversation, now, t }, target));
  const confirm = (conversation: ConversationRecord, linkId: string, code: string, now = t0) =>
    store.transaction((tx) => confirmLink({ tx, conversation, now, t }, linkId, code));
  /** The code sent with outbox entry `id`. */
  const codeOf = async (id: string) => {
    const entry = await outbox.get(id);
    const text = entry?.outbound.kind === 'text' ? entry.outbound.text : '';
    return /"code":"(\d{6})"/.exec(text)?.[1] ?? '';
  };
  return { store, outbox, phone, sms, web, start, confirm, codeOf };
}

describe('linking codes', () => {
  it('sends the code in the other conversation’s language and links with it', async () => {
    const s = await setup();
    const { start, outboxIds } = await s.start(s.web, s.phone);
    expect(start).toMatchObject({ status: 'pending', minutes: LINK_CODE_MINUTES });
    expect(outboxIds).toHaveLength(1);
    const entry = await s.outbox.get(outboxIds[0]!);
    expect(entry).toMatchObject({ conversationId: s.sms.id, channel: 'twilio-sms' });
    expect(JSON.stringify(entry?.outbound)).toContain('link-channel-code-message');
    const code = await s.codeOf(outboxIds[0]!);
    // The other conversation's history (what agents see) shows the code masked.
    const history = await s.store.listMessages(s.sms.id);
    expect(history.at(-1)?.text).toContain('••••••');
    expect(JSON.stringify(history)).not.toContain(code);
    const linkId = start.status === 'pending' ? start.linkId : '';
    const done = await s.confirm(s.web, linkId, code);
    expect(done.check).toEqual({ status: 'linked' });
    expect(done.merged).toEqual({ contactId: s.sms.contactId, moved: true });
    expect((await s.store.getConversation(s.web.id))?.contactId).toBe(s.sms.contactId);
    // A second start for the same phone is already linked.
    const moved = (await s.store.getConversation(s.web.id))!;
    expect((await s.start(moved, s.phone)).start).toEqual({ status: 'already-linked' });
  });

  it('counts wrong codes and then refuses even the right one', async () => {
    const s = await setup();
    const { start, outboxIds } = await s.start(s.web, s.phone);
    const linkId = start.status === 'pending' ? start.linkId : '';
    const code = await s.codeOf(outboxIds[0]!);
    const wrong = code === '999999' ? '999998' : '999999';
    const seen: unknown[] = [];
    for (let i = 0; i < LINK_MAX_ATTEMPTS; i++) seen.push((await s.confirm(s.web, linkId, wrong)).check);
    expect(seen.at(0)).toEqual({ status: 'wrong', attemptsLeft: LINK_MAX_ATTEMPTS - 1 });
    expect(seen.at(-1)).toEqual({ status: 'exhausted' });
    expect((await s.confirm(s.web, linkId, code)).check).toEqual({ status: 'exhausted' });
    expect((await s.store.getConversation(s.web.id))?.contactId).toBe(s.web.contactId);
  });

  it('expires codes, and only the asking conversation may use its request', async () => {
    const s = await setup();
    const { start, outboxIds } = await s.start(s.web, s.phone);
    const linkId = start.status === 'pending' ? start.linkId : '';
    const code = await s.codeOf(outboxIds[0]!);
    expect((await s.confirm(s.sms, linkId, code)).check).toEqual({ status: 'expired' });
    const late = new Date(t0.getTime() + LINK_CODE_MINUTES * 60_000 + 1);
    expect((await s.confirm(s.web, linkId, code, late)).check).toEqual({ status: 'expired' });
  });

  it('treats an unknown target like a known one: pending, nothing sent, no code matches', async () => {
    const s = await setup();
    const { start, outboxIds } = await s.start(s.web, 'nadie@example.org');
    expect(start.status).toBe('pending');
    expect(outboxIds).toEqual([]);
    const linkId = start.status === 'pending' ? start.linkId : '';
    expect((await s.confirm(s.web, linkId, '123456')).check).toEqual({
      status: 'wrong',
      attemptsLeft: LINK_MAX_ATTEMPTS - 1,
    });
  });

  it('forgets the code in the outbox entry once it was delivered', async () => {
    const s = await setup();
    const { outboxIds } = await s.start(s.web, s.phone);
    const code = await s.codeOf(outboxIds[0]!);
    expect(code).toMatch(/^\d{6}$/);
    const [entry] = await s.outbox.lease({ ids: outboxIds, now: t0, leaseMs: 60_000 });
    expect(await s.outbox.markSent(entry!.id, entry!.leaseToken!, 'sms-1', t0)).toBe(true);
    const after = await s.outbox.get(entry!.id);
    expect(JSON.stringify(after?.outbound)).not.toContain(code);
    expect(JSON.stringify(after?.outbound)).toContain('••••••');
  });

  it('caps requests per day for one target, whoever asks', async () => {
    const s = await setup();
    let at = t0.getTime();
    for (let i = 0; i < LINK_MAX_PER_DAY; i++) {
      // A new web chat each time (a new contact), spaced so the hourly limit never applies.
      const web = await s.store.resolveConversation({
        channel: 'webchat',
        address: { channel: 'webchat', user: `asker-${i}` },
        locale: 'es-MX',
        now: t0,
      });
      expect((await s.start(web, s.phone, new Date(at))).start.status).toBe('pending');
      at += 2 * 3_600_000;
    }
    const late = await s.store.resolveConversation({
      channel: 'webchat',
      address: { channel: 'webchat', user: 'asker-late' },
      locale: 'es-MX',
      now: t0,
    });
    expect((await s.start(late, s.phone, new Date(at))).start).toEqual({ status: 'rate-limited' });
  });

  it('prefers a channel that can take the code now over a WhatsApp chat whose 24-hour window closed', async () => {
    const s = await setup();
    const wa = await s.store.resolveConversation({
      channel: 'whatsapp',
      address: { channel: 'whatsapp', user: '5212291234567' },
      locale: 'es-MX',
      now: t0,
      identity: { phone: s.phone },
    });
    // The citizen last wrote on WhatsApp two days ago (more recently than on SMS, where they never wrote).
    await s.store.transaction((tx) =>
      tx.commitTurn({
        conversation: wa,
        state: null,
        mode: 'bot',
        queue: null,
        locale: 'es-MX',
        lastInboundAt: new Date(t0.getTime() - 2 * 24 * 3_600_000),
        outbound: [],
        now: t0,
      }),
    );
    const { outboxIds } = await s.start(s.web, s.phone);
    expect((await s.outbox.get(outboxIds[0]!))?.channel).toBe('twilio-sms');
  });

  it('limits requests per hour for one target and by one contact', async () => {
    const s = await setup();
    for (let i = 0; i < LINK_MAX_PER_HOUR; i++)
      expect((await s.start(s.web, `x${i}@example.org`)).start.status).toBe('pending');
    expect((await s.start(s.web, 'otro@example.org')).start).toEqual({ status: 'rate-limited' });
    const later = new Date(t0.getTime() + 3_600_001);
    expect((await s.start(s.web, 'otro@example.org', later)).start.status).toBe('pending');
  });
});

describe('link-channel answers', () => {
  it('reads phones and e-mails: national, with +52 or +52 1, another country as typed', () => {
    expect(linkTarget('es el 229 111 0000', null)).toBe('+522291110000');
    expect(linkTarget('+52 1 229 111 0000', null)).toBe('+522291110000');
    expect(linkTarget('mi número es +1 555 123 4567', null)).toBe('+15551234567');
    expect(linkTarget('Ana.Lopez@Example.org', null)).toBe('ana.lopez@example.org');
    expect(linkTarget('el de mi casa', null)).toBeUndefined();
  });
});
