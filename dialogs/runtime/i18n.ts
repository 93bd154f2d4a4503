/** i18next over `locales/`; es-MX is the source of truth and the fallback. */
import i18next from 'i18next';
import esMX from '../../locales/es-MX/dialogs.json' with { type: 'json' };
import en from '../../locales/en/dialogs.json' with { type: 'json' };
import { LOCALES } from '../contract.ts';
import type { Locale } from '../contract.ts';

/** Translate a key for a locale. */
export type Translate = (locale: Locale, key: string, params?: Record<string, string | number>) => string;

/** Build a translator (one i18next instance, no globals). */
export function createI18n(): Translate {
  const instance = i18next.createInstance();
  void instance.init({
    initAsync: false,
    resources: { 'es-MX': { dialogs: esMX }, en: { dialogs: en } },
    ns: ['dialogs'],
    defaultNS: 'dialogs',
    fallbackLng: 'es-MX',
    supportedLngs: [...LOCALES],
    interpolation: { escapeValue: false },
    returnNull: false,
  });
  const fixed = new Map(LOCALES.map((l) => [l, instance.getFixedT(l, 'dialogs')]));
  return (locale, key, params) => {
    const t = fixed.get(locale) ?? fixed.get('es-MX');
    if (!t) return key;
    return t(key, params ?? {});
  };
}

/** Pick our locale from a channel's hint (`en-US` → `en`; anything else → `es-MX`). */
export function pickLocale(hint: string | undefined): Locale {
  return hint && /^en\b/i.test(hint) ? 'en' : 'es-MX';
}
