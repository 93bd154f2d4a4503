/**
 * End to end by e-mail: the product boots with the e-mail channel on (its SMTP listener on a free loopback port,
 * replies to a loopback SMTP sink); a citizen files a complaint by replying in one thread, gets the folio by mail,
 * asks for its status, and a redelivered message creates nothing twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { compose, smtpClient, startSmtpSink } from '../fakes/smtp-sink.ts';
import type { SinkMessage, SmtpSink } from '../fakes/smtp-sink.ts';

const FOLIO = /VER-\d{4}-\d{6}/;
const INBOX = 'atencion@municipio.gob.mx';

/** A citizen with a mail client: writes in one thread, quoting our last message like Gmail does. */
class MailCitizen {
  readonly root: string;
  #n = 0;
  #lastBot: SinkMessage | undefined;
  constructor(
    readonly address: string,
    readonly subject: string,
    readonly sink: SmtpSink,
    readonly mta: ReturnType<typeof smtpClient>,
  ) {
    this.root = `<${address.split('@')[0]}-1-${Date.now()}@mail.example.com>`;
  }

  /** The raw message the citizen would send next. */
  async message(text: string, id = this.nextId()): Promise<Buffer> {
    const last = this.#lastBot;
    const quoted = last
      ? `\n\nEl mar, 10 mar 2026 a las 10:00, Ventanilla <${INBOX}> escribió:\n${(last.mail.text ?? '')
          .split('\n')
          .map((l) => `> ${l}`)
          .join('\n')}`
      : '';
    return compose({
      from: { name: 'María López', address: this.address },
      to: INBOX,
      subject: last ? `Re: ${this.subject}` : this.subject,
      messageId: id,
      ...(last ? { inReplyTo: last.mail.messageId!, references: [this.root, last.mail.messageId!] } : {}),
      text: `${text}${quoted}\n\nEnviado desde mi iPhone`,
    });
  }

  nextId(): string {
    return this.#n++ === 0
      ? this.root
      : `<${this.address.split('@')[0]}-${this.#n}-${Date.now()}@mail.example.com>`;
  }

  /** Send and wait for `replies` answers addressed to this citizen; returns their texts joined. */
  async say(text: string, replies = 1): Promise<string> {
    return this.send(await this.message(text), replies);
  }

