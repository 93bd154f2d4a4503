/**
 * Ventanilla's natural-language understanding: `createNlu()` implements the {@link Nlu} port of
 * `integrations/contract.ts`.
 *
 * One parse: sanitise and truncate → detect es/en → extract entities (folio, phone, e-mail, colonia, hotspot,
 * category, procedure, topic, address) → documented rules (`rules.ts`) → NLP.js intent model with a None intent
 * and a confidence threshold → optional LLM for unsure turns → normalised {@link NluResult}. It never throws on
 * input: empty, huge, emoji-only or binary text yields a valid result (usually `out_of_scope`).
 */
import { join } from 'node:path';
import type { Catalog, Nlu, NluEntities, NluIntent, NluResult } from '../contract.ts';
import { IntegrationError, NLU_INTENTS } from '../contract.ts';
import { corpusKey, createClassifier, prepare } from './classifier.ts';
import type { Classifier, Example, Lang } from './classifier.ts';
import { createEntityExtractor } from './entities.ts';
import type { Extraction } from './entities.ts';
import { detectLanguage } from './language.ts';
import { CATEGORY_EXTRA, HOTSPOT_EXTRA, NOTICE_WORDS, PROCEDURE_EXTRA, WEAK_KEYWORDS } from './lexicon.ts';
import { createLlmReader } from './llm.ts';
import type { LlmOptions, LlmReader, NluLogger } from './llm.ts';
import { applyRules, entityFallback, postRules } from './rules.ts';
import { MAX_CLASSIFY_CHARS, sanitize } from './text.ts';
import { readUtterances } from './training.ts';
import type { Utterance } from './training.ts';

export type { LlmOptions, NluLogger } from './llm.ts';
export type { Utterance } from './training.ts';
export { parseUtterances, readUtterances, UtteranceSchema } from './training.ts';
export { evaluate, formatReport } from './evaluate.ts';
export type { EvalReport } from './evaluate.ts';

/**
 * Confidence under which the NLP.js intent is not trusted and the turn is `out_of_scope` (or goes to the LLM).
 * Tuned on `locales/heldout.jsonl`; see `npm run nlu -- eval`.
 */
export const DEFAULT_THRESHOLD = 0.35;

/** Options of {@link createNlu}. */
export interface NluOptions {
  /** The municipality's catalogue (categories, procedures, hotspots, colonias). */
  readonly catalog: Catalog;
  /** Folder with `es-MX/utterances.jsonl` and `en/utterances.jsonl`. Default `locales`. */
  readonly trainingDir?: string;
  /** Where to cache the trained model; without it the model is trained in memory at every start. */
  readonly cacheDir?: string;
  /** See {@link DEFAULT_THRESHOLD}. */
  readonly threshold?: number;
  /** Folio prefix, `VER` by default (`VER-2026-000123`). */
  readonly folioPrefix?: string;
  /** Optional OpenAI-compatible LLM for unsure turns. */
  readonly llm?: LlmOptions;
  readonly log?: NluLogger;
}

/** The {@link Nlu} port plus what start-up and evaluation want to know. */
export interface NluEngine extends Nlu {
  /** True when this start trained the model; false when it came from the cache. */
  readonly trained: boolean;
  /** Milliseconds spent training (when `trained`) or loading the cached model. */
  readonly startupMs: number;
  /** Cache file used, if any. */
  readonly cacheFile: string | undefined;
  /** Number of training examples per language. */
  readonly examples: Readonly<Record<Lang, number>>;
  /** Like `parse`, plus which rule decided (when one did) and the model's raw top intent. */
  explain(text: string, hint?: { readonly locale?: string }): Promise<NluResult & { readonly rule?: string }>;
}

const TRAINING_FILES = ['es-MX/utterances.jsonl', 'en/utterances.jsonl'] as const;

/** Words for the municipality's own offices: a question about them is about a municipal service. */
const MUNICIPAL_OFFICE =
  /\b(ayuntamiento|palacio municipal|municipio|tesoreria|catastro|oficina|oficinas|ventanilla|presidencia municipal|desarrollo urbano|obras publicas|city hall|town hall|treasury|municipal)\b/;

