/**
 * The reference side of the Telegram benchmark: a bare telegraf webhook that answers every message (and every
 * button tap) with one reply at the fake Bot API, no storage, no dialog. Served with `bot.webhookCallback(path,
 * { secretToken })` on `node:http`; prints `{"url": ...}` once listening, SIGTERM closes.
 *
 * `webhookReply: false`: telegraf's default answers the first eligible call in the webhook response body instead
 * of calling the Bot API, so the reply would never reach the fake (and the comparison would be with a bot that
 * skips its only outbound call). With it off, `ctx.reply` is a real `sendMessage`, awaited before the 200, as a
 * bot that must know its reply went out does. Telegraf's client sends without keep-alive to an `http://` API root
 * (it drops its agent), exactly like Ventanilla's adapter on the same client: both sides pay the same.
 *
 * Environment: BENCH_TELEGRAM_TOKEN, BENCH_TELEGRAM_API_ROOT, BENCH_TELEGRAM_SECRET (all required).
 */
import { createServer } from 'node:http';
import { Telegraf } from 'telegraf';

const token = process.env.BENCH_TELEGRAM_TOKEN;
const apiRoot = process.env.BENCH_TELEGRAM_API_ROOT;
const secretToken = process.env.BENCH_TELEGRAM_SECRET;
if (!token || !apiRoot || !secretToken) {
  process.stderr.write(
    'BENCH_TELEGRAM_TOKEN, BENCH_TELEGRAM_API_ROOT and BENCH_TELEGRAM_SECRET are required\n',
  );
  process.exit(2);
}

const bot = new Telegraf(token, { telegram: { apiRoot, webhookReply: false } });
bot.on('message', (ctx) => ctx.reply(`Recibido (${'text' in ctx.message ? ctx.message.text.length : 0})`));
// The Ventanilla side answers button taps too (answerCallbackQuery + its reply): same Bot API calls here.
bot.on('callback_query', (ctx) => Promise.all([ctx.answerCbQuery(), ctx.reply('Recibido')]));
bot.catch((err) => {
  process.stderr.write(`bot error: ${err instanceof Error ? err.message : String(err)}\n`);
});

const path = '/webhooks/telegram';
const callback = bot.webhookCallback(path, { secretToken });
const server = createServer((req, res) => {
  void callback(req, res);
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}`, path })}\n`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
