/**
 * WhatsApp end to end: the whole product with the WhatsApp Cloud API channel pointed at a fake Graph API.
 * Signed webhooks go to `/webhooks/whatsapp`; replies are read where Meta would receive them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { FakeClock } from '../helpers/clock.ts';
import {
  choicesOf,
  inboundMessage,
  messages,
  postWebhook,
  signWebhook,
  startFakeGraph,
  statusPayload,
  textOf,
  wamid,
} from '../fakes/whatsapp.ts';
import type { FakeGraph, SentMessage } from '../fakes/whatsapp.ts';
import { TINY_PNG } from '../fakes/images.ts';

const TOKEN = 'EAAGm0PX4ZCpsBAe2eAccessToken0987654321';
const APP_SECRET = '0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a';
const VERIFY_TOKEN = 'vtn-e2e-verify-token';
const PNID = '106540352242922';
const FOLIO = /VER-\d{4}-\d{6}/;
// Tuesday 10 March 2026, 10:00 in Mexico City: the desk is open.
const OPEN = '2026-03-10T16:00:00Z';
const ADMIN = { authorization: 'Bearer whatsapp-admin-token-123456', 'content-type': 'application/json' };

describe('whatsapp end to end', () => {
  let t: TestApp;
  let graph: FakeGraph;
  let hook: string;
  const clock = new FakeClock(OPEN);

  beforeAll(async () => {
    graph = await startFakeGraph({ token: TOKEN });
    graph.addMedia('7100000000000001', TINY_PNG, 'image/jpeg');
    t = await startTestApp(
      {
        WHATSAPP_ACCESS_TOKEN: TOKEN,
        WHATSAPP_PHONE_NUMBER_ID: PNID,
        WHATSAPP_APP_SECRET: APP_SECRET,
        WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN,
        WHATSAPP_GRAPH_URL: graph.baseUrl,
        WHATSAPP_FALLBACK_TEMPLATE: 'aviso_ventanilla',
        ADMIN_TOKEN: 'whatsapp-admin-token-123456',
      },
      { clock },
    );
    hook = `${t.url}/webhooks/whatsapp`;
  });
  afterAll(async () => {
    await t?.close();
    await graph?.close();
  });

  /**
   * Post a signed webhook, wait for at least `replies` more messages at the fake Graph API and until the turn's
   * sends have settled, and return them.
   */
  async function say(payload: unknown, replies = 1): Promise<SentMessage[]> {
    const before = graph.sent.length;
    const res = await postWebhook(hook, payload, APP_SECRET);
    expect(res.status).toBe(200);
    await graph.waitForSent(before + replies);
    for (let seen = -1; seen !== graph.sent.length;) {
      seen = graph.sent.length;
      await new Promise((r) => setTimeout(r, 150));
    }
    return graph.sent.slice(before);
  }
  const text = (sent: SentMessage[]) => sent.map(textOf).join('\n');

  it('answers the verification handshake and refuses unsigned posts', async () => {
    const ok = await fetch(
      `${hook}?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=987654321`,
    );
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('987654321');
    const wrong = await fetch(`${hook}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=987654321`);
    expect(wrong.status).toBe(403);
    const payload = JSON.stringify(inboundMessage(PNID, '5212290000001', messages.text('hola')));
    const unsigned = await fetch(hook, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: payload,
    });
    expect(unsigned.status).toBe(401);
    const forged = await fetch(hook, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signWebhook(payload, 'forged') },
      body: payload,
    });
    expect(forged.status).toBe(401);
    await new Promise((r) => setTimeout(r, 100));
    expect(graph.sent.filter((m) => m.to === '5212290000001')).toHaveLength(0);
  });

  it('files a complaint with a photo, replies with the folio, and answers a status check', async () => {
    const from = '5212291234567';
    const first = inboundMessage(
      PNID,
      from,
      messages.text('hay un bache enorme en la calle 5 de mayo esquina hidalgo col centro'),
      { at: clock.now() },
    );
    const asked = await say(first);
    expect(asked.every((m) => m.to === from)).toBe(true);
    expect(text(asked)).toMatch(/foto/);
    expect(choicesOf(asked.at(-1)!)).toEqual([{ id: 'skip', title: 'Omitir' }]);

    const photo = inboundMessage(PNID, from, messages.image('7100000000000001', 'así está'), {
      at: clock.now(),
    });
    const summary = await say(photo);
    expect(text(summary)).toMatch(/Baches[\s\S]*5 de mayo[\s\S]*Fotos: 1/i);
    const yes = choicesOf(summary.at(-1)!).find((c) => /^Sí/.test(c.title))!;
    expect(yes.id).toBeTruthy();

    const confirmId = wamid();
    const confirm = inboundMessage(PNID, from, messages.button(yes.id, yes.title), {
      at: clock.now(),
      id: confirmId,
    });
    const done = await say(confirm);
    const folio = FOLIO.exec(text(done))![0];
    const filed = await t.app.store.findCase(folio);
    expect(filed).toMatchObject({ category: 'baches', colonia: 'Centro' });

    // Meta's delivery receipt for the folio message reaches the stored outbound message.
    const conv = await t.app.store.findConversation('whatsapp', from);
    const receipt = await postWebhook(
      hook,
      statusPayload(PNID, done.at(-1)!.id, 'delivered', from),
      APP_SECRET,
    );
    expect(receipt.status).toBe(200);
    const delivered = (await t.app.store.listMessages(conv!.id)).find(
      (m) => m.externalId === done.at(-1)!.id,
    );
    expect(delivered).toMatchObject({ direction: 'out', status: 'delivered' });

    const status = await say(
      inboundMessage(PNID, from, messages.text(`estado de mi reporte ${folio}`), { at: clock.now() }),
    );
    expect(text(status)).toContain(folio);

    // Redeliveries (Meta retries whenever it did not see a 200 in time) create nothing twice.
    const cases = (await t.app.store.listCases({})).length;
    const sends = graph.sendRequests();
    for (const again of [first, photo, confirm]) {
      expect((await postWebhook(hook, again, APP_SECRET)).status).toBe(200);
    }
    await new Promise((r) => setTimeout(r, 500));
    expect((await t.app.store.listCases({})).length).toBe(cases);
    expect(graph.sendRequests()).toBe(sends);
    const stored = await t.app.store.listMessages(conv!.id);
    expect(stored.filter((m) => m.direction === 'in' && m.externalId === confirmId)).toHaveLength(1);
  });

  it('sends a status change after the 24-hour window as the fallback template', async () => {
    const from = '5219211112222';
    await say(
      inboundMessage(PNID, from, messages.text('quiero reportar una fuga de agua'), { at: clock.now() }),
    );
    await say(
      inboundMessage(PNID, from, messages.text('Sale mucha agua de la tubería'), { at: clock.now() }),
    );
    await say(
      inboundMessage(
        PNID,
        from,
        messages.location(18.1401, -94.4502, 'Esquina', 'Calle Allende 40, Centro'),
        {
          at: clock.now(),
        },
      ),
    );
    const summary = await say(
      inboundMessage(PNID, from, messages.button('skip', 'Omitir'), { at: clock.now() }),
    );
    const yes = choicesOf(summary.at(-1)!).find((c) => /^Sí/.test(c.title))!;
    const folio = FOLIO.exec(
      text(await say(inboundMessage(PNID, from, messages.button(yes.id, yes.title), { at: clock.now() }))),
    )![0];

    clock.advance(25 * 60 * 60 * 1000);
    const before = graph.sent.length;
    const res = await fetch(`${t.url}/admin/cases/${folio}/status`, {
      method: 'POST',
      headers: ADMIN,
      body: JSON.stringify({ status: 'programado', note: 'La cuadrilla irá el jueves' }),
    });
    expect(res.status).toBeLessThan(300);
    const [notice] = (await graph.waitForSent(before + 1)).slice(before);
    expect(notice).toMatchObject({ to: from, type: 'template' });
    expect(notice!.body).toMatchObject({
      template: { name: 'aviso_ventanilla', language: { code: 'es_MX' } },
    });
    expect(textOf(notice!)).toMatch(new RegExp(`${folio}[\\s\\S]*jueves`));
  });
});
