import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Catalog } from '../../../integrations/contract.ts';
import { loadCatalog } from '../../../integrations/catalog/index.ts';
import type { NluEngine } from '../../../integrations/nlu/index.ts';
import { createNlu } from '../../../integrations/nlu/index.ts';
import type { FakeOpenAi } from '../../fakes/openai.ts';
import { startFakeOpenAi } from '../../fakes/openai.ts';

const SHARED_CACHE = join(process.cwd(), '.tmp', 'nlu-test-cache');
/** Something no rule or model recognises, so the turn goes to the LLM. */
const UNSURE = 'blorf zint quazzle mip';

const NO_ENTITIES = {
  category: null,
  procedure: null,
  hotspot: null,
  colonia: null,
  address: null,
  folio: null,
  phone: null,
  email: null,
  topic: null,
};

let fake: FakeOpenAi;
let catalog: Catalog;
let nlu: NluEngine;
const warnings: { obj: Record<string, unknown>; msg: string | undefined }[] = [];

beforeAll(async () => {
  fake = await startFakeOpenAi();
  catalog = await loadCatalog('catalog');
  nlu = await createNlu({
    catalog,
    cacheDir: SHARED_CACHE,
    llm: { baseUrl: fake.baseUrl, apiKey: 'test-key', model: 'local-model', timeoutMs: 400 },
    log: { warn: (obj, msg) => warnings.push({ obj, msg }) },
  });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.calls.length = 0;
  warnings.length = 0;
});

describe('LLM fallback for unsure turns', () => {
  it('is not called when the rules or the model are sure', async () => {
    const r = await nlu.parse('hay un bache enorme en la calle Hidalgo');
    expect(r.source).not.toBe('llm');
    expect(fake.calls).toHaveLength(0);
  });

  it('uses a structured answer, keeping only valid catalogue entities', async () => {
    fake.respond({
      kind: 'structured',
      value: {
        intent: 'case_status',
        confidence: 0.82,
        entities: { ...NO_ENTITIES, category: 'baches', hotspot: 'not-a-hotspot', folio: 'ver 2026 77' },
      },
    });
    const r = await nlu.parse(UNSURE);
    expect(r).toMatchObject({
      intent: 'case_status',
      source: 'llm',
      confidence: 0.82,
      entities: { category: 'baches', folio: 'VER-2026-000077' },
    });
    expect(r.entities.hotspot).toBeUndefined();
    expect(fake.calls).toHaveLength(1);
    const body = fake.calls[0]?.body;
    expect(fake.calls[0]?.path).toBe('/v1/chat/completions');
    expect(fake.calls[0]?.headers.authorization).toBe('Bearer test-key');
    expect(body?.model).toBe('local-model');
    expect(body?.stream).toBe(false);
    expect(body?.response_format?.type).toBe('json_schema');
    expect(JSON.stringify(body?.messages)).toContain(UNSURE);
  });

  it('falls back to the NLP result when the server hangs past the timeout', async () => {
    fake.respond({ kind: 'hang' });
    const started = performance.now();
    const r = await nlu.parse(UNSURE);
    const ms = performance.now() - started;
    expect(r.source).toBe('nlp');
    expect(r.intent).toBe('out_of_scope');
    expect(ms).toBeGreaterThanOrEqual(350);
    expect(ms).toBeLessThan(2_000);
    expect(warnings.some((w) => w.obj.code === 'LLM_TIMEOUT')).toBe(true);
  });

  it('falls back on a 500 without retrying', async () => {
    fake.respond({ kind: 'error', status: 500 });
    const r = await nlu.parse(UNSURE);
    expect(r.source).toBe('nlp');
    expect(fake.calls).toHaveLength(1);
    expect(warnings.some((w) => w.obj.code === 'LLM_FAILED')).toBe(true);
    expect(JSON.stringify(warnings)).not.toContain('test-key');
  });

  it('falls back on a refusal or an answer outside the schema', async () => {
    fake.respond({ kind: 'refusal', message: 'I cannot help with that' });
    expect((await nlu.parse(UNSURE)).source).toBe('nlp');
    fake.respond({
      kind: 'structured',
      value: { intent: 'make_coffee', confidence: 1, entities: NO_ENTITIES },
    });
    expect((await nlu.parse(UNSURE)).source).toBe('nlp');
    fake.respond({ kind: 'text', content: 'sure! here you go' });
    expect((await nlu.parse(UNSURE)).source).toBe('nlp');
  });

  it('defaults a missing confidence', async () => {
    fake.respond({ kind: 'structured', value: { intent: 'help', confidence: null, entities: NO_ENTITIES } });
    const r = await nlu.parse(UNSURE);
    expect(r).toMatchObject({ intent: 'help', source: 'llm', confidence: 0.8 });
  });

  it('works with function calling for servers without JSON-schema support', async () => {
    const tools = await createNlu({
      catalog,
      cacheDir: SHARED_CACHE,
      llm: { baseUrl: fake.baseUrl, apiKey: 'test-key', model: 'local-model', method: 'functionCalling' },
    });
    fake.respond({
      kind: 'structured',
      value: {
        intent: 'procedure_info',
        confidence: 0.7,
        entities: { ...NO_ENTITIES, procedure: 'pago-predial' },
      },
    });
    const r = await tools.parse(UNSURE);
    expect(r).toMatchObject({
      intent: 'procedure_info',
      source: 'llm',
      entities: { procedure: 'pago-predial' },
    });
    expect(fake.calls[0]?.body.tools?.[0]?.function.name).toBe('nlu_reading');
  });
});
