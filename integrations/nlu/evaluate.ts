/**
 * Evaluation of an {@link Nlu} against labelled utterances: overall intent accuracy, per-intent precision,
 * recall and support, and entity accuracy where each gold (line, key) pair is right when the normalised values
 * are equal (for `address`, when one contains the other ignoring case and accents).
 */
import type { Nlu, NluIntent } from '../contract.ts';
import { NLU_INTENTS } from '../contract.ts';
import { fold } from './text.ts';
import type { Utterance } from './training.ts';

/** What `npm run nlu -- eval FILE --json` prints. */
export interface EvalReport {
  readonly accuracy: number;
  readonly intents: Record<string, { precision: number; recall: number; support: number }>;
  readonly entities: { accuracy: number; support: number };
}

/** One misread line, for the human report. */
export interface EvalMiss {
  readonly line: number;
  readonly text: string;
  readonly gold: string;
  readonly got: string;
}

function round(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}

function entityRight(key: string, gold: unknown, got: unknown): boolean {
  if (got === undefined) return false;
  if (key === 'address' && typeof gold === 'string' && typeof got === 'string') {
    const a = fold(gold).text.trim();
    const b = fold(got).text.trim();
    return a.length > 0 && b.length > 0 && (a.includes(b) || b.includes(a));
  }
  if (Array.isArray(gold) || Array.isArray(got)) return JSON.stringify(gold) === JSON.stringify(got);
  return gold === got;
}

/** Parse every utterance and score the results. */
export async function evaluate(
  nlu: Nlu,
  utterances: readonly Utterance[],
): Promise<{ report: EvalReport; misses: EvalMiss[]; entityMisses: EvalMiss[] }> {
  const tp = new Map<string, number>();
  const fp = new Map<string, number>();
  const support = new Map<string, number>();
  let right = 0;
  let entRight = 0;
  let entSupport = 0;
  const misses: EvalMiss[] = [];
  const entityMisses: EvalMiss[] = [];
  const inc = (m: Map<string, number>, k: string): void => {
    m.set(k, (m.get(k) ?? 0) + 1);
  };
  for (let i = 0; i < utterances.length; i += 1) {
    const u = utterances[i];
    if (!u) continue;
    const r = await nlu.parse(u.text, { locale: u.lang === 'en' ? 'en' : 'es-MX' });
    inc(support, u.intent);
    if (r.intent === u.intent) {
      right += 1;
      inc(tp, u.intent);
    } else {
      inc(fp, r.intent);
      misses.push({ line: i + 1, text: u.text, gold: u.intent, got: r.intent });
    }
    for (const [key, gold] of Object.entries(u.entities)) {
      if (gold === undefined) continue;
      entSupport += 1;
      const got = (r.entities as Record<string, unknown>)[key];
      if (entityRight(key, gold, got)) entRight += 1;
      else
        entityMisses.push({
          line: i + 1,
          text: u.text,
          gold: `${key}=${JSON.stringify(gold)}`,
          got: `${key}=${JSON.stringify(got) ?? '—'}`,
        });
    }
  }
  const intents: EvalReport['intents'] = {};
  const seen = new Set<string>([...support.keys(), ...fp.keys()]);
  for (const intent of NLU_INTENTS as readonly NluIntent[]) {
    if (!seen.has(intent)) continue;
    const t = tp.get(intent) ?? 0;
    const p = t + (fp.get(intent) ?? 0);
    const s = support.get(intent) ?? 0;
    intents[intent] = {
      precision: round(p === 0 ? 0 : t / p),
      recall: round(s === 0 ? 0 : t / s),
      support: s,
    };
  }
  return {
    report: {
      accuracy: round(utterances.length === 0 ? 0 : right / utterances.length),
      intents,
      entities: { accuracy: round(entSupport === 0 ? 0 : entRight / entSupport), support: entSupport },
    },
    misses,
    entityMisses,
  };
}

/** A readable table of a report, with the misread lines. */
export function formatReport(
  report: EvalReport,
  misses: readonly EvalMiss[] = [],
  entityMisses: readonly EvalMiss[] = [],
): string {
  const pct = (n: number): string => `${(n * 100).toFixed(1)}%`.padStart(7);
  const lines: string[] = [];
  const total = Object.values(report.intents).reduce((a, b) => a + b.support, 0);
  lines.push(`intent accuracy  ${pct(report.accuracy)}  (${total} utterances)`);
  lines.push(`entity accuracy  ${pct(report.entities.accuracy)}  (${report.entities.support} gold entities)`);
  lines.push('');
  lines.push(
    `${'intent'.padEnd(24)}${'precision'.padStart(10)}${'recall'.padStart(9)}${'support'.padStart(9)}`,
  );
  for (const [intent, m] of Object.entries(report.intents)) {
    lines.push(
      `${intent.padEnd(24)}${pct(m.precision).padStart(10)}${pct(m.recall).padStart(9)}${String(m.support).padStart(9)}`,
    );
  }
  if (misses.length > 0) {
    lines.push('', 'misread intents (line: gold → got):');
    for (const m of misses)
      lines.push(`  ${m.line}: ${m.gold} → ${m.got}  ${JSON.stringify(m.text.slice(0, 100))}`);
  }
  if (entityMisses.length > 0) {
    lines.push('', 'missed entities (line: gold / got):');
    for (const m of entityMisses)
      lines.push(`  ${m.line}: ${m.gold} / ${m.got}  ${JSON.stringify(m.text.slice(0, 100))}`);
  }
  return lines.join('\n');
}
