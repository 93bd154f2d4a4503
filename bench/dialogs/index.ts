/**
 * The dialog benchmark (issue 3): the complaint flow with NLU on every turn, in process, on Ventanilla's router
 * and on botbuilder-dialogs, each in its own child process (so CPU and RSS are not mixed), one after the other.
 *
 * Environment: BENCH_DIALOG_CITIZENS (50 concurrent citizens), BENCH_DIALOG_WARMUP_MS (2000),
 * BENCH_DIALOG_MS (10000 measured), BENCH_DIALOG_STORE (Ventanilla's storage: `memory`, the default, or `pglite`).
 * Run alone with `npx tsx bench/dialogs/index.ts`.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Child } from '../lib.ts';
import { spawnTs } from '../lib.ts';
import type { DialogBenchResult } from './common.ts';

export type { DialogBenchResult } from './common.ts';

export interface DialogsResult {
  readonly ventanilla: DialogBenchResult;
  readonly botbuilder: DialogBenchResult;
  /** Ventanilla turns/s ÷ botbuilder turns/s. */
  readonly ratio: number;
}

export interface DialogsOptions {
  readonly citizens?: number;
  readonly warmupMs?: number;
  readonly durationMs?: number;
  /** Ventanilla's storage behind the ports (BENCH_DIALOG_STORE); `memory` by default. */
  readonly store?: 'memory' | 'pglite';
  readonly onChild?: (c: Child) => void;
}

export type DialogSide = 'ventanilla' | 'botbuilder';

/** Run one side in its own child process (`bench/dialogs/<side>.ts`) and return its JSON line. */
export async function runDialogSide(side: DialogSide, opts: DialogsOptions = {}): Promise<DialogBenchResult> {
  const script = `bench/dialogs/${side}.ts`;
  const env: Record<string, string> = {};
  if (opts.citizens !== undefined) env.BENCH_DIALOG_CITIZENS = String(opts.citizens);
  if (opts.warmupMs !== undefined) env.BENCH_DIALOG_WARMUP_MS = String(opts.warmupMs);
  if (opts.durationMs !== undefined) env.BENCH_DIALOG_MS = String(opts.durationMs);
  if (opts.store !== undefined) env.BENCH_DIALOG_STORE = opts.store;
  const child = spawnTs(script, env);
  opts.onChild?.(child);
  const result = (await child.ready) as unknown as DialogBenchResult;
  await child.exited;
  return result;
}

/** Run both sides (Ventanilla first, then botbuilder) and compute the ratio. */
export async function runDialogs(opts: DialogsOptions = {}): Promise<DialogsResult> {
  const ventanilla = await runDialogSide('ventanilla', opts);
  const botbuilder = await runDialogSide('botbuilder', opts);
  return { ventanilla, botbuilder, ratio: ventanilla.turnsPerSec / botbuilder.turnsPerSec };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await runDialogs();
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
}
