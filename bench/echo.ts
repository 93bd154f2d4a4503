/**
 * Reference benchmark: a bare `node:http` JSON echo server in a child process, driven with the same client
 * concurrency as the web-chat benchmark. Each "turn" is one keep-alive POST of a small JSON body (global fetch)
 * awaiting the echoed JSON. Standalone: `npx tsx bench/echo.ts`.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile, spawnTs } from './lib.ts';

/** Options of {@link runEcho}. */
export interface EchoOptions {
  /** Concurrent clients (default: BENCH_CITIZENS or 50). */
  readonly clients: number;
  /** How long the measured phase runs (ms). */
  readonly durationMs: number;
}

/** Result of {@link runEcho}. */
export interface EchoResult {
  readonly clients: number;
  readonly requests: number;
  readonly failed: number;
  readonly wallMs: number;
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuMsPerRequest: number;
}

interface Stats {
  requests: number;
  cpuUserUs: number;
  cpuSystemUs: number;
}

const body = (i: number) =>
  JSON.stringify({
    clientId: randomUUID(),
    kind: 'text',
    text: `Hay un bache enorme frente a la escuela #${i}`,
  });

/** Run the echo reference. */
export async function runEcho(opts: EchoOptions): Promise<EchoResult> {
  const child = spawnTs('bench/echo-server.ts', {});
  try {
    const { url } = (await child.ready) as { url: string };
    const stats = async (): Promise<Stats> => (await (await fetch(`${url}/stats`)).json()) as Stats;
    let failed = 0;
    const post = async (i: number): Promise<number> => {
      const t0 = performance.now();
      const res = await fetch(`${url}/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: body(i),
      });
      const json = (await res.json()) as { ok?: boolean };
      if (!res.ok || json.ok !== true) failed++;
      return performance.now() - t0;
    };

    // Warm-up: 2 clients × 7, then every client once (opens the keep-alive connections).
    for (let r = 0; r < 7; r++) await Promise.all([post(0), post(1)]);
    await Promise.all(Array.from({ length: opts.clients }, (_, i) => post(i)));
    failed = 0;

    const before = await stats();
    const latencies: number[] = [];
    const started = performance.now();
    const until = started + opts.durationMs;
    await Promise.all(
      Array.from({ length: opts.clients }, async (_, i) => {
        while (performance.now() < until) {
          try {
            latencies.push(await post(i));
          } catch {
            failed++;
          }
        }
      }),
    );
    const wallMs = performance.now() - started;
    const after = await stats();
    const served = after.requests - before.requests;
    const cpuMs = (after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs) / 1000;
    return {
      clients: opts.clients,
      requests: latencies.length,
      failed,
      wallMs,
      requestsPerSec: (latencies.length / wallMs) * 1000,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      cpuMsPerRequest: cpuMs / served,
    };
  } finally {
    await child.terminate(5_000);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = await runEcho({
    clients: Number(process.env.BENCH_CITIZENS ?? 50),
    durationMs: Number(process.env.BENCH_ECHO_MS ?? 3000),
  });
  console.log(result);
  process.exit(0);
}
