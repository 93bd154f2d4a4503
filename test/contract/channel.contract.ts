/**
 * The channel contract (architecture guide §2.6): every adapter passes these cases against a loopback fake of
 * its provider; a skipped case names its reason.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InboundSchema, OutboundSchema } from '../../channels/contract.ts';
import type { Address, ChannelAdapter, Inbound } from '../../channels/contract.ts';

/** The cases of the contract. */
export type ContractCase =
  | 'signature'
  | 'malformed'
  | 'fixtures'
  | 'redelivery'
  | 'send'
  | 'degrade'
  | 'retryable'
  | 'receipts'
  | 'secrets'
  | 'in-response'
  | 'fuzz';

/** What a channel's test provides to the contract. */
export interface ChannelHarness {
  readonly adapter: ChannelAdapter;
  /** An address the adapter can send to. */
  readonly address: Address;
  /**
   * Feed one raw provider (or client) payload through the adapter's real inbound path. Objects are encoded the
   * way the provider sends them (JSON, form fields…); a `Buffer` is sent as the exact body bytes. With
   * `signature: 'valid'` (the default) the harness signs whatever it sends, so fuzzed bodies reach the parser.
   */
  feed(
    raw: unknown,
    opts?: { signature?: 'valid' | 'missing' | 'wrong' },
  ): Promise<{ events: Inbound[]; status: number; threw?: unknown }>;
  /** Requests the provider fake has received from `send` (after letting in-flight ones land). */
  sends(): Promise<number>;
  /** Make the provider answer the next send with this failure. */
  failNext?(failure: { status: number; retryAfter?: number } | 'drop'): void;
  /** A receipt payload for an outbound message, and the external id it is about. */
  receipt?(): { raw: unknown; of: string };
  /** Captured log output. */
  logs(): string;
  /** Secrets that must never appear in errors or logs. */
  readonly secrets: readonly string[];
  close(): Promise<void>;
}

/** Options of {@link channelContract}. */
export interface ChannelContractOptions {
  readonly name: string;
  readonly setup: () => Promise<ChannelHarness>;
  /** Folder of `{ raw, expect }` fixtures (`test/fixtures/<channel>/inbound`). */
  readonly fixtures: string;
  readonly skip?: readonly { readonly reason: string; readonly tests: readonly ContractCase[] }[];
}

