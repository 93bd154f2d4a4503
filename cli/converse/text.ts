/** Text helpers of the conversation runner: accent-insensitive matching, a simple language guess, distances. */

/** The text without accents (case kept), for regexes applied with flags `iu`. */
export function stripAccents(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .normalize('NFC');
}

/** Lowercase without accents, for substring comparisons. */
export function fold(text: string): string {
  return stripAccents(text).toLowerCase();
}

/** Whether `haystack` contains `needle`, ignoring case and accents. */
export function containsFolded(haystack: string, needle: string): boolean {
  return fold(haystack).includes(fold(needle));
}

// Function words that are frequent in one language and rare in the other (no shared ones such as "a", "no").
const ES = new Set(
  'el la los las de del que y en un una unos unas por para con es esta estan son tu tus te su sus al lo le se me mi mis como pero o si ya muy mas puedes quieres tienes hay donde cuando porque tambien aqui algo otro otra este eso esto ese esa reporte folio gracias hola listo ayudo escribe elige quedo registrado persona atiende'.split(
    ' ',
  ),
);
const EN = new Set(
  'the of and to in is are you your it this that for on with be was were have has can will would what which who where when how there here we our us they them please my do does not yet if or an any from by at as so all about report number thanks hello done help write choose filed person handled'.split(
    ' ',
  ),
);

/** A simple guess of the language of a reply (`es` or `en`) from its function words. */
export function detectLanguage(text: string): 'es' | 'en' {
  let es = 0;
  let en = 0;
  for (const word of fold(text).split(/[^a-z]+/)) {
    if (ES.has(word)) es++;
    if (EN.has(word)) en++;
  }
  if (es !== en) return es > en ? 'es' : 'en';
  return /[ñ¿¡]/.test(text) ? 'es' : en > 0 ? 'en' : 'es';
}

/** Great-circle distance in metres: the product's own. */
export { distanceM } from '../../dialogs/index.ts';

/** A folio in canonical form (`VER-2026-001203`), or the text upper-cased when it is not one. */
export function canonicalFolio(text: string): string {
  const m = /^\s*([A-Za-z]{2,6})[\s-]*(\d{4})[\s-]*(\d{1,9})\s*$/.exec(text);
  return m ? `${m[1]!.toUpperCase()}-${m[2]}-${m[3]!.padStart(6, '0')}` : text.trim().toUpperCase();
}

/** Shorten a text for a one-line failure detail. */
export function clip(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
