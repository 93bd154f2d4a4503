/** es-MX is the source of truth: en must have the same keys and the same placeholders. */
import { describe, expect, it } from 'vitest';
import en from '../locales/en/dialogs.json' with { type: 'json' };
import esMX from '../locales/es-MX/dialogs.json' with { type: 'json' };
import { DIALOG_IDS } from '../dialogs/contract.ts';

const placeholders = (s: string) => [...s.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]).sort();

describe('locale parity', () => {
  it('has the same keys in es-MX and en', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(esMX).sort());
  });
  it('has the same placeholders per key', () => {
    for (const [key, text] of Object.entries(esMX)) {
      expect(placeholders((en as Record<string, string>)[key] ?? ''), key).toEqual(placeholders(text));
    }
  });
  it('follows the <dialog-id>-<step>-<purpose> key convention', () => {
    for (const key of Object.keys(esMX))
      expect(key).toMatch(new RegExp(`^(${[...DIALOG_IDS, 'errors'].join('|')})-[a-z0-9]+(-[a-z0-9]+)*$`));
  });
});
