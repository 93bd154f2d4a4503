/**
 * E-mail: the shared channel contract over real SMTP (the harness delivers raw RFC 5322 messages into the channel's
 * listener with nodemailer; replies land in a loopback SMTP sink), plus e-mail specifics: loop prevention, quoted
 * history, threading, subjects and folios, AUTH, size and recipient limits, outbound headers and errors, IMAP polling
 * against a loopback IMAP server.
 */
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Inbound } from '../../channels/contract.ts';
import { email, emailConfig, stripQuoted } from '../../channels/email.ts';
import type { EmailAdapter } from '../../channels/email.ts';
import { createLogger } from '../../main.ts';
import { channelContract } from '../contract/channel.contract.ts';
import { startFakeImap } from '../fakes/imap.ts';
import type { FakeImap } from '../fakes/imap.ts';
import { memoryMedia } from '../fakes/media.ts';
import { compose, deliver, smtpClient, startSmtpSink } from '../fakes/smtp-sink.ts';
import type { DeliveryResult, SmtpSink } from '../fakes/smtp-sink.ts';

const INBOX = 'atencion@municipio.gob.mx';
const INBOUND_USER = 'relay';
const INBOUND_PASSWORD = 'relay-password-4b9e1c';

interface Rig {
  adapter: EmailAdapter;
  events: Inbound[];
  logs: string[];
  port: number;
  media: ReturnType<typeof memoryMedia>;
  /** Replace how events are accepted (default: resolve at once). */
  accept: (e: Inbound) => Promise<void>;
  close(): Promise<void>;
}

async function startRig(config: Record<string, unknown>): Promise<Rig> {
  const logs: string[] = [];
  const sinkStream = new Writable({
    write(c: Buffer, _e, cb) {
      logs.push(c.toString());
      cb();
    },
  });
  const media = memoryMedia();
  const adapter = email.create(
    emailConfig.parse({ address: INBOX, smtpHost: '127.0.0.1', smtpPort: 0, ...config }),
    {
      media,
      log: createLogger('debug', sinkStream),
      now: () => new Date('2026-03-15T12:00:00Z'),
      dataDir: '/nonexistent',
      publicUrl: 'https://ventanilla.municipio.gob.mx',
      count: () => undefined,
    },
  );
  const rig: Rig = {
    adapter,
    events: [],
    logs,
    port: 0,
    media,
    accept: () => Promise.resolve(),
    async close() {
      await adapter.stop!();
    },
  };
  await adapter.start!(async (e) => {
    await rig.accept(e);
    rig.events.push(e);
  });
  rig.port = adapter.listening()?.port ?? 0;
  return rig;
}

/** Contract statuses are HTTP-shaped: a permanent SMTP refusal (5xx) is a 4xx, a temporary one (4xx) a 503. */
function httpStatus(r: DeliveryResult): number {
  if (r.code >= 200 && r.code < 300) return 200;
  if (r.code === 530 || r.code === 535) return 401;
  if (r.code >= 500) return 400;
  if (r.code >= 400) return 503;
  return r.error === 'EENVELOPE' ? 400 : 500;
}

/**
 * A fixture's (or fuzzed) raw value as SMTP envelope + message bytes. The envelope is the sending MTA's, not the
 * citizen's: a fuzzed sender or recipient that no MTA would send (20 000 characters, control bytes) falls back to
 * the default, so that the fuzz exercises the message bytes (the listener's command parser answers 421 "line too
 * long" to such envelopes on its own).
 */
function toSmtp(raw: unknown): { from: string; to: string[]; bytes: Buffer } {
  const fallback = { from: 'vecino@example.com', to: [INBOX] };
  const sane = (x: unknown): x is string =>
    typeof x === 'string' && x.length <= 254 && !/[\s<>\p{Cc}]/u.test(x);
  if (Buffer.isBuffer(raw)) return { ...fallback, bytes: raw };
  if (raw && typeof raw === 'object' && Array.isArray((raw as { lines?: unknown }).lines)) {
    const r = raw as { mailFrom?: unknown; rcptTo?: unknown; lines: unknown[] };
    const to =
      Array.isArray(r.rcptTo) && r.rcptTo.length > 0 && r.rcptTo.every(sane) ? r.rcptTo : fallback.to;
    return {
      from: sane(r.mailFrom) ? r.mailFrom : fallback.from,
      to,
      bytes: Buffer.from(
        r.lines.map((l) => (typeof l === 'string' ? l : (JSON.stringify(l) ?? ''))).join('\r\n'),
      ),
    };
  }
  return { ...fallback, bytes: Buffer.from(typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? '')) };
}

