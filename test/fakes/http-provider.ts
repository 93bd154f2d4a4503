/**
 * A loopback fake of a provider's HTTP send API (after vercel's test server): records calls and answers with
 * scripted replies, in order; when the script runs out it answers 200 with a generated message id.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted answer. */
export type FakeReply =
  | { kind: 'json'; status?: number; body: unknown; headers?: Record<string, string> }
  | { kind: 'error'; status: number; headers?: Record<string, string>; body?: unknown }
  | { kind: 'hang' }
  | { kind: 'drop' };

/** A recorded request. */
export interface FakeCall {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: unknown;
}

/** A running fake. */
export interface FakeProvider {
  readonly baseUrl: string;
  readonly calls: FakeCall[];
  respond(...replies: FakeReply[]): void;
  close(): Promise<void>;
}

/** Start the fake on 127.0.0.1 with a random port. */
export async function startFakeProvider(): Promise<FakeProvider> {
  const calls: FakeCall[] = [];
  const script: FakeReply[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON
      }
      calls.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body });
      const reply = script.shift() ?? { kind: 'json', body: { id: `fake-${++n}` } };
      switch (reply.kind) {
        case 'json':
          res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
          res.end(JSON.stringify(reply.body));
          return;
        case 'error':
          res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
          res.end(JSON.stringify(reply.body ?? { error: { message: `status ${reply.status}` } }));
          return;
        case 'hang':
          return;
        case 'drop':
          req.socket.destroy();
          return;
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    calls,
    respond: (...replies) => script.push(...replies),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
