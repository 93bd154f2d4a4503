/**
 * Telegram webhook benchmark (issue 4): signed webhook updates under autocannon-style load on loopback, against
 * (a) a bare telegraf webhook that only replies (bench/telegram-bare.ts) and (b) Ventanilla's full durable pipeline
 * (bench/server.ts with the Telegram channel in webhook mode) on PGlite and, with TEST_DATABASE_URL, on PostgreSQL.
 * Every side replies to a fake Bot API (bench/telegram-fake.ts, test/fakes/telegram.ts in its own process) that
 * stamps each call on arrival; the replies are matched to their chats here.
 *
 * Load: C keep-alive connections (BENCH_TELEGRAM_CONNECTIONS, 50), each POSTing the next update as soon as the
 * previous one was acknowledged, as autocannon does. A generator of our own rather than autocannon: each request
 * belongs to a chat whose next message depends on the bot's last reply (buttons, the folio), and a chat sends its
 * next message only once its previous reply landed, like a real citizen; autocannon builds requests synchronously
 * and cannot wait for that. So the connections draw from a pool of chats (BENCH_TELEGRAM_CHATS, 2 × C) whose
 * previous turn is complete, which keeps the connections busy while replies are still on their way (Ventanilla
 * acknowledges a webhook once its turn committed and sends the reply just after). Each chat is one citizen filing a
 * pothole complaint: "hola", the menu button, "1" (the categories come as a numbered list), a description, an
 * address, the photo's "skip" button, the "yes" button, then "¿cómo va mi folio VER-…?"; a finished or failed chat
 * is replaced by a new one, so first turns (a new conversation) keep coming; update_id and message_id are unique
 * across the run. The bare bot gets the same sequence of updates, without reading its replies.
 *
 * Measured after a warm-up (BENCH_TELEGRAM_WARMUP_MS, 2000) for BENCH_TELEGRAM_MS (8000): webhook acks (200) per
 * second and the latency of updates sent in the window (not of the warm-up's cold burst of first turns, which on
 * PGlite waits seconds behind cold query plans); replies landed at the fake per second and "update sent → reply
 * landed" latency;
 * non-200 and connection errors; server CPU per acknowledged request (and PostgreSQL's, approximate); peak RSS.
 *
 * Standalone: `npx tsx bench/telegram.ts` (TEST_DATABASE_URL honoured) prints its own table; BENCH_TELEGRAM_SIDES
 * (`bare,pglite,postgres`) picks the sides.
 */
import { Agent, request } from 'node:http';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Child } from './lib.ts';
import {
  MB,
  cpuOfProcessesNamed,
  fmt,
  percentile,
  procCpuMs,
  rssSampler,
  scrape,
  sleep,
  spawnTs,
  tempDir,
} from './lib.ts';
import { createBenchDatabase } from './webchat.ts';

const TOKEN = '6000000004:AAbenchLoopbackTokenNotARealBot_012345';
const SECRET = 'bench-webhook-secret_0123456789';
/** Where Ventanilla registers its webhook (the fake only records it; updates are POSTed to the loopback URL). */
const PUBLIC_URL = 'https://ventanilla.example.gob.mx';
const SECRET_HEADER = 'x-telegram-bot-api-secret-token';
const FOLIO_RE = /\b([A-Z]{2,6}-\d{4}-\d{6,})\b/;
/** A turn whose reply has not landed by then fails its conversation. */
const TURN_TIMEOUT_MS = 10_000;
/** A reply that does not fit the script may be followed by the one that does (a notice, then the question). */
const WRONG_REPLY_GRACE_MS = 1_000;
/** After the measured window: how long turns in flight may still complete. */
const DRAIN_MS = 5_000;

export type TelegramSide = 'bare' | 'pglite' | 'postgres';

/** Options of {@link runTelegramSide}. */
export interface TelegramOptions {
  readonly connections?: number;
  readonly chats?: number;
  readonly warmupMs?: number;
  readonly durationMs?: number;
  /** PostgreSQL connection string (side `postgres`). */
  readonly databaseUrl?: string;
  /** Called as soon as a child exists (so a caller's timeout can kill it). */
  readonly onChild?: (child: Child) => void;
}

