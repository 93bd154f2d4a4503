/**
 * Entity extraction over one message: folio, phone and e-mail (see `folio.ts`), colonia and hotspot
 * (gazetteers with fuzzy matching), category and procedure (catalogue keywords plus `lexicon.ts`), subscription
 * topic, and the address as a verbatim span of the citizen's text without the colonia.
 */
import type { Catalog, Hotspot, NluEntities, NoticeTopic } from '../contract.ts';
import { findEmail, findFolio, findPhone, isOnlyFolio, mask } from './folio.ts';
import { Gazetteer } from './gazetteer.ts';
import type { GazMatch } from './gazetteer.ts';
import {
  CATEGORY_DOMINATES,
  CATEGORY_EXTRA,
  COLONIA_EXTRA,
  HOTSPOT_EXTRA,
  KIND_CUES,
  PROCEDURE_EXTRA,
  TOPIC_WORDS,
  WEAK_KEYWORDS,
} from './lexicon.ts';
import { MAX_ENTITY_CHARS, fold, originalSpan, tokenize } from './text.ts';
import type { Token } from './text.ts';

/** The port's entities, writable while the extractors fill them in. */
export type WritableEntities = { -readonly [K in Exclude<keyof NluEntities, 'categories'>]?: NluEntities[K] };

/** Everything the extractors found, plus the signals the intent rules need. */
export interface Extraction extends WritableEntities {
  categories?: string[];
  /** A specific (not merely generic) category keyword was found. */
  readonly categoryStrong: boolean;
  /** A specific procedure keyword was found. */
  readonly procedureStrong: boolean;
  /** The message is only a folio. */
  readonly onlyFolio: boolean;
  /** The folio was written in full (`PREFIX-YYYY-N`). */
  readonly fullFolio: boolean;
}

/** Extracts entities using one catalogue. */
export interface EntityExtractor {
  extract(text: string): Extraction;
}

const STREET_HEADS = new Set([
  'calle',
  'av',
  'ave',
  'avenida',
  'avda',
  'blvd',
  'boulevard',
  'bulevar',
  'bulevard',
  'calzada',
  'callejon',
  'privada',
  'priv',
  'andador',
  'carretera',
  'camino',
  'prolongacion',
  'prol',
  'circuito',
  'cerrada',
  'cda',
  'retorno',
  'periferico',
  'libramiento',
  'malecon',
]);

/** English street words that follow the name ("Independencia street"). */
const POSTFIX_HEADS = new Set([
  'street',
  'st',
  'avenue',
  'ave',
  'road',
  'rd',
  'boulevard',
  'blvd',
  'drive',
  'lane',
  'park',
  'school',
  'hospital',
  'market',
  'church',
  'plaza',
  'square',
  'library',
]);

const PLACE_HEADS = new Set([
  'parque',
  'plaza',
  'jardin',
  'mercado',
  'escuela',
  'primaria',
  'secundaria',
  'kinder',
  'preparatoria',
  'prepa',
  'hospital',
  'clinica',
  'iglesia',
  'deportiva',
  'cancha',
  'panteon',
  'glorieta',
  'puente',
  'gasolinera',
  'oxxo',
  'biblioteca',
  'palacio',
  'unidad',
  'explanada',
  'hemiciclo',
  'terminal',
  'central',
  'lighthouse',
  'faro',
]);

/** Starts of a place reference ("frente al hospital"); the words after them are part of the address. */
const REF_INTROS: readonly (readonly string[])[] = [
  ['frente', 'a'],
  ['frente', 'al'],
  ['frente', 'de'],
  ['frente', 'del'],
  ['enfrente', 'de'],
  ['enfrente', 'del'],
  ['junto', 'a'],
  ['junto', 'al'],
  ['a', 'un', 'lado', 'de'],
  ['a', 'un', 'lado', 'del'],
  ['al', 'lado', 'de'],
  ['al', 'lado', 'del'],
  ['cerca', 'de'],
  ['cerca', 'del'],
  ['atras', 'de'],
  ['atras', 'del'],
  ['detras', 'de'],
  ['detras', 'del'],
  ['afuera', 'de'],
  ['afuera', 'del'],
  ['a', 'la', 'altura', 'de'],
  ['a', 'la', 'altura', 'del'],
  ['esquina', 'de'],
  ['esq', 'de'],
  ['en', 'el', 'cruce', 'de'],
  ['in', 'front', 'of'],
  ['next', 'to'],
  ['across', 'from'],
  ['corner', 'of'],
];

