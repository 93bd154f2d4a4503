/**
 * Bot Framework end to end: the product boots with BOTFRAMEWORK_* pointing at a loopback Bot Connector; a citizen
 * files a complaint through JWT-signed activities, and every reply is a proactive Connector call carrying the bot's
 * bearer token. Then a status check by folio, and a redelivered activity that creates nothing twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeBotFramework } from '../fakes/botframework.ts';
import type { BotFrameworkCall, FakeBotFramework } from '../fakes/botframework.ts';
import { startTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { FakeClock } from '../helpers/clock.ts';

const FOLIO = /VER-\d{4}-\d{6}/;
// Tuesday 10 March 2026, 10:00 in Mexico City: the desk is open.
const OPEN = '2026-03-10T16:00:00Z';

interface Sent {
  type?: string;
  text?: string;
  suggestedActions?: { actions: { title: string; value?: { choiceId?: string } }[] };
}

/** A Web Chat citizen talking through the (fake) Bot Connector. */
class BfCitizen {
  #seq = 0;
  readonly activities: Record<string, unknown>[] = [];
  constructor(
    readonly fake: FakeBotFramework,
    readonly url: string,
    readonly conversationId: string,
    readonly userId: string,
    public path: '/api/messages' | '/webhooks/botframework' = '/api/messages',
  ) {}

  /** Bot messages (not typing) posted to this conversation so far. */
  replies(): BotFrameworkCall[] {
    return this.fake.activities(this.conversationId).filter((c) => (c.body as Sent).type === 'message');
  }

  activity(fields: Record<string, unknown>): Record<string, unknown> {
    return {
      type: 'message',
      id: `${this.conversationId}|${String(++this.#seq).padStart(7, '0')}`,
      timestamp: new Date().toISOString(),
      serviceUrl: this.fake.serviceUrl,
      channelId: 'webchat',
      from: { id: this.userId, name: 'Ciudadano' },
      conversation: { id: this.conversationId },
      recipient: { id: 'ventanilla-bot@8ZsP2kqLx0Q', name: 'Ventanilla' },
      locale: 'es-MX',
      ...fields,
    };
  }

  async post(activity: Record<string, unknown>): Promise<Response> {
    this.activities.push(activity);
    return fetch(`${this.url}${this.path}`, {
      method: 'POST',
      headers: this.fake.headers(activity),
      body: JSON.stringify(activity),
    });
  }

  /** Send text (or a suggested-action choice) and wait for `replies` more bot messages; returns their texts. */
  async say(input: string | { choiceId: string; label: string }, replies = 1): Promise<string> {
    const before = this.replies().length;
    const fields =
      typeof input === 'string'
        ? { text: input }
        : { text: input.label, value: { choiceId: input.choiceId } };
    const res = await this.post(this.activity(fields));
    expect(res.status).toBe(200);
    const end = Date.now() + 15_000;
    while (this.replies().length < before + replies) {
      if (Date.now() > end)
        throw new Error(
          `no reply to ${JSON.stringify(input)} (have ${this.replies().length}, before ${before}; ${JSON.stringify(
            this.replies()
              .slice(-3)
              .map((c) => c.body),
          )})`,
        );
      await new Promise((r) => setTimeout(r, 25));
    }
    return this.replies()
      .slice(before)
      .map((c) => {
        const b = c.body as Sent;
        return [b.text, ...(b.suggestedActions?.actions ?? []).map((a) => a.title)].join(' ');
      })
      .join('\n');
  }

  /** The suggested action of the last reply whose title matches. */
  action(title: RegExp): { choiceId: string; label: string } | undefined {
    const a = (this.replies().at(-1)?.body as Sent | undefined)?.suggestedActions?.actions.find((x) =>
      title.test(x.title),
    );
    return a?.value?.choiceId ? { choiceId: a.value.choiceId, label: a.title } : undefined;
  }
}