/** Run the channel contract. */
export function channelContract(opts: ChannelContractOptions): void {
  const skipped = new Map<ContractCase, string>();
  for (const s of opts.skip ?? []) for (const t of s.tests) skipped.set(t, s.reason);
  const test = (c: ContractCase, title: string, fn: () => Promise<void>, timeout?: number) => {
    const reason = skipped.get(c);
    if (reason) it.skip(`${title} — skipped: ${reason}`, fn);
    else it(title, fn, timeout);
  };

  describe(`channel contract: ${opts.name}`, () => {
    let h: ChannelHarness;
    beforeAll(async () => {
      h = await opts.setup();
    });
    afterAll(async () => {
      await h.close();
    });
    const fixtures = () =>
      readdirSync(opts.fixtures)
        .filter((f) => f.endsWith('.json'))
        .map((f) => ({
          name: f,
          ...(JSON.parse(readFileSync(join(opts.fixtures, f), 'utf8')) as {
            raw: unknown;
            expect: Record<string, unknown>;
          }),
        }));

    test(
      'signature',
      'an unsigned or mis-signed request is rejected with 401 and yields no events',
      async () => {
        const raw = fixtures()[0]!.raw;
        for (const signature of ['missing', 'wrong'] as const) {
          const r = await h.feed(raw, { signature });
          expect(r.status).toBe(401);
          expect(r.events).toHaveLength(0);
        }
      },
    );

    test(
      'malformed',
      'a malformed body is rejected with the provider-appropriate ack and never throws',
      async () => {
        for (const raw of [
          'not json',
          42,
          null,
          { kind: 'text' },
          { kind: 'text', text: 7, clientId: 'x' },
          [],
        ]) {
          const r = await h.feed(raw);
          expect(r.threw).toBeUndefined();
          expect(r.events).toHaveLength(0);
          expect(r.status).toBeGreaterThanOrEqual(200);
          expect(r.status).toBeLessThan(500);
        }
      },
    );

    test('fixtures', 'every fixture normalises to its expected Inbound (zod-valid, raw kept)', async () => {
      const list = fixtures();
      expect(list.length).toBeGreaterThan(0);
      for (const f of list) {
        const r = await h.feed(f.raw);
        expect(r.events, f.name).toHaveLength(1);
        const event = r.events[0]!;
        expect(InboundSchema.safeParse(event).success, f.name).toBe(true);
        expect(event, f.name).toMatchObject(f.expect);
        expect(event.raw, f.name).toBeDefined();
        expect(event.address.channel).toBe(h.adapter.name);
      }
    });

    test('redelivery', 'a redelivered payload yields the same Inbound.id', async () => {
      const raw = fixtures()[0]!.raw;
      const a = await h.feed(raw);
      const b = await h.feed(raw);
      expect(a.events[0]?.id).toBeDefined();
      expect(b.events[0]?.id ?? a.events[0]?.id).toBe(a.events[0]?.id);
    });

    test(
      'send',
      'send(text) makes exactly one request to the provider and returns an externalId',
      async () => {
        const before = await h.sends();
        const d = await h.adapter.send(
          h.address,
          { kind: 'text', text: 'Hola' },
          { idempotencyKey: 'out:contract-send' },
        );
        expect(d.externalId).toBeTruthy();
        expect((await h.sends()) - before).toBe(1);
      },
    );

    test('degrade', 'choices over capabilities.choices.max are degraded, never rejected', async () => {
      const n = h.adapter.capabilities.choices.max + 2;
      const choices = Array.from({ length: n }, (_, i) => ({ id: `c${i}`, label: `Opción ${i + 1}` }));
      expect(OutboundSchema.safeParse({ kind: 'choices', text: '¿Cuál?', choices }).success).toBe(true);
      const before = await h.sends();
      const d = await h.adapter.send(
        h.address,
        { kind: 'choices', text: '¿Cuál?', choices },
        { idempotencyKey: 'out:contract-degrade' },
      );
      expect(d.externalId).toBeTruthy();
      expect((await h.sends()) - before).toBeGreaterThanOrEqual(1);
    });

    test('retryable', '429, 5xx and dropped connections are retryable; 4xx is not', async () => {
      const attempt = async (f: Parameters<NonNullable<ChannelHarness['failNext']>>[0]) => {
        h.failNext!(f);
        return h.adapter
          .send(h.address, { kind: 'text', text: 'x' }, { idempotencyKey: `out:retry-${JSON.stringify(f)}` })
          .then(
            () => undefined,
            (e: unknown) => e as { retryable?: boolean; code?: string; retryAfterMs?: number },
          );
      };
      const rate = await attempt({ status: 429, retryAfter: 2 });
      expect(rate).toMatchObject({ retryable: true, code: 'CHANNEL_RATE_LIMITED', retryAfterMs: 2000 });
      expect(await attempt({ status: 503 })).toMatchObject({ retryable: true });
      expect(await attempt('drop')).toMatchObject({ retryable: true });
      expect(await attempt({ status: 400 })).toMatchObject({ retryable: false });
    });

    test('receipts', 'receipts map to kind receipt', async () => {
      const r = h.receipt!();
      const fed = await h.feed(r.raw);
      expect(fed.events[0]).toMatchObject({ kind: 'receipt', of: r.of });
    });

    test('secrets', 'no token or secret appears in error messages or logs', async () => {
      const errors: string[] = [];
      for (const raw of ['garbage', { kind: 'nope' }]) {
        const r = await h.feed(raw, { signature: skipped.has('signature') ? 'valid' : 'wrong' });
        if (r.threw) errors.push(r.threw instanceof Error ? r.threw.message : JSON.stringify(r.threw));
      }
      if (h.failNext) {
        h.failNext({ status: 500 });
        await h.adapter
          .send(h.address, { kind: 'text', text: 'x' }, { idempotencyKey: 'out:secret' })
          .catch((e: unknown) => errors.push(String(e), JSON.stringify(e)));
      }
      const text = errors.join('\n') + h.logs();
      for (const s of h.secrets) expect(text).not.toContain(s);
    });

    test(
      'fuzz',
      `${FUZZ_CASES} mutated or malformed signed payloads: no throw, no 5xx`,
      async () => {
        const seeds = fixtures().map((f) => f.raw);
        const rand = mulberry32(0x5eed);
        let accepted = 0;
        for (let i = 0; i < FUZZ_CASES; i++) {
          const raw = mutate(seeds[i % seeds.length], rand);
          const r = await h.feed(raw);
          expect(r.threw, `case ${i}`).toBeUndefined();
          expect(r.status, `case ${i}`).toBeLessThan(500);
          for (const e of r.events) expect(InboundSchema.safeParse(e).success, `case ${i}`).toBe(true);
          if (r.events.length) accepted++;
        }
        // Some mutations keep the payload valid: the parser must not reject everything either.
        expect(accepted).toBeGreaterThan(0);
      },
      120_000,
    );

    test('in-response', 'in-response channels render a valid reply body', async () => {
      expect(h.adapter.capabilities.delivery).toBe('in-response');
    });
  });
}

