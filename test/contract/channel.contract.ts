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
  | 'in-response';

/** What a channel's test provides to the contract. */
export interface ChannelHarness {
  readonly adapter: ChannelAdapter;
  /** An address the adapter can send to. */
  readonly address: Address;
  /** Feed one raw provider (or client) payload through the adapter's real inbound path. */
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
  const test = (c: ContractCase, title: string, fn: () => Promise<void>) => {
    const reason = skipped.get(c);
    if (reason) it.skip(`${title} — skipped: ${reason}`, fn);
    else it(title, fn);
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

    test('in-response', 'in-response channels render a valid reply body', async () => {
      expect(h.adapter.capabilities.delivery).toBe('in-response');
    });
  });
}
