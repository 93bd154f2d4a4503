/**
 * Shared helpers of the benchmark: child processes (always killed on exit), temp folders (always removed),
 * percentiles, Prometheus text parsing and /proc sampling. Measuring tool only: nothing here asserts timings.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/..). */
export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
const cleanups = new Set<() => Promise<void>>();

function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  tempDirs.clear();
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    void runCleanups().finally(() => {
      killAll();
      process.exit(130);
    });
  });
}

/** Register an async cleanup (e.g. drop a database) that also runs on Ctrl-C. Returns an unregister function. */
export function onCleanup(fn: () => Promise<void>): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

async function runCleanups(): Promise<void> {
  const all = [...cleanups];
  cleanups.clear();
  await Promise.allSettled(all.map((fn) => withTimeout(fn(), 5_000, 'cleanup')));
}

/** A fresh temp folder, removed at exit. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Remove a temp folder now. */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** A spawned child with its first JSON line on stdout and its stderr tail. */
export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  readonly spawnedAt: number;
  /** Resolves with the first stdout line that parses as a JSON object. */
  readonly ready: Promise<Record<string, unknown>>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Last stderr lines (pino JSON at warn and above for the server). */
  readonly stderrTail: string[];
  /** Count of stderr lines by pino `msg` (or raw text). */
  readonly stderrCounts: Map<string, number>;
  /** Send SIGTERM and wait for exit; SIGKILL after `graceMs`. Resolves to the ms it took. */
  terminate(graceMs?: number): Promise<{ ms: number; killed: boolean; code: number | null }>;
  kill(): void;
}

/** The Node flags `npm start` uses (read from package.json), so the benchmark measures the same process. */
const START_FLAGS = (() => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts?: { start?: string };
  };
  return (pkg.scripts?.start ?? '').split(/\s+/).filter((a) => /^--max-|^--expose-|^--stack-/.test(a));
})();

/** Spawn `node <npm start flags> --import tsx <script>` (the tsx ESM loader; Node ≥ 20.6). */
export function spawnTs(script: string, env: Record<string, string>): Child {
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...START_FLAGS, '--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  if (child.pid === undefined) throw new Error(`could not spawn ${script}`);
  const stderrTail: string[] = [];
  const stderrCounts = new Map<string, number>();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      res({ code, signal });
    });
  });
  const ready = new Promise<Record<string, unknown>>((res, rej) => {
    const lines = createInterface({ input: child.stdout });
    let done = false;
    lines.on('line', (line) => {
      if (done) return;
      try {
        const parsed = JSON.parse(line) as unknown;
        if (parsed && typeof parsed === 'object') {
          done = true;
          res(parsed as Record<string, unknown>);
        }
      } catch {
        // not the ready line
      }
    });
    void exited.then(({ code, signal }) => {
      if (!done)
        rej(
          new Error(
            `${script} exited before it was ready (code ${code}, signal ${signal}); stderr: ${stderrTail.slice(-5).join(' | ')}`,
          ),
        );
    });
  });
  ready.catch(() => undefined);
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderrTail.push(line.slice(0, 500));
    if (stderrTail.length > 30) stderrTail.shift();
    let key = line.slice(0, 120);
    try {
      const j = JSON.parse(line) as { msg?: string; code?: string; err?: string; reason?: string };
      key = [j.msg, j.code, j.err?.slice(0, 100), j.reason?.slice(0, 100)].filter(Boolean).join(' / ') || key;
    } catch {
      // plain text
    }
    stderrCounts.set(key, (stderrCounts.get(key) ?? 0) + 1);
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        // gone
      }
    }
  };
  return {
    process: child,
    pid: child.pid,
    spawnedAt,
    ready,
    exited,
    stderrTail,
    stderrCounts,
    kill,
    async terminate(graceMs = 20_000) {
      const t0 = performance.now();
      if (child.exitCode !== null || child.signalCode !== null)
        return { ms: 0, killed: false, code: child.exitCode };
      child.kill('SIGTERM');
      let killed = false;
      const timer = setTimeout(() => {
        killed = true;
        kill();
      }, graceMs);
      const { code } = await exited;
      clearTimeout(timer);
      return { ms: performance.now() - t0, killed, code };
    },
  };
}

/** Kill every child still running (used when a benchmark times out). */
export function killChildren(): void {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // gone
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Reject with "timed out" after `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export class TimeoutError extends Error {}

/** A free TCP port on 127.0.0.1 (for runs that must poll before the server prints its URL). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/** Percentile (nearest rank) of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Prometheus text exposition → map of `name{labels}` → value, and a sum helper by name and label filter. */
export class Metrics {
  readonly samples: { name: string; labels: Record<string, string>; value: number }[] = [];

  constructor(text: string) {
    for (const line of text.split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      const labels: Record<string, string> = {};
      for (const lm of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]!] = lm[2]!;
      this.samples.push({ name: m[1]!, labels, value: Number(m[3]) });
    }
  }

  sum(name: string, filter: Record<string, string> = {}): number {
    let total = 0;
    let found = false;
    for (const s of this.samples) {
      if (s.name !== name) continue;
      if (Object.entries(filter).every(([k, v]) => s.labels[k] === v)) {
        total += s.value;
        found = true;
      }
    }
    return found ? total : Number.NaN;
  }
}

/** GET `/metrics`. */
export async function scrape(baseUrl: string): Promise<Metrics> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  return new Metrics(await res.text());
}

/** VmRSS and VmHWM (bytes) of a process from /proc, or undefined when not on Linux / gone. */
export function procMemory(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

const CLK_TCK = 100;

/** utime + stime (ms) of a process (all threads) from /proc/<pid>/stat. */
export function procCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is state (field 3); utime is field 14, stime field 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Samples the peak RSS of a process every `everyMs`. */
export function rssSampler(
  pid: number,
  everyMs = 100,
): { stop(): { peak: number; last: number; samples: number; hwm: number } } {
  let peak = 0;
  let last = 0;
  let hwm = 0;
  let samples = 0;
  const take = () => {
    const m = procMemory(pid);
    if (!m) return;
    samples++;
    last = m.rss;
    peak = Math.max(peak, m.rss);
    hwm = Math.max(hwm, m.hwm);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      take();
      clearInterval(timer);
      return { peak, last, samples, hwm };
    },
  };
}

/** Total CPU (ms) of every process whose command name is `comm` (e.g. the PostgreSQL server and its backends). */
export function cpuOfProcessesNamed(comm: string): number {
  let total = 0;
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return Number.NaN;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (name !== comm) continue;
      total += procCpuMs(Number(e)) ?? 0;
    } catch {
      // process went away
    }
  }
  return total;
}

/** Round for display. */
export function fmt(n: number | undefined, digits = 1): string {
  if (n === undefined || !Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export const MB = 1024 * 1024;
