/**
 * The scripted-conversation file format (`shared/design/conversation-tests.md`) as zod schemas, and loading of
 * script files and folders with errors that name the file and the field.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { NOTICE_TOPICS } from '../../integrations/contract.ts';

/** Channels a script can name. */
export const SCRIPT_CHANNELS = ['webchat', 'whatsapp', 'telegram', 'email', 'sms', 'ivr'] as const;
/** See {@link SCRIPT_CHANNELS}. */
export type ScriptChannel = (typeof SCRIPT_CHANNELS)[number];

const Level = z.enum(['must', 'should']);
const common = { level: Level, note: z.string().optional() };
const regex = z.string().refine((source) => {
  try {
    new RegExp(source, 'iu');
    return true;
  } catch {
    return false;
  }
}, 'is not a valid JavaScript regular expression');

/** Fields a case `where` may name (every one optional; `{}` matches every created case). */
export const CaseWhereSchema = z.strictObject({
  category: z.string().optional(),
  channel: z.string().optional(),
  colonia: z.string().optional(),
  address_contains: z.string().optional(),
  description_contains: z.string().optional(),
  has_location: z.boolean().optional(),
  location_near: z
    .strictObject({
      lat: z.number().min(-90).max(90),
      lon: z.number().min(-180).max(180),
      max_m: z.number().positive(),
    })
    .optional(),
  hotspot_id: z.string().optional(),
  phone: z
    .string()
    .regex(/^\d{10}$/, 'must be 10 national digits')
    .optional(),
  sensitive: z.boolean().optional(),
  queue: z.string().optional(),
  routing: z.enum(['standard', 'restricted']).optional(),
  visibility: z.enum(['public', 'restricted']).optional(),
  contact_preference: z.string().optional(),
});
/** See {@link CaseWhereSchema}. */
export type CaseWhere = z.infer<typeof CaseWhereSchema>;

/** Fields a subscription `where` may name. */
export const SubscriptionWhereSchema = z.strictObject({
  topic: z.string().optional(),
  colonia: z.string().optional(),
  channel: z.string().optional(),
  active: z.boolean().optional(),
});
/** See {@link SubscriptionWhereSchema}. */
export type SubscriptionWhere = z.infer<typeof SubscriptionWhereSchema>;

const QueueType = z.enum(['general', 'restricted']);

/** Every assertion kind of the format. */
export const AssertionSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('intent'), ...common, equals: z.string() }),
  z.strictObject({
    kind: z.literal('entity'),
    ...common,
    name: z.string(),
    equals: z.union([z.string(), z.number(), z.boolean()]),
  }),
  z
    .strictObject({
      kind: z.literal('bot_asks_for'),
      ...common,
      slot: z.string().optional(),
      slot_any_of: z.array(z.string()).min(1).optional(),
    })
    .refine((a) => (a.slot === undefined) !== (a.slot_any_of === undefined), {
      message: 'give exactly one of slot and slot_any_of',
    }),
  z.strictObject({ kind: z.literal('bot_does_not_ask_for'), ...common, slot: z.string() }),
  z.strictObject({ kind: z.literal('reply_contains_any'), ...common, values: z.array(z.string()).min(1) }),
  z.strictObject({
    kind: z.literal('reply_not_contains_any'),
    ...common,
    values: z.array(z.string()).min(1),
  }),
  z.strictObject({ kind: z.literal('reply_matches'), ...common, regex }),
  z.strictObject({ kind: z.literal('reply_not_matches'), ...common, regex }),
  z.strictObject({ kind: z.literal('reply_language'), ...common, equals: z.enum(['es', 'en']) }),
  z.strictObject({
    kind: z.literal('reply_contains_created_folio'),
    ...common,
    where: CaseWhereSchema.default({}),
  }),
  z.strictObject({ kind: z.literal('case_exists'), ...common, where: CaseWhereSchema }),
  z.strictObject({ kind: z.literal('case_absent'), ...common, where: CaseWhereSchema }),
  z.strictObject({
    kind: z.literal('case_count'),
    ...common,
    where: CaseWhereSchema,
    equals: z.number().int().min(0),
  }),
  z.strictObject({ kind: z.literal('case_unchanged'), ...common, folio: z.string() }),
  z
    .strictObject({
      kind: z.literal('no_status_claimed_for'),
      ...common,
      folio: z.string().optional(),
      dtmf_entry: z.string().optional(),
    })
    .refine((a) => (a.folio === undefined) !== (a.dtmf_entry === undefined), {
      message: 'give exactly one of folio and dtmf_entry',
    }),
  z.strictObject({ kind: z.literal('active_form'), ...common, equals: z.string().nullable() }),
  z.strictObject({
    kind: z.literal('handoff'),
    ...common,
    queue: z.string().optional(),
    queue_type: QueueType.optional(),
  }),
  z.strictObject({
    kind: z.literal('handoff_context_includes'),
    ...common,
    values: z.record(z.string(), z.unknown()),
  }),
  z.strictObject({
    kind: z.literal('in_queue'),
    ...common,
    queue_type: QueueType.optional(),
    queue: z.string().optional(),
  }),
  z.strictObject({
    kind: z.literal('not_in_queue'),
    ...common,
    queue_type: QueueType.optional(),
    queue: z.string().optional(),
  }),
  z.strictObject({
    kind: z.literal('subscription_active'),
    ...common,
    where: SubscriptionWhereSchema,
    equals: z.boolean(),
  }),
  z.strictObject({
    kind: z.literal('subscription_count'),
    ...common,
    where: SubscriptionWhereSchema,
    equals: z.number().int().min(0),
  }),
  z.strictObject({
    kind: z.literal('outbound_messages'),
    ...common,
    channel: z.string(),
    count: z.number().int().min(0),
  }),
]);
/** One assertion. */
export type Assertion = z.infer<typeof AssertionSchema>;
/** An assertion kind. */
export type AssertionKind = Assertion['kind'];

