/**
 * `npm run nlu -- eval FILE.jsonl [--json]`  intent accuracy, per-intent precision/recall, entity accuracy
 * `npm run nlu -- parse "text" [--locale en]` one NluResult as JSON
 * `npm run nlu -- cv FILE.jsonl [--k 5] [--json]` k-fold cross-validation: each fold of FILE is removed from the
 *                                             training files, the model retrained, and the fold evaluated
 *
 * Needs only the catalogue (`CATALOG_DIR`, default `./catalog`) and the training files (`NLU_TRAINING_DIR`,
 * default `./locales`); it never opens the database nor takes the data-folder lock. The trained model is cached
 * in `NLU_CACHE_DIR` (default `node_modules/.cache/ventanilla-nlu`). `NLU_THRESHOLD`, `FOLIO_PREFIX` and
 * `LLM_BASE_URL`/`LLM_API_KEY`/`LLM_MODEL`/`LLM_TIMEOUT_MS` are honoured. stdout carries only the result;
 * logs go to stderr.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadCatalog } from '../integrations/catalog/index.ts';
import type { EvalReport, LlmOptions, NluOptions, Utterance } from '../integrations/nlu/index.ts';
import { createNlu, evaluate, formatReport, readUtterances } from '../integrations/nlu/index.ts';

const USAGE = `usage:
  npm run nlu -- eval FILE.jsonl [--json]
  npm run nlu -- parse "text" [--locale es-MX|en]
  npm run nlu -- cv FILE.jsonl [--k 5] [--json]`;

const stderrLog = {
  info: (obj: Record<string, unknown>, msg?: string) =>
    process.stderr.write(`${msg ?? ''} ${JSON.stringify(obj)}\n`),
  warn: (obj: Record<string, unknown>, msg?: string) =>
    process.stderr.write(`${msg ?? ''} ${JSON.stringify(obj)}\n`),
};

function llmFromEnv(): LlmOptions | undefined {
  const baseUrl = process.env.LLM_BASE_URL;
  if (!baseUrl) return undefined;
  return {
    baseUrl,
    apiKey: process.env.LLM_API_KEY ?? 'none',
    model: process.env.LLM_MODEL ?? 'gpt-4o-mini',
    timeoutMs: Number(process.env.LLM_TIMEOUT_MS ?? 3000),
  };
}

async function baseOptions(
  quiet: boolean,
): Promise<Omit<NluOptions, 'trainingDir'> & { trainingDir: string }> {
  const catalog = await loadCatalog(process.env.CATALOG_DIR ?? './catalog');
  const threshold = process.env.NLU_THRESHOLD ? Number(process.env.NLU_THRESHOLD) : undefined;
  const llm = llmFromEnv();
  return {
    catalog,
    trainingDir: process.env.NLU_TRAINING_DIR ?? './locales',
    cacheDir: process.env.NLU_CACHE_DIR ?? join('node_modules', '.cache', 'ventanilla-nlu'),
    ...(threshold !== undefined ? { threshold } : {}),
    ...(process.env.FOLIO_PREFIX ? { folioPrefix: process.env.FOLIO_PREFIX } : {}),
    ...(llm ? { llm } : {}),
    ...(quiet ? {} : { log: stderrLog }),
  };
}

function summary(reports: readonly EvalReport[]): EvalReport {
  // Pool the folds: accuracy and entity accuracy weighted by support.
  let n = 0;
  let right = 0;
  let eN = 0;
  let eRight = 0;
  const agg: Record<string, { tp: number; p: number; s: number }> = {};
  for (const r of reports) {
    let folds = 0;
    for (const [intent, m] of Object.entries(r.intents)) {
      folds += m.support;
      const a = (agg[intent] ??= { tp: 0, p: 0, s: 0 });
      const tp = m.recall * m.support;
      a.tp += tp;
      a.s += m.support;
      a.p += m.precision > 0 ? tp / m.precision : 0;
    }
    n += folds;
    right += r.accuracy * folds;
    eN += r.entities.support;
    eRight += r.entities.accuracy * r.entities.support;
  }
  const intents: EvalReport['intents'] = {};
  const r4 = (x: number): number => Math.round(x * 10_000) / 10_000;
  for (const [k, a] of Object.entries(agg))
    intents[k] = { precision: r4(a.p ? a.tp / a.p : 0), recall: r4(a.s ? a.tp / a.s : 0), support: a.s };
  return {
    accuracy: r4(n ? right / n : 0),
    intents,
    entities: { accuracy: r4(eN ? eRight / eN : 0), support: eN },
  };
}

async function crossValidate(file: string, k: number, quiet: boolean): Promise<EvalReport> {
  const opts = await baseOptions(true);
  const { utterances: test } = await readUtterances(file);
  const es = (await readUtterances(join(opts.trainingDir, 'es-MX/utterances.jsonl'))).utterances;
  const en = (await readUtterances(join(opts.trainingDir, 'en/utterances.jsonl'))).utterances;
  const reports: EvalReport[] = [];
  const tmp = await mkdtemp(join(tmpdir(), 'ventanilla-cv-'));
  try {
    for (let f = 0; f < k; f += 1) {
      const fold = test.filter((_, i) => i % k === f);
      const held = new Set(fold.map((u) => u.text));
      const dir = join(tmp, `fold-${f}`);
      await mkdir(join(dir, 'es-MX'), { recursive: true });
      await mkdir(join(dir, 'en'), { recursive: true });
      const dump = (us: Utterance[]): string =>
        us
          .filter((u) => !held.has(u.text))
          .map((u) => JSON.stringify(u))
          .join('\n');
      await writeFile(join(dir, 'es-MX/utterances.jsonl'), dump(es));
      await writeFile(join(dir, 'en/utterances.jsonl'), dump(en));
      const nlu = await createNlu({ ...opts, trainingDir: dir, cacheDir: undefined });
      const { report } = await evaluate(nlu, fold);
      if (!quiet)
        process.stderr.write(`fold ${f + 1}/${k}: accuracy ${report.accuracy} (${fold.length} lines)\n`);
      reports.push(report);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return summary(reports);
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      locale: { type: 'string' },
      k: { type: 'string', default: '5' },
    },
  });
  const [cmd, arg] = positionals;
  if (cmd === 'parse' && arg !== undefined) {
    const nlu = await createNlu(await baseOptions(true));
    const result = await nlu.parse(arg, values.locale ? { locale: values.locale } : undefined);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  }
  if (cmd === 'eval' && arg) {
    const { utterances } = await readUtterances(arg);
    const started = performance.now();
    const nlu = await createNlu(await baseOptions(values.json));
    const ready = performance.now();
    const { report, misses, entityMisses } = await evaluate(nlu, utterances);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      const per = utterances.length ? (performance.now() - ready) / utterances.length : 0;
      process.stdout.write(`${formatReport(report, misses, entityMisses)}\n`);
      process.stdout.write(
        `\nstart-up ${Math.round(ready - started)} ms (${nlu.trained ? 'trained' : 'cached model'}), ${per.toFixed(2)} ms/parse\n`,
      );
    }
    return 0;
  }
  if (cmd === 'cv' && arg) {
    const k = Number(values.k);
    if (!Number.isInteger(k) || k < 2) throw new Error('--k must be an integer ≥ 2');
    const report = await crossValidate(arg, k, values.json);
    process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
    return 0;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
