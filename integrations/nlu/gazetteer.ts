/**
 * A typo-tolerant phrase matcher over folded words: colonia and hotspot names with their aliases, category and
 * procedure keywords. Citizens write "col petrolera", "la cdai 3", "palmasola", "parqe de las gaviotas"; the
 * matcher accepts small edit distances on long words, never on short words or digits ("cdaie 2" is not
 * "cdaie 3"), and joined or split words ("palma sola" / "palmasola").
 */
import { allowedTypos, editDistance } from './text.ts';
import type { Token } from './text.ts';

/** One phrase that names a value. */
export interface Phrase<V> {
  readonly value: V;
  /** Folded words of the phrase. */
  readonly words: readonly string[];
  /** Weak phrases (generic words such as "parque" or "internet") lose against any strong phrase. */
  readonly weak: boolean;
  /** Fuzzy matching disabled for this phrase. */
  readonly exactOnly: boolean;
}

/** Where a phrase was found. */
export interface GazMatch<V> {
  readonly value: V;
  /** Index of the first and one-past-last matched word in the word list given to {@link Gazetteer.find}. */
  readonly from: number;
  readonly to: number;
  /** Folded character offsets. */
  readonly start: number;
  readonly end: number;
  readonly typos: number;
  readonly weak: boolean;
  /** Letters in the phrase: longer phrases are more specific. */
  readonly size: number;
}

const DIGIT = /\d/;

function plural(a: string, b: string): boolean {
  return a === b || a === `${b}s` || a === `${b}es` || b === `${a}s` || b === `${a}es`;
}

const SIZE_SUFFIX = /(zotes|zotas|zote|zota|citos|citas|cito|cita|otes|otas|ote|ota|itos|itas|ito|ita)$/;

/** Base forms of a diminutive or augmentative ("bachezote" → "bache", "perrito" → "perro", "hoyote" → "hoyo"). */
function sizeBases(w: string): string[] {
  const m = SIZE_SUFFIX.exec(w);
  if (!m || w.length - m[0].length < 3) return [];
  const base = w.slice(0, w.length - m[0].length);
  return [base, `${base}o`, `${base}a`, `${base}e`];
}

/** Typos between a message word and a phrase word, or -1 when they do not match. */
function wordTypos(msg: string, phr: string, fuzzy: boolean, singleWord: boolean): number {
  if (plural(msg, phr)) return 0;
  if (msg.length >= phr.length + 2 && sizeBases(msg).includes(phr)) return 0;
  if (!fuzzy || DIGIT.test(msg) || DIGIT.test(phr)) return -1;
  // A single generic word ("lomas", "basura") must be long to accept a typo: short words collide with real ones.
  let max = allowedTypos(phr.length);
  if (singleWord) max = phr.length <= 6 ? 0 : phr.length <= 9 ? 1 : 2;
  if (max === 0) return -1;
  if (msg[0] !== phr[0] && phr.length < 8) return -1;
  const d = editDistance(msg, phr, max);
  return d <= max ? d : -1;
}

/** A set of phrases to look for in messages. */
export class Gazetteer<V> {
  private readonly phrases: Phrase<V>[] = [];
  /** Phrases by first word (and its singular), for exact and plural matches. */
  private readonly byFirst = new Map<string, number[]>();
  /** Phrases by first letter, for typo-tolerant matches. */
  private readonly byLetter = new Map<string, number[]>();
  /** Phrases whose first word is long enough to forgive a typo in its first letter. */
  private readonly longFirst: number[] = [];

