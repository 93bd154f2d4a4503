/**
 * Durable delivery through the real outbox and pg-boss (on PGlite), against a loopback fake provider:
 * a 503 is retried and then succeeds; a 400 is dead-lettered with the reason on the message.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../integrations/contract.ts';
import { backoffMs, DEFAULT_RETRY } from '../../dialogs/index.ts';
import { startTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { startFakeProvider } from '../fakes/http-provider.ts';
import type { FakeProvider } from '../fakes/http-provider.ts';
import { createLoopbackChannel } from '../fakes/loopback-channel.ts';
import type { LoopbackChannel } from '../fakes/loopback-channel.ts';

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('outbox delivery', () => {
  let t: TestApp;
  let fake: FakeProvider;
  let channel: LoopbackChannel;
  let user = 0;

  beforeAll(async () => {
    fake = await startFakeProvider();
    channel = createLoopbackChannel(fake.baseUrl, { timeoutMs: 500 });
    t = await startTestApp(
      {},
      {
        jobs: true,
        jobPollingSeconds: 0.5,
        extraChannels: [channel],
        retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 1_000 },
      },
    );
    await channel.start?.((inbound) => t.app.runtime.handle(inbound).then(() => undefined));
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });
  beforeEach(() => {
    fake.calls.length = 0;
  });

  const outMessage = async (u: string): Promise<MessageRecord | undefined> => {
    const conv = await t.app.store.findConversation('loopback', u);
    return conv ? (await t.app.store.listMessages(conv.id)).find((m) => m.direction === 'out') : undefined;
  };
  const settled = (u: string) =>
    until(async () => {
      const m = await outMessage(u);
      return m && (m.status === 'sent' || m.status === 'failed') ? m : undefined;
    });

  it('retries a provider 503 through pg-boss, then succeeds', async () => {
    const u = `citizen-${++user}`;
    fake.respond({ kind: 'error', status: 503 });
    await channel.inject(u, 'hola');
    const m = await settled(u);
    expect(m.status).toBe('sent');
    expect(m.externalId).toMatch(/^fake-/);
    expect(fake.calls).toHaveLength(2);
    expect(fake.calls[0]?.headers['idempotency-key']).toBe(fake.calls[1]?.headers['idempotency-key']);
    expect(await t.app.outbox.depth()).toBe(0);
  });

  it('dead-letters a 400 at once, with the reason recorded on the message', async () => {
    const u = `citizen-${++user}`;
    fake.respond({ kind: 'error', status: 400 });
    await channel.inject(u, 'hola');
    const m = await settled(u);
    expect(m.status).toBe('failed');
    expect(m.failureReason).toMatch(/CHANNEL_REJECTED/);
    expect(fake.calls).toHaveLength(1);
    expect((await t.app.outbox.listDead(5)).some((e) => e.messageId === m.id)).toBe(true);
  });

  it('treats a dropped connection and a 429 as retryable, honouring Retry-After', async () => {
    const u = `citizen-${++user}`;
    fake.respond({ kind: 'drop' }, { kind: 'error', status: 429, headers: { 'retry-after': '1' } });
    const started = Date.now();
    await channel.inject(u, 'hola');
    const m = await settled(u);
    expect(m.status).toBe('sent');
    expect(fake.calls).toHaveLength(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('gives up after the maximum attempts and says so', async () => {
    const u = `citizen-${++user}`;
    fake.respond(
      { kind: 'error', status: 502 },
      { kind: 'error', status: 502 },
      { kind: 'error', status: 502 },
    );
    await channel.inject(u, 'hola');
    const m = await settled(u);
    expect(m.status).toBe('failed');
    expect(m.failureReason).toMatch(/CHANNEL_UNAVAILABLE.*gave up after 3 attempts/);
    expect(fake.calls).toHaveLength(3);
  });

  it('degrades choices beyond the channel maximum to numbered text', async () => {
    const u = `citizen-${++user}`;
    await channel.inject(u, 'quiero reportar algo');
    await until(async () => (fake.calls.length > 0 ? true : undefined));
    const body = fake.calls[0]?.body as { outbound: { kind: string; text: string } };
    expect(body.outbound.kind).toBe('text');
    expect(body.outbound.text).toMatch(/1\. Baches[\s\S]*2\. Alumbrado/);
  });
});

describe('backoff', () => {
  it('grows exponentially with full jitter, capped, never below Retry-After', () => {
    const p = { ...DEFAULT_RETRY, baseDelayMs: 1000, maxDelayMs: 8000 };
    expect(backoffMs(p, 1, () => 0)).toBe(500);
    expect(backoffMs(p, 1, () => 1)).toBe(1000);
    expect(backoffMs(p, 3, () => 1)).toBe(4000);
    expect(backoffMs(p, 10, () => 1)).toBe(8000);
    expect(backoffMs(p, 1, () => 0, 30_000)).toBe(30_000);
  });
});
