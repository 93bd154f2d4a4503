/** Bad and odd input through the whole product: a sensible reply, nothing lost, no crash. */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretKey } from '../../channels/kit/ids.ts';
import { Citizen, startTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';

describe('odd input', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers emoji-only, random bytes, mixed scripts and very long text sensibly', async () => {
    const c = await new Citizen(t.url).ready();
    const inputs = [
      '😀😀😀🙏',
      randomBytes(64).toString('latin1'),
      // NUL and other control characters (PostgreSQL cannot store NUL in text or jsonb).
      `hola\u0000mundo\u0001\u0007 ${randomBytes(16).toString('latin1')}\u0000 \\u0000 literal`,
      'привет 你好 مرحبا hola',
      'x'.repeat(10_000),
      '      .      ',
      '<script>alert(1)</script>',
      "'; drop table cases; --",
    ];
    for (const text of inputs) {
      const reply = await c.say(text);
      expect(reply.length, JSON.stringify(text.slice(0, 20))).toBeGreaterThan(10);
      expect(reply).not.toMatch(/undefined|\[object Object\]|Error|stack/);
    }
    // Still a working conversation afterwards.
    expect(await c.say('menú')).toMatch(/Ventanilla/);
    const conv = await t.app.store.findConversation('webchat', secretKey(c.secret!));
    const stored = (await t.app.store.listMessages(conv!.id, { limit: 500 })).filter(
      (m) => m.direction === 'in',
    );
    expect(stored.map((m) => m.text)).toEqual([...inputs.map((i) => i.replaceAll('\u0000', '')), 'menú']);
    expect(await t.app.store.listCases({})).toHaveLength(0);
    c.close();
  });

  it('refuses an empty message with a clear error and keeps going', async () => {
    const c = await new Citizen(t.url).ready();
    expect(await c.send({ kind: 'text', text: '' })).toMatchObject({
      ok: false,
      code: 'CHANNEL_PAYLOAD_INVALID',
    });
    expect(await c.say('hola')).toMatch(/Ventanilla/);
    c.close();
  });
});
