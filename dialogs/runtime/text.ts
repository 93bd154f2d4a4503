/** Text normalisation shared by the runtime. */

/** Lowercase, strip accents and punctuation, collapse spaces. */
export function normalize(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[¿?¡!.,;:()"“”«»]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}
