/** Per-key token buckets (per IP) with bounded memory. */

/** Bucket shape: `burst` tokens, refilled at `perSecond`. */
export interface RateLimit {
  readonly burst: number;
  readonly perSecond: number;
}

/** A limiter; `take(key)` is false when the key is out of tokens. */
export interface Limiter {
  take(key: string, cost?: number): boolean;
  /** Milliseconds until one token is available. */
  retryAfterMs(key: string): number;
}

/** Build a limiter keeping at most `maxKeys` buckets (least recently used are dropped). */
export function createLimiter(limit: RateLimit, now: () => number = Date.now, maxKeys = 50_000): Limiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const refill = (key: string) => {
    const t = now();
    const b = buckets.get(key) ?? { tokens: limit.burst, at: t };
    b.tokens = Math.min(limit.burst, b.tokens + ((t - b.at) / 1000) * limit.perSecond);
    b.at = t;
    buckets.delete(key);
    buckets.set(key, b);
    if (buckets.size > maxKeys) {
      const oldest = buckets.keys().next().value;
      if (oldest !== undefined) buckets.delete(oldest);
    }
    return b;
  };
  return {
    take(key, cost = 1) {
      const b = refill(key);
      if (b.tokens < cost) return false;
      b.tokens -= cost;
      return true;
    },
    retryAfterMs(key) {
      const b = refill(key);
      return b.tokens >= 1 ? 0 : Math.ceil(((1 - b.tokens) / limit.perSecond) * 1000);
    },
  };
}