/** Payloads fed by the fuzz case of the contract. */
export const FUZZ_CASES = 1000;

/** A small deterministic PRNG, so a failing fuzz case can be replayed. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WEIRD: readonly unknown[] = [
  null,
  '',
  0,
  -1,
  1e308,
  true,
  [],
  {},
  'x'.repeat(20_000),
  '\u0000\uffff\ud800',
  '🙂'.repeat(50),
  { $gt: '' },
  ['a', 1, null],
  '<script>alert(1)</script>',
  '../../etc/passwd',
  '-1e-400',
  { __proto__: { polluted: true } },
];

/** Mutate a JSON-like value: drop, retype or replace fields at random depth, or hand back raw bytes. */
function mutate(seed: unknown, rand: () => number): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const r = rand();
  if (r < 0.08)
    return Buffer.from(Array.from({ length: Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)));
  if (r < 0.12)
    return Buffer.from(JSON.stringify(seed).slice(0, Math.floor(rand() * JSON.stringify(seed).length)));
  if (r < 0.15) return pick(WEIRD);
  const copy = JSON.parse(JSON.stringify(seed ?? null)) as unknown;
  const edits = 1 + Math.floor(rand() * 3);
  for (let e = 0; e < edits; e++) {
    // Walk to a random container and change one of its entries.
    let node: unknown = copy;
    for (let depth = 0; depth < 6; depth++) {
      if (!node || typeof node !== 'object') break;
      const keys = Object.keys(node);
      if (!keys.length) break;
      const key = pick(keys);
      const child = (node as Record<string, unknown>)[key];
      if (child && typeof child === 'object' && rand() < 0.7) {
        node = child;
        continue;
      }
      const target = node as Record<string, unknown>;
      const op = rand();
      if (op < 0.3) delete target[key];
      else if (op < 0.6) target[key] = pick(WEIRD);
      else if (op < 0.75 && typeof child === 'string')
        target[key] = child + pick(['\u0000', '"', '🙂', ' '.repeat(5000)]);
      else if (op < 0.9)
        target[key] = typeof child === 'number' ? String(child) : typeof child === 'string' ? 12345 : [child];
      else target[`${key}_${Math.floor(rand() * 100)}`] = pick(WEIRD);
      break;
    }
  }
  return copy;
}
