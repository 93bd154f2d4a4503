/**
 * A loopback fake of an OpenAI-compatible `POST /v1/chat/completions` (node:http on 127.0.0.1:0). It records
 * every call and answers with scripted replies, in order. A `structured` reply is rendered the way the request
 * asks for it: as a forced tool call when the request carries `tools` (LangChain's `functionCalling`), else as
 * JSON message content (`jsonSchema` / `jsonMode`, which is what `withStructuredOutput` sends by default).
 */
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

/** One scripted answer. */
export type OpenAiReply =
  | { kind: 'structured'; value: unknown }
  | { kind: 'refusal'; message: string }
  | { kind: 'text'; content: string }
  | { kind: 'error'; status: number; message?: string }
  | { kind: 'hang' };

/** A recorded request. */
export interface OpenAiCall {
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: ChatRequest;
}

/** The parts of a chat-completions request the tests look at. */
export interface ChatRequest {
  readonly model?: string;
  readonly messages?: readonly { role: string; content: unknown }[];
  readonly tools?: readonly { type: string; function: { name: string } }[];
  readonly tool_choice?: unknown;
  readonly response_format?: { type: string; json_schema?: { name?: string } };
  readonly stream?: boolean;
}

/** A running fake. */
export interface FakeOpenAi {
  /** Base URL including `/v1`, as `ChatOpenAI`'s `configuration.baseURL` expects. */
  readonly baseUrl: string;
  readonly calls: OpenAiCall[];
  respond(...replies: OpenAiReply[]): void;
  /** Script answers of `POST /v1/audio/transcriptions` (a text, or an error status). */
  transcribe(...replies: (string | { status: number })[]): void;
  /** Multipart requests received by the transcription endpoint (raw body text, for field checks). */
  readonly transcriptions: { readonly contentType: string; readonly body: string }[];
  close(): Promise<void>;
}

let ids = 0;

function completion(
  req: ChatRequest,
  message: Record<string, unknown>,
  finish: string,
): Record<string, unknown> {
  ids += 1;
  return {
    id: `chatcmpl-fake-${ids}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: req.model ?? 'fake-model',
    choices: [
      { index: 0, message: { role: 'assistant', ...message }, logprobs: null, finish_reason: finish },
    ],
    usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Start the fake on 127.0.0.1 with a random port. */
export async function startFakeOpenAi(): Promise<FakeOpenAi> {
  const calls: OpenAiCall[] = [];
  const script: OpenAiReply[] = [];
  const spoken: (string | { status: number })[] = [];
  const transcriptions: { contentType: string; body: string }[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: ChatRequest = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest;
      } catch {
        // not JSON: recorded as an empty request
      }
      if (req.method === 'POST' && (req.url ?? '').endsWith('/audio/transcriptions')) {
        transcriptions.push({
          contentType: String(req.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString('latin1'),
        });
        const next = spoken.shift() ?? { status: 500 };
        if (typeof next === 'string') send(res, 200, { text: next });
        else send(res, next.status, { error: { message: `status ${next.status}`, type: 'server_error' } });
        return;
      }
      calls.push({ path: req.url ?? '/', headers: req.headers, body });
      if (req.method !== 'POST' || !(req.url ?? '').endsWith('/chat/completions')) {
        send(res, 404, { error: { message: 'not found', type: 'invalid_request_error' } });
        return;
      }
      const reply = script.shift() ?? { kind: 'error', status: 500, message: 'no scripted reply' };
      switch (reply.kind) {
        case 'structured': {
          const tool = body.tools?.[0]?.function.name;
          if (tool) {
            send(
              res,
              200,
              completion(
                body,
                {
                  content: null,
                  tool_calls: [
                    {
                      id: `call_${ids + 1}`,
                      type: 'function',
                      function: { name: tool, arguments: JSON.stringify(reply.value) },
                    },
                  ],
                },
                'tool_calls',
              ),
            );
          } else {
            send(res, 200, completion(body, { content: JSON.stringify(reply.value), refusal: null }, 'stop'));
          }
          return;
        }
        case 'refusal':
          send(res, 200, completion(body, { content: null, refusal: reply.message }, 'stop'));
          return;
        case 'text':
          send(res, 200, completion(body, { content: reply.content, refusal: null }, 'stop'));
          return;
        case 'error':
          send(res, reply.status, {
            error: { message: reply.message ?? `status ${reply.status}`, type: 'server_error', code: null },
          });
          return;
        case 'hang':
          // Never answer; the client must time out. The socket is destroyed by close().
          return;
      }
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    calls,
    respond: (...replies) => script.push(...replies),
    transcribe: (...replies) => spoken.push(...replies),
    transcriptions,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