/** Result of {@link runTelegramSide}. */
export interface TelegramResult {
  readonly side: TelegramSide;
  readonly connections: number;
  readonly chats: number;
  readonly windowMs: number;
  /** Webhook requests answered 200 within the measured window, per second; latency of those requests. */
  readonly acks: number;
  readonly acksPerSec: number;
  readonly ackP50Ms: number;
  readonly ackP99Ms: number;
  readonly ackMaxMs: number;
  /** Turns whose expected reply landed at the fake within the window; update sent → reply landed. */
  readonly replies: number;
  readonly repliesPerSec: number;
  readonly replyP50Ms: number;
  readonly replyP99Ms: number;
  readonly replyMaxMs: number;
  /** Reply landed − webhook acknowledged (negative: the reply went out before the ack, as telegraf does). */
  readonly afterAckP50Ms: number;
  readonly afterAckP99Ms: number;
  /** Non-200 answers by status, and requests that got no answer at all (whole run). */
  readonly statuses: Record<string, number>;
  readonly connectionErrors: number;
  readonly conversationsCompleted: number;
  readonly conversationsFailed: number;
  readonly failures: Map<string, number>;
  /** Bot messages that arrived when their chat was not waiting for one. */
  readonly extraMessages: number;
  readonly serverCpuMsPerRequest: number;
  /** PostgreSQL server processes' CPU per acknowledged request (side `postgres`; all databases, approximate). */
  readonly pgCpuMsPerRequest?: number;
  /** The fake Bot API's CPU per call it received in the window. */
  readonly fakeCpuMsPerCall: number;
  readonly botApiCalls: Record<string, number>;
  readonly peakRssMb: number;
  /** Spawn → listening (Ventanilla: and /readyz 200, on an empty data folder / database). */
  readonly startMs: number;
  /** Ventanilla only: Δ ventanilla_turns_total{channel="telegram"} over the window, outbox depth after the drain. */
  readonly serverTurns?: number;
  readonly outboxDepthAfter?: number;
  readonly serverLog: Map<string, number>;
}

// ---------------------------------------------------------------- the citizens

/** A message the fake received for a chat. */
interface BotMessage {
  readonly at: number;
  readonly text: string;
  readonly buttons: readonly string[];
}

type Send = { readonly text: string } | { readonly data: string };

interface Step {
  readonly send: (folio: string | undefined, n: number) => Send;
  /** Why the reply is wrong, or undefined when it is what this step expects. */
  readonly check: (m: BotMessage, folio: string | undefined) => string | undefined;
}

const SKIP = 'skip';
const MAX_SKIPS_PER_STEP = 2;
const hasButton = (id: string) => (m: BotMessage) =>
  m.buttons.includes(id) ? undefined : `expected a "${id}" button, got: ${m.text.slice(0, 60)}`;
const isQuestion = (m: BotMessage) =>
  m.text && m.buttons.length === 0
    ? undefined
    : `expected a question without buttons, got ${m.buttons.length}`;

/** One citizen's complaint, as taps and typed text; 7 turns plus the optional questions it skips. */
export const TELEGRAM_SCRIPT: readonly Step[] = [
  { send: () => ({ text: 'hola' }), check: hasButton('menu:file-complaint') },
  // More categories than Telegram shows as buttons: they come as a numbered list, answered with a number.
  {
    send: () => ({ data: 'menu:file-complaint' }),
    check: (m) =>
      /^1\. *Bache/im.test(m.text) ? undefined : `expected "1. Baches…", got: ${m.text.slice(0, 60)}`,
  },
  { send: () => ({ text: '1' }), check: isQuestion },
  { send: () => ({ text: 'Hay un bache enorme frente a la escuela' }), check: isQuestion },
  // A different address per chat: the same one would (rightly) be offered to join the first citizen's case.
  { send: (_, n) => ({ text: `Av. Juárez ${n}, col. Centro` }), check: hasButton('yes') },
  {
    send: () => ({ data: 'yes' }),
    check: (m) => (FOLIO_RE.test(m.text) ? undefined : `expected a folio, got: ${m.text.slice(0, 80)}`),
  },
  {
    send: (folio) => ({ text: `¿cómo va mi folio ${folio ?? 'VER-2026-000001'}?` }),
    check: (m, folio) =>
      folio && m.text.includes(folio) && !/no encontr/i.test(m.text)
        ? undefined
        : `expected the status of ${folio}, got: ${m.text.slice(0, 80)}`,
  },
];

