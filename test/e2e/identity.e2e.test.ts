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
        extraChannels: ['sms', 'wa', 'tg', 'mail', 'mail2', 'web', 'telegram'].map((name) =>
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
  /** The texts of every reply sent to `user`, in order. */
  const textsTo = (user: string) =>
    provider.calls
      .filter((c) => (c.body as { to?: string }).to === user)
      .map((c) => String((c.body as { outbound?: { text?: string } }).outbound?.text ?? ''));
  const codeIn = (text: string) => /\b(\d{6})\b/.exec(text)?.[1];

  it('links a web chat to the citizen’s phone channel with a one-time code sent there', async () => {
    const phoneContact = await contactOf('sms', '+522291110000');
    await send('web', 'visitor-1', { kind: 'text', text: 'quiero vincular mi whatsapp' });
    expect(await repliesTo('visitor-1', '10 dígitos')).toContain('10 dígitos');
    const before = await contactOf('web', 'visitor-1');
    expect(before).not.toBe(phoneContact);

    const sentBefore = provider.calls.length;
    await send('web', 'visitor-1', { kind: 'text', text: 'es el 229 111 0000' });
    expect(await repliesTo('visitor-1', 'código de 6 dígitos')).toContain('código de 6 dígitos');
    await repliesTo('+522291110000', 'Ventanilla es');
    // The code went to the phone's conversation that wrote last (the SMS one, "gracias" above), nowhere else.
    const codeCalls = provider.calls
      .slice(sentBefore)
      .filter((c) => /\b\d{6}\b/.test(JSON.stringify(c.body)));
    expect(codeCalls.map((c) => (c.body as { to?: string }).to)).toEqual(['+522291110000']);
    const code = codeIn(textsTo('+522291110000').at(-1)!)!;
    expect(code).toMatch(/^\d{6}$/);
    // Only its hash is stored.
    const stored = JSON.stringify((await t.app.database.raw.query('select * from contact_links')).rows);
    expect(stored).not.toContain(code);
    // …and the delivered outbox entry forgot it (marked sent just after the provider took it).
    const outboxRows = async () =>
      JSON.stringify(
        (
          await t.app.database.raw.query(
            "select payload, status from outbox where idempotency_key like 'otp:%'",
          )
        ).rows,
      );
    for (const end = Date.now() + 5_000; Date.now() < end && !(await outboxRows()).includes('"sent"');)
      await new Promise((r) => setTimeout(r, 25));
    expect(await outboxRows()).toContain('••••••');
    expect(await outboxRows()).not.toContain(code);

    const wrong = code === '000000' ? '111111' : '000000';
    await send('web', 'visitor-1', { kind: 'text', text: wrong });
    expect(await repliesTo('visitor-1', 'no coincide')).toContain('te quedan 4 intentos');
    expect(await contactOf('web', 'visitor-1')).toBe(before);

    await send('web', 'visitor-1', { kind: 'text', text: code.split('').join(' ') });
    expect(await repliesTo('visitor-1', 'Unimos')).toContain('Unimos tus conversaciones');
    expect(await contactOf('web', 'visitor-1')).toBe(phoneContact);
    expect(await t.app.store.getContact(before)).toBeNull();
    const contact = await t.app.store.getContact(phoneContact);
    expect(contact?.identities.map((i) => i.channel).sort()).toEqual(['sms', 'tg', 'wa', 'web']);

    // Asking again says it is done already; the next turn works on the moved conversation.
    await send('web', 'visitor-1', { kind: 'text', text: 'vincular mi número 2291110000' });
    expect(await repliesTo('visitor-1', 'ya está unida')).toContain('ya está unida');
  });

  it('answers an unknown phone or e-mail exactly like a known one, and no code can match', async () => {
    const sentBefore = provider.calls.length;
    await send('web', 'visitor-2', { kind: 'text', text: 'vincular mi correo nadie@example.org' });
    expect(await repliesTo('visitor-2', 'código de 6 dígitos')).toContain('código de 6 dígitos');
    const elsewhere = provider.calls
      .slice(sentBefore)
      .filter((c) => (c.body as { to?: string }).to !== 'visitor-2');
    expect(elsewhere).toEqual([]);
    await send('web', 'visitor-2', { kind: 'text', text: '123456' });
    expect(await repliesTo('visitor-2', 'no coincide')).toContain('no coincide');
  });

  it('takes a corrected number while waiting for the code, and sends a new code there', async () => {
    await send('web', 'visitor-3', { kind: 'text', text: 'vincular mi número 229 000 0000' });
    expect(await repliesTo('visitor-3', 'código de 6 dígitos')).toContain('código de 6 dígitos');
    const before = textsTo('+522291110000').length;
    await send('web', 'visitor-3', { kind: 'text', text: 'no, el número es 229 111 0000' });
    expect(await repliesTo('+522291110000', 'Ventanilla es')).toBeTruthy();
    for (const end = Date.now() + 5_000; Date.now() < end && textsTo('+522291110000').length === before;)
      await new Promise((r) => setTimeout(r, 25));
    expect(codeIn(textsTo('+522291110000').at(-1)!)).toMatch(/^\d{6}$/);
    expect(textsTo('+522291110000').length).toBe(before + 1);
  });

  it('limits code requests per phone or e-mail', async () => {
    await send('mail', 'luz@example.org', {
      kind: 'text',
      text: 'hola',
      identity: { email: 'luz@example.org' },
    });
    for (const n of [1, 2, 3]) {
      await send('web', `asker-${n}`, { kind: 'text', text: 'vincular mi correo luz@example.org' });
      expect(await repliesTo(`asker-${n}`, 'código de 6 dígitos')).toContain('código de 6 dígitos');
    }
    const codesToLuz = async (n: number) => {
      // Codes are dispatched after their turn commits: wait (up to 5 s) until `n` arrived.
      for (const end = Date.now() + 5_000; Date.now() < end; await new Promise((r) => setTimeout(r, 25)))
        if (textsTo('luz@example.org').filter((x) => codeIn(x)).length >= n) break;
      return textsTo('luz@example.org').filter((x) => codeIn(x)).length;
    };
    expect(await codesToLuz(3)).toBe(3);
    await send('web', 'asker-4', { kind: 'text', text: 'vincular mi correo luz@example.org' });
    expect(await repliesTo('asker-4', 'más tarde')).toContain('varios códigos');
    expect(await codesToLuz(4)).toBe(3);
  });

  it('offers Telegram’s share-my-number button, and a shared phone ends the linking', async () => {
    await send('telegram', 'tg-9', { kind: 'text', text: 'quiero unir mis conversaciones' });
    expect(await repliesTo('tg-9', 'share:phone')).toContain('share:phone');
    const ask = provider.calls
      .filter((c) => (c.body as { to?: string }).to === 'tg-9')
      .map((c) => (c.body as { outbound?: { kind: string; choices?: { id: string }[] } }).outbound)
      .at(-1);
    expect(ask?.kind).toBe('choices');
    expect(ask?.choices?.map((c) => c.id)).toEqual(['share:phone']);
    await send('telegram', 'tg-9', { kind: 'contact', phone: '+522291110000', own: true });
    expect(await repliesTo('tg-9', 'te reconocí')).toContain('te reconocí');
    expect(await contactOf('telegram', 'tg-9')).toBe(await contactOf('sms', '+522291110000'));
    // The form is closed: a greeting is a greeting, not a wrong phone number.
    await send('telegram', 'tg-9', { kind: 'text', text: 'hola' });
    const last = await repliesTo('tg-9', 'Ventanilla');
    expect(last).not.toContain('No encontré un teléfono');
  });
});