/** Something is broken, missing or a nuisance: the shape of a complaint. */
const PROBLEM =
  /\b(no (sirve|sirven|funciona|funcionan|prende|prenden|pasa|pasan|ha pasado|han pasado|hay|tenemos|llega|deja|dejan)|roto|rota|rotos|rotas|descompuest\w*|cayendo|se cayo|caid[oa]s?|tapad[oa]|fuga|huele|apesta|peligro\w*|sucio|sucia|lleno de|llena de|destrozad\w*|fundid[oa]|apagad[oa]s?|tirad[oa]s?|ya no aguant\w*|broken|not working|doesn t work|isn t working|no lights|overflowing|blocking|blocked|dangerous|dirty|smells|leaking|out for)\b/;
/** Asking how, where, when or how much. */
const ASKING =
  /^(como|donde|cuanto|cuanta|cuantos|que|cual|cuales|cuando|a que hora|se puede|puedo|hay que|necesito saber|how|where|what|when|which|can i|do i|is there|are there)\b/;

/** Extra tokens that tell the model what the extractors found, in a language-neutral way. */
function features(text: string, e: Extraction): string {
  const tags: string[] = [];
  if (e.categoryStrong) tags.push('zzcategoria');
  if (e.procedureStrong) tags.push('zztramite');
  if (e.hotspot) tags.push('zzhotspot');
  if (e.folio) tags.push('zzfolio');
  if (e.address || e.colonia) tags.push('zzlugar');
  const p = prepare(text);
  if (MUNICIPAL_OFFICE.test(p)) tags.push('zzoficina');
  if (PROBLEM.test(p)) tags.push('zzproblema');
  if (ASKING.test(p) || /\?\s*$/.test(text)) tags.push('zzpregunta');
  return `${prepare(text)} ${tags.join(' ')}`.trim();
}

function publicEntities(e: Extraction, intent: NluIntent, text: string): NluEntities {
  const out: {
    -readonly [K in keyof NluEntities]: NluEntities[K];
  } = {};
  // A generic word ("cdaie", "parque") names a category or procedure only when the intent is about one.
  if (
    e.category &&
    (e.categoryStrong ||
      intent === 'file_complaint' ||
      intent === 'case_status' ||
      intent === 'hotspot_outage')
  )
    out.category = e.category;
  if (e.categories) out.categories = e.categories;
  if (e.procedure && (e.procedureStrong || intent === 'procedure_info')) out.procedure = e.procedure;
  if (e.hotspot) out.hotspot = e.hotspot;
  if (e.colonia) out.colonia = e.colonia;
  if (e.address) out.address = e.address;
  if (e.folio) out.folio = e.folio;
  if (e.phone) out.phone = e.phone;
  if (e.email) out.email = e.email;
  // "agua" in a leak report is not a subscription topic; only say topic when notices are the subject.
  if (
    e.topic &&
    (intent === 'subscribe_notices' || intent === 'unsubscribe_notices' || NOTICE_WORDS.test(prepare(text)))
  )
    out.topic = e.topic;
  return out;
}

/**
 * Train (or load from `cacheDir`) and return the NLU. Throws `IntegrationError('CATALOG_INVALID')` when a
 * training file is missing or malformed (file and line named) and `CONFIG_INVALID` for a threshold outside 0..1.
 *
 * @example
 * const nlu = await createNlu({ catalog, cacheDir: join(dataDir, 'nlu') });
 * const r = await nlu.parse('hay un bache en la calle 5 de mayo esq hidalgo col centro');
 * // r.intent === 'file_complaint'; r.entities.category === 'baches'; r.entities.colonia === 'Centro'
 */