/** Words that may sit inside an address between names. */
const CONNECTORS = new Set([
  'de',
  'del',
  'la',
  'las',
  'los',
  'el',
  'y',
  'e',
  'entre',
  'esq',
  'esquina',
  'con',
  'casi',
  'numero',
  'num',
  'no',
  'nro',
  'n',
  '#',
  's',
  'sn',
  'near',
  'by',
  'next',
  'to',
  'the',
  'of',
  'and',
  '&',
  'corner',
  'frente',
  'al',
  'a',
  'altura',
  'lado',
  'un',
  'cerca',
  'junto',
]);

/** Words that end an address: verbs, pronouns, time words, adjectives of complaints. */
const STOP = new Set(
  `esta estan estaba es son era fue fueron hay habia se que q k ke quien donde cuando como desde hasta lleva llevan
  tiene tienen tenia no ya porque xq pq pero para pa por sin mi mis tu tus su sus nuestra nuestro me te le les lo nos
  porfa favor please gracias lleno llena llenos hace ayer hoy anoche manana muy mucho mucha puro pura todo toda todos
  todas otra otro bien mal ni o u sigue siguen durante cada tambien ademas aun todavia solo ahi alli aqui aca
  parpadea prende sirve funciona jala roto rota rotos rotas descompuesto descompuesta caido caida caidos tapado tapada
  apagado apagada apagadas apagados fundido fundida bloquea bloqueada bloquean inundada inundado sucio sucia oscuro
  oscura grande enorme profundo profunda peligroso peligrosa tiraron tiran dejaron estan nadie alguien dicen dice
  ya desde con is are was were has have had been since for it its that which who there not doesnt isnt in on at
  my our your this again today yesterday all every been broken out down has keeps help asap urgent urgente
  pasa pasan paso vino vinieron quedo quedaron esta hicieron hizo salen sale saliendo brotando corriendo
  col colonia fracc fraccionamiento ejido congregacion cong barrio sector unidad cp municipio
  entrada salida orilla`
    .split(/\s+/)
    .filter(Boolean),
);

const WIFI_WORDS = /\b(wifi|wi fi|internet|hotspot|red|senal|signal|conecta\w*|connect\w*)\b/;

/**
 * A crossing of two capitalised names without a street word: "en Juárez y 5 de Mayo", "sobre Hidalgo esq.
 * Morelos". Only typed capitals make this safe enough.
 */
const CAPITAL_CROSSING =
  /\b(?:en|sobre|por|at|on)\s+((?:[A-ZÁÉÍÓÚÑ][\p{L}]+|\d+)(?:\s+(?:de\s+|del\s+)?(?:[A-ZÁÉÍÓÚÑ][\p{L}]+|\d+))*\s+(?:y|e|esq\.?|esquina con|and|&)\s+(?:[A-ZÁÉÍÓÚÑ][\p{L}]+|\d+)(?:\s+(?:de\s+|del\s+)?(?:[A-ZÁÉÍÓÚÑ][\p{L}]+|\d+))*)/u;

const COLONIA_MARKERS = new Set([
  'col',
  'colonia',
  'fracc',
  'fraccionamiento',
  'ejido',
  'congregacion',
  'cong',
  'barrio',
  'sector',
  'unidad',
]);

interface Span {
  start: number;
  end: number;
  /** Index (in the word list) of the street head, when the span starts with one. */
  readonly headIdx: number;
  readonly strong: boolean;
}

