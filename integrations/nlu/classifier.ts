/**
 * The statistical intent classifier: one NLP.js neural model per language (`@nlpjs/nlp` with `LangEs` and
 * `LangEn`), trained from our utterance files and cached on disk with NLP.js `export()`/`import()`, keyed by a
 * hash of everything that shapes the model, so a restart loads instead of retraining.
 *
 * NLP.js runs fully offline: `containerBootstrap` registers an in-memory fs, and the language packages carry
 * their stemmers, stopwords and trigram data. Nothing is downloaded.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { containerBootstrap } from '@nlpjs/core';
import { LangEn } from '@nlpjs/lang-en';
import { LangEs } from '@nlpjs/lang-es';
import { Nlp } from '@nlpjs/nlp';
import { fold } from './text.ts';

/**
 * Part of the cache key: bump it when `prepare()`, `features()` (in `index.ts`), the extractors' signals or the
 * model settings change, so cached models are retrained. (Training files, catalogue and lexicon are hashed.)
 */
export const CLASSIFIER_VERSION = 'ventanilla-nlu-5';

/** The two languages Ventanilla understands. */
export type Lang = 'es' | 'en';

/** One training example; `text` is already featurised (see `features()` in `index.ts`). */
export interface Example {
  readonly text: string;
  readonly intent: string;
}

/** Intent scores for one message, best first; `None` is NLP.js's "nothing matched". */
export interface Classification {
  readonly intent: string;
  readonly score: number;
  readonly ranking: readonly { readonly intent: string; readonly score: number }[];
}

/** A trained classifier. */
export interface Classifier {
  classify(text: string, lang: Lang): Promise<Classification>;
  /** True when this instance trained the model; false when it was loaded from the cache. */
  readonly trained: boolean;
  /** Milliseconds spent training or loading. */
  readonly ms: number;
  /** The cache file used, if any. */
  readonly cacheFile: string | undefined;
}

const SLANG: readonly [RegExp, string][] = [
  [/\b(q|k|ke|qe)\b/g, 'que'],
  [/\b(xq|pq|porq|xk)\b/g, 'porque'],
  [/\bpa\b/g, 'para'],
  [/\b(porfa|porfavor|plis|pls|plz|porfis)\b/g, 'por favor'],
  [/\b(tmb|tb|tambn)\b/g, 'tambien'],
  [/\b(grax|grx|grasias|graciaas+|graciass+|thx|ty)\b/g, 'gracias'],
  [/\bd\b/g, 'de'],
  [/\bx\b/g, 'por'],
  [/\b(nel|nop|nope)\b/g, 'no'],
  [/\b(simon|sip|sep)\b/g, 'si'],
  [/\bu\b/g, 'you'],
  [/\bur\b/g, 'your'],
  [/\b(bn|bno)\b/g, 'bueno'],
  [/\b(toy)\b/g, 'estoy'],
  [/\b(ta)\b/g, 'esta'],
  [/\b(tons|entons)\b/g, 'entonces'],
  [/\b(wey|guey|we|güey)\b/g, ' '],
  [/(.)\1{2,}/g, '$1'],
];

/**
 * What the classifier sees: folded, slang expanded ("xq" → "porque"), elongations squeezed ("holaaa" →
 * "hola"), and typed identifiers replaced by their kind so a folio number is not a feature.
 */
export function prepare(text: string): string {
  let t = fold(text).text;
  t = t.replace(/[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}/g, ' correo ');
  t = t.replace(/\b[a-z]{2,4}[\s-]*20\d\d[\s-]*\d{1,7}\b/g, ' folio ');
  t = t.replace(/\+?\d[\d\s().-]{7,}\d/g, ' numero ');
  t = t.replace(/[^\p{L}\p{N}\s]/gu, ' ');
  for (const [re, to] of SLANG) t = t.replace(re, to);
  return t.replace(/\s+/g, ' ').trim();
}

function newNlp(): Nlp {
  const container = containerBootstrap();
  container.use(LangEs);
  container.use(LangEn);
  // Same defaults as NLP.js's own 'nlu-??' configuration, minus the per-epoch console logging.
  container.registerConfiguration(
    'nlu-??',
    {
      keepStopwords: true,
      nonefeatureValue: 1,
      nonedeltaMultiplier: 1.2,
      spellCheck: false,
      spellCheckDistance: 1,
      filterZeros: true,
      log: false,
      // A smaller leaky-ReLU slope than NLP.js's 0.07 generalises better on our short chat messages
      // (5-fold cross-validation: +2 points).
      alpha: 0.02,
    },
    true,
  );
  // NLP.js warns on the console about stop-word-only utterances ("ok", "ya"); those are fine for us.
  container.register('logger', { debug() {}, info() {}, log() {}, warn() {}, error() {}, trace() {} }, true);
  return new Nlp({
    container,
    languages: ['es', 'en'],
    autoSave: false,
    autoLoad: false,
    forceNER: false,
    calculateSentiment: false,
    executeActionsBeforeAnswers: false,
    nlu: { useNoneFeature: true },
  });
}

/** A stable key for a corpus: the model is reused only for exactly the same inputs. */
export function corpusKey(parts: readonly string[]): string {
  const h = createHash('sha256');
  h.update(CLASSIFIER_VERSION);
  for (const p of parts) {
    h.update('\u0000');
    h.update(p);
  }
  return h.digest('hex');
}

async function readCache(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Train (or load from `cacheDir`) one model per language. `key` must change whenever the examples or the
 * code that prepares them changes (see {@link corpusKey}).
 */
export async function createClassifier(opts: {
  /** Called only when the model must be trained (not on a cache hit). */
  examples: () => Readonly<Record<Lang, readonly Example[]>>;
  key: string;
  cacheDir?: string | undefined;
}): Promise<Classifier> {
  const started = performance.now();
  const nlp = newNlp();
  const cacheFile = opts.cacheDir ? join(opts.cacheDir, `nlu-${opts.key.slice(0, 32)}.json`) : undefined;
  let trained = false;
  const cached = cacheFile ? await readCache(cacheFile) : undefined;
  let loaded = false;
  if (cached !== undefined) {
    try {
      nlp.import(cached);
      loaded = true;
    } catch {
      // A truncated or foreign file: retrain and overwrite it.
      loaded = false;
    }
  }
  const model = loaded ? nlp : newNlp();
  if (!loaded) {
    const examples = opts.examples();
    for (const lang of ['es', 'en'] as const) {
      for (const ex of examples[lang]) {
        if (ex.text) model.addDocument(lang, ex.text, ex.intent);
      }
    }
    await model.train();
    trained = true;
    if (cacheFile && opts.cacheDir) {
      await mkdir(opts.cacheDir, { recursive: true });
      // Write then rename, so a crash mid-write never leaves a half model that a later start would load.
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      await writeFile(tmp, model.export(true));
      await rename(tmp, cacheFile);
    }
  }
  const ms = performance.now() - started;
  return {
    trained,
    ms,
    cacheFile,
    async classify(text, lang) {
      const p = text.trim();
      if (!p) return { intent: 'None', score: 1, ranking: [{ intent: 'None', score: 1 }] };
      const r = await model.classify(lang, p);
      const ranking = (r.classifications ?? []).map((c) => ({ intent: c.intent, score: c.score }));
      const top = ranking[0] ?? { intent: 'None', score: 1 };
      return { intent: r.intent ?? top.intent, score: r.score ?? top.score, ranking };
    },
  };
}
