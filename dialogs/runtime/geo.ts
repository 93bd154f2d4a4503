/** Placing a typed address: the colonia gazetteer of the catalogue. */
import type { Colonia } from '../../integrations/contract.ts';
import { normalize } from './text.ts';

/** The colonia named in a text (canonical name or alias; the longest match wins). */
export function findColonia(text: string, colonias: readonly Colonia[]): Colonia | undefined {
  // "… esq. Hidalgo, col. Centro": what follows the colonia marker wins over street names elsewhere.
  const marked = /\b(?:col|colonia|fracc|fraccionamiento|ejido|congregacion|barrio|unidad)\b\.?\s+(.+)$/.exec(
    normalize(text),
  );
  if (marked?.[1]) {
    const found = longest(` ${marked[1]} `, colonias);
    if (found) return found;
  }
  return longest(` ${normalize(text)} `, colonias);
}

function longest(t: string, colonias: readonly Colonia[]): Colonia | undefined {
  let best: { c: Colonia; len: number } | undefined;
  for (const c of colonias) {
    for (const name of [c.name, ...c.aliases]) {
      const n = normalize(name);
      if (n.length >= 3 && t.includes(` ${n} `) && (!best || n.length > best.len))
        best = { c, len: n.length };
    }
  }
  return best?.c;
}

/** Great-circle distance in metres (haversine). */
export function distanceM(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const a =
    Math.sin(((lat2 - lat1) * rad) / 2) ** 2 +
    Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 6_371_000 * 2 * Math.asin(Math.sqrt(a));
}
