/**
 * Optional LLM fallback for turns NLP.js is unsure about: LangChain `ChatOpenAI` against any OpenAI-compatible
 * endpoint (`baseUrl`), with `withStructuredOutput` and a zod schema so the answer is an intent plus entities.
 * Every failure (timeout, HTTP error, refusal, unparsable answer) returns `undefined` and the caller keeps the
 * NLP.js result. LangChain is imported lazily, so a deployment without an LLM never loads it.
 *
 * Never call `getNumTokens()` here: LangChain's tokenizer downloads its ranks at run time. Non-streaming
 * `invoke` does not count tokens.
 */
import { z } from 'zod';
import type { Catalog, NluIntent } from '../contract.ts';
import { NLU_INTENTS, NOTICE_TOPICS } from '../contract.ts';
import { findEmail, findFolio, findPhone } from './folio.ts';
import type { WritableEntities } from './entities.ts';
import { fold } from './text.ts';

/** How to reach the model. */
export interface LlmOptions {
  /** OpenAI-compatible base URL, including `/v1` (e.g. `http://127.0.0.1:11434/v1`). */
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly model: string;
  /** Give up after this long and keep the NLP.js answer. Default 3000. */
  readonly timeoutMs?: number;
  /**
   * How to ask for structured output: `jsonSchema` (`response_format`, the default; OpenAI, vLLM, llama.cpp,
   * Ollama) or `functionCalling` (a forced tool call, for servers without JSON-schema support).
   */
  readonly method?: 'jsonSchema' | 'functionCalling';
}

/**
 * The structured answer asked of the model. Every property is required and nullable because LangChain sends
 * zod v4 schemas in OpenAI's strict JSON-schema mode, which rejects optional properties.
 */
export const LlmAnswerSchema = z.strictObject({
  intent: z.enum(NLU_INTENTS).describe('The main purpose of the message'),
  confidence: z.number().min(0).max(1).nullable().describe('How sure you are, 0..1'),
  entities: z.strictObject({
    category: z.string().nullable().describe('Complaint category id from the list, or null'),
    procedure: z.string().nullable().describe('Procedure id from the list, or null'),
    hotspot: z.string().nullable().describe('Hotspot id from the list, or null'),
    colonia: z.string().nullable().describe('Canonical colonia name from the list, or null'),
    address: z
      .string()
      .nullable()
      .describe('Street, number, crossing or place, copied verbatim, without the colonia; or null'),
    folio: z.string().nullable().describe('Case folio, e.g. VER-2026-000123, or null'),
    phone: z.string().nullable(),
    email: z.string().nullable(),
    topic: z.enum(NOTICE_TOPICS).nullable().describe('Notice topic when (un)subscribing, or null'),
  }),
});
/** See {@link LlmAnswerSchema}. */
export type LlmAnswer = z.infer<typeof LlmAnswerSchema>;

/** A validated LLM reading of one message. */
export interface LlmReading {
  readonly intent: NluIntent;
  readonly confidence: number;
  readonly entities: WritableEntities;
}

/** Minimal logger (pino-compatible). */
export interface NluLogger {
  debug?(obj: Record<string, unknown>, msg?: string): void;
  info?(obj: Record<string, unknown>, msg?: string): void;
  warn?(obj: Record<string, unknown>, msg?: string): void;
}

/** Reads one message with the LLM, or `undefined` on any failure. */
export interface LlmReader {
  /** Start loading LangChain in the background, so the first unsure turn does not pay for it. */
  warm(): void;
  read(text: string, lang: 'es' | 'en', signal?: AbortSignal): Promise<LlmReading | undefined>;
}

function systemPrompt(catalog: Catalog, folioPrefix: string): string {
  const cats = catalog.categories.map((c) => `${c.id}: ${c.name}`).join('; ');
  const procs = catalog.procedures.map((p) => `${p.id}: ${p.name}`).join('; ');
  const hots = catalog.hotspots.map((h) => `${h.id}: ${h.name}`).join('; ');
  const cols = catalog.colonias.map((c) => c.name).join('; ');
  return [
    `You classify messages that citizens send to the municipality of ${catalog.municipality} (Mexico), in Spanish or English.`,
    `Intents: ${NLU_INTENTS.join(', ')}.`,
    "Rules: the main purpose decides. Public wifi, CDAIE or community tower problems are hotspot_outage. Any violence against women, partner or family violence, sexual harassment or threats (also on behalf of someone else, or asking where to get help) is gender_violence_report. Asking how, where or how much for a municipal service is procedure_info; reporting something broken is file_complaint; asking about an earlier report is case_status. Passport, INE, CURP, driving licence, CFE/electricity, federal programmes and anything unrelated to the municipality are out_of_scope. Leaving a notice list is unsubscribe_notices; joining this conversation with the citizen's other channel (WhatsApp, Telegram, SMS, e-mail) is link_channel; cancel abandons the current conversation.",
    `Complaint categories: ${cats}.`,
    `Procedures: ${procs}.`,
    `Hotspots: ${hots}.`,
    `Colonias: ${cols}.`,
    `Folios look like ${folioPrefix}-YYYY-NNNNNN. Only fill entities that the message states; use ids exactly as listed.`,
  ].join('\n');
}