channelContract({
  name: 'email',
  fixtures: 'test/fixtures/email/inbound',
  skip: [
    {
      reason:
        'SMTP has no request signature. What protects the listener instead: only our own addresses are accepted ' +
        '(550 otherwise), optional AUTH for a relay (EMAIL_SMTP_USER/PASSWORD: 530/535, see "AUTH" below), the ' +
        'loop rules, and in production the city MX/relay checking SPF/DKIM/DMARC before forwarding',
      tests: ['signature'],
    },
    {
      reason:
        'e-mail has no delivery receipts a provider vouches for; bounces (DSN) are dropped by the loop rules',
      tests: ['receipts'],
    },
    { reason: 'e-mail is a push channel', tests: ['in-response'] },
  ],
  async setup() {
    const sink = await startSmtpSink();
    const rig = await startRig({
      smtpOutUrl: sink.url,
      smtpUser: INBOUND_USER,
      smtpPassword: INBOUND_PASSWORD,
    });
    const mta = smtpClient(rig.port, { auth: { user: INBOUND_USER, pass: INBOUND_PASSWORD } });
    return {
      adapter: rig.adapter,
      address: {
        channel: 'email',
        user: 'maria.lopez@example.com',
        thread: '<CAF0a1b2c3d4e5f6@mail.example.com>',
        extra: { subject: 'Bache en 5 de Mayo' },
      },
      secrets: [sink.password, INBOUND_PASSWORD, sink.url],
      sends: async () => {
        await new Promise((r) => setTimeout(r, 20));
        return sink.messages.length;
      },
      failNext(f) {
        if (f === 'drop') return sink.failNext('drop');
        if (f.status === 429)
          return sink.failNext({
            code: 421,
            message: `4.7.0 Too many messages, try again in ${f.retryAfter ?? 60} seconds`,
          });
        if (f.status >= 500)
          return sink.failNext({ code: 451, message: '4.3.0 Temporary server error, try again later' });
        sink.failNext({ code: 554, message: '5.7.1 Message rejected' });
      },
      logs: () => rig.logs.join(''),
      async feed(raw, opts) {
        const { from, to, bytes } = toSmtp(raw);
        const before = rig.events.length;
        const r =
          opts?.signature === 'missing' || opts?.signature === 'wrong'
            ? await deliver(rig.port, bytes, {
                from,
                to,
                ...(opts.signature === 'wrong'
                  ? { auth: { user: INBOUND_USER, pass: 'wrong-password' } }
                  : {}),
              })
            : await mta.send(bytes, { from, to });
        const status = httpStatus(r);
        return {
          events: rig.events.slice(before),
          status,
          ...(status >= 500 ? { threw: new Error(`${r.code} ${r.error ?? ''} ${r.response}`) } : {}),
        };
      },
      async close() {
        mta.close();
        await rig.close();
        await sink.close();
      },
    };
  },
});

const msg = (lines: string[]) => Buffer.from(lines.join('\r\n'));
const headers = (extra: string[] = [], body = 'Hay basura tirada en el parque Juárez') =>
  msg([
    'From: Vecino <vecino@example.com>',
    `To: ${INBOX}`,
    'Subject: Basura',
    `Message-ID: <${Math.random().toString(36).slice(2)}@example.com>`,
    ...extra,
    '',
    body,
  ]);

