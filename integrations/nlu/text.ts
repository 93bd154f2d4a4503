/**
 * Text helpers shared by the extractors: accent- and case-folding that keeps a map back to the original
 * characters (so verbatim spans such as `address` can be cut from the citizen's own text), tokenising with
 * offsets, and an edit distance for typo-tolerant matching.
 */

/** Longest text the statistical classifier sees; intent lives in the first sentences anyway. */
export const MAX_CLASSIFY_CHARS = 600;
/** Longest text the entity extractors scan, so a 10,000-character message stays cheap. */
export const MAX_ENTITY_CHARS = 1_500;

/** A folded copy of a text: lowercase, no accents; `map[i]` is the index in the original of folded char `i`. */
export interface Folded {
  readonly original: string;
  readonly text: string;
  readonly map: readonly number[];
}

const COMBINING = /[\u0300-\u036f]/g;

/** Fold one character: lowercase and strip accents (ñ becomes n). */
function foldChar(ch: string): string {
  return ch.normalize('NFD').replace(COMBINING, '').toLowerCase();
}

/** Fold a text, keeping a map from folded positions back to original positions. */
export function fold(original: string): Folded {
  let text = '';
  const map: number[] = [];
  for (let i = 0; i < original.length; i += 1) {
    const f = foldChar(original[i] ?? '');
    for (let k = 0; k < f.length; k += 1) {
      text += f[k];
      map.push(i);
    }
  }
  return { original, text, map };
}

/** The original text behind folded span `[start, end)`. */
export function originalSpan(f: Folded, start: number, end: number): string {
  if (end <= start) return '';
  const a = f.map[start] ?? 0;
  const b = (f.map[end - 1] ?? f.original.length - 1) + 1;
  return f.original.slice(a, b);
}

/** Lowercase, strip accents and punctuation, collapse spaces. */
export function normalize(text: string): string {
  return text
    .normalize('NFD')
    .replace(COMBINING, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}@#/\s-]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** A word or a punctuation mark of a folded text, with its folded offsets. */
export interface Token {
  /** Folded form (lowercase, no accents). */
  readonly t: string;
  readonly start: number;
  readonly end: number;
  /** True for `, . ; : ? ! ( )` and similar. */
  readonly punct: boolean;
}

/** Abbreviations whose trailing dot belongs to the word (`av.`, `col.`, `no.`). */
const DOTTED = new Set([
  'av',
  'ave',
  'avda',
  'c',
  'col',
  'no',
  'num',
  'esq',
  'blvd',
  'prol',
  'priv',
  'fracc',
  'st',
  'rd',
  'dr',
  'sta',
  'sn',
  'gral',
  'lic',
  'cda',
]);

/** Split a folded text into word and punctuation tokens. */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  const re = /[\p{L}\p{N}]+|#|[.,;:?!()¿¡"“”/&]/gu;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const t = m[0];
    const start = m.index;
    let end = start + t.length;
    const isWord = /[\p{L}\p{N}]/u.test(t);
    if (isWord && DOTTED.has(t) && text[end] === '.') {
      end += 1;
      out.push({ t, start, end, punct: false });
      re.lastIndex = end;
      continue;
    }
    out.push({ t, start, end, punct: !isWord && t !== '#' && t !== '&' });
  }
  return out;
}

/** Words only (no punctuation), folded. */
export function words(text: string): string[] {
  return tokenize(fold(text).text)
    .filter((t) => !t.punct)
    .map((t) => t.t);
}

/**
 * Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), stopping early once the
 * distance must exceed `max` (returns `max + 1` then).
 */
export function editDistance(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (a === b) return 0;
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const n = a.length;
  const m = b.length;
  if (n === 0) return m;
  if (m === 0) return n;
  // Three rolling rows, reused between calls (the extractors call this thousands of times per message).
  if (m + 1 > rowSize) {
    rowSize = m + 1;
    rows = [new Int32Array(rowSize), new Int32Array(rowSize), new Int32Array(rowSize)];
  }
  let [prev2, prev, cur] = rows;
  for (let j = 0; j <= m; j += 1) prev[j] = j;
  for (let i = 1; i <= n; i += 1) {
    cur[0] = i;
    let rowMin = i;
    const ai = a.charCodeAt(i - 1);
    for (let j = 1; j <= m; j += 1) {
      const bj = b.charCodeAt(j - 1);
      const cost = ai === bj ? 0 : 1;
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && ai === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === bj)
        v = Math.min(v, prev2[j - 2]! + 1);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[m]!;
}

let rowSize = 64;
let rows: [Int32Array, Int32Array, Int32Array] = [
  new Int32Array(rowSize),
  new Int32Array(rowSize),
  new Int32Array(rowSize),
];

/** How many typos a word of this length may carry and still match: none up to 3 letters, 1 up to 7, then 2. */
export function allowedTypos(len: number): number {
  if (len <= 3) return 0;
  if (len <= 7) return 1;
  return 2;
}

/** Remove control characters and unpaired surrogates (random bytes arrive as those). */
export function sanitize(text: unknown): string {
  if (typeof text !== 'string') return '';
  return text
    .replace(/\p{Cc}/gu, (c) => (c === '\n' || c === '\t' || c === '\r' ? c : ' '))
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, ' ')
    .replace(/\ufffd/g, ' ');
}
