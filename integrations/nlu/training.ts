/**
 * Labelled utterances in JSON lines (`{"text","intent","entities","lang"}`, see `shared/data/README.md`): the
 * training files under `locales/<lang>/utterances.jsonl`, held-out files, and anything `npm run nlu -- eval`
 * reads.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { IntegrationError, NLU_INTENTS, NOTICE_TOPICS } from '../contract.ts';

/** One labelled utterance. */
export const UtteranceSchema = z.object({
  text: z.string(),
  intent: z.enum(NLU_INTENTS),
  entities: z
    .object({
      category: z.string().optional(),
      categories: z.array(z.string()).optional(),
      procedure: z.string().optional(),
      hotspot: z.string().optional(),
      colonia: z.string().optional(),
      address: z.string().optional(),
      folio: z.string().optional(),
      phone: z.string().optional(),
      email: z.string().optional(),
      topic: z.enum(NOTICE_TOPICS).optional(),
    })
    .strict()
    .default({}),
  lang: z.enum(['es', 'en', 'mixed']),
});
/** See {@link UtteranceSchema}. */
export type Utterance = z.infer<typeof UtteranceSchema>;

/** Parse JSON-lines text; every problem names the file and line. */
export function parseUtterances(text: string, file: string): Utterance[] {
  const out: Utterance[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    const line = (lines[i] ?? '').trim();
    if (!line) continue;
    let data: unknown;
    try {
      data = JSON.parse(line);
    } catch (cause) {
      throw new IntegrationError(
        'CATALOG_INVALID',
        `Utterance file ${file} line ${i + 1} is not valid JSON`,
        {
          cause,
        },
      );
    }
    const parsed = UtteranceSchema.safeParse(data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new IntegrationError(
        'CATALOG_INVALID',
        `Utterance file ${file} line ${i + 1} is invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? ''}`,
      );
    }
    out.push(parsed.data);
  }
  return out;
}

/** Read and validate a JSON-lines utterance file. */
export async function readUtterances(file: string): Promise<{ utterances: Utterance[]; raw: string }> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (cause) {
    throw new IntegrationError('CATALOG_INVALID', `Utterance file ${file} cannot be read`, { cause });
  }
  return { utterances: parseUtterances(raw, file), raw };
}