describe('email specifics', () => {
  let sink: SmtpSink;
  let rig: Rig;
  beforeAll(async () => {
    sink = await startSmtpSink();
    rig = await startRig({ smtpOutUrl: sink.url, address: `${INBOX}, quejas@municipio.gob.mx` });
  });
  afterAll(async () => {
    await rig.close();
    await sink.close();
  });
  afterEach(() => {
    rig.accept = () => Promise.resolve();
  });
  const feed = async (raw: Buffer, opts: Parameters<typeof deliver>[2] = {}) => {
    const before = rig.events.length;
    const r = await deliver(rig.port, raw, opts);
    return { ...r, events: rig.events.slice(before) };
  };

  describe('loop prevention: accepted (250) but never answered', () => {
    it.each([
      ['Auto-Submitted: auto-replied'],
      ['Auto-Submitted: auto-generated'],
      ['Precedence: bulk'],
      ['Precedence: junk'],
      ['Precedence: list'],
      ['List-Id: Vecinos <vecinos.lists.example.com>'],
      ['List-Unsubscribe: <mailto:unsubscribe@example.com>'],
      ['X-Autoreply: yes'],
      ['X-Autorespond: Fuera de la oficina'],
      ['Return-Path: <>'],
    ])('%s', async (line) => {
      const r = await feed(headers([line]));
      expect(r.code).toBe(250);
      expect(r.events).toHaveLength(0);
    });

    it('answers Auto-Submitted: no like any other mail', async () => {
      const r = await feed(headers(['Auto-Submitted: no']));
      expect(r.code).toBe(250);
      expect(r.events).toHaveLength(1);
    });

    it('ignores bounces: null reverse path, MAILER-DAEMON, postmaster, delivery reports', async () => {
      expect((await feed(headers(), { from: '' })).events).toHaveLength(0);
      for (const from of ['MAILER-DAEMON@mx.example.com', 'postmaster@example.com', 'no-reply@example.com']) {
        const r = await feed(
          msg([`From: ${from}`, `To: ${INBOX}`, 'Subject: Undelivered Mail', '', 'The mail system...']),
        );
        expect(r.code).toBe(250);
        expect(r.events).toHaveLength(0);
      }
      const dsn = msg([
        'From: Mail Delivery System <mailer@example.com>',
        `To: ${INBOX}`,
        'Subject: Delivery Status Notification (Failure)',
        'MIME-Version: 1.0',
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
        '',
        '--b',
        'Content-Type: text/plain',
        '',
        'Delivery to the following recipient failed permanently: vecino@example.com',
        '--b',
        'Content-Type: message/delivery-status',
        '',
        'Reporting-MTA: dns; mx.example.com',
        '',
        'Final-Recipient: rfc822; vecino@example.com',
        'Action: failed',
        'Status: 5.1.1',
        '--b--',
      ]);
      const r = await feed(dsn);
      expect(r.code).toBe(250);
      expect(r.events).toHaveLength(0);
    });

    it('ignores mail from our own addresses (any case, any +tag)', async () => {
      for (const from of [INBOX, 'Atencion+bot@Municipio.gob.mx', 'quejas@municipio.gob.mx']) {
        const r = await feed(msg([`From: ${from}`, `To: ${INBOX}`, 'Subject: x', '', 'eco']));
        expect(r.code).toBe(250);
        expect(r.events).toHaveLength(0);
      }
      expect(rig.logs.join('')).toMatch(/"reason":"own"/);
    });
  });

  describe('quoted history and signatures', () => {
    it('strips Gmail attributions in Spanish and English, also when wrapped', () => {
      expect(
        stripQuoted(
          'Sí, es correcto\n\nEl mar, 10 mar 2026 a las 10:00, Ventanilla <atencion@municipio.gob.mx> escribió:\n> ¿Es correcto?',
        ),
      ).toBe('Sí, es correcto');
      expect(
        stripQuoted(
          'yes\n\nOn Tue, Mar 10, 2026 at 10:00 AM Ventanilla Municipal <\natencion@municipio.gob.mx> wrote:\n\n> Is this right?',
        ),
      ).toBe('yes');
      expect(stripQuoted('2\n\nEl 10 mar 2026, a las 10:00, Ventanilla <a@b.mx> escribió:\n\n> menú')).toBe(
        '2',
      );
    });

    it('strips Outlook history blocks in both languages', () => {
      expect(
        stripQuoted('Ya quedó\n\n-----Original Message-----\nFrom: Ventanilla\nSent: Tuesday\n\nhola'),
      ).toBe('Ya quedó');
      expect(
        stripQuoted(
          'Gracias\n\n________________________________\nDe: Ventanilla <atencion@municipio.gob.mx>\nEnviado: martes, 10 de marzo de 2026 18:00\nPara: Juan\nAsunto: Re: Fuga\n\ntexto',
        ),
      ).toBe('Gracias');
      expect(
        stripQuoted(
          'Thanks\n\nFrom: Ventanilla <atencion@municipio.gob.mx>\nSent: Tuesday, March 10, 2026 6:00 PM\nTo: Juan',
        ),
      ).toBe('Thanks');
      expect(
        stripQuoted(
          'Listo\n\nDe: Ventanilla <a@b.mx>\nFecha: martes, 10 de marzo de 2026\nPara: Juan\n\nhola',
        ),
      ).toBe('Listo');
    });

    it('drops ">" lines, keeps interleaved answers, and cuts signatures and mobile footers', () => {
      expect(stripQuoted('> ¿Dirección?\nCalle Hidalgo 5\n> ¿Colonia?\nCentro')).toBe(
        'Calle Hidalgo 5\nCentro',
      );
      expect(stripQuoted('omitir\n\n-- \nJuan Pérez\nTel. 229 000 0000')).toBe('omitir');
      expect(stripQuoted('sí\n\nEnviado desde mi iPhone')).toBe('sí');
      expect(stripQuoted('ok\n\nGet Outlook for Android')).toBe('ok');
    });

    it('keeps an answer written below the quote (bottom-posting)', () => {
      expect(
        stripQuoted('El mar, 10 mar 2026, Ventanilla <a@b.mx> escribió:\n> ¿Colonia?\n\nCentro\n\n-- \nJuan'),
      ).toBe('Centro');
    });

    it('keeps a forwarded message, which is the point of forwarding', () => {
      const fwd =
        'Miren esto\n\n---------- Forwarded message ---------\nFrom: Vecina <v@example.com>\nDate: Tue, Mar 10, 2026\nSubject: Fuga\n\nHay una fuga en Allende 40';
      expect(stripQuoted(fwd, true)).toContain('Hay una fuga en Allende 40');
    });

    it('strips history end to end (text/plain of a Gmail reply)', async () => {
      const raw = await compose({
        from: 'ana@example.com',
        to: INBOX,
        subject: 'Re: Basura',
        messageId: '<strip-1@example.com>',
        inReplyTo: '<bot-1@municipio.gob.mx>',
        references: ['<root-1@example.com>', '<bot-1@municipio.gob.mx>'],
        text: '1\n\nEl mar, 10 mar 2026 a las 10:00, Ventanilla <atencion@municipio.gob.mx> escribió:\n> ¿Qué quieres hacer?\n> 1. Reportar',
      });
      const [e] = (await feed(raw)).events;
      expect(e).toMatchObject({ kind: 'text', text: '1' });
    });
  });

  describe('threading and subjects', () => {
    it('uses the first References id as the thread, else In-Reply-To, else its own Message-ID', async () => {
      const base = { from: 'Ana@Example.com', to: INBOX, subject: 'Re: Basura', text: 'sí' };
      const [a] = (
        await feed(
          await compose({
            ...base,
            messageId: '<t1@example.com>',
            inReplyTo: '<bot-2@municipio.gob.mx>',
            references: ['<root-2@example.com>', '<bot-1@municipio.gob.mx>', '<bot-2@municipio.gob.mx>'],
          }),
        )
      ).events;
      expect(a!.address).toEqual({
        channel: 'email',
        user: 'ana@example.com',
        thread: '<root-2@example.com>',
        extra: { subject: 'Basura', messageId: '<t1@example.com>' },
      });
      expect(a!.identity).toEqual({ email: 'ana@example.com' });
      const [b] = (
        await feed(
          await compose({ ...base, messageId: '<t2@example.com>', inReplyTo: '<bot-3@municipio.gob.mx>' }),
        )
      ).events;
      expect(b!.address.thread).toBe('<bot-3@municipio.gob.mx>');
      const [c] = (await feed(await compose({ ...base, subject: 'Basura', messageId: '<t3@example.com>' })))
        .events;
      expect(c!.address.thread).toBe('<t3@example.com>');
      expect(c!.externalId).toBe('<t3@example.com>');
    });

    it('prepends a new thread’s subject, once, and uses it when the body is empty', async () => {
      const one = await feed(
        await compose({
          from: 'ana@example.com',
          to: INBOX,
          subject: 'Lámpara fundida',
          text: 'En Allende 40',
        }),
      );
      expect(one.events[0]).toMatchObject({ text: 'Lámpara fundida\n\nEn Allende 40' });
      const two = await feed(
        await compose({ from: 'ana@example.com', to: INBOX, subject: 'hola', text: 'Hola, buenas tardes' }),
      );
      expect(two.events[0]).toMatchObject({ text: 'Hola, buenas tardes' });
      const three = await feed(
        await compose({ from: 'ana@example.com', to: INBOX, subject: 'Estado de VER-2026-000042', text: '' }),
      );
      expect(three.events[0]).toMatchObject({ text: 'Estado de VER-2026-000042' });
    });

    it('appends a folio from a reply subject only when the body names none', async () => {
      const reply = (text: string, id: string) =>
        compose({
          from: 'ana@example.com',
          to: INBOX,
          subject: 'Re: [VER-2026-000123] Bache en Hidalgo',
          inReplyTo: '<n-1@municipio.gob.mx>',
          messageId: id,
          text,
        });
      expect((await feed(await reply('¿Ya lo arreglaron?', '<f1@example.com>'))).events[0]).toMatchObject({
        text: '¿Ya lo arreglaron?\n\nVER-2026-000123',
        raw: { subjectFolio: 'VER-2026-000123' },
      });
      expect((await feed(await reply('¿Y el VER-2026-000777?', '<f2@example.com>'))).events[0]).toMatchObject(
        { text: '¿Y el VER-2026-000777?' },
      );
    });

    it('hashes from, date, subject and body when there is no Message-ID, so redelivery still collides', async () => {
      const raw = msg([
        'From: ana@example.com',
        `To: ${INBOX}`,
        'Subject: Sin id',
        'Date: Tue, 10 Mar 2026 10:00:00 -0600',
        '',
        'texto',
      ]);
      const a = (await feed(raw)).events[0]!;
      const b = (await feed(raw)).events[0]!;
      expect(a.externalId).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(b.id).toBe(a.id);
    });
  });

  describe('the SMTP transaction', () => {
    it('rejects recipients other than our addresses with 550, accepting +tags and any case', async () => {
      const other = await feed(headers(), { to: ['alcalde@municipio.gob.mx'] });
      expect(other.code).toBe(550);
      expect(other.events).toHaveLength(0);
      expect((await feed(headers(), { to: ['ATENCION+web@municipio.gob.mx'] })).code).toBe(250);
      expect((await feed(headers(), { to: ['quejas@municipio.gob.mx'] })).code).toBe(250);
    });

    it('answers 250 only after the turn committed, and 451 when it did not', async () => {
      let release!: () => void;
      rig.accept = () => new Promise<void>((r) => (release = r));
      let answered = false;
      const pending = feed(headers([], 'espera')).then((r) => {
        answered = true;
        return r;
      });
      await new Promise((r) => setTimeout(r, 150));
      expect(answered).toBe(false);
      release();
      expect((await pending).code).toBe(250);

      const raw = headers([], 'se reintentará');
      rig.accept = () => Promise.reject(new Error('database unavailable'));
      const failed = await feed(raw);
      expect(failed.code).toBe(451);
      expect(failed.events).toHaveLength(0);
      rig.accept = () => Promise.resolve();
      const retried = await feed(raw);
      expect(retried.code).toBe(250);
      expect(retried.events).toHaveLength(1);
    });

    it('refuses unreadable messages with 554 and never answers 5xx for them as a crash', async () => {
      for (const raw of ['', 'not an e-mail', 'From: nobody\r\n\r\nx', '\u0000\u0001\u0002']) {
        const r = await feed(Buffer.from(raw));
        expect(r.code).toBe(554);
        expect(r.events).toHaveLength(0);
      }
    });

    it('stores images (not signature logos) with the text as caption and lists other attachments', async () => {
      const sharp = (await import('sharp')).default;
      const photo = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#884422' } })
        .jpeg()
        .withMetadata({ exif: { IFD0: { Copyright: 'secreto' } } })
        .toBuffer();
      const logo = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } })
        .png()
        .toBuffer();
      const raw = await compose({
        from: 'ana@example.com',
        to: INBOX,
        subject: 'Re: Basura',
        inReplyTo: '<b-9@municipio.gob.mx>',
        text: 'la foto',
        html: '<p>la foto</p><img src="cid:logo@firma">',
        attachments: [
          { filename: 'foto.jpg', content: photo, contentType: 'image/jpeg' },
          { filename: 'logo.png', content: logo, contentType: 'image/png', cid: 'logo@firma' },
          { filename: 'acta.pdf', content: Buffer.from('%PDF-1.4\n%%EOF'), contentType: 'application/pdf' },
        ],
      });
      const [e] = (await feed(raw)).events;
      expect(e).toMatchObject({ kind: 'media', media: [{ mime: 'image/jpeg', caption: 'la foto' }] });
      if (e?.kind !== 'media') throw new Error('expected media');
      expect(e.media).toHaveLength(1);
      const stored = rig.media.items.get(e.media[0]!.mediaId)!;
      expect(stored.bytes.includes(Buffer.from('secreto'))).toBe(false);
      const listed = (e.raw as { attachments: { filename: string; used: boolean }[] }).attachments;
      expect(Object.fromEntries(listed.map((a) => [a.filename, a.used]))).toEqual({
        'foto.jpg': true,
        'logo.png': false,
        'acta.pdf': false,
      });
    });
  });

  describe('outbound', () => {
    const address = {
      channel: 'email',
      user: 'Ana@Example.com',
      thread: '<root-9@example.com>',
      extra: { subject: 'Bache en Hidalgo', messageId: '<last-9@example.com>' },
    };

    it('replies in the thread: Re: subject, In-Reply-To/References, Auto-Submitted, our Message-ID', async () => {
      const before = sink.messages.length;
      const d = await rig.adapter.send(
        address,
        { kind: 'text', text: 'Listo' },
        { idempotencyKey: 'out:t1' },
      );
      const [m] = await sink.waitFor(before + 1).then((all) => all.slice(before));
      expect(m!.envelope).toEqual({ from: INBOX, to: ['ana@example.com'] });
      expect(m!.mail.subject).toBe('Re: Bache en Hidalgo');
      expect(m!.mail.inReplyTo).toBe('<last-9@example.com>');
      expect(m!.mail.references).toEqual(['<root-9@example.com>', '<last-9@example.com>']);
      expect(m!.mail.headers.get('auto-submitted')).toBe('auto-replied');
      expect(m!.mail.messageId).toBe(d.externalId);
      expect(d.externalId).toMatch(/^<[0-9a-f]{32}@municipio\.gob\.mx>$/);
      const again = await rig.adapter.send(
        address,
        { kind: 'text', text: 'Listo' },
        { idempotencyKey: 'out:t1' },
      );
      expect(again.externalId).toBe(d.externalId);
    });

    it('renders escaped HTML with links, numbered choices, and media as links', async () => {
      const before = sink.messages.length;
      await rig.adapter.send(
        address,
        { kind: 'text', text: 'Ver <b>aviso</b> & detalles:\nhttps://municipio.gob.mx/avisos?a=1&b=2' },
        { idempotencyKey: 'out:h1' },
      );
      await rig.adapter.send(
        address,
        {
          kind: 'choices',
          text: '¿Qué quieres hacer?',
          choices: [
            { id: 'a', label: 'Reportar' },
            { id: 'b', label: 'Consultar' },
          ],
        },
        { idempotencyKey: 'out:h2' },
      );
      await rig.adapter.send(
        address,
        { kind: 'media', url: '/media/abc', mime: 'image/jpeg', caption: 'Mapa' },
        { idempotencyKey: 'out:h3' },
      );
      const [html, choices, media] = (await sink.waitFor(before + 3)).slice(before);
      expect(html!.mail.html).toContain('Ver &lt;b&gt;aviso&lt;/b&gt; &amp; detalles:');
      expect(html!.mail.html).toContain('<a href="https://municipio.gob.mx/avisos?a=1&amp;b=2">');
      expect(choices!.mail.text).toBe('¿Qué quieres hacer?\n1. Reportar\n2. Consultar');
      expect(media!.mail.text).toContain('Mapa\n\nhttps://ventanilla.municipio.gob.mx/media/abc');
      expect(media!.mail.html).toContain('<a href="https://ventanilla.municipio.gob.mx/media/abc">');
    });

    it('uses the From name when the conversation has no subject, and never stacks "Re:"', async () => {
      const named = await startRig({
        smtpOutUrl: sink.url,
        from: 'Ventanilla Municipal <atencion@municipio.gob.mx>',
        listen: false,
      });
      const before = sink.messages.length;
      await named.adapter.send(
        { channel: 'email', user: 'ana@example.com' },
        { kind: 'text', text: 'Aviso' },
        { idempotencyKey: 'out:n1' },
      );
      await named.adapter.send(
        { channel: 'email', user: 'ana@example.com', extra: { subject: 'RE: Re: Fwd: Bache' } },
        { kind: 'text', text: 'Aviso' },
        { idempotencyKey: 'out:n2' },
      );
      const [a, b] = (await sink.waitFor(before + 2)).slice(before);
      expect(a!.mail.subject).toBe('Ventanilla Municipal');
      expect(a!.mail.from?.value[0]).toEqual({ name: 'Ventanilla Municipal', address: INBOX });
      expect(b!.mail.subject).toBe('Re: Bache');
      await named.close();
    });

    it('maps SMTP replies: 421/450/451/452 retryable, 5xx permanent, rate limits with their delay', async () => {
      const attempt = async (code: number, message: string) => {
        sink.failNext({ code, message });
        return rig.adapter
          .send(address, { kind: 'text', text: 'x' }, { idempotencyKey: `out:e${code}${message.length}` })
          .then(
            () => null,
            (e: unknown) => e as { code: string; retryable: boolean; retryAfterMs?: number },
          );
      };
      for (const code of [421, 450, 451, 452])
        expect(await attempt(code, 'Try again later')).toMatchObject({
          retryable: true,
          code: 'CHANNEL_UNAVAILABLE',
        });
      expect(await attempt(450, '4.2.1 Rate limited, try again in 3 minutes')).toMatchObject({
        retryable: true,
        code: 'CHANNEL_RATE_LIMITED',
        retryAfterMs: 180_000,
      });
      expect(await attempt(550, '5.1.1 No such user')).toMatchObject({
        retryable: false,
        code: 'CHANNEL_REJECTED',
      });
      expect(await attempt(552, '5.3.4 Message too big')).toMatchObject({ retryable: false });
    });

    it('keeps passwords out of errors: wrong credentials and an unreachable server', async () => {
      const badAuth = await startRig({
        smtpOutUrl: `smtp://${sink.user}:wrong-pass-7a1f@127.0.0.1:${sink.port}`,
        listen: false,
      });
      const e1 = (await badAuth.adapter
        .send(address, { kind: 'text', text: 'x' }, { idempotencyKey: 'out:a1' })
        .catch((e: unknown) => e)) as Error & { retryable: boolean };
      expect(e1.retryable).toBe(true);
      expect(e1.message).toMatch(/EMAIL_SMTP_OUT_URL/);
      expect(`${e1.message} ${JSON.stringify(e1)}`).not.toContain('wrong-pass-7a1f');
      await badAuth.close();
      const down = await startRig({ smtpOutUrl: 'smtp://u:down-pass-0c2d@127.0.0.1:1', listen: false });
      const e2 = (await down.adapter
        .send(address, { kind: 'text', text: 'x' }, { idempotencyKey: 'out:a2' })
        .catch((e: unknown) => e)) as Error & { retryable: boolean; code: string };
      expect(e2).toMatchObject({ retryable: true, code: 'CHANNEL_UNAVAILABLE' });
      expect(`${e2.message} ${JSON.stringify(e2)} ${down.logs.join('')}`).not.toContain('down-pass-0c2d');
      await down.close();
    });

    it('refuses an address that is not an e-mail address, permanently', async () => {
      await expect(
        rig.adapter.send(
          { channel: 'email', user: 'not-an-address' },
          { kind: 'text', text: 'x' },
          { idempotencyKey: 'out:x' },
        ),
      ).rejects.toMatchObject({ code: 'CHANNEL_REJECTED', retryable: false });
    });
  });
});