describe('botframework end to end', () => {
  let fake: FakeBotFramework;
  let t: TestApp;
  const clock = new FakeClock(OPEN);

  beforeAll(async () => {
    fake = await startFakeBotFramework();
    t = await startTestApp(
      {
        BOTFRAMEWORK_APP_ID: fake.appId,
        BOTFRAMEWORK_APP_PASSWORD: fake.appPassword,
        BOTFRAMEWORK_OPENID_METADATA_URL: fake.openIdMetadataUrl,
        BOTFRAMEWORK_LOGIN_URL: fake.baseUrl,
      },
      { clock },
    );
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  let folio = '';
  let first: BfCitizen;

  it('files a complaint through signed activities; replies are proactive Connector calls with a bearer token', async () => {
    const c = (first = new BfCitizen(fake, t.url, 'Cz7Rt2Yp9Wq4Lm8Nv3Ks6-us', 'dl_ciudadano-e2e-01'));
    const reply = await c.say('oye q onda, hay un bache enorme en la calle 5 de mayo esq hidalgo col centro');
    expect(reply).toMatch(/Aviso de privacidad/);
    expect(reply).toMatch(/foto|Dónde está/);
    if (/Dónde está/.test(reply)) await c.say('Calle 5 de Mayo esquina Hidalgo, col. Centro');
    expect(await c.say('omitir')).toMatch(/Baches[\s\S]*5 de mayo[\s\S]*Centro/i);
    // Confirm with the suggested action when there is one (the choice id comes back in `value`).
    const yes = c.action(/^s[ií]/i);
    const done = await c.say(yes ?? 'sí');
    folio = FOLIO.exec(done)![0];
    expect(await t.app.store.findCase(folio)).toMatchObject({ category: 'baches', colonia: 'Centro' });

    const calls = c.replies();
    for (const call of calls) {
      expect(call.path).toBe(`/amer/v3/conversations/${encodeURIComponent(c.conversationId)}/activities`);
      expect(call.headers.authorization).toMatch(/^Bearer fake-bot-token-/);
      expect(fake.issuedTokens).toContain(String(call.headers.authorization).slice('Bearer '.length));
      expect(call.body).toMatchObject({
        from: { id: 'ventanilla-bot@8ZsP2kqLx0Q' },
        recipient: { id: 'dl_ciudadano-e2e-01' },
        channelId: 'webchat',
      });
    }
    // One token served every reply.
    expect(fake.tokenRequests()).toHaveLength(1);
    const conversation = await t.app.store.findConversation('botframework', 'webchat:dl_ciudadano-e2e-01');
    expect(conversation?.address.extra).toMatchObject({
      conversationId: c.conversationId,
      channelId: 'webchat',
    });
  });

  it('answers a status check by folio (through /webhooks/botframework)', async () => {
    // The same citizen and conversation, now through the generic webhook route.
    const c = first;
    c.path = '/webhooks/botframework';
    const reply = await c.say(`estado de mi reporte ${folio}`);
    expect(reply).toContain(folio);
    expect(reply).toMatch(/Recibido/i);
  });

  it('creates nothing twice when the Bot Connector redelivers an activity', async () => {
    const c = new BfCitizen(fake, t.url, 'Hq2Wm5Tx8Zr1Bn4Lc7Pv0-us', 'dl_ciudadano-e2e-02');
    await c.say('quiero reportar ruido');
    await c.say('Los vecinos ponen música muy fuerte toda la noche');
    await c.say('Calle Juárez 77, col. Centro');
    await c.say('omitir');
    const confirm = c.action(/^s[ií]/i);
    const last = c.activity(
      confirm ? { text: confirm.label, value: { choiceId: confirm.choiceId } } : { text: 'sí' },
    );
    const before = c.replies().length;
    expect((await c.post(last)).status).toBe(200);
    const end = Date.now() + 15_000;
    while (c.replies().length <= before && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
    expect(
      c
        .replies()
        .slice(before)
        .map((x) => (x.body as Sent).text)
        .join('\n'),
    ).toMatch(FOLIO);
    const cases = (await t.app.store.listCases({})).length;
    const conversation = (await t.app.store.findConversation('botframework', 'webchat:dl_ciudadano-e2e-02'))!;
    const messages = (await t.app.store.listMessages(conversation.id)).length;
    const sent = c.replies().length;

    // The same activity again, on both routes: acknowledged, and nothing new.
    expect((await c.post(last)).status).toBe(200);
    expect(
      (
        await fetch(`${t.url}/webhooks/botframework`, {
          method: 'POST',
          headers: fake.headers(last),
          body: JSON.stringify(last),
        })
      ).status,
    ).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect((await t.app.store.listCases({})).length).toBe(cases);
    expect((await t.app.store.listMessages(conversation.id)).length).toBe(messages);
    expect(c.replies().length).toBe(sent);
  });

  it('rejects unsigned activities with 401 and lists the channel in health', async () => {
    const activity = first.activity({ text: 'hola' });
    const res = await fetch(`${t.url}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(activity),
    });
    expect(res.status).toBe(401);
    const status = t.app.channels.status().find((s) => s.name === 'botframework');
    expect(status).toMatchObject({ kind: 'webhook', state: 'ready' });
    expect(status?.rejected.signature).toBeGreaterThanOrEqual(1);
    expect(t.logs.join('')).not.toContain(fake.appPassword);
    for (const token of fake.issuedTokens) expect(t.logs.join('')).not.toContain(token);
  });
});
