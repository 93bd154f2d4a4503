/**
 * Rule-based understanding used before any flow runs: global commands, a few intents and the entities the two
 * first flows need (category by catalogue keywords, folio in the forms people type).
 */
import type { Category, Catalog } from '../../integrations/contract.ts';
import type { Intent, Understanding } from '../contract.ts';

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

const has = (t: string, re: RegExp) => re.test(t);

const EXACT: [RegExp, Intent][] = [
  [/^(menu|menu principal|inicio|empezar de nuevo|volver a empezar|start over|main menu|restart)$/, 'menu'],
  [/^(cancelar|cancela|cancelalo|ya no|olvidalo|dejalo|cancel|stop it|nevermind|never mind)$/, 'cancel'],
  [/^(ayuda|help|no entiendo|que puedes hacer|opciones|what can you do)$/, 'help'],
];

/** A folio found in text, in canonical form `PREFIX-YYYY-NNNNNN`, or `NNNNNN` when only the number was given. */
export function extractFolio(text: string, prefix: string): string | undefined {
  const t = text.toUpperCase();
  const full = new RegExp(`\\b${prefix}[\\s-]*(\\d{4})[\\s-]*(\\d{1,7})\\b`).exec(t);
  if (full) return `${prefix}-${full[1]}-${(full[2] ?? '').padStart(6, '0')}`;
  const yearNum = /\b(20\d{2})[\s-]+(\d{1,7})\b/.exec(t);
  if (yearNum && /FOLIO|REPORTE|CASE|NUMERO|NÚMERO|#/.test(t))
    return `${prefix}-${yearNum[1]}-${(yearNum[2] ?? '').padStart(6, '0')}`;
  const numOnly =
    /(?:FOLIO|REPORTE|CASE|NUMBER|NUMERO|NÚMERO|#)\D{0,12}(\d{1,7})\b/.exec(t) ??
    /^\s*#?(\d{1,7})\s*$/.exec(t);
  if (numOnly) return (numOnly[1] ?? '').padStart(6, '0');
  return undefined;
}

/** The category whose keywords appear in the text (longest keyword wins). */
export function findCategory(text: string, categories: readonly Category[]): Category | undefined {
  const t = ` ${normalize(text)} `;
  let best: { c: Category; len: number } | undefined;
  for (const c of categories) {
    for (const k of [c.name, ...c.keywords]) {
      const nk = normalize(k);
      if (nk.length >= 3 && t.includes(` ${nk} `) && (!best || nk.length > best.len))
        best = { c, len: nk.length };
      else if (nk.length >= 5 && t.includes(nk) && (!best || nk.length > best.len))
        best = { c, len: nk.length };
    }
  }
  return best?.c;
}

/** Understand a free-text message. */
export function understand(text: string, catalog: Catalog, folioPrefix: string): Understanding {
  const t = normalize(text);
  for (const [re, intent] of EXACT) if (re.test(t)) return { intent, entities: {} };
  const folio = extractFolio(text, folioPrefix);
  const category = findCategory(text, catalog.categories);
  if (
    folio &&
    (has(t, /\b(folio|como va|estado|estatus|status|seguimiento|avance|reporte|case)\b/) ||
      folio.includes('-'))
  ) {
    return { intent: 'case_status', entities: { folio } };
  }
  if (
    has(
      t,
      /\b(como va|estado de mi|estatus|seguimiento|mi folio|consultar (un |mi )?folio|check (a |my )?case|status of)\b/,
    )
  ) {
    return { intent: 'case_status', entities: folio ? { folio } : {} };
  }
  if (category) return { intent: 'file_complaint', entities: { category: category.id } };
  if (has(t, /\b(queja|quejarme|reportar|reporte|denuncia|denunciar|problema|complaint|report)\b/)) {
    return { intent: 'file_complaint', entities: {} };
  }
  if (
    has(
      t,
      /^(hola|holi|holaa+|buenas|buenos dias|buenas tardes|buenas noches|que onda|hello|hi|hey|good morning)\b/,
    )
  ) {
    return { intent: 'greeting', entities: {} };
  }
  if (has(t, /\b(gracias|muchas gracias|thank you|thanks)\b/)) return { intent: 'thanks', entities: {} };
  return { intent: 'unknown', entities: {} };
}

/** Yes/no in both locales, or undefined. */
export function yesNo(text: string): boolean | undefined {
  const t = normalize(text);
  if (
    /^(si|sip|simon|claro|ok|okay|va|dale|de acuerdo|correcto|registralo|yes|yep|sure|confirm|confirmar)\b/.test(
      t,
    )
  )
    return true;
  if (/^(no|nel|nop|nope|mejor no|incorrecto)\b/.test(t)) return false;
  return undefined;
}
