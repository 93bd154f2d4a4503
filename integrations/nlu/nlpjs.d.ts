/**
 * Minimal local types for the parts of NLP.js v4 that Ventanilla uses (the packages ship no declarations).
 * Only what `integrations/nlu/classifier.ts` calls is declared; widen it here when more is needed.
 */

declare module '@nlpjs/core' {
  /** The NLP.js dependency-injection container. */
  export interface NlpContainer {
    use(plugin: unknown): void;
    register(name: string, value: unknown, isSingleton?: boolean): void;
    registerConfiguration(tag: string, settings: Record<string, unknown>, overwrite?: boolean): void;
  }
  /** Build a container with the core plugins (normaliser, tokenizer, in-memory fs: no disk access). */
  export function containerBootstrap(settings?: Record<string, unknown>): NlpContainer;
}

declare module '@nlpjs/nlp' {
  import type { NlpContainer } from '@nlpjs/core';

  /** One intent score. */
  export interface NlpClassification {
    intent: string;
    score: number;
  }
  /** What `classify()` answers. */
  export interface NlpClassifyResult {
    locale?: string;
    intent?: string;
    score?: number;
    classifications: NlpClassification[];
  }
  /** The NLP.js pipeline: NLU manager, NER, NLG (we only use the NLU manager). */
  export class Nlp {
    constructor(settings: Record<string, unknown>);
    container: NlpContainer;
    addLanguage(locales: string | string[]): void;
    addDocument(locale: string, utterance: string, intent: string): void;
    train(): Promise<unknown>;
    classify(locale: string, utterance: string): Promise<NlpClassifyResult>;
    export(minified?: boolean): string;
    import(data: string): void;
  }
}

declare module '@nlpjs/lang-es' {
  /** Spanish tokenizer, stemmer, stopwords and normaliser. */
  export class LangEs {}
}

declare module '@nlpjs/lang-en' {
  /** English tokenizer, stemmer, stopwords and normaliser. */
  export class LangEn {}
}

declare module '@nlpjs/language' {
  /** One language guess. */
  export interface LanguageGuess {
    alpha3: string;
    alpha2: string;
    language: string;
    score: number;
  }
  /** Trigram language guesser (data bundled in the package). */
  export class Language {
    guess(utterance: string, allowList?: string[], limit?: number): LanguageGuess[];
  }
}