describe('email listener options', () => {
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await sink.close();
  });

  it('AUTH: required when configured (530 without, 535 wrong, 250 right); not offered otherwise', async () => {
    const rig = await startRig({ smtpOutUrl: sink.url, smtpUser: 'relay', smtpPassword: 'relay-pass-5e6f' });
    const raw = headers();
    expect((await deliver(rig.port, raw)).code).toBe(530);
    expect((await deliver(rig.port, raw, { auth: { user: 'relay', pass: 'nope' } })).code).toBe(535);
    expect((await deliver(rig.port, raw, { auth: { user: 'relay', pass: 'relay-pass-5e6f' } })).code).toBe(
      250,
    );
    expect(rig.events).toHaveLength(1);
    expect(rig.logs.join('')).not.toContain('relay-pass-5e6f');
    await rig.close();

    const open = await startRig({ smtpOutUrl: sink.url });
    const ehlo = await smtpTalk(open.port, ['EHLO client.example.com']);
    expect(ehlo).not.toMatch(/AUTH|STARTTLS/);
    expect(ehlo).toMatch(/SIZE 10485760/);
    await open.close();
  });

  it('size: over EMAIL_MAX_BYTES is refused with 552, announced or not', async () => {
    const rig = await startRig({ smtpOutUrl: sink.url, maxBytes: 2000 });
    const big = headers([], 'x'.repeat(5000));
    const r = await deliver(rig.port, big);
    expect(r.code).toBe(552);
    expect(rig.events).toHaveLength(0);
    const talk = await smtpTalk(rig.port, ['EHLO c.example.com', 'MAIL FROM:<a@example.com> SIZE=999999']);
    expect(talk).toMatch(/552/);
    expect((await deliver(rig.port, headers([], 'corto'))).code).toBe(250);
    await rig.close();
  });

  it('stop() closes the listener; health reports where it listened', async () => {
    const rig = await startRig({ smtpOutUrl: sink.url });
    expect(rig.adapter.health!()).toEqual({
      state: 'ready',
      detail: `SMTP listening on 127.0.0.1:${rig.port}`,
    });
    await rig.close();
    expect((await deliver(rig.port, headers())).error).toMatch(/ECONNECTION|ESOCKET|ECONNREFUSED/);
  });

  it('config: names the problem (user without password, bad URLs, bad From)', () => {
    const issues = (input: Record<string, unknown>) =>
      emailConfig
        .safeParse({ address: INBOX, smtpOutUrl: 'smtp://h', ...input })
        .error?.issues.map((i) => i.path[0]);
    expect(issues({ smtpUser: 'x' })).toEqual(['smtpPassword']);
    expect(issues({ smtpOutUrl: 'http://h' })).toEqual(['smtpOutUrl']);
    expect(issues({ imapUrl: 'pop3://h' })).toEqual(['imapUrl']);
    expect(issues({ from: 'Ventanilla <no es correo>' })).toEqual(['from']);
    expect(issues({ address: 'a@b.mx, nope' })).toEqual(['address']);
    expect(emailConfig.parse({ address: 'A@B.mx', smtpOutUrl: 'smtp://h', listen: 'false' })).toMatchObject({
      address: ['a@b.mx'],
      listen: false,
      smtpPort: 2525,
      smtpHost: '0.0.0.0',
      maxBytes: 10 * 1024 * 1024,
      imapPollSeconds: 60,
    });
  });
});

