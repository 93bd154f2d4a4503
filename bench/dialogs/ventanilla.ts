/**
 * Child process: the complaint flow through Ventanilla's real router (flows, engine, NLU, outbox dispatcher), in
 * process. Prints one JSON line ({@link DialogBenchResult}) on stdout.
 *
 * BENCH_DIALOG_STORE picks the storage behind the ports: `memory` (default; the in-memory stores, like botbuilder's
 * MemoryStorage, so the comparison is of the dialog runtimes) or `pglite` (every turn persisted in an in-memory
 * PGlite, the product's SQL store).
 */
import type { ChannelAdapter, Inbound } from '../../channels/contract.ts';
import { inboundId } from '../../channels/kit/ids.ts';
import type { DialogSettings } from '../../dialogs/contract.ts';
import { parseServiceHours } from '../../dialogs/index.ts';
import { createFlows } from '../../dialogs/flows/index.ts';
import { createI18n } from '../../dialogs/runtime/i18n.ts';
import { OutboxDispatcher } from '../../dialogs/runtime/outbox.ts';
import { Router } from '../../dialogs/runtime/router.ts';
import { createMemoryStores } from '../../integrations/storage/memory.ts';
import { createPostgresCaseStore, createPostgresOutboxStore } from '../../integrations/storage/store.ts';
import type { Side } from './common.ts';
import { measure, openBase, openSide } from './common.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

const SETTINGS: DialogSettings = {
  folioPrefix: 'VER',
  timeZone: 'America/Mexico_City',
  privacyNoticeUrl: 'https://example.gob.mx/privacidad',
  womensInstitute: 'Instituto Municipal de las Mujeres',
  serviceHours: parseServiceHours('mon-fri 08:00-20:00'),
  holidays: [],
  alwaysOpenQueues: ['restricted_gender_violence'],
};

const STORE = process.env.BENCH_DIALOG_STORE ?? 'memory';
if (STORE !== 'memory' && STORE !== 'pglite')
  throw new Error(`BENCH_DIALOG_STORE must be memory or pglite, not ${STORE}`);

const { t0, catalog, nlu, nluMs, db } =
  STORE === 'pglite' ? await openSide() : { ...(await openBase()), db: null };
const { store, outbox } = db
  ? { store: createPostgresCaseStore(db), outbox: createPostgresOutboxStore(db) }
  : createMemoryStores();

let sent = 0;
const channel: ChannelAdapter = {
  name: 'bench',
  capabilities: {
    delivery: 'push',
    choices: { max: 10, style: 'buttons' },
    media: [],
    maxText: 4096,
    typing: false,
    templates: false,
    speech: false,
  },
  async send() {
    sent++;
    return { externalId: `x${sent}` };
  },
};
const clock = { now: () => new Date() };
const router = new Router({
  store,
  dispatcher: new OutboxDispatcher({
    store: outbox,
    channels: new Map([[channel.name, channel]]),
    now: () => clock.now(),
    log: silent,
  }),
  desk: { deliver: async () => {}, requested: async () => {} },
  catalog,
  flows: createFlows({ year: () => new Date().getFullYear() }),
  t: createI18n(),
  clock,
  log: silent,
  settings: SETTINGS,
  nlu,
  maxInboundText: 4096,
  onError: (e) => {
    throw e.error;
  },
});
const startupMs = performance.now() - t0;

let n = 0;
const side: Side = {
  async turn(user, text) {
    const externalId = `m${++n}`;
    const inbound: Inbound = {
      id: inboundId('bench', externalId),
      externalId,
      address: { channel: 'bench', user },
      at: new Date().toISOString(),
      kind: 'text',
      text,
      raw: {},
    };
    const out = await router.handle(inbound);
    if (out.status !== 'handled') throw new Error(`turn ${out.status}`);
    return out.trace.casesCreated;
  },
};

if (process.env.BENCH_DIALOG_DEBUG === '1') {
  const { script } = await import('./common.ts');
  for (const text of script(1)) {
    const externalId = `d${++n}`;
    const before = sent;
    const out = await router.handle({
      id: inboundId('bench', externalId),
      externalId,
      address: { channel: 'bench', user: 'debug' },
      at: new Date().toISOString(),
      kind: 'text',
      text,
      raw: {},
    });
    await new Promise((r) => setTimeout(r, 30));
    process.stderr.write(`> ${text}\n  ${JSON.stringify(out).slice(0, 600)} (sent ${sent - before})\n`);
  }
  process.exit(0);
}

const result = await measure('ventanilla', side, {
  startupMs,
  nluMs,
  nluTrained: nlu.trained,
  notes:
    STORE === 'pglite'
      ? 'store: pglite; every turn persisted in one PGlite transaction + outbox dispatch to an in-memory channel'
      : 'store: memory (in-memory CaseStore/OutboxStore behind the same ports, not durable, like MemoryStorage) + outbox dispatch to an in-memory channel',
});
await router.drain();
process.stdout.write(`${JSON.stringify({ ...result, outboundSent: sent })}\n`);
await db?.close();
process.exit(0);
