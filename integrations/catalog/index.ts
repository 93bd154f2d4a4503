/**
 * Loads and validates a municipality's catalogue from a folder (`CATALOG_DIR`, default `./catalog`).
 * Every problem names the file and the field, so a city can fix its own data.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  CaseStatusSchema,
  CategorySchema,
  ColoniaSchema,
  HolidaySchema,
  HotspotSchema,
  IntegrationError,
  ProcedureSchema,
} from '../contract.ts';
import type { Catalog } from '../contract.ts';

const FILES = {
  categories: {
    file: 'complaint-categories.es.json',
    schema: z.object({ municipality: z.string().min(1), categories: z.array(CategorySchema).min(1) }),
  },
  procedures: {
    file: 'procedures.es.json',
    schema: z.object({ procedures: z.array(ProcedureSchema) }),
  },
  hotspots: { file: 'hotspots.json', schema: z.object({ hotspots: z.array(HotspotSchema) }) },
  colonias: { file: 'colonias.es.json', schema: z.object({ colonias: z.array(ColoniaSchema).min(1) }) },
  statuses: {
    file: 'case-statuses.json',
    schema: z.object({ statuses: z.array(CaseStatusSchema).min(1), initial: z.string().min(1) }),
  },
} as const;

async function readJson<S extends z.ZodType>(dir: string, file: string, schema: S): Promise<z.infer<S>> {
  const path = join(dir, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new IntegrationError('CATALOG_INVALID', `Catalogue file ${path} cannot be read`, { cause });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new IntegrationError('CATALOG_INVALID', `Catalogue file ${path} is not valid JSON: ${(cause as Error).message}`);
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new IntegrationError('CATALOG_INVALID', `Catalogue file ${path} is invalid at ${issues}`);
  }
  return parsed.data;
}

function unique(file: string, ids: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw new IntegrationError('CATALOG_INVALID', `Catalogue file ${file} repeats ${what} "${id}"`);
    seen.add(id);
  }
}

/** Load, validate and cross-check a catalogue folder. */
export async function loadCatalog(dir: string): Promise<Catalog> {
  const holidaysPath = join(dir, 'holidays.json');
  const holidays = existsSync(holidaysPath)
    ? (await readJson(dir, 'holidays.json', z.object({ holidays: z.array(HolidaySchema) }))).holidays
    : [];
  const [cat, proc, hot, col, st] = await Promise.all([
    readJson(dir, FILES.categories.file, FILES.categories.schema),
    readJson(dir, FILES.procedures.file, FILES.procedures.schema),
    readJson(dir, FILES.hotspots.file, FILES.hotspots.schema),
    readJson(dir, FILES.colonias.file, FILES.colonias.schema),
    readJson(dir, FILES.statuses.file, FILES.statuses.schema),
  ]);
  unique(FILES.categories.file, cat.categories.map((c) => c.id), 'category id');
  unique(FILES.procedures.file, proc.procedures.map((p) => p.id), 'procedure id');
  unique(FILES.hotspots.file, hot.hotspots.map((h) => h.id), 'hotspot id');
  unique(FILES.colonias.file, col.colonias.map((c) => c.name), 'colonia name');
  unique(FILES.statuses.file, st.statuses.map((s) => s.id), 'status id');
  if (!st.statuses.some((s) => s.id === st.initial)) {
    throw new IntegrationError(
      'CATALOG_INVALID',
      `Catalogue file ${join(dir, FILES.statuses.file)} is invalid at initial: "${st.initial}" is not a status id`,
    );
  }
  return {
    municipality: cat.municipality,
    categories: cat.categories,
    procedures: proc.procedures,
    hotspots: hot.hotspots,
    colonias: col.colonias,
    statuses: st.statuses,
    initialStatus: st.initial,
    holidays,
  };
}
