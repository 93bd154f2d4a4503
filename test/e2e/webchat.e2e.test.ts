/** End to end through socket.io web chat: the citizen files a complaint, gets a folio and checks its status. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretKey } from '../../channels/kit/ids.ts';
import { createApp, loadConfig } from '../../main.ts';
import { Citizen, startTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';

const FOLIO = /VER-\d{4}-\d{6}/;

let street = 0;
async function fileComplaint(c: Citizen, address = `Calle Prueba ${++street}, col. Centro`): Promise<string> {
  expect(await c.say('hola')).toMatch(/Ventanilla/);
  expect(
    await c.say({ kind: 'choice', choiceId: 'menu:file-complaint', label: 'Reportar un problema' }),
  ).toMatch(/tipo de problema/i);
  expect(await c.say({ kind: 'choice', choiceId: 'category:baches', label: 'Baches' })).toMatch(/Cuéntame/);
  expect(await c.say('Hay un bache enorme frente a la escuela primaria')).toMatch(/Dónde está/);
  expect(await c.say(address)).toMatch(/foto/);
  expect(await c.say({ kind: 'choice', choiceId: 'skip', label: 'Omitir' })).toMatch(/Voy a registrar/);
  const done = await c.say({ kind: 'choice', choiceId: 'yes', label: 'Sí, registrar' });
  const folio = FOLIO.exec(done)?.[0];
  expect(folio, done).toBeDefined();
  return folio!;
}

describe('web chat end to end', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ADMIN_TOKEN: 'test-admin-token-123456' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('files a complaint, gives a folio and reports its status', async () => {
    const c = await new Citizen(t.url).ready();
    const folio = await fileComplaint(c, 'Av. Juárez 10, col. Centro');
    const status = await c.say(`¿cómo va mi folio ${folio}?`);
    expect(status).toContain(folio);
    expect(status).toMatch(/Recibido/);
    // Other spellings people type.
    expect(await c.say(`folio ${folio.toLowerCase().replace(/-0+/, ' ')}`)).toMatch(/Recibido/);
    const stored = await t.app.store.findCase(folio);
    expect(stored).toMatchObject({
      category: 'baches',
      description: 'Hay un bache enorme frente a la escuela primaria',
      address: 'Av. Juárez 10, col. Centro',
      colonia: 'Centro',
      lat: 18.146,
      lon: -94.4609,
      queue: 'obras_publicas',
      status: 'recibido',
      visibility: 'public',
      channel: 'webchat',
    });
    expect(stored!.slaDueAt.getTime() - stored!.createdAt.getTime()).toBeCloseTo(168 * 3_600_000, -5);
    c.close();
  });

  it('never claims a status for a folio that does not exist', async () => {
    const c = await new Citizen(t.url).ready();
    const reply = await c.say('¿cómo va mi folio VER-2026-999999?');
    expect(reply).toMatch(/No encontré/);
    expect(reply).not.toMatch(/Recibido|En proceso|Resuelto/);
    c.close();
  });

  it('speaks English to an English browser', async () => {
    const c = await new Citizen(t.url, { locale: 'en-US' }).ready();
    expect(await c.say('hello')).toMatch(/How can I help/);
    expect(await c.say('I want to report a broken street light')).toMatch(/Tell me briefly/);

    expect(await c.say('The street light has been off for a week')).toMatch(/Where is it/);
    expect(await c.say('Calle Hidalgo 5, colonia Petrolera')).toMatch(/photo/);
    expect(await c.say('skip')).toMatch(/Shall I file it/);
    const done = await c.say('yes');
    const folio = FOLIO.exec(done)![0];
    expect(await c.say(`status of ${folio}`)).toMatch(/Received/);
    c.close();
  });

  it('accepts numbered replies to choices', async () => {
    const c = await new Citizen(t.url).ready();
    await c.say('hola');
    expect(await c.say('1')).toMatch(/tipo de problema/i);
    expect(await c.say('2')).toMatch(/Alumbrado/);
    c.close();
  });

  it('cancels a form and answers help mid-form without losing the question', async () => {
    const c = await new Citizen(t.url).ready();
    await c.say('quiero reportar un bache');
    expect(await c.say('ayuda', 2)).toMatch(/Puedo ayudarte[\s\S]*Cuéntame/);
    expect(await c.say('cancelar')).toMatch(/Seguro que quieres cancelar/);
    expect(await c.say('no', 2)).toMatch(/seguimos[\s\S]*Cuéntame/);
    expect(await c.say('cancelar')).toMatch(/Seguro que quieres cancelar/);
    expect(await c.say('sí')).toMatch(/lo dejamos aquí/);
    expect(await c.say('Av. Juárez 10')).toMatch(/no entendí/);
    c.close();
  });

  it('treats a redelivered message as one: no duplicate message, reply or case', async () => {
    const c = await new Citizen(t.url).ready();
    await c.say('quiero reportar un bache');
    await c.say('Hay un bache muy grande en la esquina');
    await c.say('Calle 5 de Mayo esquina Hidalgo, Centro');
    await c.say('omitir');
    const clientId = crypto.randomUUID();
    const first = await c.send({ kind: 'text', text: 'sí' }, clientId);
    const second = await c.send({ kind: 'text', text: 'sí' }, clientId);
    expect(first).toMatchObject({ ok: true });
    expect(second).toEqual(first);
    await c.waitFor(5);
    await new Promise((r) => setTimeout(r, 300));
    expect(c.received.filter((m) => FOLIO.test(m.text ?? ''))).toHaveLength(1);
    const conv = await t.app.store.findConversation('webchat', secretKey(c.secret!));
    expect(await t.app.store.listCases({ contactId: conv!.contactId })).toHaveLength(1);
    const inbound = (await t.app.store.listMessages(conv!.id)).filter((m) => m.direction === 'in');
    expect(inbound.map((m) => m.text)).toEqual([
      'quiero reportar un bache',
      'Hay un bache muy grande en la esquina',
      'Calle 5 de Mayo esquina Hidalgo, Centro',
      'omitir',
      'sí',
    ]);
    c.close();
  });

  it('gives 50 concurrent citizens 50 distinct folios', async () => {
    const citizens = await Promise.all(Array.from({ length: 50 }, () => new Citizen(t.url).ready()));
    const folios = await Promise.all(citizens.map((c) => fileComplaint(c)));
    expect(new Set(folios).size).toBe(50);
    for (const c of citizens) c.close();
  });

  it('asks for a shorter text over 4,096 characters, and keeps the message', async () => {
    const c = await new Citizen(t.url).ready();
    const reply = await c.say('a'.repeat(5000));
    expect(reply).toMatch(/muy largo.*4096/);
    const conv = await t.app.store.findConversation('webchat', secretKey(c.secret!));
    const stored = (await t.app.store.listMessages(conv!.id)).find((m) => m.direction === 'in');
    expect(stored?.text).toHaveLength(5000);
    c.close();
  });

  it('rejects bad socket input with clear errors and stays up', async () => {
    const c = await new Citizen(t.url).ready();
    const notObject = (await c.socket.timeout(5000).emitWithAck('message.send', 'hola')) as { code: string };
    expect(notObject.code).toBe('CHANNEL_PAYLOAD_INVALID');
    const wrongType = (await c.socket
      .timeout(5000)
      .emitWithAck('message.send', { clientId: crypto.randomUUID(), kind: 'text', text: 5 })) as {
      code: string;
      message: string;
    };
    expect(wrongType).toMatchObject({ ok: false, code: 'CHANNEL_PAYLOAD_INVALID' });
    expect(wrongType.message).toMatch(/text/);
    const badKind = (await c.socket
      .timeout(5000)
      .emitWithAck('message.send', { clientId: crypto.randomUUID(), kind: 'sticker' })) as { code: string };
    expect(badKind.code).toBe('CHANNEL_PAYLOAD_INVALID');
    const unknownMedia = await c.send({ kind: 'media', mediaId: crypto.randomUUID() });
    expect(unknownMedia).toMatchObject({ ok: false, code: 'CHANNEL_PAYLOAD_INVALID' });
    c.socket.emit('hack.the.planet', { x: 1 });
    await new Promise((r) => setTimeout(r, 200));
    expect(c.errors[0]?.code).toBe('CHANNEL_PAYLOAD_INVALID');
    // Still serving.
    expect(await c.say('hola')).toMatch(/Ventanilla/);
    c.close();
  });

  it('accepts image uploads with EXIF stripped, and refuses the rest clearly', async () => {
    const c = await new Citizen(t.url).ready();
    const auth = { authorization: `Bearer ${c.secret}` };
    const jpeg = await sharp({ create: { width: 16, height: 16, channels: 3, background: 'red' } })
      .jpeg()
      .withExif({ IFD0: { Copyright: 'GPS 18.1,-94.4' } })
      .toBuffer();
    expect((await sharp(jpeg).metadata()).exif).toBeDefined();
    const ok = await fetch(`${t.url}/webchat/uploads`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'image/jpeg' },
      body: jpeg,
    });
    expect(ok.status).toBe(201);
    const body = (await ok.json()) as { mediaId: string; mime: string };
    expect(body.mime).toBe('image/jpeg');
    const files = readdirSync(join(t.dataDir, 'media'));
    const stored = files.find((f) => f.startsWith(body.mediaId));
    expect(stored).toBeDefined();
    expect((await sharp(join(t.dataDir, 'media', stored!)).metadata()).exif).toBeUndefined();
    // A photo on its own starts a complaint; it is attached to the case that results.
    expect(await c.say({ kind: 'media', mediaId: body.mediaId })).toMatch(/tipo de problema/);
    await c.say({ kind: 'choice', choiceId: 'category:basura', label: 'Basura' });
    await c.say('La basura lleva tres días sin recogerse');
    expect(await c.say('Calle Morelos 8, col. Centro')).toMatch(/Fotos: 1/);
    const folio = FOLIO.exec(await c.say('sí'))![0];
    const created = await t.app.store.findCase(folio);
    const attached = await t.app.database.raw.query(
      'select id, case_id from attachments where case_id = $1',
      [created!.id],
    );
    expect(attached.rows.map((r) => r.id)).toEqual([body.mediaId]);

    const post = (headers: Record<string, string>, payload: Buffer | string) =>
      fetch(`${t.url}/webchat/uploads`, { method: 'POST', headers, body: payload });
    expect((await post({ 'content-type': 'image/jpeg' }, jpeg)).status).toBe(401);
    expect((await post({ ...auth, 'content-type': 'text/plain' }, 'hola')).status).toBe(415);
    const garbage = await post({ ...auth, 'content-type': 'image/png' }, Buffer.from('not really a png'));
    expect(garbage.status).toBe(415);
    expect(await garbage.json()).toMatchObject({ code: 'CHANNEL_UPLOAD_INVALID' });
    const big = await post({ ...auth, 'content-type': 'image/jpeg' }, Buffer.alloc(10 * 1024 * 1024 + 10, 1));
    expect(big.status).toBe(413);
    // A made-up secret is not a session: nothing is stored for it.
    const stranger = await post(
      { authorization: `Bearer ${'x'.repeat(32)}`, 'content-type': 'image/jpeg' },
      jpeg,
    );
    expect(stranger.status).toBe(401);
    expect(await stranger.json()).toMatchObject({ code: 'CHANNEL_SESSION_INVALID' });
    // Non-JSON to a JSON endpoint.
    const badJson = await fetch(`${t.url}/admin/cases/VER-2026-000001/status`, {
      method: 'POST',
      headers: { authorization: 'Bearer test-admin-token-123456', 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ code: 'CHANNEL_PAYLOAD_INVALID' });
    c.close();
  });

  it('serves health, readiness, metrics, the widget and the demo page', async () => {
    const c = await new Citizen(t.url).ready();
    await c.say('hola');
    c.close();
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${t.url}/readyz`)).json()).toMatchObject({
      status: 'ready',
      migrations: 'applied',
    });
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/ventanilla_turns_total\{channel="webchat",outcome="handled"\} \d+/);
    expect(metrics).toMatch(/ventanilla_outbox_depth \d+/);
    const widget = await fetch(`${t.url}/widget.js`);
    expect(widget.headers.get('content-type')).toMatch(/javascript/);
    expect((await widget.text()).length).toBeGreaterThan(20);
    expect(await (await fetch(`${t.url}/`)).text()).toMatch(/widget\.js/);
    expect((await fetch(`${t.url}/nope`)).status).toBe(404);
  });

  it('protects admin endpoints and records case views', async () => {
    const c = await new Citizen(t.url).ready();
    const folio = await fileComplaint(c);
    expect((await fetch(`${t.url}/admin/cases`)).status).toBe(401);
    expect(
      (await fetch(`${t.url}/admin/cases`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } }))
        .status,
    ).toBe(401);
    const auth = { authorization: 'Bearer test-admin-token-123456' };
    const one = (await (await fetch(`${t.url}/admin/cases/${folio}`, { headers: auth })).json()) as {
      events: { kind: string }[];
    };
    expect(one.events.map((e) => e.kind)).toEqual(['created', 'viewed']);
    expect((await fetch(`${t.url}/admin/cases/VER-2026-999999`, { headers: auth })).status).toBe(404);
    c.close();
  });

  it('never logs session secrets, phone numbers or e-mails', async () => {
    const c = await new Citizen(t.url).ready();
    await c.say('mi correo es ana.perez@example.com y mi cel 229 123 4567');
    const all = t.logs.join('\n');
    expect(all).not.toContain(c.secret!);
    expect(all).not.toContain('ana.perez@example.com');
    expect(all).not.toContain('229 123 4567');
    expect(all).not.toContain('test-admin-token-123456');
    c.close();
  });
});

describe('restart and data-folder ownership', () => {
  it('keeps cases and messages, and resumes a half-filled form after a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vtn-restart-'));
    try {
      let t = await startTestApp({ DATA_DIR: dataDir });
      const c1 = await new Citizen(t.url).ready();
      const folio = await fileComplaint(c1);
      await c1.say('quiero reportar una lámpara apagada');
      await c1.say('La lámpara de la esquina lleva una semana apagada');
      const secret = c1.secret!;
      c1.close();
      // A second process may not open the same data folder: it exits with a clear message.
      const second = spawnSync(process.execPath, ['--import', 'tsx', 'main.ts'], {
        env: { ...process.env, DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(second.status).toBe(1);
      expect(second.stderr).toMatch(/in use by another Ventanilla process \(pid \d+\)/);
      // …and neither may a second app in this process.
      await expect(
        createApp(loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent' }), { jobs: false }),
      ).rejects.toMatchObject({
        code: 'STORE_LOCKED',
      });
      await t.close();

      t = await startTestApp({ DATA_DIR: dataDir });
      const c2 = await new Citizen(t.url, { secret }).ready();
      expect(c2.secret).toBe(secret);
      expect(c2.history.map((m) => m.text).join('\n')).toContain(folio);
      expect(c2.history.at(-1)?.text).toMatch(/Dónde está/);
      expect(await c2.say('Calle Hidalgo 20, col. Petrolera')).toMatch(/foto/);
      expect(await c2.say('no')).toMatch(/Alumbrado[\s\S]*lámpara de la esquina/);
      const done = await c2.say('sí');
      expect(done).toMatch(FOLIO);
      expect(done).not.toContain(folio);
      expect(await t.app.store.findCase(folio)).not.toBeNull();
      c2.close();
      await t.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