let updateId = 100_000;
let messageId = 1;
let chatCounter = 0;

/** A Telegram update of a private chat, shaped as Telegram sends it (see test/fakes/telegram.ts TelegramChat). */
function update(chat: number, send: Send): string {
  const user = { id: chat, is_bot: false, first_name: 'Ciudadana', language_code: 'es' };
  const privateChat = { id: chat, type: 'private', first_name: 'Ciudadana' };
  const date = Math.floor(Date.now() / 1000);
  const id = ++updateId;
  return JSON.stringify(
    'text' in send
      ? {
          update_id: id,
          message: { message_id: messageId++, from: user, chat: privateChat, date, text: send.text },
        }
      : {
          update_id: id,
          callback_query: {
            id: `${chat}${id}`,
            from: user,
            chat_instance: `-${chat}`,
            data: send.data,
            message: {
              message_id: messageId++,
              date,
              chat: privateChat,
              from: { id: 6000000004, is_bot: true, first_name: 'Ventanilla' },
              text: '…',
            },
          },
        },
  );
}

const now = () => performance.timeOrigin + performance.now();

interface Turn {
  readonly sentAt: number;
  ackedAt?: number;
  reply?: BotMessage;
  grace?: NodeJS.Timeout;
  timeout: NodeJS.Timeout;
}

/** The load: chats, connections, samples. */
class Load {
  readonly #checked: boolean;
  readonly #url: string;
  readonly #agent: Agent;
  readonly #idle: Chat[] = [];
  readonly #waiting: ((c: Chat | undefined) => void)[] = [];
  readonly chats = new Map<number, Chat>();
  stopped = false;
  windowStart = Number.POSITIVE_INFINITY;
  windowEnd = Number.POSITIVE_INFINITY;
  /** Throughput counts what completed inside the window; latencies, what was *sent* inside it. */
  acked = 0;
  landed = 0;
  readonly ackLatencies: number[] = [];
  readonly replyLatencies: number[] = [];
  readonly afterAck: number[] = [];
  readonly statuses: Record<string, number> = {};
  readonly failures = new Map<string, number>();
  readonly botApiCalls: Record<string, number> = {};
  connectionErrors = 0;
  completed = 0;
  failed = 0;
  extras = 0;

  constructor(url: string, connections: number, chats: number, checked: boolean) {
    this.#url = url;
    this.#checked = checked;
    this.#agent = new Agent({ keepAlive: true, maxSockets: connections });
    for (let i = 0; i < chats; i++) this.#idle.push(new Chat(this));
  }

  inWindow(t: number): boolean {
    return t >= this.windowStart && t <= this.windowEnd;
  }

  checked(): boolean {
    return this.#checked;
  }

  /** A chat whose previous turn is complete (waits for one). */
  take(): Promise<Chat | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    const c = this.#idle.shift();
    if (c) return Promise.resolve(c);
    return new Promise((r) => this.#waiting.push(r));
  }

  ready(c: Chat): void {
    if (this.stopped) return;
    const w = this.#waiting.shift();
    if (w) w(c);
    else this.#idle.push(c);
  }

  /** A conversation ended (either way): a new citizen takes its place. */
  replace(): void {
    this.ready(new Chat(this));
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.#waiting.splice(0)) w(undefined);
  }

  fail(reason: string): void {
    this.failed++;
    const key = reason.replace(/VER-\d{4}-\d+/g, '<folio>').replace(/\d{3,}/g, '<n>');
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
  }

  /** A line from the fake Bot API. */
  onCall(line: { m: string; c?: unknown; t: number; x?: string; k?: string[] }): void {
    this.botApiCalls[line.m] = (this.botApiCalls[line.m] ?? 0) + 1;
    if (line.m !== 'sendMessage') return;
    const chat = this.chats.get(Number(line.c));
    const message = { at: line.t, text: line.x ?? '', buttons: line.k ?? [] };
    if (!chat?.onMessage(message)) this.extras++;
  }

