/**
 * Twilio SMS end to end: the whole product on PGlite with the channel pointed at a loopback Twilio fake. A citizen
 * files a complaint by SMS answering numbered options, gets the folio, checks its status, and status callbacks
 * update the stored messages; redelivered webhooks change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { FakeClock } from '../helpers/clock.ts';
import { incomingSms, signedWebhook, startFakeTwilio, statusCallback } from '../fakes/twilio-sms.ts';
import type { FakeSms, FakeTwilio } from '../fakes/twilio-sms.ts';

const PUBLIC_URL = 'https://ventanilla.example.gob.mx';
const OUR_NUMBER = '+522297654321';
const FOLIO = /VER-\d{4}-\d{6}/;
// Tuesday 10 March 2026, 10:00 in Mexico City.
const OPEN = '2026-03-10T16:00:00Z';

describe('twilio-sms end to end', () => {
  let t: TestApp;
  let fake: FakeTwilio;
  const clock = new FakeClock(OPEN);

  beforeAll(async () => {
    fake = await startFakeTwilio();
    t = await startTestApp(
      {
        PUBLIC_URL,
        TWILIO_ACCOUNT_SID: fake.accountSid,
        TWILIO_AUTH_TOKEN: fake.authToken,
        TWILIO_SMS_FROM: OUR_NUMBER,
        TWILIO_API_URL: fake.baseUrl,
      },
      { clock },
    );
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  /** POST a signed webhook to the running server, exactly as Twilio would (signed for the public URL). */
  const post = async (params: Record<string, string>) => {
    const { body, headers } = signedWebhook(fake.authToken, `${PUBLIC_URL}/webhooks/twilio-sms`, params);
    const res = await fetch(`${t.url}/webhooks/twilio-sms`, { method: 'POST', headers, body });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };

  /** Wait for the bot's replies to settle (no new SMS for 400 ms) and return them. */
  const repliesAfter = async (before: number, to: string): Promise<FakeSms[]> => {
    await fake.waitForSent(before + 1);
    let n = fake.sent.length;
    for (;;) {
      await new Promise((r) => setTimeout(r, 400));
      if (fake.sent.length === n) break;
      n = fake.sent.length;
    }
    return fake.sent.slice(before).filter((s) => s.to === to);
  };

  /** A citizen texting the city's number. */
  const citizen = (phone: string) => {
    const sent: Record<string, string>[] = [];
    return {
      sent,
      async say(text: string): Promise<string> {
        const before = fake.sent.length;
        const params = incomingSms({ accountSid: fake.accountSid, from: phone, to: OUR_NUMBER, body: text });
        sent.push(params);
        const res = await post(params);
        expect(res).toEqual({
          status: 200,
          type: expect.stringContaining('text/xml') as string,
          text: '<?xml version="1.0" encoding="UTF-8"?><Response></Response>',
        });
        return (await repliesAfter(before, phone)).map((s) => s.body).join('\n');
      },
    };
  };

  /** The stored outbound message with this Twilio sid. */
  const storedOut = async (phone: string, externalId: string) => {
    const conv = await t.app.store.findConversation('twilio-sms', phone);
    return conv
      ? (await t.app.store.listMessages(conv.id)).find(
          (m) => m.direction === 'out' && m.externalId === externalId,
        )
      : undefined;
  };

  const phone = '+522291110001';
  const c = citizen(phone);
  let folio = '';
  let confirmation: Record<string, string> = {};
  let folioSms: FakeSms | undefined;

  it('files a complaint by SMS answering numbered options, and the reply carries the folio', async () => {
    let reply = await c.say('hay un bache enorme en la calle 5 de mayo esquina hidalgo col centro');
    if (/Donde esta/i.test(reply)) reply = await c.say('Calle 5 de Mayo esquina Hidalgo, col. Centro');
    // The photo step offers "1. Omitir"; the summary offers "1. Si, registrar / 2. No, cancelar".
    expect(reply).toMatch(/foto[\s\S]*\n1\. Omitir/);
    const summary = await c.say('1');
    expect(summary).toMatch(/Baches[\s\S]*5 de mayo[\s\S]*\n1\. Si, registrar\n2\. No, cancelar/i);
    const before = fake.sent.length;
    const done = await c.say('1');
    confirmation = c.sent.at(-1)!;
    folio = FOLIO.exec(done)![0];
    folioSms = fake.sent.slice(before).find((s) => s.body.includes(folio));
    expect(folioSms).toMatchObject({
      to: phone,
      from: OUR_NUMBER,
      statusCallback: `${PUBLIC_URL}/webhooks/twilio-sms`,
    });
    expect(await t.app.store.findCase(folio)).toMatchObject({ category: 'baches', colonia: 'Centro' });
    // Everything went out in GSM-7 (accents transliterated), and segments were counted.
    expect(fake.sent.filter((s) => s.to === phone).every((s) => !/[áíóú’“”–…]/.test(s.body))).toBe(true);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/ventanilla_channel_sms_segments_total\{channel="twilio-sms"\} [1-9]/);
  });

  it('answers a status check by folio', async () => {
    const reply = await c.say(`estado de mi reporte ${folio}`);
    expect(reply).toContain(`Tu reporte ${folio} (Baches`);
    expect(reply).toMatch(/esta: \w+/);
  });

  it('creates nothing twice when Twilio redelivers a MessageSid', async () => {
    const conv = (await t.app.store.findConversation('twilio-sms', phone))!;
    const cases = (await t.app.store.listCases({ contactId: conv.contactId })).length;
    const messages = (await t.app.store.listMessages(conv.id)).length;
    const sent = fake.sent.length;
    const res = await post(confirmation);
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 600));
    expect(fake.sent.length).toBe(sent);
    expect((await t.app.store.listCases({ contactId: conv.contactId })).length).toBe(cases);
    expect(cases).toBe(1);
    expect((await t.app.store.listMessages(conv.id)).length).toBe(messages);
  });

  it('status callbacks update the stored message (queued ignored, delivered, undelivered with the reason)', async () => {
    const sms = folioSms!;
    const callback = (status: string, messageSid = sms.sid, errorCode?: string) =>
      post(
        statusCallback({
          accountSid: fake.accountSid,
          messageSid,
          status,
          from: OUR_NUMBER,
          to: phone,
          ...(errorCode ? { errorCode } : {}),
        }),
      );
    expect((await callback('queued')).status).toBe(200);
    expect((await callback('sent')).status).toBe(200);
    expect((await storedOut(phone, sms.sid))?.status).toBe('sent');
    expect((await callback('delivered')).status).toBe(200);
    expect((await storedOut(phone, sms.sid))?.status).toBe('delivered');
    // A late "sent" after "delivered" does not go backwards.
    await callback('sent');
    expect((await storedOut(phone, sms.sid))?.status).toBe('delivered');

    const other = fake.sent.find((s) => s.to === phone && s.sid !== sms.sid)!;
    await callback('undelivered', other.sid, '30003');
    expect(await storedOut(phone, other.sid)).toMatchObject({
      status: 'failed',
      failureReason: expect.stringContaining('30003') as string,
    });
  });

  it('handles BAJA / ALTA (with accents, case and spaces) like every channel', async () => {
    expect(await c.say(' Bája ')).toMatch(/ya no te enviaremos avisos|No tienes avisos activos/);
    // ALTA starts the subscription form, whose topics come back as numbered options.
    expect(await c.say('ALTA')).toMatch(/avisos[\s\S]*\n1\. /);
  });

  it('refuses an unsigned or mis-signed webhook with 401 and answers nobody', async () => {
    const stranger = '+522291119999';
    const params = incomingSms({ accountSid: fake.accountSid, from: stranger, to: OUR_NUMBER, body: 'hola' });
    const { body, headers } = signedWebhook(
      'someone-elses-token-0123456789abc',
      `${PUBLIC_URL}/webhooks/twilio-sms`,
      params,
    );
    const sent = fake.sent.length;
    expect((await fetch(`${t.url}/webhooks/twilio-sms`, { method: 'POST', headers, body })).status).toBe(401);
    const { 'x-twilio-signature': _dropped, ...unsigned } = headers;
    expect(
      (await fetch(`${t.url}/webhooks/twilio-sms`, { method: 'POST', headers: unsigned, body })).status,
    ).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.sent.length).toBe(sent);
    expect(await t.app.store.findConversation('twilio-sms', stranger)).toBeNull();
  });
});
