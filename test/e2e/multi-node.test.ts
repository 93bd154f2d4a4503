/**
 * Two server processes (simulated in one test process) behind Redis: a reply produced on node B reaches the citizen
 * connected to node A through the socket.io Redis adapter. Needs TEST_REDIS_URL (set by .ci/run).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretKey } from '../../channels/kit/ids.ts';
import type { Database } from '../../integrations/storage/db.ts';
import { Citizen, startTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';
import { openTestPglite } from '../helpers/db.ts';

const redis = process.env.TEST_REDIS_URL;
if (!redis)
  console.warn('multi-node test skipped: set TEST_REDIS_URL (e.g. redis://127.0.0.1:6379) to run it');

describe.skipIf(!redis)('several nodes behind Redis', () => {
  let db: Database;
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    db = await openTestPglite();
    a = await startTestApp({ REDIS_URL: redis! }, { database: db });
    b = await startTestApp({ REDIS_URL: redis! }, { database: db });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.close();
  });

  it('delivers a reply produced on another node to the citizen’s socket', async () => {
    const c = await new Citizen(a.url).ready();
    await c.say('hola');
    const conv = await b.app.store.findConversation('webchat', secretKey(c.secret!));
    const before = c.received.length;
    await b.app.runtime.reply(
      conv!.id,
      { kind: 'text', text: 'Hola, le escribe un agente desde otro nodo.' },
      { by: 'agent:test' },
    );
    await c.waitFor(before + 1);
    expect(c.last()?.text).toBe('Hola, le escribe un agente desde otro nodo.');
    c.close();
  });
});