  /** POST one update; resolves with the status (0: no answer). */
  post(body: string): Promise<number> {
    return new Promise((res) => {
      const req = request(
        `${this.#url}/webhooks/telegram`,
        {
          method: 'POST',
          agent: this.#agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            [SECRET_HEADER]: SECRET,
          },
        },
        (r) => {
          r.resume();
          r.on('end', () => res(r.statusCode ?? 0));
          r.on('error', () => res(0));
        },
      );
      req.setTimeout(TURN_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
      req.on('error', () => res(0));
      req.end(body);
    });
  }

  /** One connection: take a ready chat, send its next update, wait for the ack, repeat. */
  async connection(): Promise<void> {
    for (;;) {
      const chat = await this.take();
      if (!chat) return;
      await chat.turn();
    }
  }

  destroy(): void {
    this.#agent.destroy();
  }
}

/** One citizen in one private chat. */
class Chat {
  readonly #load: Load;
  readonly id = 810_000_000 + ++chatCounter;
  #step = 0;
  #skips = 0;
  #payload: Send;
  #folio: string | undefined;
  #turn: Turn | undefined;
  #done = false;

  constructor(load: Load) {
    this.#load = load;
    this.#payload = TELEGRAM_SCRIPT[0]!.send(undefined, this.id);
    load.chats.set(this.id, this);
  }

