/** Configuration and catalogue validation: clear errors that name the variable, file and field. */
import { cpSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../integrations/catalog/index.ts';
import { acquireDataLock } from '../integrations/storage/db.ts';
import { loadConfig } from '../main.ts';

describe('configuration', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PORT: 3000,
      HOST: '0.0.0.0',
      DATA_DIR: './data',
      FOLIO_PREFIX: 'VER',
      SERVICE_TIMEZONE: 'America/Mexico_City',
      PUBLIC_URL: 'http://localhost:3000',
    });
    expect(c.ADMIN_TOKEN).toBeUndefined();
    expect(
      loadConfig({ WEBCHAT_ALLOWED_ORIGINS: 'https://a.gob.mx, https://b.gob.mx' }).WEBCHAT_ALLOWED_ORIGINS,
    ).toEqual(['https://a.gob.mx', 'https://b.gob.mx']);
  });
  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/PORT/);
    expect(() => loadConfig({ FOLIO_PREFIX: 'ver-1' })).toThrow(/FOLIO_PREFIX/);
    expect(() => loadConfig({ SERVICE_TIMEZONE: 'Mars/Olympus' })).toThrow(/SERVICE_TIMEZONE/);
    expect(() => loadConfig({ ADMIN_TOKEN: 'short' })).toThrow(/ADMIN_TOKEN/);
    expect(() => loadConfig({ DATABASE_URL: 'nope' })).toThrow(/DATABASE_URL/);
    try {
      loadConfig({ PORT: 'abc' });
    } catch (e) {
      expect((e as { code: string }).code).toBe('CONFIG_INVALID');
    }
  });
});

describe('catalogue', () => {
  it('loads the sample municipality with its ids', async () => {
    const c = await loadCatalog('catalog');
    expect(c.categories).toHaveLength(15);
    expect(c.categories.find((x) => x.id === 'violencia_genero')).toMatchObject({
      sensitive: true,
      routing: 'restricted',
      queue: 'restricted_gender_violence',
    });
    expect(c.procedures).toHaveLength(25);
    expect(c.hotspots).toHaveLength(30);
    expect(c.colonias.find((x) => x.name === 'Centro')).toMatchObject({ lat: 18.146, lon: -94.4609 });
    expect(c.statuses.map((s) => s.id)).toEqual([
      'recibido',
      'asignado',
      'en_proceso',
      'programado',
      'resuelto',
      'no_procede',
      'duplicado',
    ]);
    expect(c.initialStatus).toBe('recibido');
  });
  it('names the file and field of a mistake', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vtn-cat-'));
    try {
      cpSync('catalog', dir, { recursive: true });
      const file = join(dir, 'complaint-categories.es.json');
      const data = JSON.parse(readFileSync(file, 'utf8')) as { categories: Record<string, unknown>[] };
      data.categories[2]!.sla_hours = 'pronto';
      writeFileSync(file, JSON.stringify(data));
      await expect(loadCatalog(dir)).rejects.toThrow(
        /complaint-categories\.es\.json is invalid at categories\.2\.sla_hours/,
      );
      writeFileSync(join(dir, 'hotspots.json'), '{ broken');
      await expect(loadCatalog(dir)).rejects.toMatchObject({ code: 'CATALOG_INVALID' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('data-folder lock', () => {
  it('lets one process own a data folder and takes over a stale lock', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vtn-lock-'));
    try {
      const release = acquireDataLock(dir);
      expect(() => acquireDataLock(dir)).toThrow(/in use by another Ventanilla process/);
      release();
      writeFileSync(join(dir, 'ventanilla.lock'), '999999999');
      const again = acquireDataLock(dir);
      again();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('configuration documentation', () => {
  it('documents every environment variable in the README, and only real ones', async () => {
    const { ConfigSchema, channelEnvVars } = await import('../main.ts');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const documented = new Set([...readme.matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]!));
    const known = [...Object.keys(ConfigSchema.in.shape), ...channelEnvVars()];
    for (const v of known) expect(documented.has(v), `${v} missing from README`).toBe(true);
    const codes = readme.split(/^## Errors$/m)[1]?.split(/^## /m)[0] ?? '';
    const errorRows = new Set([...codes.matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]!));
    for (const v of documented)
      if (!errorRows.has(v)) expect(known.includes(v), `${v} is documented but not read`).toBe(true);
  });
});
