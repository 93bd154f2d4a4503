/**
 * Shared by both sides of the dialog benchmark: the citizen script, the closed-loop load generator and the one-line
 * JSON result a child prints. Each side runs in its own child process so CPU and RSS are not mixed.
 */
import { loadCatalog } from '../../integrations/catalog/index.ts';
import { createNlu } from '../../integrations/nlu/index.ts';
import { openPglite } from '../../integrations/storage/db.ts';
import { percentile } from '../lib.ts';

/** Environment of a child run (set by `index.ts`). */
export const CITIZENS = Number(process.env.BENCH_DIALOG_CITIZENS ?? 50);
export const WARMUP_MS = Number(process.env.BENCH_DIALOG_WARMUP_MS ?? 2_000);
export const DURATION_MS = Number(process.env.BENCH_DIALOG_MS ?? 10_000);
export const NLU_CACHE_DIR = '.tmp/nlu-bench-cache';

/** What both sides start from: the catalogue and the product's NLU (cached). */
export async function openBase() {
  const t0 = performance.now();
  const catalog = await loadCatalog('catalog');
  const n0 = performance.now();
  const nlu = await createNlu({ catalog, cacheDir: NLU_CACHE_DIR });
  const nluMs = performance.now() - n0;
  return { t0, catalog, nlu, nluMs };
}

/** {@link openBase} plus a migrated in-memory PGlite. */
export async function openSide() {
  const base = await openBase();
  const db = await openPglite();
  await db.migrate();
  return { ...base, db };
}

/** The complaint script: category, description, address, skip the photo, confirm. `n` makes the address unique. */
export function script(n: number): readonly string[] {
  return [
    'quiero reportar un bache',
    'Hay un bache enorme frente a la escuela primaria',
    `Calle Juárez ${n}, col. Centro`,
    'omitir',
    'sí',
  ];
}

/** One conversation of one citizen: `turn(text)` resolves when the turn is done; the last one yields the folio. */
export interface Side {
  /** Run one turn; return the folio(s) the turn created (empty when none). */
  turn(user: string, text: string): Promise<readonly string[]>;
}

export interface DialogBenchResult {
  readonly side: string;
  readonly citizens: number;
  readonly turns: number;
  readonly conversations: number;
  readonly failedConversations: number;
  readonly wallMs: number;
  readonly turnsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly cpuMsPerTurn: number;
  readonly peakRssMb: number;
  readonly startupMs: number;
  readonly nluMs: number;
  readonly nluTrained: boolean;
  readonly firstFailure?: string;
  readonly notes?: string;
}

let address = 0;

interface Phase {
  turns: number;
  conversations: number;
  failed: number;
  latencies: number[];
  firstFailure?: string;
}

/** `citizens` loops, each running whole conversations (a new user each time) until `ms` passed. */
async function phase(side: Side, label: string, citizens: number, ms: number): Promise<Phase> {
  const out: Phase = { turns: 0, conversations: 0, failed: 0, latencies: [] };
  const deadline = performance.now() + ms;
  await Promise.all(
    Array.from({ length: citizens }, async (_, c) => {
      for (let k = 0; performance.now() < deadline; k++) {
        const user = `${label}-${c}-${k}`;
        const lines = script(++address);
        let folios: readonly string[] = [];
        try {
          for (const text of lines) {
            const t0 = performance.now();
            folios = await side.turn(user, text);
            out.latencies.push(performance.now() - t0);
            out.turns++;
          }
        } catch (err) {
          out.failed++;
          out.firstFailure ??= `${user}: ${err instanceof Error ? err.message : String(err)}`;
          continue;
        }
        out.conversations++;
        if (folios.length === 0) {
          out.failed++;
          out.firstFailure ??= `${user}: conversation ended without a folio`;
        }
      }
    }),
  );
  return out;
}

/** Warm up, then measure; print one JSON line on stdout. */
export async function measure(
  name: string,
  side: Side,
  startup: { startupMs: number; nluMs: number; nluTrained: boolean; notes?: string },
): Promise<DialogBenchResult> {
  await phase(side, 'warm', CITIZENS, WARMUP_MS);
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const p = await phase(side, 'run', CITIZENS, DURATION_MS);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  return {
    side: name,
    citizens: CITIZENS,
    turns: p.turns,
    conversations: p.conversations,
    failedConversations: p.failed,
    wallMs,
    turnsPerSec: (p.turns * 1000) / wallMs,
    p50Ms: percentile(p.latencies, 50),
    p99Ms: percentile(p.latencies, 99),
    maxMs: percentile(p.latencies, 100),
    cpuMsPerTurn: (cpu.user + cpu.system) / 1000 / Math.max(1, p.turns),
    peakRssMb: peakRss / (1024 * 1024),
    ...startup,
    ...(p.firstFailure ? { firstFailure: p.firstFailure } : {}),
  };
}
