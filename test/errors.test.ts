/** Every error code is documented in the README's errors table, and every documented code exists (fastify style). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CHANNEL_ERROR_CODES } from '../channels/contract.ts';
import { DIALOG_ERROR_CODES } from '../dialogs/contract.ts';
import { INTEGRATION_ERROR_CODES } from '../integrations/contract.ts';
import { APP_ERROR_CODES } from '../main.ts';

const catalogue = {
  ...CHANNEL_ERROR_CODES,
  ...INTEGRATION_ERROR_CODES,
  ...DIALOG_ERROR_CODES,
  ...APP_ERROR_CODES,
};

function documented(): string[] {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.split(/^## Errors$/m)[1]?.split(/^## /m)[0] ?? '';
  return [...section.matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]!);
}

describe('error catalogue', () => {
  it('uses UPPER_SNAKE codes prefixed by their owner', () => {
    for (const code of Object.keys(catalogue))
      expect(code).toMatch(/^(CHANNEL|STORE|CATALOG|CONFIG|DIALOG|ADMIN|HTTP|TRANSCRIBE)_[A-Z0-9_]+$/);
  });
  it('documents every code in the README errors table', () => {
    const docs = new Set(documented());
    for (const code of Object.keys(catalogue))
      expect(docs.has(code), `${code} missing from README`).toBe(true);
  });
  it('documents no code that does not exist', () => {
    for (const code of documented())
      expect(code in catalogue, `${code} is documented but not defined`).toBe(true);
  });
});