function matchAt(ws: readonly Token[], i: number, seq: readonly string[]): boolean {
  for (let k = 0; k < seq.length; k += 1) if (ws[i + k]?.t !== seq[k]) return false;
  return true;
}

/** Core names of a hotspot: its name without the kind word ("Parque Benito Juárez" → "benito juarez"). */
function coreNames(h: Hotspot): string[] {
  // Parenthesised parts ("(Biblioteca Digital)") are descriptions, not names.
  const parts = h.name
    .replace(/\(.*?\)/g, ' ')
    .split(/\s+[–-]\s+/)
    .filter((s) => s.trim().length > 0);
  const out: string[] = [];
  for (const p of parts) {
    const f = fold(p).text.trim();
    const core = f
      .replace(
        /^(parque ecologico|parque lineal|parque|plaza civica|plaza|unidad deportiva|explanada|malecon costero|malecon|torre comunitaria|hemiciclo a los|cdaie \d+|biblioteca)\s*/,
        '',
      )
      .trim();
    if (core.length >= 5 && core !== f) out.push(core);
    if (core.length >= 5 && core === f && !/^cdaie/.test(f)) out.push(core);
  }
  return out;
}

/** Build an extractor for a catalogue. `folioPrefix` is the municipality's folio prefix (`VER`). */
export function createEntityExtractor(catalog: Catalog, folioPrefix: string): EntityExtractor {
  const colonias = new Gazetteer<string>();
  for (const c of catalog.colonias) {
    colonias.add(c.name, c.name);
    for (const a of [...c.aliases, ...(COLONIA_EXTRA[c.name] ?? [])]) {
      colonias.add(c.name, a);
      // "el tular" is also said "del tular", "al tular".
      const m = /^el\s+(.+)$/.exec(fold(a).text);
      if (m) {
        colonias.add(c.name, `del ${m[1] ?? ''}`);
        colonias.add(c.name, `al ${m[1] ?? ''}`);
      }
    }
    // "Ejido La Esperanza" is also said "la esperanza"; "Congregación Paso Nuevo" "paso nuevo".
    const bare = fold(c.name).text.replace(/^(ejido|congregacion|fraccionamiento|fracc)\s+/, '');
    if (bare !== fold(c.name).text) colonias.add(c.name, bare);
  }
  const colonyWords = new Set(catalog.colonias.map((c) => fold(c.name).text));
  const hotspots = new Gazetteer<string>();
  const hotspotCores = new Gazetteer<string>();
  for (const h of catalog.hotspots) {
    hotspots.add(h.id, h.name);
    for (const part of h.name.split(/\s+[–-]\s+|\s*\(|\)/)) if (part.trim()) hotspots.add(h.id, part);
    for (const a of h.aliases) {
      hotspots.add(h.id, a);
      // "el malecon" is also "del malecon", "al malecon"; "el parque lineal" also "parque lineal".
      const m = /^(el|la|los|las)\s+(.+)$/.exec(fold(a).text);
      if (m) {
        const rest = m[2] ?? '';
        if (m[1] === 'el') {
          hotspots.add(h.id, `del ${rest}`);
          hotspots.add(h.id, `al ${rest}`);
        } else {
          hotspots.add(h.id, `de ${m[1]} ${rest}`);
          hotspots.add(h.id, `a ${m[1]} ${rest}`);
        }
        if (rest.split(' ').length >= 2) hotspots.add(h.id, rest);
      }
    }
    for (const a of HOTSPOT_EXTRA[h.id] ?? []) hotspots.add(h.id, a);
    // A core name that is also a colonia ("centro", "petrolera") is handled by the colonia-and-cue rule.
    for (const c of coreNames(h)) if (!colonyWords.has(c)) hotspotCores.add(h.id, c);
  }
  const categories = new Gazetteer<string>();
  const known = new Set(catalog.categories.map((c) => c.id));
  for (const c of catalog.categories) {
    for (const k of [...c.keywords, ...(CATEGORY_EXTRA[c.id] ?? [])]) {
      const f = fold(k).text;
      categories.add(c.id, k, { weak: WEAK_KEYWORDS.has(f) || WEAK_KEYWORDS.has(k) });
    }
    if (c.name_en) categories.add(c.id, c.name_en);
  }
  const procedures = new Gazetteer<string>();
  for (const p of catalog.procedures) {
    for (const k of [...p.keywords, ...(PROCEDURE_EXTRA[p.id] ?? [])]) {
      const f = fold(k).text;
      procedures.add(p.id, k, { weak: WEAK_KEYWORDS.has(f) || WEAK_KEYWORDS.has(k) });
    }
    procedures.add(p.id, p.name.replace(/\s*\(.*\)\s*/, ' '));
    if (p.name_en) procedures.add(p.id, p.name_en);
  }
  const topics = new Gazetteer<NoticeTopic>();
  for (const [topic, list] of Object.entries(TOPIC_WORDS) as [NoticeTopic, readonly string[]][]) {
    for (const w of list) topics.add(topic, w, { exactOnly: true });
  }
  const hotspotById = new Map(catalog.hotspots.map((h) => [h.id, h]));

  function findAddress(ws: readonly Token[], text: string, stopAt: ReadonlySet<number>): Span | undefined {
    const spans: Span[] = [];
    const isStop = (k: number): boolean => {
      const w = ws[k];
      if (!w || w.punct) return true;
      return STOP.has(w.t) || stopAt.has(k);
    };
    // Grow forwards from word `i` (after the head), through names, numbers and connectors.
    const grow = (from: number, maxWords: number): number => {
      let k = from;
      let lastGood = from - 1;
      let words = 0;
      while (k < ws.length && words < maxWords) {
        const w = ws[k];
        if (!w || w.punct) break;
        // A dot right after a number or word ends the address ("calle Morelos 88. Gracias").
        const crossing = w.t === 'con' && ['esquina', 'esq'].includes(ws[k - 1]?.t ?? '');
        if (!crossing && isStop(k) && !(w.t === 'no' && /^\d/.test(ws[k + 1]?.t ?? ''))) break;
        if (!CONNECTORS.has(w.t) || (w.t === 'no' && /^\d/.test(ws[k + 1]?.t ?? ''))) lastGood = k;
        if (w.t === 's' && ws[k + 1]?.t === 'n') lastGood = k + 1;
        words += 1;
        k += 1;
        // Stop at a sentence end: "." (not part of an abbreviation).
        const gap = text.slice(w.end, ws[k]?.start ?? w.end);
        if (/[.,;:!?]/.test(gap)) break;
      }
      return lastGood;
    };
    for (let i = 0; i < ws.length; i += 1) {
      const w = ws[i];
      if (!w || w.punct) continue;
      // "calle Hidalgo 12", "av. Juárez y Lerdo", "c. 5 de mayo esq hidalgo".
      const dotted = text[w.end - 1] === '.';
      if (STREET_HEADS.has(w.t) || (w.t === 'c' && dotted)) {
        const next = ws[i + 1];
        // "calle de la Reforma", "Malecón near the lighthouse": connectors are fine when a name follows.
        if (next && !next.punct && !isStop(i + 1)) {
          const last = grow(i + 1, 9);
          if (last > i) spans.push({ start: w.start, end: ws[last]?.end ?? w.end, headIdx: i, strong: true });
        }
        continue;
      }
      // "frente al hospital", "esquina de Ocampo y Carranza", "in front of the school".
      const intro = REF_INTROS.find((seq) => matchAt(ws, i, seq));
      if (intro) {
        let k = i + intro.length;
        while (['la', 'el', 'los', 'las', 'the', 'a', 'un', 'una'].includes(ws[k]?.t ?? '')) k += 1;
        const first = ws[k];
        if (first && !first.punct && !isStop(k)) {
          const last = grow(k, 10);
          if (last >= k)
            spans.push({ start: w.start, end: ws[last]?.end ?? w.end, headIdx: -1, strong: true });
        }
        continue;
      }
      // "parque del maestro", "malecon etapa 3": a place with its name.
      if (PLACE_HEADS.has(w.t)) {
        const last = grow(i + 1, 6);
        if (last > i) spans.push({ start: w.start, end: ws[last]?.end ?? w.end, headIdx: i, strong: false });
      }
      // "Independencia street", "Benito Juárez park".
      if (POSTFIX_HEADS.has(w.t) && i > 0) {
        let k = i - 1;
        while (k >= 0 && i - k <= 4 && !isStop(k) && !CONNECTORS.has(ws[k]?.t ?? '')) k -= 1;
        if (k < i - 1) {
          spans.push({ start: ws[k + 1]?.start ?? w.start, end: w.end, headIdx: -1, strong: true });
        }
      }
    }
    if (spans.length === 0) return undefined;
    const strong = spans.filter((s) => s.strong);
    const pick = (strong.length > 0 ? strong : spans).sort((a, b) => a.start - b.start)[0];
    return pick ? { ...pick } : undefined;
  }

  return {
    extract(raw: string): Extraction {
      const f = fold(raw.length > MAX_ENTITY_CHARS ? raw.slice(0, MAX_ENTITY_CHARS) : raw);
      let text = f.text;
      const email = findEmail(text);
      text = mask(text, email);
      const folio = findFolio(text, folioPrefix);
      const onlyFolio = isOnlyFolio(text, folioPrefix);
      text = mask(text, folio);
      // A dictated folio is not also a dictated phone.
      const phone = findPhone(text, !folio);
      text = mask(text, phone);

      const tokens = tokenize(text);
      const ws = tokens.filter((t) => !t.punct);
      const cat = categories.find(tokens);
      const proc = procedures.find(tokens);
      const colMatches = colonias.find(tokens);
      const hsMatches = hotspots.find(tokens);

      // Strong category and procedure words end an address ("calle Hidalgo bache enorme").
      const stopAt = new Set<number>();
      for (const m of [...cat, ...proc]) if (!m.weak) for (let k = m.from; k < m.to; k += 1) stopAt.add(k);
      for (let k = 0; k < ws.length; k += 1) if (COLONIA_MARKERS.has(ws[k]?.t ?? '')) stopAt.add(k);

      const addr = findAddress(ws, text, stopAt);
      // A colonia name right after a street head or a crossing is a street ("calle Lázaro Cárdenas 17");
      // a colonia after "de"/"en" inside the span ends the address.
      const keptCol: GazMatch<string>[] = [];
      for (const m of colMatches) {
        // "centro de salud", "centro digital" are places, not the colonia Centro.
        const after = ws[m.to]?.t ?? '';
        if (
          ws[m.to - 1]?.t === 'centro' &&
          (['digital', 'comercial', 'cultural', 'comunitario'].includes(after) ||
            (after === 'de' &&
              ['salud', 'computo', 'acopio', 'atencion', 'rehabilitacion', 'desarrollo'].includes(
                ws[m.to + 1]?.t ?? '',
              )))
        )
          continue;
        const prev = ws[m.from - 1]?.t ?? '';
        if (addr && m.start >= addr.start && m.start < addr.end) {
          const streetName =
            (addr.headIdx >= 0 && m.from === addr.headIdx + 1) ||
            ['esq', 'esquina', 'con', 'y', 'entre', 'calle', 'av', 'avenida', 'and', 'of'].includes(prev);
          if (streetName) continue;
          // Cut the address before the colonia, dropping the connector that introduced it.
          let cut = m.from - 1;
          while (
            cut >= 0 &&
            ['de', 'del', 'en', 'la', 'el', 'las', 'los', 'in', 'at', 'the'].includes(ws[cut]?.t ?? '')
          )
            cut -= 1;
          const end = ws[cut]?.end ?? addr.start;
          addr.end = Math.min(addr.end, end);
        }
        keptCol.push(m);
      }
      const out: {
        -readonly [K in keyof Extraction]: Extraction[K];
      } = {
        categoryStrong: cat.some((m) => !m.weak),
        procedureStrong: proc.some((m) => !m.weak),
        onlyFolio,
        fullFolio: folio?.value.includes('-') ?? false,
      };
      if (folio) out.folio = folio.value;
      if (phone) out.phone = phone.value;
      if (email) out.email = email.value;
      const colonia = keptCol[0]?.value;
      if (colonia) out.colonia = colonia;

      if (!addr) {
        const m = CAPITAL_CROSSING.exec(f.original.slice(0, MAX_ENTITY_CHARS));
        const span = m?.[1];
        if (m && span) {
          const a = f.original.indexOf(span, m.index);
          const fa = f.map.indexOf(a);
          const fb = fa + fold(span).text.length;
          if (fa >= 0 && !colMatches.some((c) => c.start < fb && fa < c.end)) out.address = span;
        }
      }
      if (addr) {
        // Trim trailing connectors left after cutting.
        let span = originalSpan(f, addr.start, addr.end);
        span = span.replace(/[\s,.;:-]+$/u, '');
        const folded = fold(span).text;
        const trimmed = folded.replace(/(\s+(de|del|en|la|el|las|los|y|e|a|al|the|of|near|by|and))+$/u, '');
        if (trimmed.length < folded.length) span = span.slice(0, trimmed.length).replace(/\s+$/, '');
        const nWords = fold(span).text.split(/\s+/).filter(Boolean).length;
        if (nWords >= 2 && span.length <= 120) out.address = span;
      }

      // Hotspot: a name or nickname; else a core name with a cue of its kind ("Benito Juárez park"); else the
      // only hotspot of the cued kind in the mentioned colonia ("el cdaie de villa del rio").
      const cueKinds = (Object.keys(KIND_CUES) as (keyof typeof KIND_CUES)[]).filter((k) =>
        KIND_CUES[k].test(text),
      );
      let hotspot = hsMatches[0]?.value;
      if (!hotspot && cueKinds.length > 0) {
        for (const m of hotspotCores.find(tokens)) {
          const h = hotspotById.get(m.value);
          if (h && cueKinds.includes(h.kind)) {
            hotspot = h.id;
            break;
          }
        }
      }
      if (!hotspot && cueKinds.length > 0) {
        for (const m of keptCol) {
          for (const kind of cueKinds) {
            const here = catalog.hotspots.filter((h) => h.colonia === m.value && h.kind === kind);
            if (here.length === 1 && here[0]) {
              hotspot = here[0].id;
              break;
            }
          }
          if (hotspot) break;
        }
      }
      // Wifi words and a colonia with a single hotspot ("en paso nuevo no hay internet").
      if (!hotspot && WIFI_WORDS.test(text)) {
        for (const m of keptCol) {
          const here = catalog.hotspots.filter((h) => h.colonia === m.value);
          if (here.length === 1 && here[0]) {
            hotspot = here[0].id;
            break;
          }
        }
      }
      if (hotspot) out.hotspot = hotspot;

      const strongCats = cat.filter((m) => !m.weak && known.has(m.value));
      let ids: string[] = [];
      for (const m of strongCats) if (!ids.includes(m.value)) ids.push(m.value);
      const dominated = new Set(ids.flatMap((id) => CATEGORY_DOMINATES[id] ?? []));
      if (ids.some((id) => !dominated.has(id))) ids = ids.filter((id) => !dominated.has(id));
      const firstCat = ids[0] ?? cat.find((m) => known.has(m.value))?.value;
      if (firstCat) out.category = firstCat;
      if (ids.length >= 2) out.categories = ids;
      const procedure = (proc.find((m) => !m.weak) ?? proc[0])?.value;
      if (procedure) out.procedure = procedure;
      const topic = topics.find(tokens, { fuzzy: false })[0]?.value;
      if (topic) out.topic = topic;
      return out;
    },
  };
}
