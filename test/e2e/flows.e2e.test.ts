/**
 * Every citizen flow and repair pattern end to end over web chat (es-MX and en), with a fixed clock. The app runs
 * with the product's NLU as wired in main.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretKey } from '../../channels/kit/ids.ts';
import { Citizen, startTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { FakeClock } from '../helpers/clock.ts';

const FOLIO = /VER-\d{4}-\d{6}/;
// Tuesday 10 March 2026, 10:00 in Mexico City: the desk is open.
const OPEN = '2026-03-10T16:00:00Z';
const ADMIN = { authorization: 'Bearer flows-admin-token-123456', 'content-type': 'application/json' };

describe('citizen flows', () => {
  let t: TestApp;
  const clock = new FakeClock(OPEN);
  beforeAll(async () => {
    t = await startTestApp({ ADMIN_TOKEN: 'flows-admin-token-123456' }, { clock });
  });
  afterAll(async () => {
    await t.close();
  });
  const conversationOf = async (c: Citizen) =>
    (await t.app.store.findConversation('webchat', secretKey(c.secret!)))!;

  it('shows the short privacy notice once, inline with the first answer, and records it', async () => {
    const c = await new Citizen(t.url).ready();
    const first = await c.say('hola');
    expect(first).toMatch(/Ventanilla[\s\S]*Aviso de privacidad[\s\S]*\/privacidad/);
    expect(await c.say('gracias')).not.toMatch(/Aviso de privacidad/);
    expect((await conversationOf(c)).privacyNoticeAt).not.toBeNull();
    expect((await fetch(`${t.url}/privacidad`)).status).toBe(200);
    c.close();
  });

  it('files a complaint from one natural message, asking only what is missing', async () => {
    const c = await new Citizen(t.url).ready();
    const reply = await c.say('oye q onda, hay un bache enorme en la calle 5 de mayo esq hidalgo col centro');
    expect(reply).toMatch(/foto|Dónde está/);
    if (/Dónde está/.test(reply)) await c.say('Calle 5 de Mayo esquina Hidalgo, col. Centro');
    expect(await c.say('omitir')).toMatch(/Baches[\s\S]*5 de mayo[\s\S]*Centro/i);
    const done = await c.say('sí');
    const folio = FOLIO.exec(done)![0];
    expect(await t.app.store.findCase(folio)).toMatchObject({
      category: 'baches',
      colonia: 'Centro',
      geoSource: 'colonia',
    });
    c.close();
  });

  it('files two cases sharing the location when one message reports two problems', async () => {
    const c = await new Citizen(t.url).ready();
    await c.say('hay un bache y además la lámpara no prende, está feo');
    await c.say('Calle Allende 40, col. Petrolera');
    expect(await c.say('omitir')).toMatch(/Baches[\s\S]*\+[\s\S]*Alumbrado/);
    const done = await c.say('sí', 3);
    const folios = done.match(new RegExp(FOLIO.source, 'g'))!;
    expect(new Set(folios).size).toBe(2);
    const cases = await Promise.all([...new Set(folios)].map((f) => t.app.store.findCase(f)));
    expect(cases.map((x) => x!.category).sort()).toEqual(['alumbrado', 'baches']);
    expect(new Set(cases.map((x) => x!.address)).size).toBe(1);
    c.close();
  });

  it('corrects a slot mid-form without starting over', async () => {
    const c = await new Citizen(t.url).ready();
    await c.say('quiero reportar basura');
    await c.say('Dejaron muchas bolsas de basura en la esquina');
    await c.say('Calle Morelos 8, col. Centro');
    expect(await c.say('omitir')).toMatch(/Morelos 8/);
    const corrected = await c.say('no, la dirección es otra: Calle Zaragoza 12, col. Petrolera', 2);
    expect(corrected).toMatch(/corregí[\s\S]*Zaragoza 12/);
    expect(corrected).not.toMatch(/Morelos/);
    const folio = FOLIO.exec(await c.say('sí'))![0];
    expect((await t.app.store.findCase(folio))!.address).toBe('Calle Zaragoza 12, col. Petrolera');
    c.close();
  });

  it('handles a topic change mid-form, then offers to resume the old form', async () => {
    const c = await new Citizen(t.url).ready();
    await c.say('quiero reportar un bache');
    const status = await c.say('¿cómo va mi folio VER-2026-000999?', 2);
    expect(status).toMatch(/No encontré[\s\S]*retomar tu reporte/);
    expect(await c.say('sí', 2)).toMatch(/Retomemos[\s\S]*Cuéntame/);
    c.close();
  });

  it('offers a person after three failed answers', async () => {
    const c = await new Citizen(t.url).ready();
    await c.say('quiero consultar mi folio');
    await c.say('no sé');
    await c.say('tampoco');
    expect(await c.say('nada')).toMatch(/comunique con una persona/);
    c.close();
  });

  it('repeats the question on request', async () => {
    const c = await new Citizen(t.url).ready();
    await c.say('hola');
    const asked = await c.say('quiero reportar una fuga de agua');
    expect(await c.say('repite')).toBe(asked);
    c.close();
  });

  it('lists "mis reportes"', async () => {
    const c = await new Citizen(t.url).ready();
    await c.say('quiero reportar ruido');
    await c.say('Los vecinos ponen música muy fuerte toda la noche');
    await c.say('Calle Juárez 77, col. Centro');
    await c.say('omitir');
    const folio = FOLIO.exec(await c.say('sí'))![0];
    expect(await c.say('mis reportes')).toMatch(new RegExp(`${folio}[\\s\\S]*Recibido`));
    c.close();
  });

  it('joins a nearby open case instead of a duplicate, and both hear about status changes', async () => {
    const a = await new Citizen(t.url).ready();
    await a.say('quiero reportar un árbol caído');
    await a.say('Se cayó un árbol grande sobre la banqueta');
    await a.say({ kind: 'location', lat: 18.1401, lon: -94.4502 });
    await a.say('omitir');
    const folio = FOLIO.exec(await a.say('sí'))![0];
    const b = await new Citizen(t.url).ready();
    await b.say('quiero reportar un árbol caído');
    await b.say('Hay un árbol caído que no deja pasar');
    expect(await b.say({ kind: 'location', lat: 18.1405, lon: -94.4504 })).toMatch(
      new RegExp(`reporte abierto[\\s\\S]*${folio}`),
    );
    expect(await b.say({ kind: 'choice', choiceId: 'join:yes', label: 'Sí, sumarme' })).toMatch(
      new RegExp(`sumamos al folio ${folio}`),
    );
    const beforeA = a.received.length;
    const beforeB = b.received.length;
    const res = await fetch(`${t.url}/admin/cases/${folio}/status`, {
      method: 'POST',
      headers: ADMIN,
      body: JSON.stringify({ status: 'programado', note: 'La cuadrilla irá el jueves' }),
    });
    expect(await res.json()).toMatchObject({ notified: 2 });
    await a.waitFor(beforeA + 1);
    await b.waitFor(beforeB + 1);
    expect(a.last()?.text).toMatch(/Programado[\s\S]*jueves/);
    expect(b.last()?.text).toMatch(/Programado[\s\S]*jueves/);
    a.close();
    b.close();
  });

  it('joins wifi reports to one incident and tells every reporter when it is fixed', async () => {
    const a = await new Citizen(t.url).ready();
    // Hotspot (by its name) and symptom ("no jala el internet") are both in the first message.
    expect(await a.say('no jala el internet en el parque independencia')).toMatch(
      /Registramos la falla del wifi de Parque Independencia/,
    );
    const b = await new Citizen(t.url).ready();
    await b.say('el wifi del parque central no sirve');
    expect(await b.say('está muy lento')).toMatch(/Ya sabemos de esta falla[\s\S]*2 personas/);
    const incidents = (await (
      await fetch(`${t.url}/admin/incidents?status=open`, { headers: ADMIN })
    ).json()) as { incidents: { hotspotId: string; reports: number }[] };
    expect(incidents.incidents.find((i) => i.hotspotId === 'hs-parque-independencia')?.reports).toBe(2);
    const [beforeA, beforeB] = [a.received.length, b.received.length];
    const res = await fetch(`${t.url}/admin/incidents/hs-parque-independencia/resolve`, {
      method: 'POST',
      headers: ADMIN,
      body: JSON.stringify({ note: 'Antena reiniciada' }),
    });
    expect(await res.json()).toMatchObject({ notified: 2 });
    await a.waitFor(beforeA + 1);
    await b.waitFor(beforeB + 1);
    expect(a.last()?.text).toMatch(/quedó resuelta/);
    expect(b.last()?.text).toMatch(/quedó resuelta/);
    expect(
      (
        await fetch(`${t.url}/admin/incidents/hs-parque-independencia/resolve`, {
          method: 'POST',
          headers: ADMIN,
          body: '{}',
        })
      ).status,
    ).toBe(404);
    a.close();
    b.close();
  });

  it('identifies a hotspot from a shared pin, confirming the name', async () => {
    const c = await new Citizen(t.url).ready();
    await c.say('no hay wifi');
    expect(await c.say({ kind: 'location', lat: 18.1503, lon: -94.463 })).toMatch(/Es el wifi de Hemiciclo/);
    expect(await c.say('sí')).toMatch(/Qué pasa con el wifi/);
    c.close();
  });

  it('answers procedure questions and keeps the context for follow-ups', async () => {
    const c = await new Citizen(t.url).ready();
    expect(await c.say('¿qué necesito para sacar la licencia de funcionamiento?', 1)).toMatch(
      /Requisitos para Licencia de funcionamiento/,
    );
    expect(await c.say('¿y cuánto cuesta?')).toMatch(/Licencia de funcionamiento[\s\S]*(Cuesta|gratuito)/);
    expect(await c.say('¿dónde queda?')).toMatch(/se tramita en/);
    c.close();
  });

  it('redirects state and federal procedures politely', async () => {
    const c = await new Citizen(t.url).ready();
    expect(await c.say('¿dónde saco mi pasaporte?', 2)).toMatch(/no lo hace el municipio/);
    c.close();
  });

  it('gives 911 guidance at once for violence, asks consent and contact preference, files a restricted case and hands off', async () => {
    const c = await new Citizen(t.url).ready();
    const first = await c.say('mi pareja me golpea y tengo miedo', 2);
    expect(first).toMatch(/911[\s\S]*089[\s\S]*079/);
    expect(first).not.toMatch(/dirección|ubicación exacta|agresor/i);
    const done = await c.say({
      kind: 'choice',
      choiceId: 'contact:no_calls',
      label: 'Mensajes, sin llamadas',
    });
    const folio = FOLIO.exec(done)![0];
    const created = await t.app.store.findCase(folio);
    expect(created).toMatchObject({
      category: 'violencia_genero',
      sensitive: true,
      visibility: 'restricted',
      queue: 'restricted_gender_violence',
      contactPreference: 'no_calls',
    });
    expect(created!.consentAt).not.toBeNull();
    const conv = await conversationOf(c);
    expect(conv).toMatchObject({ mode: 'queued', queue: 'restricted_gender_violence' });
    // Queued: later messages are stored for the team, without bot replies.
    const before = c.received.length;
    await c.send({ kind: 'text', text: 'sigo aquí' });
    await new Promise((r) => setTimeout(r, 300));
    expect(c.received.length).toBe(before);
    // Nobody else learns its status.
    const other = await new Citizen(t.url).ready();
    const reply = await other.say(`¿cómo va el folio ${folio}?`);
    expect(reply).toMatch(/solo se comparte con la persona que lo reportó/);
    expect(reply).not.toMatch(/Recibido/);
    other.close();
    c.close();
  });

  it('hands off to a person with a summary; the citizen can leave the queue', async () => {
    const c = await new Citizen(t.url).ready();
    await c.say('quiero reportar una fuga de agua');
    expect(await c.say('quiero hablar con una persona')).toMatch(/Te comunico con una persona/);
    const conv = await conversationOf(c);
    expect(conv).toMatchObject({ mode: 'queued', queue: 'cmas_agua' });
    const before = c.received.length;
    await c.send({ kind: 'text', text: 'hola?' });
    await new Promise((r) => setTimeout(r, 300));
    expect(c.received.length).toBe(before);
    expect(await c.say('cancelar espera')).toMatch(/saliste de la fila/);
    expect((await conversationOf(c)).mode).toBe('bot');
    c.close();
  });

  it('queues outside service hours and says when someone will answer', async () => {
    const sunday = new FakeClock('2026-03-15T20:00:00Z');
    const t2 = await startTestApp({}, { clock: sunday });
    const c = await new Citizen(t2.url).ready();
    expect(await c.say('necesito hablar con un agente')).toMatch(/horario de atención[\s\S]*lunes/);
    c.close();
    await t2.close();
  });

  it('subscribes to notices by topic and colonia, and STOP / ALTA work at any point', async () => {
    const c = await new Citizen(t.url).ready();
    expect(await c.say('quiero recibir avisos del agua')).toMatch(/colonia/);
    expect(await c.say('Petrolera')).toMatch(/avisos de Agua[\s\S]*Petrolera/);
    const conv = await conversationOf(c);
    expect(
      (await t.app.store.listSubscriptions(conv.contactId))
        .filter((s) => s.active)
        .map((s) => [s.topic, s.colonia]),
    ).toEqual([['agua', 'Petrolera']]);
    await c.say('quiero reportar un bache');
    expect(await c.say('BAJA')).toMatch(/ya no te enviaremos avisos/);
    expect((await t.app.store.listSubscriptions(conv.contactId)).some((s) => s.active)).toBe(false);
    expect(await c.say('ALTA')).toMatch(/volverás a recibir/);
    expect((await t.app.store.listSubscriptions(conv.contactId)).filter((s) => s.active)).toHaveLength(1);
    c.close();
  });

  it('keeps every message of a flood and answers it politely once', async () => {
    const c = await new Citizen(t.url).ready();
    const acks = await Promise.all(
      Array.from({ length: 30 }, (_, i) => c.send({ kind: 'text', text: `mensaje ${i}` })),
    );
    expect(acks.every((a) => a.ok)).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    const conv = await conversationOf(c);
    const inbound = (await t.app.store.listMessages(conv.id, { limit: 500 })).filter(
      (m) => m.direction === 'in',
    );
    expect(inbound).toHaveLength(30);
    expect(
      c.received.filter((m) => /muchos mensajes seguidos/.test(m.text ?? '')),
      c.received.map((m) => m.text).join(' | '),
    ).toHaveLength(1);
    c.close();
  });

  it('speaks English end to end', async () => {
    const c = await new Citizen(t.url, { locale: 'en-US' }).ready();
    expect(await c.say('hello')).toMatch(/How can I help[\s\S]*Privacy notice/);
    expect(await c.say('the wifi at the hemiciclo is not working')).toMatch(
      /What is happening with the wifi/,
    );
    expect(await c.say({ kind: 'choice', choiceId: 'symptom:slow', label: 'slow' })).toMatch(
      /case number VER-/,
    );
    expect(await c.say('STOP')).toMatch(/notices/);
    c.close();
  });
});