describe('email over IMAP polling', () => {
  let sink: SmtpSink;
  let imap: FakeImap;
  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await sink.close();
  });
  const startImapRig = async () => {
    imap = await startFakeImap();
    return startRig({ smtpOutUrl: sink.url, imapUrl: imap.url, imapPollSeconds: 600 });
  };

  it('emits unseen messages, flags them \\Seen only after the emit resolved, and skips ignored ones', async () => {
    const rig = await startImapRig();
    expect(rig.adapter.listening()).toBeNull(); // IMAP only: no listener unless EMAIL_SMTP_LISTEN says so
    const first = imap.add(headers([], 'Hay un bache en Allende'));
    const auto = imap.add(headers(['Auto-Submitted: auto-replied'], 'Fuera de la oficina'));
    const done = imap.add(headers([], 'ya leído'));
    done.seen = true;
    let storedAtEmit: string[] = [];
    rig.accept = () => {
      storedAtEmit = imap.commands.filter((c) => c.startsWith('UID STORE'));
      return Promise.resolve();
    };
    await rig.adapter.pollNow();
    expect(rig.events.map((e) => (e.kind === 'text' ? e.text : e.kind))).toEqual([
      'Basura\n\nHay un bache en Allende',
    ]);
    expect(rig.events[0]).toMatchObject({
      raw: { source: 'imap' },
      identity: { email: 'vecino@example.com' },
    });
    expect(storedAtEmit).toEqual([]);
    expect(first.seen && auto.seen).toBe(true);
    expect(imap.commands).toContain(`UID STORE ${first.uid} +FLAGS (\\Seen)`);
    expect(rig.adapter.health!()).toEqual({ state: 'ready', detail: 'IMAP ready' });
    await rig.close();
    await imap.close();
  });

  it('leaves a message unseen when the emit fails, and delivers it on the next poll', async () => {
    const rig = await startImapRig();
    const m = imap.add(headers([], 'reintento'));
    rig.accept = () => Promise.reject(new Error('shutting down'));
    await rig.adapter.pollNow();
    expect(m.seen).toBe(false);
    expect(imap.commands.some((c) => c.startsWith('UID STORE'))).toBe(false);
    rig.accept = () => Promise.resolve();
    await rig.adapter.pollNow();
    expect(m.seen).toBe(true);
    expect(rig.events).toHaveLength(1);
    await rig.close();
    await imap.close();
  });

  it('skips (and flags) a message over EMAIL_MAX_BYTES without downloading it', async () => {
    imap = await startFakeImap();
    const rig = await startRig({
      smtpOutUrl: sink.url,
      imapUrl: imap.url,
      imapPollSeconds: 3600,
      maxBytes: 1000,
    });
    const big = imap.add(headers([], 'x'.repeat(3000)));
    await rig.adapter.pollNow();
    expect(big.seen).toBe(true);
    expect(rig.events).toHaveLength(0);
    expect(imap.commands.some((c) => c.includes('BODY.PEEK[]'))).toBe(false);
    await rig.close();
    await imap.close();
  });

  it('reports connection and login failures in health (no password), backing off', async () => {
    const rig = await startImapRig();
    imap.dropNext(1);
    await rig.adapter.pollNow();
    const dropped = rig.adapter.health!();
    expect(dropped.state).toBe('disconnected');
    expect(dropped.detail).toMatch(/IMAP poll failed .*retrying in 1200 s/);
    imap.failLogin = true;
    await rig.adapter.pollNow();
    expect(rig.adapter.health!()).toEqual({
      state: 'error',
      detail: 'IMAP login failed: check EMAIL_IMAP_URL',
    });
    expect(rig.logs.join('') + JSON.stringify(rig.adapter.health!())).not.toContain('imap-secret-7d1e');
    imap.failLogin = false;
    await rig.adapter.pollNow();
    expect(rig.adapter.health!().state).toBe('ready');
    await rig.close();
    await imap.close();
  });
});

/** Talk raw SMTP: send each command after the previous reply; returns the whole transcript. */
async function smtpTalk(port: number, commands: string[]): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let transcript = '';
    let next = 0;
    socket.on('data', (d: Buffer) => {
      transcript += d.toString();
      // A reply is complete when its last line has a space after the code.
      if (!/(^|\n)\d{3} [^\n]*\r\n$/.test(transcript) || next > commands.length) return;
      const command = commands[next++];
      if (command === undefined) {
        socket.end('QUIT\r\n');
        return;
      }
      socket.write(`${command}\r\n`);
    });
    socket.on('close', () => resolve(transcript));
    socket.on('error', reject);
  });
}
