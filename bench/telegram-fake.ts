/**
 * The fake Bot API of the Telegram benchmark (test/fakes/telegram.ts), in its own child process: the load generator,
 * the fake and the bot under test would otherwise share one event loop, and at thousands of calls a second the
 * fake's parsing and answering would be charged to (and delay) whichever side runs it. Prints `{"url": ...}` once
 * listening, then one JSON line per Bot API call: `{"m": method, "c": chat id, "t": epoch ms (sub-ms precision,
 * `performance.timeOrigin + performance.now()`, comparable across processes on one machine), "x": text, "k":
 * inline-button callback data}` (text and buttons only for `sendMessage`, so the load generator can check the
 * dialog and read the folio).
 *
 * Measurement only: the fake records every call in `calls` through `calls.push`; that push is replaced so each call
 * is stamped on arrival and streamed out instead of being kept (a bounded run would fit in memory, but nothing here
 * reads it back). Environment: BENCH_TELEGRAM_TOKEN (required).
 */
import { startFakeTelegram } from '../test/fakes/telegram.ts';
import type { TelegramCall } from '../test/fakes/telegram.ts';

const token = process.env.BENCH_TELEGRAM_TOKEN;
if (!token) {
  process.stderr.write('BENCH_TELEGRAM_TOKEN is required\n');
  process.exit(2);
}

const fake = await startFakeTelegram(token);

type Keyboard = { inline_keyboard?: { callback_data?: string }[][] };

// Lines are batched per event-loop turn: one write per tick instead of one per call.
let pending: string[] = [];
const flush = () => {
  const lines = pending;
  pending = [];
  process.stdout.write(`${lines.join('\n')}\n`);
};

const stamp = (...items: TelegramCall[]): number => {
  const t = performance.timeOrigin + performance.now();
  for (const { method, body } of items) {
    const line: Record<string, unknown> = { m: method, c: body.chat_id, t };
    if (method === 'sendMessage') {
      line.x = typeof body.text === 'string' ? body.text.slice(0, 600) : '';
      const keys = (body.reply_markup as Keyboard | undefined)?.inline_keyboard
        ?.flat()
        .map((b) => b.callback_data ?? '');
      if (keys?.length) line.k = keys;
    }
    if (pending.length === 0) setImmediate(flush);
    pending.push(JSON.stringify(line));
  }
  return 0;
};
fake.calls.push = stamp;

process.stdout.write(`${JSON.stringify({ url: fake.baseUrl })}\n`);

const stop = () => {
  void fake.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
