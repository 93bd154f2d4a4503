/** Start the whole product on a test database and talk to it like a browser would. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import type { ChatMessageDto, SendAck } from '../../channels/webchat.ts';
import type { Database } from '../../integrations/storage/db.ts';
import { createApp, createLogger, loadConfig } from '../../main.ts';
import type { App, AppOverrides } from '../../main.ts';
import { openTestPglite } from './db.ts';

/** A running app plus captured logs. */
export interface TestApp {
  readonly app: App;
  readonly url: string;
  readonly logs: string[];
  readonly dataDir: string;
  close(): Promise<void>;
}

/** Start the app on a fresh PGlite (from the template) unless a database or env says otherwise. */
export async function startTestApp(
  env: Record<string, string> = {},
  overrides: AppOverrides & { database?: Database; keepDataDir?: boolean } = {},
): Promise<TestApp> {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'vtn-'));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    DATA_DIR: dataDir,
    // Every test citizen shares 127.0.0.1; the limiter itself is tested with low limits.
    WEBCHAT_CONNECTIONS_PER_MINUTE: '100000',
    WEBCHAT_MESSAGES_PER_MINUTE: '100000',
    WEBCHAT_UPLOADS_PER_MINUTE: '100000',
    // One trained NLU model for the whole run (the first app trains it, the others load it).
    NLU_CACHE_DIR: join(process.cwd(), '.tmp', 'nlu-test-cache'),
    ...env,
  });
  const usesDataDir = env.DATA_DIR !== undefined && !overrides.database;
  const database =
    overrides.database ?? (usesDataDir || env.DATABASE_URL ? undefined : await openTestPglite());
  const app = await createApp(config, {
    jobs: false,
    ...overrides,
    ...(database ? { database } : {}),
    logger: createLogger('info', sink),
  });
  const url = await app.listen();
  return {
    app,
    url,
    logs,
    dataDir,
    async close() {
      await app.close();
      if (database && !overrides.database) await database.close();
      if (!overrides.keepDataDir && env.DATA_DIR === undefined)
        rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A web-chat citizen: a socket.io client that records everything the server sends. */
export class Citizen {
  readonly socket: Socket;
  readonly received: ChatMessageDto[] = [];
  readonly errors: { code: string; message: string }[] = [];
  secret: string | undefined;
  history: ChatMessageDto[] = [];
  #waiters: { n: number; resolve: () => void }[] = [];

  constructor(
    url: string,
    opts: { secret?: string; locale?: string; headers?: Record<string, string> } = {},
  ) {
    this.socket = io(`${url}/webchat`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { ...(opts.secret ? { secret: opts.secret } : {}), locale: opts.locale ?? 'es-MX' },
      ...(opts.headers ? { extraHeaders: opts.headers } : {}),
    });
    this.socket.on('session', (s: { secret: string }) => {
      this.secret = s.secret;
    });
    this.socket.on('history', (h: { messages: ChatMessageDto[] }) => {
      this.history = h.messages;
    });
    this.socket.on('chat.error', (e: { code: string; message: string }) => this.errors.push(e));
    this.socket.on('message.created', (m: ChatMessageDto) => {
      if (m.direction !== 'out') return;
      this.received.push(m);
      this.#waiters = this.#waiters.filter((w) =>
        this.received.length >= w.n ? (w.resolve(), false) : true,
      );
    });
  }

  /** Wait for the connection and the session + history events. */
  async ready(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('history', () => resolve());
      this.socket.once('connect_error', reject);
    });
    return this;
  }

  /** Wait until `count` bot messages have arrived in total. */
  waitFor(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `timed out waiting for ${count} bot messages (have ${this.received.length}: ${this.received.map((m) => m.text).join(' | ')})`,
            ),
          ),
        timeoutMs,
      );
      this.#waiters.push({
        n: count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Send a payload and return the ack. */
  async send(payload: Record<string, unknown>, clientId: string = crypto.randomUUID()): Promise<SendAck> {
    return (await this.socket
      .timeout(10_000)
      .emitWithAck('message.send', { clientId, ...payload })) as SendAck;
  }

  /** Send and wait for `replies` more bot messages; returns their texts joined. */
  async say(payload: Record<string, unknown> | string, replies = 1): Promise<string> {
    const before = this.received.length;
    const ack = await this.send(typeof payload === 'string' ? { kind: 'text', text: payload } : payload);
    if (!ack.ok) throw new Error(`message refused: ${ack.code} ${ack.message}`);
    await this.waitFor(before + replies);
    return this.received
      .slice(before)
      .map((m) => [m.text, ...(m.choices ?? []).map((c) => c.label)].join(' '))
      .join('\n');
  }

  /** The last bot message. */
  last(): ChatMessageDto | undefined {
    return this.received.at(-1);
  }

  close(): void {
    this.socket.close();
  }
}
