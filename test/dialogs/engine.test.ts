/** Dialog-engine units: versioned state, folio normalisation, degradation. */
import { describe, expect, it } from 'vitest';
import { degrade, splitText } from '../../channels/kit/degrade.ts';
import type { Capabilities } from '../../channels/contract.ts';
import { extractFolio, readState, STATE_VERSION } from '../../dialogs/index.ts';

describe('dialog state', () => {
  it('reads current state and flags state from another version as stale instead of misreading it', () => {
    expect(readState(null)).toEqual({ state: { v: STATE_VERSION, dialog: null, slots: {} }, stale: false });
    const current = {
      v: STATE_VERSION,
      dialog: 'file-complaint',
      slots: { category: 'baches', _awaiting: 'description' },
    };
    expect(readState(current)).toEqual({ state: current, stale: false });
    expect(readState({ v: STATE_VERSION - 1, dialog: 'file-complaint', slots: {} }).stale).toBe(true);
    expect(readState({ v: STATE_VERSION, dialog: 'retired-flow', slots: {} }).stale).toBe(true);
    expect(readState({ step: 3 }).stale).toBe(true);
    expect(readState('garbage').stale).toBe(true);
  });
});

describe('folio normalisation', () => {
  it.each([
    ['¿cómo va mi folio VER-2026-000001?', 'VER-2026-000001'],
    ['ver-2026-1203', 'VER-2026-001203'],
    ['VER 2026 001203', 'VER-2026-001203'],
    ['folio 2026-456', 'VER-2026-000456'],
    ['mi folio es 456', '000456'],
    ['456', '000456'],
  ])('%s → %s', (text, folio) => {
    expect(extractFolio(text, 'VER')).toBe(folio);
  });
  it('finds nothing where there is no folio', () => {
    expect(extractFolio('hay un bache en la calle 5 de mayo', 'VER')).toBeUndefined();
  });
});

describe('degradation', () => {
  const caps: Capabilities = {
    delivery: 'push',
    choices: { max: 3, style: 'buttons' },
    media: ['image'],
    maxText: 20,
    typing: false,
    templates: false,
    speech: false,
  };
  it('numbers choices beyond the maximum and keeps them as buttons within it', () => {
    const choices = [1, 2, 3, 4].map((n) => ({ id: `c${n}`, label: `Op ${n}` }));
    expect(degrade({ kind: 'choices', text: 'Elige', choices }, caps)).toEqual([
      { kind: 'text', text: 'Elige\n1. Op 1' },
      { kind: 'text', text: '2. Op 2\n3. Op 3' },
      { kind: 'text', text: '4. Op 4' },
    ]);
    expect(degrade({ kind: 'choices', text: 'Elige', choices: choices.slice(0, 2) }, caps)).toEqual([
      { kind: 'choices', text: 'Elige', choices: choices.slice(0, 2) },
    ]);
  });
  it('splits long text at word boundaries, renders templates and speech as text, drops typing', () => {
    expect(splitText('uno dos tres cuatro cinco seis siete', 20)).toEqual([
      'uno dos tres cuatro',
      'cinco seis siete',
    ]);
    expect(degrade({ kind: 'template', template: 't', params: [], fallbackText: 'Hola' }, caps)).toEqual([
      { kind: 'text', text: 'Hola' },
    ]);
    expect(degrade({ kind: 'speech', text: 'Hola' }, caps)).toEqual([{ kind: 'text', text: 'Hola' }]);
    expect(degrade({ kind: 'typing' }, caps)).toEqual([]);
    expect(
      degrade({ kind: 'media', url: 'https://x/y.pdf', mime: 'application/pdf', caption: 'Doc' }, caps),
    ).toEqual([{ kind: 'text', text: 'Doc\nhttps://x/y.pdf' }]);
  });
});
