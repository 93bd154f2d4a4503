/**
 * Text helpers shared by flows (normalisation, folios, yes/no) and a small rule-based {@link Nlu} used when no
 * trained NLU is wired (unit tests of the runtime). The product wires `integrations/nlu` (NLP.js).
 */
import type {
  Catalog,
  Category,
  Nlu,
  NluEntities,
  NluIntent,
  NluResult,
  NoticeTopic,
} from '../../integrations/contract.ts';
import { findColonia } from './geo.ts';
import { normalize } from './text.ts';

export { normalize } from './text.ts';

const SPOKEN: Record<string, string> = {
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
  oh: '0',
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

/** A folio found in text, in canonical form `PREFIX-YYYY-NNNNNN`, or `NNNNNN` when only the number was given. */
export function extractFolio(text: string, prefix: string): string | undefined {
  // Spoken digits ("cero cero uno dos") and the letter O typed for zero inside digit runs.
  const spoken = text
    .split(/\s+/)
    .map((w) => SPOKEN[normalize(w)] ?? w)
    .join(' ')
    .replace(/(?<=\d)\s+(?=\d)/g, (m) => (m.length === 1 ? '' : m));
  const t = spoken.toUpperCase().replace(/(?<=[\d-])O|O(?=\d)/g, '0');
  // Keep the prefix the citizen wrote: another prefix is another case, never ours by accident.
  const full = new RegExp(`\\b(${prefix}|[A-Z]{2,6})[\\s-]*(20\\d{2})[\\s-]*(\\d{1,7})\\b`).exec(t);
  if (full) {
    const written = /^(FOLIO|MI|EL|LA|NUM|NUMERO|REPORTE|CASO|CASE|NO|DEL|DE)$/.test(full[1] ?? '')
      ? prefix
      : full[1];
    return `${written}-${full[2]}-${(full[3] ?? '').padStart(6, '0')}`;
  }
  const yearNum = /\b(20\d{2})[\s-]+(\d{1,7})\b/.exec(t);
  if (yearNum && /FOLIO|REPORTE|CASE|NUMERO|NÚMERO|#/.test(t)) {
    return `${prefix}-${yearNum[1]}-${(yearNum[2] ?? '').padStart(6, '0')}`;
  }
  const numOnly =
    /(?:FOLIO|REPORTE|CASE|NUMBER|NUMERO|NÚMERO|#)\D{0,12}(\d{1,7})\b/.exec(t) ??
    /^\s*#?(\d{3,7})\s*$/.exec(t);
  if (numOnly) return (numOnly[1] ?? '').padStart(6, '0');
  return undefined;
}

/** The categories whose keywords appear in the text, in order of appearance (longest keyword per position). */
export function findCategories(text: string, categories: readonly Category[]): Category[] {
  const t = ` ${normalize(text)} `;
  const hits: { c: Category; at: number; len: number }[] = [];
  for (const c of categories) {
    let best: { at: number; len: number } | undefined;
    for (const k of [c.name, ...c.keywords]) {
      const nk = normalize(k);
      if (nk.length < 3) continue;
      const at = t.indexOf(` ${nk}`);
      const ok = at >= 0 && (t[at + nk.length + 1] === ' ' || nk.length >= 5);
      if (ok && (!best || nk.length > best.len)) best = { at, len: nk.length };
    }
    if (best) hits.push({ c, ...best });
  }
  return hits.sort((a, b) => a.at - b.at || b.len - a.len).map((h) => h.c);
}

/** The first category mentioned in the text. */
export function findCategory(text: string, categories: readonly Category[]): Category | undefined {
  return findCategories(text, categories)[0];
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

const TOPICS: [NoticeTopic, RegExp][] = [
  ['agua', /\b(agua|water|tandeos?|pipas?)\b/],
  ['recoleccion', /\b(basura|recoleccion|camion de la basura|garbage|trash)\b/],
  ['wifi', /\b(wifi|internet|cdaie)\b/],
  ['vialidad', /\b(vialidad|trafico|cierres?|calles? cerradas?|traffic|roads?)\b/],
  ['eventos', /\b(eventos?|events?|festival|feria)\b/],
  ['general', /\b(general|todo|todos|avisos generales|everything)\b/],
];

function match<T>(t: string, items: readonly T[], names: (i: T) => string[]): T | undefined {
  let best: { i: T; len: number } | undefined;
  for (const i of items) {
    for (const n of names(i).flatMap((x) => [x, x.replace(/^(el|la|los|las|the)\s+/i, '')])) {
      const nn = normalize(n);
      if (nn.length >= 4 && ` ${t} `.includes(` ${nn} `) && (!best || nn.length > best.len))
        best = { i, len: nn.length };
    }
  }
  return best?.i;
}

/** The notice topic a text names ("agua", "water", "basura"…), if any. */
export function findTopic(text: string): NoticeTopic | undefined {
  const t = normalize(text);
  return TOPICS.find(([, re]) => re.test(t))?.[0];
}

/** Entities the rules can find in a text. */
export function ruleEntities(text: string, catalog: Catalog, folioPrefix: string): NluEntities {
  const t = normalize(text);
  const cats = findCategories(text, catalog.categories);
  const folio = extractFolio(text, folioPrefix);
  const colonia = findColonia(text, catalog.colonias);
  const hotspot = match(t, catalog.hotspots, (h) => [h.name, ...h.aliases]);
  const procedure = match(t, catalog.procedures, (p) => [p.name, ...p.keywords]);
  const topic = TOPICS.find(([, re]) => re.test(t))?.[0];
  const phone = /(?:\+?52[\s-]?)?(\d{2,3}[\s-]?\d{3,4}[\s-]?\d{4})/.exec(text)?.[1]?.replace(/\D/g, '');
  const email = /[\w.+-]+@[\w-]+\.[\w.-]+/.exec(text)?.[0]?.toLowerCase();
  return {
    ...(cats[0] ? { category: cats[0].id } : {}),
    ...(cats.length > 1 ? { categories: cats.map((c) => c.id) } : {}),
    ...(folio ? { folio } : {}),
    ...(colonia ? { colonia: colonia.name } : {}),
    ...(hotspot ? { hotspot: hotspot.id } : {}),
    ...(procedure ? { procedure: procedure.id } : {}),
    ...(topic ? { topic } : {}),
    ...(phone && phone.length === 10 ? { phone } : {}),
    ...(email ? { email } : {}),
  };
}

const RULES: [RegExp, NluIntent][] = [
  [/^(stop|baja|unsubscribe|cancelar suscripcion|ya no quiero avisos|darme de baja)$/, 'unsubscribe_notices'],
  [/^(alta|start|suscribirme|quiero avisos|subscribe)$/, 'subscribe_notices'],
  [/^(cancelar|cancela|cancelalo|ya no|olvidalo|dejalo|cancel|never ?mind)$/, 'cancel'],
  [/^(ayuda|help|que puedes hacer|opciones|what can you do)$/, 'help'],
  [
    /\b(violencia|me pega|me golpea|me golpeo|me amenaza|acoso|abuso|agrede|violento|violenta|domestic violence|abuse|harass)/,
    'gender_violence_report',
  ],
  [/\b(agente|humano|persona|asesor|operador|alguien real|agent|human|real person)\b/, 'talk_to_agent'],
  [
    /\b(no (hay|jala|sirve|funciona|tiene) (el )?(wifi|internet)|sin (wifi|internet)|wifi|cdaie|torre de internet)\b/,
    'hotspot_outage',
  ],
  [
    /\b(pasaporte|ine|curp|licencia de manejo|cfe|recibo de luz|passport|driver.?s licen[cs]e)\b/,
    'out_of_scope',
  ],
  [/\b(avisos?|notificaciones|suscrib|alertas)\b/, 'subscribe_notices'],
  [
    /\b(mis reportes|mis folios|como va|estado de mi|estatus|seguimiento|mi folio|status of|my reports|check (a |my )?case)\b/,
    'case_status',
  ],
  [
    /\b(requisitos|tramite|que necesito|cuanto cuesta|donde (se )?(tramita|saca)|licencia|permiso|acta|constancia|how (do i|to) get|requirements)\b/,
    'procedure_info',
  ],
  [/\b(vincul|enlaz|enlac)\w*|\b(link|connect|merge) my\b/, 'link_channel'],
  [/\b(queja|quejarme|reportar|reporte|denuncia|denunciar|problema|complaint|report)\b/, 'file_complaint'],
  [
    /^(hola|holi|holaa+|buenas|buenos dias|buenas tardes|buenas noches|que onda|hello|hi|hey|good morning)\b/,
    'greeting',
  ],
  [/\b(adios|bye|hasta luego|nos vemos|goodbye)\b/, 'goodbye'],
  [/\b(gracias|muchas gracias|thank you|thanks)\b/, 'thanks'],
];

/** A rule-based NLU: enough for runtime tests; the product uses the trained one. */
export function createRuleNlu(catalog: Catalog, folioPrefix: string): Nlu {
  return {
    async parse(text, hint) {
      const t = normalize(text);
      const entities = ruleEntities(text, catalog, folioPrefix);
      const english = /\b(the|is|my|i|want|report|please|hello|how|what|where|status|street|light)\b/.test(t);
      const language: 'es' | 'en' = english
        ? 'en'
        : hint?.locale?.startsWith('en') && !/[ñáéíóú¿¡]/.test(text) && t.length < 4
          ? 'en'
          : 'es';
      let intent: NluIntent = RULES.find(([re]) => re.test(t))?.[1] ?? 'out_of_scope';
      const sensitive =
        entities.category && catalog.categories.find((c) => c.id === entities.category)?.sensitive;
      if (sensitive) intent = 'gender_violence_report';
      else if (intent === 'out_of_scope' && entities.category)
        intent = entities.category === 'wifi_publico' ? 'hotspot_outage' : 'file_complaint';
      else if (intent === 'out_of_scope' && entities.folio?.includes('-')) intent = 'case_status';
      else if (intent === 'out_of_scope' && entities.procedure) intent = 'procedure_info';
      const result: NluResult = {
        intent,
        confidence: intent === 'out_of_scope' ? 0.3 : 0.9,
        language,
        entities,
        source: 'rules',
      };
      return result;
    },
  };
}
