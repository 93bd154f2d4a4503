/** The optional geocoder: a typed address gets better coordinates after the turn, bounded to the municipality. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeProvider } from '../fakes/http-provider.ts';
import type { FakeProvider } from '../fakes/http-provider.ts';
import { Citizen, startTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';

const FOLIO = /VER-\d{4}-\d{6}/;

describe('geocoder (Nominatim-compatible)', () => {
  let t: TestApp;
  let nominatim: FakeProvider;

  beforeAll(async () => {
    nominatim = await startFakeProvider();
    t = await startTestApp({
      GEOCODER_URL: nominatim.baseUrl,
      GEOCODER_CONTEXT: 'Municipio de Ejemplo, Veracruz, México',
      GEOCODER_MIN_INTERVAL_MS: '0',
    });
  });
  afterAll(async () => {
    await t.close();
    await nominatim.close();
  });

  // Each filing names another place and colonia, so duplicate detection never offers to join an earlier case.
  async function file(c: Citizen, place: string): Promise<string> {
    const reply = await c.say(`hay un bache enorme en ${place}`);
    if (/Dónde está/.test(reply)) await c.say(place);
    await c.say('omitir');
    return FOLIO.exec(await c.say('sí'))![0];
  }
  const settled = async (folio: string, source: string) => {
    const end = Date.now() + 5_000;
    for (;;) {
      const found = await t.app.store.findCase(folio);
      if (found?.geoSource === source || Date.now() > end) return found;
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  it('places a typed address with the geocoder after the turn, with an audit event', async () => {
    nominatim.respond({ kind: 'json', body: [{ lat: '18.1472', lon: '-94.4588', display_name: 'Hidalgo' }] });
    const c = await new Citizen(t.url).ready();
    const folio = await file(c, 'la calle 5 de mayo esq hidalgo col centro');
    const found = await settled(folio, 'geocoder');
    expect(found).toMatchObject({ geoSource: 'geocoder', lat: 18.1472, lon: -94.4588, colonia: 'Centro' });
    const events = await t.app.store.caseEvents(found!.id);
    expect(events.map((e) => e.kind)).toContain('geocoded');
    const call = nominatim.calls.at(-1)!;
    const url = new URL(call.path, nominatim.baseUrl);
    expect(url.pathname).toBe('/search');
    expect(url.searchParams.get('q')).toMatch(/5 de mayo.*Centro.*Municipio de Ejemplo/i);
    expect(url.searchParams.get('bounded')).toBe('1');
    expect(call.headers['user-agent']).toMatch(/^Ventanilla\//);
    c.close();
  });

  it('keeps the colonia centroid when the geocoder fails or answers outside the municipality', async () => {
    nominatim.respond({ kind: 'json', body: [{ lat: '19.4326', lon: '-99.1332' }] }); // Mexico City
    const c = await new Citizen(t.url).ready();
    const folio = await file(c, 'la calle Morelos 120 col. Petrolera');
    await new Promise((r) => setTimeout(r, 300));
    expect(await t.app.store.findCase(folio)).toMatchObject({ geoSource: 'colonia' });
    nominatim.respond({ kind: 'error', status: 503 });
    const folio2 = await file(c, 'la avenida Universidad 45 col. Las Gaviotas');
    await new Promise((r) => setTimeout(r, 300));
    expect(await t.app.store.findCase(folio2)).toMatchObject({ geoSource: 'colonia' });
    c.close();
  });
});
