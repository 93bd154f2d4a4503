/**
 * The mail world around the e-mail channel, on loopback:
 *  - `startSmtpSink()`: an SMTP server (smtp-server on 127.0.0.1:0) standing in for the city's outgoing mail server.
 *    It requires AUTH like a submission server, records every accepted message (raw and parsed), and answers
 *    scripted failures (an SMTP reply code at the end of DATA, or a dropped connection).
 *  - `deliver()`/`smtpClient()`: a sending MTA (nodemailer) handing raw RFC 5322 messages to the channel's SMTP
 *    listener, and `compose()` to build such messages with nodemailer's MailComposer.
 */
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import type { ParsedMail } from 'mailparser';
import { createTransport } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { MailComposerOptions } from 'nodemailer/lib/mail-composer';
import { SMTPServer } from 'smtp-server';

/** The SMTP outcome of one delivery: the reply code (0 when the client gave up before a reply) and its text. */
export interface DeliveryResult {
  readonly code: number;
  readonly response: string;
  /** nodemailer's error code when the delivery failed (`EENVELOPE`, `ECONNECTION`…). */
  readonly error?: string;
}

/** Options of {@link deliver} and {@link smtpClient}. */
export interface DeliverOptions {
  readonly from?: string;
  readonly to?: readonly string[];
  readonly auth?: { user: string; pass: string };
  readonly host?: string;
}

/** Hand one raw message to an SMTP listener as a sending MTA would (one connection per message). */
export async function deliver(
  port: number,
  raw: Buffer | string,
  opts: DeliverOptions = {},
): Promise<DeliveryResult> {
  const client = smtpClient(port, { ...opts, pool: false });
  try {
    return await client.send(raw, opts);
  } finally {
    client.close();
  }
}

/**
 * A sending MTA keeping its connection open between messages (as real MTAs do). smtp-server holds every new
 * connection for 100 ms to catch clients that talk too early, so many messages go faster over one connection.
 */
export function smtpClient(
  port: number,
  opts: DeliverOptions & { pool?: boolean } = {},
): { send(raw: Buffer | string, envelope?: DeliverOptions): Promise<DeliveryResult>; close(): void } {
  const transport = createTransport({
    host: opts.host ?? '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    ...(opts.pool === false ? {} : { pool: true, maxConnections: 1, maxMessages: Infinity }),
    ...(opts.auth ? { auth: opts.auth } : {}),
    connectionTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    async send(raw, envelope = {}) {
      try {
        const info = (await transport.sendMail({
          envelope: {
            from: envelope.from ?? opts.from ?? 'vecino@example.com',
            to: [...(envelope.to ?? opts.to ?? ['atencion@municipio.gob.mx'])],
          },
          raw,
        })) as { response: unknown };
        const response = String(info.response);
        return { code: Number(response.slice(0, 3)), response };
      } catch (err) {
        const e = err as { responseCode?: number; response?: string; message?: string; code?: string };
        return {
          code: e.responseCode ?? 0,
          response: e.response ?? e.message ?? '',
          ...(e.code ? { error: e.code } : {}),
        };
      }
    },
    close: () => transport.close(),
  };
}

/** Build a raw RFC 5322 message. */
export function compose(mail: MailComposerOptions): Promise<Buffer> {
  return new MailComposer(mail).compile().build();
}

/** One accepted message. */
export interface SinkMessage {
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  readonly raw: Buffer;
  readonly mail: ParsedMail;
}

/** A scripted failure: an SMTP reply to DATA, or the connection cut while the message is in flight. */
export type SinkFailure = { readonly code: number; readonly message: string } | 'drop';

/** A running sink. */
export interface SmtpSink {
  /** `smtp://user:password@127.0.0.1:<port>` for `EMAIL_SMTP_OUT_URL`. */
  readonly url: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly messages: SinkMessage[];
  /** DATA transactions seen, failed ones included. */
  attempts: number;
  /** Answer the next DATA with this failure. */
  failNext(failure: SinkFailure): void;
  /** Resolve once `n` messages were accepted in total. */
  waitFor(n: number, timeoutMs?: number): Promise<SinkMessage[]>;
  close(): Promise<void>;
}

/** Start the sink with the given credentials. */
export async function startSmtpSink(opts: { user?: string; password?: string } = {}): Promise<SmtpSink> {
  const user = opts.user ?? 'ventanilla';
  const password = opts.password ?? 'sink-password-9f3c2a';
  const messages: SinkMessage[] = [];
  const script: SinkFailure[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const sink = {
    attempts: 0,
  };
  const server: SMTPServer = new SMTPServer({
    logger: false,
    disableReverseLookup: true,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, cb) {
      if (auth.username === user && auth.password === password) cb(null, { user });
      else cb(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
    },
    onData(stream, session, cb) {
      sink.attempts++;
      const failure = script.shift();
      if (failure === 'drop') {
        for (const c of server.connections) if (c.session.id === session.id) c._socket.destroy();
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (failure) return cb(Object.assign(new Error(failure.message), { responseCode: failure.code }));
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then(
          (mail) => {
            const from = session.envelope.mailFrom;
            messages.push({
              envelope: {
                from: from === false ? '' : from.address,
                to: session.envelope.rcptTo.map((r) => r.address),
              },
              raw,
              mail,
            });
            for (const w of waiters.splice(0)) {
              if (messages.length >= w.n) w.resolve();
              else waiters.push(w);
            }
            cb(null, 'OK: queued');
          },
          (err: Error) => cb(err),
        );
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.server.address() as AddressInfo).port;
  return Object.assign(sink, {
    url: `smtp://${user}:${password}@127.0.0.1:${port}`,
    port,
    user,
    password,
    messages,
    failNext: (f: SinkFailure) => void script.push(f),
    waitFor(n: number, timeoutMs = 15_000) {
      if (messages.length >= n) return Promise.resolve(messages);
      return new Promise<SinkMessage[]>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `timed out waiting for ${n} messages (have ${messages.length}: ${messages.map((m) => m.mail.text?.slice(0, 80)).join(' | ')})`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve(messages);
          },
        });
      });
    },
    close: () =>
      new Promise<void>((r) => {
        for (const c of server.connections) c._socket.destroy();
        server.close(() => r());
      }),
  });
}
