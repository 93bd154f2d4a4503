/** Web chat: the shared channel contract plus web-chat specifics (origins, limits, sessions). */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Server } from 'socket.io';
import { io as connect } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inbound } from '../../channels/contract.ts';
import { randomSecret, secretKey } from '../../channels/kit/ids.ts';
import { webchat, webchatConfig } from '../../channels/webchat.ts';
import type { ChatMessageDto, WebchatAdapter, WebchatConfig } from '../../channels/webchat.ts';
import { memoryMedia } from '../fakes/media.ts';
import { createLogger } from '../../main.ts';
import { channelContract } from '../contract/channel.contract.ts';

interface Rig {
  adapter: WebchatAdapter;
  url: string;
  events: Inbound[];
  logs: string[];
  close(): Promise<void>;
}

async function startRig(config: Partial<WebchatConfig> = {}, history: ChatMessageDto[] = []): Promise<Rig> {
  const server = createServer();
  const ioServer = new Server(server);
  const logs: string[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      logs.push(c.toString());
      cb();
    },
  });
  const adapter = webchat.create(webchatConfig.parse(config), {
    io: ioServer,
    media: memoryMedia(),
    history: async () => history,
    sessionExists: async () => false,
    log: createLogger('debug', sink),
  });
  const events: Inbound[] = [];
  await adapter.start!((e) => {
    events.push(e);
    return Promise.resolve();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    adapter,
    url,
    events,
    logs,
    async close() {
      await adapter.stop!();
      await ioServer.close();
    },
  };
}

function client(
  url: string,
  auth: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Socket {
  return connect(`${url}/webchat`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    auth,
    extraHeaders: headers,
  });
}

const connected = (s: Socket) =>
  new Promise<{ secret: string; resumed: boolean }>((resolve, reject) => {
    s.once('session', resolve);
    s.once('connect_error', reject);
  });

channelContract({
  name: 'webchat',
  fixtures: 'test/fixtures/webchat/inbound',
  skip: [
    {
      reason:
        'web chat has no provider webhook to sign; sessions use an unguessable secret (see "sessions" below)',
      tests: ['signature'],
    },
    {
      reason:
        'socket.io delivery has no provider HTTP API that could answer 429/5xx; offline sessions read history on reconnect',
      tests: ['retryable'],
    },
    { reason: 'the browser reports no delivery receipts', tests: ['receipts'] },
    { reason: 'web chat is a push channel', tests: ['in-response'] },
  ],
  async setup() {
    const rig = await startRig();
    const secret = randomSecret();
    const socket = client(rig.url, { secret });
    await connected(socket);
    let received = 0;
    socket.on('message.created', () => received++);
    return {
      adapter: rig.adapter,
      address: { channel: 'webchat', user: secretKey(secret) },
      secrets: [secret],
      sends: async () => {
        await new Promise((r) => setTimeout(r, 50));
        return received;
      },
      logs: () => rig.logs.join(''),
      async feed(raw) {
        const before = rig.events.length;
        try {
          const ack = (await socket.timeout(5000).emitWithAck('message.send', raw)) as {
            ok: boolean;
            code?: string;
          };
          // Give the server time to deliver the echo before counting sends.
          if (ack.ok) await new Promise((r) => setTimeout(r, 20));
          return { events: rig.events.slice(before), status: ack.ok ? 200 : 400 };
        } catch (threw) {
          return { events: [], status: 500, threw };
        }
      },
      async close() {
        socket.close();
        await rig.close();
      },
    };
  },
});

describe('webchat specifics', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig(
      {
        allowedOrigins: ['https://municipio.example.gob.mx'],
        messagesPerIp: { burst: 3, perSecond: 0.01 },
        connectionsPerIp: { burst: 6, perSecond: 0.01 },
      },
      [{ id: 'h1', direction: 'out', kind: 'text', text: 'mensaje anterior', at: new Date().toISOString() }],
    );
  });
  afterAll(async () => {
    await rig.close();
  });

  it('issues a new unguessable session (≥ 128 bits) and resumes a known one with its history', async () => {
    const s1 = client(rig.url);
    const first = await connected(s1);
    expect(first.resumed).toBe(false);
    expect(Buffer.from(first.secret, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
    s1.close();
    const s2 = client(rig.url, { secret: first.secret });
    const history = new Promise<{ messages: ChatMessageDto[] }>((r) => s2.once('history', r));
    expect(await connected(s2)).toEqual({ secret: first.secret, resumed: true });
    expect((await history).messages[0]?.text).toBe('mensaje anterior');
    s2.close();
    const s3 = client(rig.url, { secret: 'short' });
    expect((await connected(s3)).resumed).toBe(false);
    s3.close();
  });

  it('refuses origins that may not embed the widget, accepts allowed ones', async () => {
    const bad = client(rig.url, {}, { origin: 'https://evil.example.com' });
    await expect(connected(bad)).rejects.toThrow('CHANNEL_ORIGIN_FORBIDDEN');
    bad.close();
    const good = client(rig.url, {}, { origin: 'https://municipio.example.gob.mx' });
    await expect(connected(good)).resolves.toMatchObject({ resumed: false });
    good.close();
    expect(rig.adapter.originAllowed('https://evil.example.com', 'localhost:3000')).toBe(false);
    expect(rig.adapter.originAllowed('http://localhost:3000', 'localhost:3000')).toBe(true);
  });

  it('limits messages per IP with a clear, retryable answer', async () => {
    const s = client(rig.url);
    await connected(s);
    const acks: { ok: boolean; code?: string; retryAfterMs?: number }[] = [];
    for (let i = 0; i < 5; i++) {
      acks.push(
        (await s.timeout(5000).emitWithAck('message.send', {
          clientId: crypto.randomUUID(),
          kind: 'text',
          text: `hola ${i}`,
        })) as { ok: boolean; code?: string; retryAfterMs?: number },
      );
    }
    expect(acks.filter((a) => a.ok)).toHaveLength(3);
    expect(acks.at(-1)).toMatchObject({ ok: false, code: 'CHANNEL_RATE_LIMITED' });
    expect(acks.at(-1)?.retryAfterMs).toBeGreaterThan(0);
    s.close();
  });

  it('limits connections per IP', async () => {
    const outcomes: string[] = [];
    const sockets: Socket[] = [];
    for (let i = 0; i < 8; i++) {
      const s = client(rig.url);
      sockets.push(s);
      outcomes.push(
        await connected(s).then(
          () => 'ok',
          (e: Error) => e.message,
        ),
      );
    }
    expect(outcomes).toContain('CHANNEL_RATE_LIMITED');
    for (const s of sockets) s.close();
  });
});