const INPUT_KEYS = ['text', 'speech', 'location', 'dtmf', 'dtmf_select', 'dtmf_invalid', 'event'] as const;
/** Input keys only an IVR script may use. */
const IVR_ONLY = new Set<string>(['dtmf', 'dtmf_select', 'dtmf_invalid', 'event']);

/** One citizen input (exactly one key; `caller_id` goes with `event: "call_start"`). */
export const InputSchema = z
  .strictObject({
    text: z.string().optional(),
    speech: z.string().optional(),
    location: z
      .strictObject({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) })
      .optional(),
    dtmf: z
      .string()
      .regex(/^[0-9*#]+$/, 'must be keypad digits')
      .optional(),
    dtmf_select: z
      .strictObject({
        option_matching: regex,
        fallback: z
          .string()
          .regex(/^[0-9*#]$/)
          .optional(),
      })
      .optional(),
    dtmf_invalid: z.strictObject({ not_offered: z.literal(true) }).optional(),
    event: z.enum(['call_start', 'hangup']).optional(),
    caller_id: z.string().optional(),
  })
  .superRefine((input, ctx) => {
    const given = INPUT_KEYS.filter((k) => input[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `give exactly one input key of ${INPUT_KEYS.join(', ')} (got ${given.length ? given.join(', ') : 'none'})`,
      });
    }
    if (input.caller_id !== undefined && input.event !== 'call_start') {
      ctx.addIssue({ code: 'custom', path: ['caller_id'], message: 'only goes with event "call_start"' });
    }
  });
/** See {@link InputSchema}. */
export type Input = z.infer<typeof InputSchema>;

/** A case that exists before the conversation starts. */
export const ExistingCaseSchema = z.object({
  folio: z.string().regex(/^[A-Z]{2,6}-\d{4}-\d{6,}$/, 'must look like VER-2026-000123'),
  category: z.string(),
  status: z.string(),
  status_label: z.string().optional(),
  department: z.string().optional(),
  created_at: z.iso.datetime({ offset: true }),
  reporter_channel_id: z.string().optional(),
  address: z.string().nullable().optional(),
  colonia: z.string().nullable().optional(),
  description: z.string().optional(),
  lat: z.number().min(-90).max(90).optional(),
  lon: z.number().min(-180).max(180).optional(),
  /** A `wifi_publico` case linked to the open incident of this hotspot (the incident is opened if needed). */
  hotspot_id: z.string().optional(),
  contact_preference: z.string().optional(),
});
/** See {@link ExistingCaseSchema}. */
export type ExistingCase = z.infer<typeof ExistingCaseSchema>;

/** A subscription that exists before the conversation starts (the citizen's, unless `channel_id` says whose). */
export const ExistingSubscriptionSchema = z.object({
  topic: z.enum(NOTICE_TOPICS),
  colonia: z.string().default(''),
  active: z.boolean().default(true),
  channel_id: z.string().optional(),
});
/** See {@link ExistingSubscriptionSchema}. */
export type ExistingSubscription = z.infer<typeof ExistingSubscriptionSchema>;

/** One scripted conversation. */
export const ScriptSchema = z
  .object({
    id: z.string().min(1),
    title: z.string().optional(),
    channel: z.enum(SCRIPT_CHANNELS),
    locale: z.string().regex(/^(es|en)(-[A-Z]{2})?$/, 'must be es-MX or en'),
    covers: z.array(z.string()).default([]),
    context: z.object({
      now: z.iso.datetime({ offset: true }),
      municipality: z.string().optional(),
      shared_data: z.array(z.string()).optional(),
      citizen: z.object({ channel_id: z.string().min(1) }),
      existing_cases: z.array(ExistingCaseSchema).default([]),
      existing_subscriptions: z.array(ExistingSubscriptionSchema).default([]),
    }),
    turns: z
      .array(
        z.object({
          n: z.number().int().positive(),
          citizen: InputSchema,
          expect: z.array(AssertionSchema).default([]),
          note: z.string().optional(),
        }),
      )
      .min(1),
    final: z.array(AssertionSchema).default([]),
    notes: z.string().optional(),
  })
  .superRefine((script, ctx) => {
    script.turns.forEach((turn, i) => {
      const previous = script.turns[i - 1];
      if (previous && turn.n <= previous.n) {
        ctx.addIssue({ code: 'custom', path: ['turns', i, 'n'], message: 'turn numbers must increase' });
      }
      if (script.channel !== 'ivr') {
        for (const key of Object.keys(turn.citizen)) {
          if (IVR_ONLY.has(key)) {
            ctx.addIssue({
              code: 'custom',
              path: ['turns', i, 'citizen', key],
              message: `is an IVR input; this script's channel is ${script.channel}`,
            });
          }
        }
      }
    });
  });
/** A parsed script. */
export type Script = z.infer<typeof ScriptSchema>;
/** One turn of a script. */
export type ScriptTurn = Script['turns'][number];

/** A script with the file it came from. */
export interface LoadedScript {
  readonly file: string;
  readonly script: Script;
}

/** The outcome of loading: the valid scripts and one message per invalid file. */
export interface LoadResult {
  readonly scripts: LoadedScript[];
  readonly errors: string[];
}

/** Parse one script's JSON text; errors name the file and each failing field. */
export function parseScript(file: string, text: string): LoadedScript | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { error: `${file}: not valid JSON (${(err as Error).message})` };
  }
  const parsed = ScriptSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    return { error: `${file}: ${issues.join('; ')}` };
  }
  return { file, script: parsed.data };
}

function listJson(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) =>
      e.isDirectory() ? listJson(join(path, e.name)) : e.name.endsWith('.json') ? [join(path, e.name)] : [],
    );
}

/**
 * Load scripts from files and folders (folders are searched for `*.json`, sorted by name). File names are reported
 * relative to `cwd`.
 */
export function loadScripts(paths: readonly string[], cwd: string = process.cwd()): LoadResult {
  const scripts: LoadedScript[] = [];
  const errors: string[] = [];
  const ids = new Map<string, string>();
  for (const path of paths) {
    let files: string[];
    try {
      files = listJson(path);
    } catch (err) {
      errors.push(
        `${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (err as Error).message}`,
      );
      continue;
    }
    for (const abs of files) {
      const file = relative(cwd, abs) || abs;
      const loaded = parseScript(file, readFileSync(abs, 'utf8'));
      if ('error' in loaded) {
        errors.push(loaded.error);
        continue;
      }
      const seen = ids.get(loaded.script.id);
      if (seen) errors.push(`${file}: id: "${loaded.script.id}" is also the id of ${seen}`);
      else ids.set(loaded.script.id, file);
      scripts.push(loaded);
    }
  }
  return { scripts, errors };
}