  /** Add a phrase (any text; it is folded and split into words here). */
  add(value: V, text: string, opts: { weak?: boolean; exactOnly?: boolean } = {}): void {
    const w = text
      .normalize('NFD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .split(/[^\p{L}\p{N}]+/u)
      .filter(Boolean);
    if (w.length === 0) return;
    if (this.phrases.some((p) => p.value === value && p.words.join(' ') === w.join(' '))) return;
    const idx = this.phrases.length;
    this.phrases.push({ value, words: w, weak: opts.weak ?? false, exactOnly: opts.exactOnly ?? false });
    const first = w[0] ?? '';
    const push = (m: Map<string, number[]>, k: string): void => {
      const list = m.get(k);
      if (list) list.push(idx);
      else m.set(k, [idx]);
    };
    push(this.byFirst, first);
    push(this.byLetter, `${first[0] ?? ''}${first.length}`);
    if (first.length >= 8) this.longFirst.push(idx);
  }

  private candidates(w: string, fuzzy: boolean): Set<number> {
    const out = new Set<number>();
    const add = (list: number[] | undefined): void => {
      if (list) for (const i of list) out.add(i);
    };
    add(this.byFirst.get(w));
    if (w.endsWith('s')) add(this.byFirst.get(w.slice(0, -1)));
    if (w.endsWith('es')) add(this.byFirst.get(w.slice(0, -2)));
    add(this.byFirst.get(`${w}s`));
    add(this.byFirst.get(`${w}es`));
    for (const b of sizeBases(w)) add(this.byFirst.get(b));
    // Typos: same first letter and a similar length (a joined "palmasola" is up to 6 letters longer than "palma").
    if (fuzzy && w.length >= 4) {
      for (let len = Math.max(1, w.length - 8); len <= w.length + 8; len += 1)
        add(this.byLetter.get(`${w[0] ?? ''}${len}`));
      if (w.length >= 7) add(this.longFirst);
    }
    return out;
  }

  /** Every phrase occurrence, best first, without overlaps; then sorted by position. */
  find(tokens: readonly Token[], opts: { fuzzy?: boolean } = {}): GazMatch<V>[] {
    const fuzzy = opts.fuzzy ?? true;
    const ws = tokens.filter((t) => !t.punct);
    const found: GazMatch<V>[] = [];
    // Repeated words (long messages repeat themselves) are compared once per phrase word.
    const memo = new Map<string, Map<string, number>>();
    const typos = (msg: string, phr: string, allowFuzzy: boolean, single: boolean): number => {
      if (msg === phr) return 0;
      const key = `${phr}|${allowFuzzy ? 1 : 0}${single ? 1 : 0}`;
      let inner = memo.get(msg);
      if (!inner) {
        inner = new Map();
        memo.set(msg, inner);
      }
      let d = inner.get(key);
      if (d === undefined) {
        d = wordTypos(msg, phr, allowFuzzy, single);
        inner.set(key, d);
      }
      return d;
    };
    for (let i = 0; i < ws.length; i += 1) {
      const w0 = ws[i]?.t ?? '';
      for (const pi of this.candidates(w0, fuzzy)) {
        const p = this.phrases[pi];
        if (!p) continue;
        const n = p.words.length;
        const allowFuzzy = fuzzy && !p.exactOnly;
        const first = p.words[0] ?? '';
        // Same number of words.
        if (i + n <= ws.length) {
          let sum = 0;
          let exactLong = false;
          let ok = true;
          for (let k = 0; k < n; k += 1) {
            const d = typos(ws[i + k]?.t ?? '', p.words[k] ?? '', allowFuzzy, n === 1);
            if (d < 0) {
              ok = false;
              break;
            }
            if (d === 0 && (p.words[k] ?? '').length >= 4) exactLong = true;
            sum += d;
          }
          if (ok && (sum <= 1 || (sum <= 2 && (exactLong || p.words.join('').length >= 14)))) {
            found.push(this.match(p, ws, i, i + n, sum));
            continue;
          }
        }
        if (!allowFuzzy) continue;
        // Joined or split words: "palmasola" for "palma sola", "palma sola" for "palmasola".
        const joined = p.words.join('');
        if (joined.length < 6 || DIGIT.test(joined)) continue;
        if (n >= 2 && w0[0] === first[0] && Math.abs(w0.length - joined.length) <= 1) {
          const d = editDistance(w0, joined, 1);
          if (d <= 1) found.push(this.match(p, ws, i, i + 1, d + 1));
        }
        if (n !== 2 && i + 1 < ws.length) {
          const two = `${w0}${ws[i + 1]?.t ?? ''}`;
          if (two[0] === joined[0] && Math.abs(two.length - joined.length) <= 1) {
            const d = editDistance(two, joined, 1);
            if (d <= 1) found.push(this.match(p, ws, i, i + 2, d + 1));
          }
        }
      }
    }
    // Greedy: strong before weak, longer phrases first, fewer typos first.
    found.sort((a, b) => Number(a.weak) - Number(b.weak) || b.size - a.size || a.typos - b.typos);
    const taken: GazMatch<V>[] = [];
    for (const m of found) {
      if (taken.some((t) => m.from < t.to && t.from < m.to)) continue;
      taken.push(m);
    }
    return taken.sort((a, b) => a.from - b.from);
  }

  private match(p: Phrase<V>, ws: readonly Token[], from: number, to: number, typos: number): GazMatch<V> {
    return {
      value: p.value,
      from,
      to,
      start: ws[from]?.start ?? 0,
      end: ws[to - 1]?.end ?? 0,
      typos,
      weak: p.weak,
      size: p.words.join('').length,
    };
  }
}