  /** Send the next update; resolves once the webhook answered. */
  async turn(): Promise<void> {
    const load = this.#load;
    const sentAt = now();
    const turn: Turn = {
      sentAt,
      timeout: setTimeout(() => this.#fail('no reply within the turn timeout'), TURN_TIMEOUT_MS),
    };
    this.#turn = turn;
    const status = await load.post(update(this.id, this.#payload));
    const ackedAt = now();
    if (status === 0) load.connectionErrors++;
    else if (status !== 200) load.statuses[status] = (load.statuses[status] ?? 0) + 1;
    if (status !== 200) return this.#fail(status ? `webhook answered ${status}` : 'webhook: no answer');
    if (load.inWindow(ackedAt)) load.acked++;
    // Latency of requests sent in the window (those sent in the warm-up's cold burst are not measured).
    if (load.inWindow(sentAt)) load.ackLatencies.push(ackedAt - sentAt);
    if (this.#turn !== turn) return; // failed meanwhile
    turn.ackedAt = ackedAt;
    if (turn.reply) this.#complete(turn, turn.reply);
  }

  /** A bot message for this chat; false when none was expected. */
  onMessage(m: BotMessage): boolean {
    const turn = this.#turn;
    if (!turn || turn.reply) return false;
    const step = TELEGRAM_SCRIPT[this.#step]!;
    const wrong = this.#load.checked() ? step.check(m, this.#folio) : undefined;
    if (wrong && !(m.buttons.includes(SKIP) && this.#skips < MAX_SKIPS_PER_STEP)) {
      // Maybe a notice before the expected question: give the right one a moment to follow.
      turn.grace ??= setTimeout(() => this.#fail(`step ${this.#step + 1}: ${wrong}`), WRONG_REPLY_GRACE_MS);
      return true;
    }
    turn.reply = m;
    if (turn.ackedAt !== undefined) this.#complete(turn, m);
    return true;
  }

  #complete(turn: Turn, m: BotMessage): void {
    clearTimeout(turn.timeout);
    clearTimeout(turn.grace);
    this.#turn = undefined;
    const load = this.#load;
    if (load.inWindow(m.at)) load.landed++;
    if (load.inWindow(turn.sentAt)) {
      load.replyLatencies.push(m.at - turn.sentAt);
      load.afterAck.push(m.at - turn.ackedAt!);
    }
    const step = TELEGRAM_SCRIPT[this.#step]!;
    const wrong = load.checked() ? step.check(m, this.#folio) : undefined;
    if (wrong) {
      // An optional question the script does not know: skip it, then expect the same reply as before.
      this.#skips++;
      this.#payload = { data: SKIP };
      load.ready(this);
      return;
    }
    if (load.checked() && this.#step === 5) this.#folio = FOLIO_RE.exec(m.text)?.[1];
    this.#step++;
    this.#skips = 0;
    if (this.#step >= TELEGRAM_SCRIPT.length) {
      this.#done = true;
      load.completed++;
      load.chats.delete(this.id);
      load.replace();
      return;
    }
    this.#payload = TELEGRAM_SCRIPT[this.#step]!.send(this.#folio, this.id);
    load.ready(this);
  }

  #fail(reason: string): void {
    const turn = this.#turn;
    if (this.#done || !turn) return;
    clearTimeout(turn.timeout);
    clearTimeout(turn.grace);
    this.#turn = undefined;
    this.#done = true;
    this.#load.chats.delete(this.id);
    this.#load.fail(reason);
    this.#load.replace();
  }

  /** Whether a turn is still waiting (for the drain). */
  pending(): boolean {
    return this.#turn !== undefined;
  }

  abandon(): void {
    if (this.#turn) this.#fail('turn still pending after the drain');
  }
}

// ---------------------------------------------------------------- one side

const serverEnv = (apiRoot: string) =>
  JSON.stringify({
    TELEGRAM_BOT_TOKEN: TOKEN,
    TELEGRAM_WEBHOOK_SECRET: SECRET,
    TELEGRAM_API_ROOT: apiRoot,
    PUBLIC_URL,
  });

/** Run one side: its fake Bot API, its server, warm-up, the measured window, the drain. */
export async function runTelegramSide(
  side: TelegramSide,
  opts: TelegramOptions = {},
): Promise<TelegramResult> {
  const connections = opts.connections ?? Number(process.env.BENCH_TELEGRAM_CONNECTIONS ?? 50);
  const chats = opts.chats ?? Number(process.env.BENCH_TELEGRAM_CHATS ?? connections * 2);
  const warmupMs = opts.warmupMs ?? Number(process.env.BENCH_TELEGRAM_WARMUP_MS ?? 2_000);
  const durationMs = opts.durationMs ?? Number(process.env.BENCH_TELEGRAM_MS ?? 8_000);
  if (side === 'postgres' && !opts.databaseUrl) throw new Error('the postgres side needs a database URL');

  const fake = spawnTs('bench/telegram-fake.ts', { BENCH_TELEGRAM_TOKEN: TOKEN });
  opts.onChild?.(fake);
  let server: Child | undefined;
  let load: Load | undefined;
  try {
    const { url: apiRoot } = (await fake.ready) as { url: string };
    server =
      side === 'bare'
        ? spawnTs('bench/telegram-bare.ts', {
            BENCH_TELEGRAM_TOKEN: TOKEN,
            BENCH_TELEGRAM_API_ROOT: apiRoot,
            BENCH_TELEGRAM_SECRET: SECRET,
          })
        : spawnTs('bench/server.ts', {
            BENCH_DATA_DIR: tempDir(`ventanilla-bench-telegram-${side}-`),
            BENCH_TX_PROBE: 'false',
            BENCH_ENV_JSON: serverEnv(apiRoot),
            ...(opts.databaseUrl ? { BENCH_DATABASE_URL: opts.databaseUrl } : {}),
          });
    opts.onChild?.(server);
    const { url } = (await server.ready) as { url: string };
    if (side !== 'bare') {
      const ready = await fetch(`${url}/readyz`);
      if (ready.status !== 200) throw new Error(`/readyz answered ${ready.status}`);
    }
    const startMs = performance.now() - server.spawnedAt;

    const l = new Load(url, connections, chats, side !== 'bare');
    load = l;
    createInterface({ input: fake.process.stdout! }).on('line', (line) => {
      if (!line.startsWith('{"m"')) return;
      l.onCall(JSON.parse(line) as Parameters<Load['onCall']>[0]);
    });

    const sampler = rssSampler(server.pid, 100);
    const running = Array.from({ length: connections }, () => l.connection());
    await sleep(warmupMs);

    const m0 = side === 'bare' ? undefined : await scrape(url);
    const cpu0 = procCpuMs(server.pid) ?? Number.NaN;
    const fakeCpu0 = procCpuMs(fake.pid) ?? Number.NaN;
    const pg0 = side === 'postgres' ? cpuOfProcessesNamed('postgres') : Number.NaN;
    const calls0 = Object.values(l.botApiCalls).reduce((a, b) => a + b, 0);
    l.windowStart = now();
    await sleep(durationMs);
    l.windowEnd = now();
    const cpu1 = procCpuMs(server.pid) ?? Number.NaN;
    const fakeCpu1 = procCpuMs(fake.pid) ?? Number.NaN;
    const pg1 = side === 'postgres' ? cpuOfProcessesNamed('postgres') : Number.NaN;
    const calls1 = Object.values(l.botApiCalls).reduce((a, b) => a + b, 0);
    const m1 = side === 'bare' ? undefined : await scrape(url);
    const rss = sampler.stop();

    // Drain: no new turns; the ones in flight may finish (not measured, but failures are counted).
    l.stop();
    await Promise.all(running);
    const drainUntil = performance.now() + DRAIN_MS;
    while ([...l.chats.values()].some((c) => c.pending()) && performance.now() < drainUntil) await sleep(50);
    for (const c of [...l.chats.values()]) c.abandon();
    const m2 = side === 'bare' ? undefined : await scrape(url);
    l.destroy();

    const windowMs = l.windowEnd - l.windowStart;
    const acks = l.acked;
    const replies = l.landed;
    const turnsDelta =
      m0 && m1
        ? (m1.sum('ventanilla_turns_total', { channel: 'telegram' }) || 0) -
          (m0.sum('ventanilla_turns_total', { channel: 'telegram' }) || 0)
        : undefined;
    await server.terminate(10_000);
    return {
      side,
      connections,
      chats,
      windowMs,
      acks,
      acksPerSec: (acks / windowMs) * 1000,
      ackP50Ms: percentile(l.ackLatencies, 50),
      ackP99Ms: percentile(l.ackLatencies, 99),
      ackMaxMs: percentile(l.ackLatencies, 100),
      replies,
      repliesPerSec: (replies / windowMs) * 1000,
      replyP50Ms: percentile(l.replyLatencies, 50),
      replyP99Ms: percentile(l.replyLatencies, 99),
      replyMaxMs: percentile(l.replyLatencies, 100),
      afterAckP50Ms: percentile(l.afterAck, 50),
      afterAckP99Ms: percentile(l.afterAck, 99),
      statuses: l.statuses,
      connectionErrors: l.connectionErrors,
      conversationsCompleted: l.completed,
      conversationsFailed: l.failed,
      failures: l.failures,
      extraMessages: l.extras,
      serverCpuMsPerRequest: (cpu1 - cpu0) / acks,
      ...(side === 'postgres' ? { pgCpuMsPerRequest: (pg1 - pg0) / acks } : {}),
      fakeCpuMsPerCall: (fakeCpu1 - fakeCpu0) / (calls1 - calls0),
      botApiCalls: l.botApiCalls,
      peakRssMb: rss.peak / MB,
      startMs,
      ...(turnsDelta !== undefined ? { serverTurns: turnsDelta } : {}),
      ...(m2 ? { outboxDepthAfter: m2.sum('ventanilla_outbox_depth') } : {}),
      serverLog: server.stderrCounts,
    };
  } finally {
    load?.stop();
    load?.destroy();
    server?.kill();
    await fake.terminate(5_000);
  }
}

// ---------------------------------------------------------------- table rows

/** The targets: on PostgreSQL, at least 0.2 × the bare telegraf throughput with a p99 of 150 ms or less. */
export const TELEGRAM_TARGET = { ratio: 0.2, p99Ms: 150 } as const;

export type TelegramRow = readonly [string, string, string, string];

/** Outcome of one side as bench/run.ts records it. */
export type TelegramOutcome = { ok: true; value: TelegramResult } | { ok: false; error: string };

const times = (n: number) => (Number.isFinite(n) ? `×${fmt(n, n < 10 ? 2 : 1)}` : 'n/a');

/** Table rows for the bare side and each Ventanilla side (ratios against the bare side). */
export function telegramRows(
  bare: TelegramOutcome,
  sides: readonly (readonly [label: 'pglite' | 'postgres', o: TelegramOutcome | undefined])[],
): (TelegramRow | 'sep')[] {
  const rows: (TelegramRow | 'sep')[] = [];
  const b = bare.ok ? bare.value : undefined;
  const problems = (r: TelegramResult) => {
    const non200 = Object.entries(r.statuses)
      .map(([s, n]) => `${n} × ${s}`)
      .join(', ');
    return `non-200 ${non200 || '0'}, no answer ${r.connectionErrors}`;
  };
  const load = (r: TelegramResult) =>
    `${r.connections} connections over ${r.chats} chats, ${fmt(r.windowMs / 1000, 1)} s`;
  if (b) {
    rows.push([
      'telegram bare telegraf req/s',
      fmt(b.acksPerSec, 0),
      '',
      `webhook 200s; ${load(b)}; ${problems(b)}; replies landed ${fmt(b.repliesPerSec, 0)}/s`,
    ]);
    rows.push([
      'telegram bare telegraf p50 / p99 ms',
      `${fmt(b.ackP50Ms, 1)} / ${fmt(b.ackP99Ms, 1)}`,
      '',
      `webhook (acks after its sendMessage returned); reply landed p50/p99 ${fmt(b.replyP50Ms, 1)} / ${fmt(b.replyP99Ms, 1)}`,
    ]);
    rows.push([
      'telegram bare telegraf CPU ms/request',
      fmt(b.serverCpuMsPerRequest, 3),
      '',
      `bot process; peak RSS ${fmt(b.peakRssMb, 0)} MB; fake Bot API ${fmt(b.fakeCpuMsPerCall, 3)} ms/call`,
    ]);
  } else if (!bare.ok) rows.push(['telegram bare telegraf', bare.error, '', '']);

  for (const [label, o] of sides) {
    rows.push('sep');
    const name = `telegram ${label}`;
    if (!o) {
      rows.push([name, 'skipped', '', 'set TEST_DATABASE_URL to run it']);
      continue;
    }
    if (!o.ok) {
      rows.push([name, o.error, '', '']);
      continue;
    }
    const v = o.value;
    const graded = label === 'postgres';
    const ratio = b ? v.acksPerSec / b.acksPerSec : Number.NaN;
    const verdict = (ok: boolean, text: string) =>
      graded ? `${text}  ${ok ? 'OK' : 'MISSED'}` : `(${text} on PostgreSQL)`;
    rows.push([
      `${name} req/s`,
      fmt(v.acksPerSec, 0),
      '',
      `webhook 200s (ack after the turn committed); ${load(v)}; ${problems(v)}`,
    ]);
    rows.push([
      `${name} ratio to bare telegraf`,
      times(ratio),
      Number.isFinite(ratio) ? verdict(ratio >= TELEGRAM_TARGET.ratio, `≥ ×${TELEGRAM_TARGET.ratio}`) : 'n/a',
      `Ventanilla ÷ bare telegraf webhook req/s; replies landed ${times(b ? v.repliesPerSec / b.repliesPerSec : Number.NaN)}`,
    ]);
    rows.push([
      `${name} webhook p50 / p99 ms`,
      `${fmt(v.ackP50Ms, 1)} / ${fmt(v.ackP99Ms, 1)}`,
      '',
      `update POSTed → 200; max ${fmt(v.ackMaxMs, 0)}`,
    ]);
    rows.push([
      `${name} reply p50 / p99 ms`,
      `${fmt(v.replyP50Ms, 1)} / ${fmt(v.replyP99Ms, 1)}`,
      Number.isFinite(v.replyP99Ms)
        ? verdict(v.replyP99Ms <= TELEGRAM_TARGET.p99Ms, `≤ ${TELEGRAM_TARGET.p99Ms} ms`)
        : 'n/a',
      `update POSTed → reply at the fake Bot API (${fmt(v.repliesPerSec, 0)} replies/s; max ${fmt(v.replyMaxMs, 0)}); after the ack p50/p99 ${fmt(v.afterAckP50Ms, 1)} / ${fmt(v.afterAckP99Ms, 1)}`,
    ]);
    rows.push([
      `${name} server CPU ms/request`,
      fmt(v.serverCpuMsPerRequest, 2),
      '',
      `${times(b ? v.serverCpuMsPerRequest / b.serverCpuMsPerRequest : Number.NaN)} bare` +
        (v.pgCpuMsPerRequest !== undefined
          ? `; + PostgreSQL processes ${fmt(v.pgCpuMsPerRequest, 2)} ms/request`
          : '; PGlite runs inside the server process') +
        `; ${fmt(v.serverTurns, 0)} server turns`,
    ]);
    rows.push([
      `${name} peak RSS MB`,
      fmt(v.peakRssMb, 0),
      '',
      `VmRSS sampled every 100 ms; first start ${fmt(v.startMs, 0)} ms`,
    ]);
    rows.push([
      `${name} failed conversations`,
      `${v.conversationsFailed}/${v.conversationsCompleted + v.conversationsFailed}`,
      '',
      `complaint → folio → status; extra bot messages ${v.extraMessages}, outbox depth after ${fmt(v.outboxDepthAfter, 0)}`,
    ]);
  }
  return rows;
}

/** Failure reasons and server warnings worth a note under the table. */
export function telegramNotes(label: string, o: TelegramOutcome | undefined): string[] {
  if (!o?.ok) return [];
  const out: string[] = [];
  for (const [reason, n] of o.value.failures) out.push(`telegram ${label}: ${n} × ${reason}`);
  for (const [msg, n] of o.value.serverLog) out.push(`telegram ${label} server log (warn+): ${n} × ${msg}`);
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { loadavg } = await import('node:os');
  const before = loadavg();
  const outcome = async (fn: () => Promise<TelegramResult>): Promise<TelegramOutcome> => {
    try {
      return { ok: true, value: await fn() };
    } catch (err) {
      return { ok: false, error: `failed: ${(err as Error).message}` };
    }
  };
  // BENCH_TELEGRAM_SIDES=bare,postgres runs only those sides (e.g. to profile one).
  const sides = new Set((process.env.BENCH_TELEGRAM_SIDES ?? 'bare,pglite,postgres').split(','));
  const skipped: TelegramOutcome = { ok: false, error: 'skipped (BENCH_TELEGRAM_SIDES)' };
  const bare = sides.has('bare') ? await outcome(() => runTelegramSide('bare')) : skipped;
  const pglite = sides.has('pglite') ? await outcome(() => runTelegramSide('pglite')) : skipped;
  let postgres: TelegramOutcome | undefined;
  const testUrl = process.env.TEST_DATABASE_URL;
  if (testUrl && sides.has('postgres')) {
    const db = await createBenchDatabase(testUrl);
    try {
      postgres = await outcome(() => runTelegramSide('postgres', { databaseUrl: db.url }));
    } finally {
      await db.drop();
    }
  }
  const rows = telegramRows(bare, [
    ['pglite', pglite],
    ['postgres', postgres],
  ]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => (r === 'sep' ? 0 : r[i]!.length))));
  const line = (r: TelegramRow) =>
    `${r[0].padEnd(widths[0]!)}  ${r[1].padStart(widths[1]!)}  ${r[2].padEnd(widths[2]!)}  ${r[3]}`.trimEnd();
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  const out = [
    `Telegram webhook benchmark — node ${process.version}; load average before ${la(before)}, after ${la(loadavg())}`,
    '',
    ...rows.map((r) => (r === 'sep' ? '' : line(r))),
  ];
  const failed = (label: string, o: TelegramOutcome | undefined) =>
    o && !o.ok ? [`${label}: ${o.error}`] : [];
  const notes = [
    ...failed('bare', bare),
    ...failed('pglite', pglite),
    ...failed('postgres', postgres),
    ...telegramNotes('bare', bare),
    ...telegramNotes('pglite', pglite),
    ...telegramNotes('postgres', postgres),
  ];
  if (notes.length) out.push('', 'notes:', ...notes.map((n) => `  ${n}`));
  process.stdout.write(`${out.join('\n')}\n`);
  process.exit(0);
}