export async function createNlu(opts: NluOptions): Promise<NluEngine> {
  const threshold = opts.threshold ?? DEFAULT_THRESHOLD;
  if (!(threshold >= 0 && threshold <= 1)) {
    throw new IntegrationError('CONFIG_INVALID', `NLU threshold must be between 0 and 1, got ${threshold}`);
  }
  const folioPrefix = opts.folioPrefix ?? 'VER';
  if (!/^[A-Za-z]{1,8}$/.test(folioPrefix)) {
    throw new IntegrationError('CONFIG_INVALID', `Folio prefix must be 1-8 letters, got "${folioPrefix}"`);
  }
  const dir = opts.trainingDir ?? 'locales';
  const extractor = createEntityExtractor(opts.catalog, folioPrefix);

  const files = await Promise.all(TRAINING_FILES.map((f) => readUtterances(join(dir, f))));
  const byLang = (u: Utterance): Lang => (u.lang === 'en' ? 'en' : 'es');
  const counts: Record<Lang, number> = { es: 0, en: 0 };
  for (const { utterances } of files) for (const u of utterances) counts[byLang(u)] += 1;
  // Featurising runs the extractors over every example: only worth it when the model is trained.
  const examples = (): Record<Lang, Example[]> => {
    const out: Record<Lang, Example[]> = { es: [], en: [] };
    for (const { utterances } of files) {
      for (const u of utterances)
        out[byLang(u)].push({ text: features(u.text, extractor.extract(u.text)), intent: u.intent });
    }
    return out;
  };
  const catalogWords = JSON.stringify([
    folioPrefix,
    opts.catalog.categories.map((c) => [c.id, c.keywords]),
    opts.catalog.procedures.map((p) => [p.id, p.keywords]),
    opts.catalog.hotspots.map((h) => [h.id, h.name, h.aliases]),
    opts.catalog.colonias.map((c) => [c.name, c.aliases]),
    // The lexicon shapes the features too.
    [CATEGORY_EXTRA, PROCEDURE_EXTRA, HOTSPOT_EXTRA, [...WEAK_KEYWORDS]],
  ]);
  const key = corpusKey([...files.map((f) => f.raw), catalogWords]);
  const classifier: Classifier = await createClassifier({ examples, key, cacheDir: opts.cacheDir });
  opts.log?.info?.(
    {
      trained: classifier.trained,
      ms: Math.round(classifier.ms),
      examples: counts,
    },
    classifier.trained ? 'NLU model trained' : 'NLU model loaded from cache',
  );
  const llm: LlmReader | undefined = opts.llm
    ? createLlmReader({ llm: opts.llm, catalog: opts.catalog, folioPrefix, log: opts.log })
    : undefined;
  llm?.warm();

  async function explain(
    input: string,
    hint?: { readonly locale?: string },
  ): Promise<NluResult & { rule?: string }> {
    const raw = sanitize(input).trim();
    const short = raw.length > MAX_CLASSIFY_CHARS ? raw.slice(0, MAX_CLASSIFY_CHARS) : raw;
    const language = detectLanguage(short, hint?.locale);
    if (!/[\p{L}\p{N}]/u.test(short)) {
      return {
        intent: 'out_of_scope',
        confidence: 1,
        language,
        entities: {},
        source: 'rules',
        rule: 'empty',
      };
    }
    const entities = extractor.extract(raw);
    const text = prepare(short);
    const hit = applyRules({ raw: short, text, entities });
    if (hit) {
      return {
        intent: hit.intent,
        confidence: hit.confidence,
        language,
        entities: publicEntities(entities, hit.intent, short),
        source: 'rules',
        rule: hit.rule,
      };
    }
    const f = features(short, entities);
    const c = await classifier.classify(f, language);
    const known = (NLU_INTENTS as readonly string[]).includes(c.intent);
    const sure = known && c.score >= threshold;
    const fallback = sure ? undefined : entityFallback({ raw: short, text, entities });
    let intent: NluIntent = sure ? (c.intent as NluIntent) : (fallback?.intent ?? 'out_of_scope');
    intent = postRules(intent, { raw: short, text, entities });
    if (fallback && intent === fallback.intent) {
      return {
        intent,
        confidence: fallback.confidence,
        language,
        entities: publicEntities(entities, intent, short),
        source: 'rules',
        rule: fallback.rule,
      };
    }
    const confidence = c.intent === 'None' ? 0 : Math.max(0, Math.min(1, c.score));
    if (llm && (confidence < threshold || intent === 'out_of_scope')) {
      const reading = await llm.read(short, language);
      if (reading) {
        const merged = { ...reading.entities, ...publicEntities(entities, reading.intent, short) };
        return {
          intent: reading.intent,
          confidence: reading.confidence,
          language,
          entities: merged,
          source: 'llm',
        };
      }
    }
    return { intent, confidence, language, entities: publicEntities(entities, intent, short), source: 'nlp' };
  }

  return {
    trained: classifier.trained,
    startupMs: classifier.ms,
    cacheFile: classifier.cacheFile,
    examples: counts,
    explain,
    async parse(text, hint) {
      try {
        const { rule: _rule, ...result } = await explain(text, hint);
        return result;
      } catch (err) {
        // Parsing must never take a turn down; log and answer "not understood".
        opts.log?.warn?.({ err: err instanceof Error ? err.message : String(err) }, 'NLU parse failed');
        return { intent: 'out_of_scope', confidence: 0, language: 'es', entities: {}, source: 'nlp' };
      }
    },
  };
}
