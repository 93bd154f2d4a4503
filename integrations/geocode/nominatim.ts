/**
 * Typed addresses to coordinates through a Nominatim-compatible `GET /search` (OpenStreetMap's public instance or a
 * self-hosted one). https://nominatim.org/release-docs/latest/api/Search/
 *
 * The public instance's usage policy asks for at most one request per second and an identifying User-Agent, so
 * requests are serialised with a minimum gap. Results are bounded to the municipality's box (from the catalogue's
 * colonia centroids), so "Hidalgo 10" never lands in another state.
 */
import type { Geocoder } from '../contract.ts';

/** Options of {@link createNominatimGeocoder}. */
export interface NominatimOptions {
  /** Base URL, e.g. `https://nominatim.openstreetmap.org`. */
  readonly baseUrl: string;
  /** Identifying User-Agent (the policy requires one; include a contact address). */
  readonly userAgent: string;
  /** Appended to every query, e.g. `Coatzacoalcos, Veracruz, México`. */
  readonly context: string;
  /** Results must fall inside this box (lon/lat). */
  readonly box: {
    readonly minLat: number;
    readonly maxLat: number;
    readonly minLon: number;
    readonly maxLon: number;
  };
  readonly timeoutMs: number;
  /** Minimum milliseconds between requests (1000 for the public instance). */
  readonly minIntervalMs: number;
  readonly log?: { warn(obj: Record<string, unknown>, msg?: string): void };
}

/** The bounding box of some points, widened by `marginDeg` (≈ 0.02° ≈ 2 km). */
export function boxAround(
  points: readonly { lat: number; lon: number }[],
  marginDeg = 0.02,
): NominatimOptions['box'] {
  const lats = points.map((p) => p.lat);
  const lons = points.map((p) => p.lon);
  return {
    minLat: Math.min(...lats) - marginDeg,
    maxLat: Math.max(...lats) + marginDeg,
    minLon: Math.min(...lons) - marginDeg,
    maxLon: Math.max(...lons) + marginDeg,
  };
}

/** Build the geocoder. Failures (timeouts, 5xx, nothing found) resolve to null: the colonia centroid stays. */
export function createNominatimGeocoder(opts: NominatimOptions): Geocoder {
  let chain: Promise<unknown> = Promise.resolve();
  let last = 0;
  const { box } = opts;
  const viewbox = `${box.minLon},${box.maxLat},${box.maxLon},${box.minLat}`;
  const request = async (q: string): Promise<{ lat: number; lon: number } | null> => {
    const wait = last + opts.minIntervalMs - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    last = Date.now();
    const url = new URL('/search', opts.baseUrl);
    url.search = new URLSearchParams({
      q,
      format: 'jsonv2',
      limit: '1',
      countrycodes: 'mx',
      viewbox,
      bounded: '1',
      'accept-language': 'es',
    }).toString();
    try {
      const res = await fetch(url, {
        headers: { 'user-agent': opts.userAgent, accept: 'application/json' },
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      if (!res.ok) {
        opts.log?.warn({ status: res.status }, 'geocoder answered an error');
        return null;
      }
      const body = await res.json();
      const first = Array.isArray(body)
        ? (body[0] as { lat?: unknown; lon?: unknown } | undefined)
        : undefined;
      const lat = Number(first?.lat);
      const lon = Number(first?.lon);
      if (!Number.isFinite(lat) || !Number.isFinite(lon)) return null;
      // `bounded=1` is a hint some compatible servers ignore: check the box ourselves.
      if (lat < box.minLat || lat > box.maxLat || lon < box.minLon || lon > box.maxLon) return null;
      return { lat, lon };
    } catch (err) {
      opts.log?.warn({ err: err instanceof Error ? err.name : 'error' }, 'geocoder unreachable');
      return null;
    }
  };
  return {
    geocode({ address, colonia }) {
      const q = [address, colonia, opts.context].filter(Boolean).join(', ');
      const result = chain.then(() => request(q));
      chain = result.catch(() => undefined);
      return result;
    },
  };
}
