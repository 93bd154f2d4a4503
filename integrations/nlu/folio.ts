/**
 * Folio, phone and e-mail extraction, normalised as `shared/data/README.md` says: folios become
 * `PREFIX-YYYY-NNNNNN` (or the zero-padded number alone when only the number was given), phones 10 national
 * digits, e-mails lowercase. Folios arrive typed (`ver-2026-1203`, `VER 2026 001203`), with the letter O for
 * zero (`VER-2O26-OO1203`), or dictated in words ("cero cero uno dos cero tres", "zero one two").
 */

/** A value found in a folded text, with its folded offsets (to mask it before other extractors run). */
export interface Found {
  readonly value: string;
  readonly start: number;
  readonly end: number;
}

const DIGIT_WORDS: Readonly<Record<string, string>> = {
  cero: '0',
  uno: '1',
  una: '1',
  dos: '2',
  tres: '3',
  cuatro: '4',
  cinco: '5',
  seis: '6',
  siete: '7',
  ocho: '8',
  nueve: '9',
  zero: '0',
  one: '1',
  two: '2',
  three: '3',
  four: '4',
  five: '5',
  six: '6',
  seven: '7',
  eight: '8',
  nine: '9',
};

const UNITS_ES = ['', 'uno', 'dos', 'tres', 'cuatro', 'cinco', 'seis', 'siete', 'ocho', 'nueve'];
const TEENS_ES = [
  'diez',
  'once',
  'doce',
  'trece',
  'catorce',
  'quince',
  'dieciseis',
  'diecisiete',
  'dieciocho',
  'diecinueve',
];
const UNITS_EN = ['', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const TEENS_EN = [
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
];

/** Two-digit year words ("veintiseis", "twenty six") to their number, or undefined. */
function yearTail(w1: string, w2: string | undefined): { n: number; used: number } | undefined {
  const t = TEENS_ES.indexOf(w1);
  if (t >= 0) return { n: 10 + t, used: 1 };
  const te = TEENS_EN.indexOf(w1);
  if (te >= 0) return { n: 10 + te, used: 1 };
  if (w1 === 'veinte') return { n: 20, used: 1 };
  const m = /^veinti(\w+)$/.exec(w1);
  if (m) {
    const u = UNITS_ES.indexOf(m[1] ?? '');
    if (u > 0) return { n: 20 + u, used: 1 };
  }
  if (w1 === 'twenty') {
    const u = UNITS_EN.indexOf(w2 ?? '');
    if (u > 0) return { n: 20 + u, used: 2 };
    return { n: 20, used: 1 };
  }
  const hy = /^twenty-(\w+)$/.exec(w1);
  if (hy) {
    const u = UNITS_EN.indexOf(hy[1] ?? '');
    if (u > 0) return { n: 20 + u, used: 1 };
  }
  return undefined;
}

/**
 * Replace dictated numbers by digits: runs of two or more digit words ("cero cero uno" → "001") and spoken
 * years ("dos mil veintiseis", "twenty twenty six", "two thousand twenty six" → "2026").
 */
export function spokenToDigits(folded: string): string {
  const ws = folded.replace(/[^\p{L}\p{N}\s#-]/gu, ' ').split(/(\s+)/);
  const out: string[] = [];
  const word = (k: number): string | undefined => ws[k];
  let i = 0;
  while (i < ws.length) {
    const w = ws[i] ?? '';
    // Spoken year.
    if ((w === 'dos' && word(i + 2) === 'mil') || (w === 'two' && word(i + 2) === 'thousand')) {
      let k = i + 4;
      if (word(k) === 'and') k += 2;
      const tail = yearTail(word(k) ?? '', word(k + 2));
      if (tail) {
        out.push(String(2000 + tail.n));
        i = k + (tail.used - 1) * 2 + 1;
        continue;
      }
    }
    if (w === 'twenty' && (word(i + 2) === 'twenty' || /^twenty-/.test(word(i + 2) ?? ''))) {
      const tail = yearTail(word(i + 2) ?? '', word(i + 4));
      if (tail) {
        out.push(String(2000 + tail.n));
        i = i + 2 + (tail.used - 1) * 2 + 1;
        continue;
      }
    }
    // Runs of digit words, possibly mixed with digits ("cero cero 12").
    if (DIGIT_WORDS[w] !== undefined) {
      let k = i;
      let digits = '';
      let count = 0;
      while (k < ws.length) {
        const cur = ws[k] ?? '';
        const d = DIGIT_WORDS[cur];
        if (d !== undefined) {
          digits += d;
          count += 1;
        } else if (/^\d+$/.test(cur) && count > 0) {
          digits += cur;
        } else break;
        if (!/^\s+$/.test(ws[k + 1] ?? 'x')) {
          k += 1;
          break;
        }
        k += 2;
      }
      if (count >= 2) {
        out.push(digits);
        // Keep the whitespace that followed the run.
        i = k;
        if (/^\s+$/.test(ws[i - 1] ?? '') && i - 1 > 0) out.push(ws[i - 1] ?? '');
        continue;
      }
    }
    out.push(w);
    i += 1;
  }
  return out.join('');
}

const FOLIO_CONTEXT =
  /\b(folio|reporte|report|caso|case|ticket|queja|solicitud|seguimiento|status|estatus|estado)\b/;

function zeroes(s: string): string {
  return s.replace(/o/g, '0');
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Find a folio in a folded (lowercase, accent-free) text. Returns the canonical form and its span in `folded`
 * (the span is only meaningful when the folio was typed, not dictated).
 */
export function findFolio(folded: string, prefix: string): Found | undefined {
  const p = escapeRe(prefix.toLowerCase());
  const full = new RegExp(
    `\\b${p}\\s*[-_./]?\\s*((?:20|2o|o2)[0-9o]{2})\\s*[-_./]?\\s*([0-9o]*[0-9][0-9o]*|o{1,7})(?![0-9a-z])`,
  );
  const spoken = spokenToDigits(folded);
  for (const [text, typed] of [
    [folded, true],
    [spoken, false],
  ] as const) {
    const m = full.exec(text);
    if (m) {
      const num = zeroes(m[2] ?? '');
      if (num.length <= 7) {
        return {
          value: `${prefix.toUpperCase()}-${zeroes(m[1] ?? '')}-${num.padStart(6, '0')}`,
          start: typed ? m.index : 0,
          end: typed ? m.index + m[0].length : 0,
        };
      }
    }
  }
  const hasContext = FOLIO_CONTEXT.test(folded);
  for (const [text, typed] of [
    [folded, true],
    [spoken, false],
  ] as const) {
    if (hasContext) {
      // Year and number without the prefix: "folio 2026-1203".
      const yn = /\b(20[0-9o]{2})\s*[-/]\s*([0-9o]*[0-9][0-9o]*)\b/.exec(text);
      if (yn && zeroes(yn[2] ?? '').length <= 7) {
        return {
          value: `${prefix.toUpperCase()}-${zeroes(yn[1] ?? '')}-${zeroes(yn[2] ?? '').padStart(6, '0')}`,
          start: typed ? yn.index : 0,
          end: typed ? yn.index + yn[0].length : 0,
        };
      }
      // "el numero de folio que me dieron es el 001203": after the word "folio" itself, any short filler.
      const loose = /\bfolio\b[^0-9@]{0,30}?#?\s*([0-9o]*[0-9][0-9o]*)(?![0-9a-z])/.exec(text);
      // Number only, right after a folio word: "folio 000456", "reporte numero 1203", "case #45".
      const num =
        loose ??
        /\b(?:folio|reporte|report|caso|case|ticket|queja)\b(?:\s*(?:es|number|numero|num|no|nro|is|n|#|:|-|de|mi|del|was|era)\.?\s*)*\s*#?\s*([0-9o]*[0-9][0-9o]*)(?![0-9a-z])/.exec(
          text,
        );
      if (num) {
        const n = zeroes(num[1] ?? '');
        if (n.length >= 3 && n.length <= 7) {
          return {
            value: n.padStart(6, '0'),
            start: typed ? num.index : 0,
            end: typed ? num.index + num[0].length : 0,
          };
        }
      }
    }
    // The whole message is a number: "000456", "#1203", "cero cero cuatro cinco seis".
    const bare =
      /^\s*(?:(?:mi\s+)?(?:folio|numero|number)\s*(?:es|is)?\s*:?\s*)?#?\s*([0-9o]*[0-9][0-9o]*)\s*$/.exec(
        text,
      );
    if (bare) {
      const n = zeroes(bare[1] ?? '');
      if (n.length >= 3 && n.length <= 7) {
        return {
          value: n.padStart(6, '0'),
          start: typed ? bare.index : 0,
          end: typed ? bare.index + bare[0].length : 0,
        };
      }
    }
  }
  return undefined;
}

/** True when the message is nothing but a folio (with optional "folio", "#", punctuation). */
export function isOnlyFolio(folded: string, prefix: string): boolean {
  const f = findFolio(folded, prefix);
  if (!f) return false;
  const spoken = spokenToDigits(folded);
  const rest = (f.end > f.start ? folded.slice(0, f.start) + folded.slice(f.end) : spoken)
    .replace(new RegExp(escapeRe(prefix.toLowerCase()), 'g'), ' ')
    .replace(/\b(mi|el|folio|numero|number|es|is|my|#|no)\b/g, ' ')
    .replace(/[0-9o\s\p{P}-]/gu, '');
  return rest.length === 0;
}

/**
 * A 10-digit Mexican phone number: strips `+52`, `52 1`, spaces, dashes, dots and parentheses. Runs of digit
 * groups are read left to right so "921 000 4521 y 2 más" still yields the number.
 */
export function findPhone(folded: string, spoken = true): Found | undefined {
  for (const text of spoken ? [folded, spokenToDigits(folded)] : [folded]) {
    const re = /[+(]?\d[\d\s().-]*\d/g;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const groups = [...m[0].matchAll(/\d+/g)];
      for (let g = 0; g < groups.length; g += 1) {
        let digits = '';
        for (let k = g; k < groups.length; k += 1) {
          digits += groups[k]?.[0] ?? '';
          let phone: string | undefined;
          if (digits.length === 10 && !/^(52|1)$/.test(groups[g]?.[0] ?? '')) phone = digits;
          else if (digits.length === 12 && digits.startsWith('52')) phone = digits.slice(2);
          else if (digits.length === 13 && digits.startsWith('521')) phone = digits.slice(3);
          if (phone) {
            const next = groups[k + 1]?.[0];
            // "52 921 000 4521": prefer the reading that uses the country code when one follows.
            if (digits.length === 10 && next !== undefined && (digits + next).length <= 13) {
              const longer = digits + next;
              if (
                (longer.length === 12 && longer.startsWith('52')) ||
                (longer.length === 13 && longer.startsWith('521'))
              ) {
                continue;
              }
            }
            const s = m.index + (groups[g]?.index ?? 0);
            const e = m.index + (groups[k]?.index ?? 0) + (groups[k]?.[0].length ?? 0);
            return { value: phone, start: s, end: e };
          }
          if (digits.length > 13) break;
        }
      }
    }
  }
  return undefined;
}

/** An e-mail address, lowercase. */
export function findEmail(folded: string): Found | undefined {
  const m = /[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/.exec(folded);
  if (!m) return undefined;
  return { value: m[0].replace(/^[._-]+/, ''), start: m.index, end: m.index + m[0].length };
}

/** Blank out a span, keeping offsets. */
export function mask(text: string, f: Found | undefined): string {
  if (!f || f.end <= f.start) return text;
  return text.slice(0, f.start) + ' '.repeat(f.end - f.start) + text.slice(f.end);
}