/** Build the reader. LangChain is loaded on first use. */
export function createLlmReader(opts: {
  llm: LlmOptions;
  catalog: Catalog;
  folioPrefix: string;
  log?: NluLogger | undefined;
}): LlmReader {
  const timeoutMs = opts.llm.timeoutMs ?? 3000;
  const system = systemPrompt(opts.catalog, opts.folioPrefix);
  const cats = new Set(opts.catalog.categories.map((c) => c.id));
  const procs = new Set(opts.catalog.procedures.map((p) => p.id));
  const hots = new Set(opts.catalog.hotspots.map((h) => h.id));
  const cols = new Map(opts.catalog.colonias.map((c) => [fold(c.name).text, c.name]));
  type Structured = { invoke(input: unknown, options?: { signal?: AbortSignal }): Promise<unknown> };
  let runnable: Promise<Structured> | undefined;

  const load = (): Promise<Structured> => {
    runnable ??= import('@langchain/openai').then(({ ChatOpenAI }) => {
      const model = new ChatOpenAI({
        model: opts.llm.model,
        apiKey: opts.llm.apiKey,
        configuration: { baseURL: opts.llm.baseUrl },
        temperature: 0,
        timeout: timeoutMs,
        // The fallback is the NLP.js answer: never retry (LangChain would back off for many seconds).
        maxRetries: 0,
        streaming: false,
      });
      return model.withStructuredOutput(LlmAnswerSchema, {
        name: 'nlu_reading',
        method: opts.llm.method ?? 'jsonSchema',
      }) as Structured;
    });
    return runnable;
  };

  const validate = (text: string, a: LlmAnswer): LlmReading => {
    const e = a.entities;
    const out: LlmReading['entities'] = {};
    if (e.category && cats.has(e.category)) out.category = e.category;
    if (e.procedure && procs.has(e.procedure)) out.procedure = e.procedure;
    if (e.hotspot && hots.has(e.hotspot)) out.hotspot = e.hotspot;
    const col = e.colonia ? cols.get(fold(e.colonia).text) : undefined;
    if (col) out.colonia = col;
    // The address must be the citizen's own words.
    if (e.address && e.address.length <= 200 && fold(text).text.includes(fold(e.address).text))
      out.address = e.address;
    const folio = e.folio ? findFolio(fold(e.folio).text, opts.folioPrefix) : undefined;
    if (folio) out.folio = folio.value;
    const phone = e.phone ? findPhone(fold(e.phone).text) : undefined;
    if (phone) out.phone = phone.value;
    const email = e.email ? findEmail(fold(e.email).text) : undefined;
    if (email) out.email = email.value;
    if (e.topic) out.topic = e.topic;
    return { intent: a.intent, confidence: a.confidence ?? 0.8, entities: out };
  };

  return {
    warm() {
      load().catch((err: unknown) =>
        opts.log?.warn?.(
          { err: err instanceof Error ? err.message : String(err) },
          'LLM client failed to load',
        ),
      );
    },
    async read(text, lang, signal) {
      const ac = new AbortController();
      const onAbort = (): void => ac.abort();
      signal?.addEventListener('abort', onAbort);
      let timer: NodeJS.Timeout | undefined;
      const started = performance.now();
      try {
        const r = await load();
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            ac.abort();
            reject(new Error(`LLM timeout after ${timeoutMs} ms`));
          }, timeoutMs);
        });
        const answer = await Promise.race([
          r.invoke(
            [
              { role: 'system', content: system },
              { role: 'user', content: `[${lang}] ${text}` },
            ],
            { signal: ac.signal },
          ),
          timeout,
        ]);
        const parsed = LlmAnswerSchema.safeParse(answer);
        if (!parsed.success) {
          opts.log?.warn?.(
            { code: 'LLM_INVALID_ANSWER' },
            'LLM answer did not match the schema; keeping NLP result',
          );
          return undefined;
        }
        opts.log?.debug?.({ ms: Math.round(performance.now() - started) }, 'LLM reading');
        return validate(text, parsed.data);
      } catch (err) {
        const timedOut = ac.signal.aborted && !signal?.aborted;
        opts.log?.warn?.(
          {
            code: timedOut ? 'LLM_TIMEOUT' : 'LLM_FAILED',
            ms: Math.round(performance.now() - started),
            err: err instanceof Error ? err.message : String(err),
          },
          'LLM fallback failed; keeping NLP result',
        );
        return undefined;
      } finally {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      }
    },
  };
}
