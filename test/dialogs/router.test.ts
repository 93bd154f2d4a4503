/**
 * Router behaviour that end-to-end tests cannot provoke: a flow that throws (the turn rolls back, the citizen gets
 * an apology, the error reaches onError) and a stale cached conversation (the version check catches it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelAdapter, Inbound, Outbound } from '../../channels/contract.ts';
import { inboundId } from '../../channels/kit/ids.ts';
import type { Dialog, DialogId, DialogSettings, TurnError } from '../../dialogs/contract.ts';
import { createRuleNlu, parseServiceHours } from '../../dialogs/index.ts';
import { createFlows } from '../../dialogs/flows/index.ts';
import { createI18n } from '../../dialogs/runtime/i18n.ts';
import { OutboxDispatcher } from '../../dialogs/runtime/outbox.ts';
import { Router } from '../../dialogs/runtime/router.ts';
import { loadCatalog } from '../../integrations/catalog/index.ts';
import type { Database } from '../../integrations/storage/db.ts';
import { createPostgresCaseStore, createPostgresOutboxStore } from '../../integrations/storage/store.ts';
import { FakeClock } from '../helpers/clock.ts';
import { openTestPglite } from '../helpers/db.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

export const TEST_SETTINGS: DialogSettings = {
  folioPrefix: 'VER',
  timeZone: 'America/Mexico_City',
  privacyNoticeUrl: 'https://example.gob.mx/privacidad',
  womensInstitute: 'Instituto Municipal de las Mujeres',
  serviceHours: parseServiceHours('mon-fri 08:00-20:00'),
  holidays: [],
  alwaysOpenQueues: ['restricted_gender_violence'],
};

/** A router on a real store and dispatcher, with flows and channels chosen by the test. */
async function buildRouter(
  db: Database,
  opts: {
    flows?: Partial<Record<DialogId, Dialog>>;
    channels?: ChannelAdapter[];
    onError?: (e: TurnError) => void;
  } = {},
): Promise<Router> {
  const clock = new FakeClock();
  const dispatcher = new OutboxDispatcher({
    store: createPostgresOutboxStore(db),
    channels: new Map((opts.channels ?? []).map((c) => [c.name, c])),
    now: () => clock.now(),
    log: silent,
  });
  const catalog = await loadCatalog('catalog');
  return new Router({
    store: createPostgresCaseStore(db),
    dispatcher,
    desk: { deliver: async () => {}, requested: async () => {} },
    catalog,
    flows: {
      ...createFlows({ year: () => 2026 }),
      ...opts.flows,
    },
    t: createI18n(),
    clock,
    log: silent,
    settings: TEST_SETTINGS,
    nlu: createRuleNlu(catalog, 'VER'),
    maxInboundText: 4096,
    onError: opts.onError ?? (() => {}),
  });
}

describe('router', () => {
  let db: Database;
  const sent: Outbound[] = [];
  const errors: TurnError[] = [];
  let router: Router;
  let store: ReturnType<typeof createPostgresCaseStore>;
  let n = 0;
  const inbound = (user: string, text: string): Inbound => {
    const externalId = `m${++n}`;
    return {
      id: inboundId('test', externalId),
      externalId,
      address: { channel: 'test', user },
      at: '2026-03-10T16:00:00Z',
      kind: 'text',
      text,
      raw: {},
    };
  };

  beforeAll(async () => {
    db = await openTestPglite();
    store = createPostgresCaseStore(db);
    const channel: ChannelAdapter = {
      name: 'test',
      capabilities: {
        delivery: 'push',
        choices: { max: 10, style: 'buttons' },
        media: [],
        maxText: 4096,
        typing: false,
        templates: false,
        speech: false,
      },
      async send(_a, o) {
        sent.push(o);
        return { externalId: `x${sent.length}` };
      },
    };
    const exploding: Dialog = {
      id: 'case-status',
      async begin(ctx) {
        await ctx.createCase({
          category: 'baches',
          description: 'x',
          department: 'd',
          queue: 'q',
          sensitive: false,
          visibility: 'public',
          slaDueAt: ctx.now,
        });
        throw new Error('boom');
      },
      resume: async () => ({ status: 'complete' }),
    };
    router = await buildRouter(db, {
      flows: { 'case-status': exploding },
      channels: [channel],
      onError: (e) => errors.push(e),
    });
  });
  afterAll(async () => {
    await router.drain();
    await db.close();
  });

  it('rolls back a failed flow, apologises, keeps the message and reports DIALOG_FLOW_FAILED', async () => {
    const out = await router.handle(inbound('ana', '¿cómo va mi folio VER-2026-000001?'));
    expect(out.status).toBe('handled');
    expect(errors[0]?.error).toMatchObject({ code: 'DIALOG_FLOW_FAILED' });
    await router.drain().catch(() => undefined);
    const conv = await store.findConversation('test', 'ana');
    const msgs = await store.listMessages(conv!.id);
    expect(msgs.map((m) => [m.direction, m.text])).toEqual([
      ['in', '¿cómo va mi folio VER-2026-000001?'],
      [
        'out',
        'Lo siento, tuve un problema al procesar tu mensaje y no se guardó ningún cambio. Intenta de nuevo en un momento.',
      ],
    ]);
    expect(await store.findCase('VER-2026-000001')).toBeNull();
  });
});

describe('router with a stale cache', () => {
  it('notices another writer through the version check and retries the turn', async () => {
    const db = await openTestPglite();
    const store = createPostgresCaseStore(db);
    const clock = new FakeClock();
    const router = await buildRouter(db);
    const msg = (externalId: string, text: string): Inbound => ({
      id: inboundId('test', externalId),
      externalId,
      address: { channel: 'test', user: 'bob' },
      at: '2026-03-10T16:00:00Z',
      kind: 'text',
      text,
      raw: {},
    });
    await router.handle(msg('a', 'quiero reportar un bache'));
    // Another node writes to the same conversation behind this router's back.
    const conv = (await store.findConversation('test', 'bob'))!;
    await store.transaction((tx) =>
      tx.commitTurn({
        conversation: conv,
        state: conv.state,
        mode: 'bot',
        queue: null,
        locale: 'es-MX',
        lastInboundAt: null,
        outbound: [],
        now: clock.now(),
      }),
    );
    const out = await router.handle(msg('b', 'Hay un bache enorme frente a la escuela'));
    expect(out.status).toBe('handled');
    const after = (await store.getConversation(conv.id))!;
    expect(after.stateVersion).toBe(conv.stateVersion + 2);
    expect(after.state).toMatchObject({
      dialog: 'file-complaint',
      slots: { description: 'Hay un bache enorme frente a la escuela', _awaiting: 'location' },
    });
    await router.drain();
    await db.close();
  });
});
