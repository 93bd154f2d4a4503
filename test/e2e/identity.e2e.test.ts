/** One person across channels: phones and e-mails the provider vouches for join identities into one contact. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inbound } from '../../channels/contract.ts';
import { inboundId } from '../../channels/kit/ids.ts';
import { startFakeProvider } from '../fakes/http-provider.ts';
import type { FakeProvider } from '../fakes/http-provider.ts';
import { createLoopbackChannel } from '../fakes/loopback-channel.ts';
import { startTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';

type Extra = Partial<Pick<Inbound, 'identity'>> &
  ({ kind: 'text'; text: string } | { kind: 'contact'; phone: string; own: boolean });

describe('identity across channels', () => {
  let t: TestApp;
  let provider: FakeProvider;
  let n = 0;

  beforeAll(async () => {
    provider = await startFakeProvider();
    t = await startTestApp(
      {},
      {
        extraChannels: ['sms', 'wa', 'tg', 'mail', 'mail2'].map((name) =>
          createLoopbackChannel(provider.baseUrl, { name }),
        ),
      },
    );
  });
  afterAll(async () => {
    await t.close();
    await provider.close();
  });

  const send = async (channel: string, user: string, extra: Extra) => {
    const externalId = `id-${++n}`;
    const inbound = {
      id: inboundId(channel, externalId),
      externalId,
      address: { channel, user },
      at: new Date().toISOString(),
      raw: {},
      ...extra,
    } as Inbound;
    return t.app.runtime.handle(inbound);
  };
  const contactOf = async (channel: string, user: string) =>
    (await t.app.store.findConversation(channel, user))!.contactId;
  /** Every reply sent to `user` so far, waiting (up to 5 s) until one contains `expected`. */
  const repliesTo = async (user: string, expected: string) => {
    const end = Date.now() + 5_000;
    for (;;) {
      const text = provider.calls
        .filter((c) => (c.body as { to?: string }).to === user)
        .map((c) => JSON.stringify((c.body as { outbound?: unknown }).outbound))
        .join('\n');
      if (text.includes(expected) || Date.now() > end) return text;
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  it('the same phone on two channels is one contact', async () => {
    await send('sms', '+522291110000', { kind: 'text', text: 'hola', identity: { phone: '+522291110000' } });
    await send('wa', '5212291110000', { kind: 'text', text: 'hola', identity: { phone: '+522291110000' } });
    const a = await contactOf('sms', '+522291110000');
    expect(await contactOf('wa', '5212291110000')).toBe(a);
    const contact = await t.app.store.getContact(a);
    expect(contact?.identities.map((i) => i.channel).sort()).toEqual(['sms', 'wa']);
  });

  it('e-mail senders match by address; different people stay apart', async () => {
    await send('mail', 'ana@example.org', {
      kind: 'text',
      text: 'hola',
      identity: { email: 'ana@example.org' },
    });
    await send('mail2', 'ana@example.org', {
      kind: 'text',
      text: 'hola',
      identity: { email: 'ana@example.org' },
    });
    await send('mail2', 'luis@example.org', {
      kind: 'text',
      text: 'hola',
      identity: { email: 'luis@example.org' },
    });
    expect(await contactOf('mail2', 'ana@example.org')).toBe(await contactOf('mail', 'ana@example.org'));
    expect(await contactOf('mail2', 'luis@example.org')).not.toBe(await contactOf('mail', 'ana@example.org'));
  });

  it('a shared own phone merges the chat identity into the older contact, cases included', async () => {
    const phoneContact = await contactOf('sms', '+522291110000');
    // The Telegram citizen subscribes to notices first, so there is something to move.
    await send('tg', 'chat-1', { kind: 'text', text: 'quiero recibir avisos de agua' });
    const before = await contactOf('tg', 'chat-1');
    expect(before).not.toBe(phoneContact);

    const out = await send('tg', 'chat-1', { kind: 'contact', phone: '+522291110000', own: true });
    expect(out.status).toBe('handled');
    expect(await repliesTo('chat-1', 'te reconocí')).toContain('te reconocí');
    expect(await contactOf('tg', 'chat-1')).toBe(phoneContact);
    expect(await t.app.store.getContact(before)).toBeNull();
    const contact = await t.app.store.getContact(phoneContact);
    expect(contact?.identities.map((i) => i.channel).sort()).toEqual(['sms', 'tg', 'wa']);
    expect(contact?.identities.find((i) => i.channel === 'tg')?.phone).toBe('+522291110000');

    // The cached conversation was moved under the runtime's feet: the next turns still work.
    const next = await send('tg', 'chat-1', { kind: 'text', text: 'hola' });
    expect(next.status).toBe('handled');
    const sms = await send('sms', '+522291110000', { kind: 'text', text: 'gracias' });
    expect(sms.status).toBe('handled');
  });

  it('a phone that is not the sender’s own links nothing', async () => {
    await send('tg', 'chat-2', { kind: 'text', text: 'hola' });
    const before = await contactOf('tg', 'chat-2');
    await send('tg', 'chat-2', { kind: 'contact', phone: '+522291110000', own: false });
    expect(await repliesTo('chat-2', 'propio número')).toContain('propio número');
    expect(await contactOf('tg', 'chat-2')).toBe(before);
  });
});
