/**
 * `npm run converse -- <file-or-dir>... [--json]`: run scripted conversations (`shared/design/conversation-tests.md`)
 * against an isolated Ventanilla (in-memory database, fixed clock, real channel paths: web chat, and WhatsApp,
 * Telegram, SMS and e-mail through their adapters against loopback provider fakes; `ivr` scripts are skipped) and
 * check their assertions.
 *
 * Human output: one line per failed assertion (and per skipped conversation), then `must: N passed, N failed`,
 * `should: N passed, N failed` and, when any, `skipped: N`. With `--json`, stdout is exactly one JSON object
 * `{conversations, summary}`. Product logs go to stderr (`--log-level`, default silent). Exit code: 0 when no
 * `must` failed, 1 when one did, 2 for bad arguments or invalid scripts.
 */
import { parseArgs } from 'node:util';
import { buildReport, formatHuman } from './converse/report.ts';
import { createConverseRunner } from './converse/runner.ts';
import { loadScripts } from './converse/script.ts';

const USAGE =
  'usage: npm run converse -- <file-or-dir>... [--json] [--log-level silent|error|warn|info|debug]';
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type Level = (typeof LEVELS)[number];

function write(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => stream.write(text, () => resolve()));
}

async function main(): Promise<number> {
  let values: { json?: boolean; 'log-level'?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    await write(process.stderr, `${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    await write(process.stdout, `${USAGE}\n`);
    return 0;
  }
  const level = values['log-level'] ?? 'silent';
  if (positionals.length === 0 || !(LEVELS as readonly string[]).includes(level)) {
    await write(process.stderr, `${USAGE}\n`);
    return 2;
  }
  const { scripts, errors } = loadScripts(positionals);
  if (errors.length > 0) {
    await write(process.stderr, `Invalid conversation scripts:\n${errors.map((e) => `  ${e}`).join('\n')}\n`);
    return 2;
  }
  if (scripts.length === 0) {
    await write(process.stderr, `No conversation scripts (*.json) in ${positionals.join(', ')}\n`);
    return 2;
  }
  const started = performance.now();
  const runner = await createConverseRunner({ env: process.env, logLevel: level as Level });
  let report;
  try {
    report = buildReport(await runner.runAll(scripts));
  } finally {
    await runner.close();
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (values.json) await write(process.stdout, `${JSON.stringify(report)}\n`);
  else await write(process.stdout, formatHuman(report));
  await write(process.stderr, `${scripts.length} conversation(s) in ${seconds} s\n`);
  return report.summary.must.failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    await write(
      process.stderr,
      `converse failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(2);
  },
);