  async send(raw: Buffer, replies = 1): Promise<string> {
    const before = this.mine().length;
    const r = await this.mta.send(raw, { from: this.address, to: [INBOX] });
    expect(r.code, r.response).toBe(250);
    const deadline = Date.now() + 15_000;
    while (this.mine().length < before + replies) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${replies} replies to "${text(raw)}"`);
      await new Promise((res) => setTimeout(res, 25));
    }
    const got = this.mine().slice(before);
    this.#lastBot = got.at(-1);
    return got.map((m) => m.mail.text ?? '').join('\n');
  }

  mine(): SinkMessage[] {
    return this.sink.messages.filter((m) => m.envelope.to.includes(this.address));
  }
}

const text = (raw: Buffer) => raw.toString('utf8').split('\r\n\r\n')[1]?.slice(0, 60) ?? '';

describe('e-mail end to end', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let mta: ReturnType<typeof smtpClient>;
  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await startTestApp({
      EMAIL_ADDRESS: INBOX,
      EMAIL_FROM: `Ventanilla Municipal <${INBOX}>`,
      EMAIL_SMTP_OUT_URL: sink.url,
      EMAIL_SMTP_HOST: '127.0.0.1',
      EMAIL_SMTP_PORT: '0',
    });
    const status = t.app.channels.status().find((s) => s.name === 'email');
    expect(status).toMatchObject({ kind: 'event-source', state: 'ready' });
    const port = Number(/:(\d+)$/.exec(status!.detail ?? '')?.[1]);
    mta = smtpClient(port);
  });
  afterAll(async () => {
    mta.close();
    await t.close();
    await sink.close();
  });

  it('files a complaint in one thread; replies thread and carry the folio; status by folio', async () => {
    const c = new MailCitizen('maria.lopez@example.com', 'Bache', sink, mta);
    const first = await c.say('hay un bache enorme en la calle 5 de mayo esq hidalgo col centro');
    expect(first).toMatch(/foto|Dónde está/);
    if (/Dónde está/.test(first)) await c.say('Calle 5 de Mayo esquina Hidalgo, col. Centro');
    expect(await c.say('omitir')).toMatch(/Baches[\s\S]*5 de mayo[\s\S]*Centro/i);
    const done = await c.say('sí');
    const folio = FOLIO.exec(done)?.[0];
    expect(folio, done).toBeDefined();
    expect(await t.app.store.findCase(folio!)).toMatchObject({
      category: 'baches',
      colonia: 'Centro',
      channel: 'email',
    });

    // Every reply answers the citizen's latest mail and stays in the thread of the first one (References), from our
    // address, marked as automatic.
    for (const m of c.mine()) {
      expect(m.mail.subject).toBe('Re: Bache');
      expect(m.mail.inReplyTo).toMatch(/^<maria\.lopez-\d+-/);
      expect([m.mail.references].flat()[0]).toBe(c.root);
      expect(m.mail.headers.get('auto-submitted')).toBe('auto-replied');
      expect(m.mail.from?.value[0]).toEqual({ name: 'Ventanilla Municipal', address: INBOX });
      expect(m.envelope.from).toBe(INBOX);
    }
    // The quoted history and the iPhone footer never reached the dialogs.
    const conversation = await t.app.store.findConversation('email', 'maria.lopez@example.com');
    const inbound = (await t.app.store.listMessages(conversation!.id)).filter((m) => m.direction === 'in');
    expect(inbound.at(-1)?.text).toBe('sí');

    const status = await c.say(`¿cómo va mi folio ${folio}?`);
    expect(status).toContain(folio);
    expect(status).toMatch(/Recibido/);
  });

  it('answers a status question made in a reply whose subject carries the folio', async () => {
    const c = new MailCitizen('juan.perez@example.com', 'Lámpara fundida', sink, mta);
    await c.say('quiero reportar una lámpara fundida');
    const folio = await (async () => {
      for (const answer of [
        'La lámpara de la esquina no prende desde el lunes',
        'Calle Allende 40, col. Petrolera',
        'omitir',
        'sí',
      ]) {
        const reply = await c.say(answer);
        const found = FOLIO.exec(reply)?.[0];
        if (found) return found;
      }
      throw new Error('no folio');
    })();
    // A neighbour (no cases of her own) answers a notice that carries the folio in its subject.
    const neighbour = new MailCitizen('vecina.norte@example.com', 'Lámpara fundida', sink, mta);
    const raw = await compose({
      from: neighbour.address,
      to: INBOX,
      subject: `Re: [${folio}] Lámpara fundida`,
      messageId: `<status-${Date.now()}@mail.example.com>`,
      inReplyTo: `<aviso-${folio}@municipio.gob.mx>`,
      text: '¿Hay novedades?',
    });
    const answer = await neighbour.send(raw);
    expect(answer).toContain(folio);
    expect(answer).toMatch(/Recibido/);
    const conversation = await t.app.store.findConversation('email', neighbour.address);
    const [asked] = (await t.app.store.listMessages(conversation!.id)).filter((m) => m.direction === 'in');
    expect(asked?.text).toBe(`¿Hay novedades?\n\n${folio}`);
  });

  it('creates nothing twice when the same Message-ID is delivered twice', async () => {
    const c = new MailCitizen('rosa.diaz@example.com', 'Fuga de agua', sink, mta);
    await c.say('quiero reportar una fuga de agua');
    await c.say('Sale mucha agua de una tubería rota en la banqueta');
    await c.say('Calle Juárez 77, col. Centro');
    await c.say('omitir');
    const confirm = await c.message('sí');
    const done = await c.send(confirm);
    expect(done).toMatch(FOLIO);
    const conversation = await t.app.store.findConversation('email', c.address);
    const cases = await t.app.store.listCases({ contactId: conversation!.contactId });
    const sent = c.mine().length;

    const again = await mta.send(confirm, { from: c.address, to: [INBOX] });
    expect(again.code).toBe(250);
    await new Promise((r) => setTimeout(r, 500));
    expect(c.mine()).toHaveLength(sent);
    expect(await t.app.store.listCases({ contactId: conversation!.contactId })).toHaveLength(cases.length);
    const inbound = (await t.app.store.listMessages(conversation!.id)).filter((m) => m.direction === 'in');
    expect(inbound.filter((m) => m.text === 'sí')).toHaveLength(1);
  });

  it('never answers an auto-reply or a bounce', async () => {
    const before = sink.messages.length;
    const auto = await compose({
      from: 'vacaciones@example.com',
      to: INBOX,
      subject: 'Respuesta automática: Bache',
      headers: { 'Auto-Submitted': 'auto-replied' },
      text: 'Estoy de vacaciones hasta el lunes.',
    });
    expect((await mta.send(auto, { from: 'vacaciones@example.com', to: [INBOX] })).code).toBe(250);
    const bounce = await compose({
      from: 'MAILER-DAEMON@mx.example.com',
      to: INBOX,
      subject: 'Undelivered Mail Returned to Sender',
      text: 'This is the mail system at host mx.example.com.',
    });
    expect((await mta.send(bounce, { from: '', to: [INBOX] })).code).toBe(250);
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.messages.length).toBe(before);
    expect(await t.app.store.findConversation('email', 'vacaciones@example.com')).toBeNull();
    // Not answered, but counted for the channel's health.
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/ventanilla_channel_inbound_ignored_total\{channel="email"\} 2/);
  });
});
