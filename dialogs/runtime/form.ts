/**
 * Slot-filling forms: ask for each missing slot in turn, validate, re-prompt with an attempt count, confirm,
 * complete. A flow declares its slots; the form keeps its bookkeeping in `ctx.slots` under `_awaiting`/`_attempts`.
 */
import type { Outbound } from '../../channels/contract.ts';
import type { Dialog, DialogId, DialogResult, TurnContext, Understanding, UserInput } from '../contract.ts';
import { normalize, yesNo } from './understand.ts';

/** Result of parsing one answer. `error` is a locale key for the re-prompt. */
export type SlotParse =
  { ok: true; value: unknown } | { ok: false; error: string; params?: Record<string, string | number> };

/** One piece of data a form collects. */
export interface SlotSpec {
  /** Slot name, as reported in the trace (`category`, `description`, `location`, …). */
  readonly name: string;
  /** Look something up before deciding whether the slot applies (runs each time the form moves on). */
  prepare?(ctx: TurnContext): Promise<void>;
  /** Whether the slot applies given what is known so far (default: always). */
  when?(ctx: TurnContext): boolean;
  /** The question. */
  ask(ctx: TurnContext): Outbound;
  /** Parse an answer. */
  parse(input: UserInput, ctx: TurnContext): SlotParse | Promise<SlotParse>;
  /** An optional slot may be skipped ("omitir", "no", the `skip` choice); it then holds `skippedValue`. */
  readonly optional?: { readonly skippedValue: unknown };
}

/** The choice id that skips an optional question. */
export const SKIP_CHOICE = 'skip';

/** A form definition. */
export interface FormSpec {
  readonly id: DialogId;
  readonly slots: readonly SlotSpec[];
  /** Fill slots from what the opening message already said. */
  prefill?(ctx: TurnContext, understanding: Understanding): void;
  /** The confirmation question, shown once every slot is filled; omit (or return null) for no confirmation. */
  confirm?(ctx: TurnContext): Outbound | null;
  /** Do the work once confirmed. */
  complete(ctx: TurnContext): Promise<DialogResult>;
  /** Said when the citizen declines the confirmation. */
  readonly cancelledKey: string;
  /** Locale key for an unclear yes/no. */
  readonly confirmInvalidKey?: string;
  /**
   * The slot that takes photos. A photo sent while another question is open is kept there (and acknowledged with
   * `mediaReceivedKey`) instead of being refused.
   */
  readonly mediaSlot?: string;
  readonly mediaReceivedKey?: string;
}

const SKIP_WORDS =
  /^(omitir|omite|saltar|salta|no|sin fotos?|no tengo( fotos?| una foto)?|no traigo fotos?|ninguna|skip|no thanks|no photos?|no picture|i don.?t have (one|a photo)|none)$/;

/** Attempts at one question before the form gives up. */
export const MAX_ATTEMPTS = 3;
const CONFIRMATION = 'confirmation';

/** A form: a dialog that can also repeat its question, take corrections and say what it is waiting for. */
export interface Form extends Dialog {
  /** Ask the current question again. */
  reprompt(ctx: TurnContext): void;
  /** The slot (or `confirmation`) the form is waiting for. */
  awaiting(ctx: TurnContext): string | null;
  /** Whether `input` would be accepted as the answer to the current question (no side effects). */
  accepts(ctx: TurnContext, input: UserInput): Promise<boolean>;
  /** Replace an already-given slot ("no, la dirección es otra: …") and carry on. */
  correct(ctx: TurnContext, slot: string, input: UserInput): Promise<DialogResult | undefined>;
  /** The slot names, in order. */
  readonly slotNames: readonly string[];
}

/** Build a {@link Form} from a {@link FormSpec}. */
export function defineForm(spec: FormSpec): Form {
  const filled = (ctx: TurnContext, name: string) =>
    ctx.slots[name] !== undefined && ctx.slots[name] !== null;

  const next = async (ctx: TurnContext): Promise<DialogResult> => {
    for (const slot of spec.slots) {
      await slot.prepare?.(ctx);
      if (slot.when && !slot.when(ctx)) continue;
      if (filled(ctx, slot.name)) continue;
      ctx.slots._awaiting = slot.name;
      ctx.slots._attempts = 0;
      ctx.say(slot.ask(ctx));
      ctx.trace.awaiting = slot.name;
      return { status: 'waiting' };
    }
    const confirmation = ctx.slots._confirmed !== true ? (spec.confirm?.(ctx) ?? null) : null;
    if (confirmation) {
      ctx.slots._awaiting = CONFIRMATION;
      ctx.slots._attempts = 0;
      ctx.say(confirmation);
      ctx.trace.awaiting = CONFIRMATION;
      return { status: 'waiting' };
    }
    ctx.slots._awaiting = null;
    ctx.trace.awaiting = null;
    return spec.complete(ctx);
  };

  const failed = (
    ctx: TurnContext,
    error: string,
    params?: Record<string, string | number>,
  ): DialogResult => {
    const attempts = Number(ctx.slots._attempts ?? 0) + 1;
    ctx.slots._attempts = attempts;
    if (attempts >= MAX_ATTEMPTS) {
      ctx.trace.awaiting = null;
      return { status: 'failed', error: 'too-many-attempts' };
    }
    ctx.say({ kind: 'text', text: ctx.t(error, params) });
    reprompt(ctx);
    return { status: 'waiting' };
  };

  const reprompt = (ctx: TurnContext): void => {
    const awaiting = ctx.slots._awaiting;
    const confirmation = awaiting === CONFIRMATION ? (spec.confirm?.(ctx) ?? null) : null;
    if (confirmation) ctx.say(confirmation);
    else {
      const slot = spec.slots.find((s) => s.name === awaiting);
      if (slot) ctx.say(slot.ask(ctx));
    }
    ctx.trace.awaiting = typeof awaiting === 'string' ? awaiting : null;
  };

  return {
    id: spec.id,
    reprompt,
    slotNames: spec.slots.map((s) => s.name),
    awaiting: (ctx) => (typeof ctx.slots._awaiting === 'string' ? ctx.slots._awaiting : null),
    async accepts(ctx, input) {
      const awaiting = ctx.slots._awaiting;
      if (awaiting === CONFIRMATION) {
        return (
          (input.kind === 'choice' && ['yes', 'no'].includes(input.choiceId)) ||
          (input.kind === 'text' && yesNo(input.text) !== undefined)
        );
      }
      const slot = spec.slots.find((s) => s.name === awaiting);
      if (!slot) return false;
      if (input.kind === 'media') return slot.name === spec.mediaSlot;
      if (slot.optional && input.kind === 'choice' && input.choiceId === SKIP_CHOICE) return true;
      if (slot.optional && input.kind === 'text' && SKIP_WORDS.test(normalize(input.text))) return true;
      return (await slot.parse(input, ctx)).ok;
    },
    async correct(ctx, name, input) {
      const slot = spec.slots.find((s) => s.name === name);
      if (!slot || (slot.when && !slot.when(ctx))) return undefined;
      const parsed = await slot.parse(input, ctx);
      if (!parsed.ok) return undefined;
      ctx.slots[name] = parsed.value;
      ctx.slots._confirmed = false;
      ctx.say({ kind: 'text', text: ctx.t('main-menu-corrected-text') });
      return next(ctx);
    },
    async begin(ctx, understanding) {
      spec.prefill?.(ctx, understanding);
      return next(ctx);
    },
    async resume(ctx, input) {
      const awaiting = ctx.slots._awaiting;
      if (awaiting === CONFIRMATION) {
        const answer =
          input.kind === 'choice'
            ? input.choiceId === 'yes'
            : input.kind === 'text'
              ? yesNo(input.text)
              : undefined;
        if (answer === undefined) return failed(ctx, spec.confirmInvalidKey ?? 'main-menu-unknown-text');
        if (!answer) {
          ctx.say({ kind: 'text', text: ctx.t(spec.cancelledKey) });
          ctx.trace.awaiting = null;
          return { status: 'complete', output: { cancelled: true } };
        }
        ctx.slots._confirmed = true;
        return next(ctx);
      }
      const slot = spec.slots.find((s) => s.name === awaiting);
      if (!slot) return next(ctx);
      if (input.kind === 'media' && slot.name !== spec.mediaSlot) {
        if (spec.mediaSlot && spec.mediaReceivedKey) {
          ctx.slots[spec.mediaSlot] = input.mediaIds;
          ctx.say({ kind: 'text', text: ctx.t(spec.mediaReceivedKey) });
        } else {
          ctx.say({ kind: 'text', text: ctx.t('errors-media-unsupported') });
        }
        reprompt(ctx);
        return { status: 'waiting' };
      }
      const skipped =
        slot.optional &&
        ((input.kind === 'choice' && input.choiceId === SKIP_CHOICE) ||
          (input.kind === 'text' && SKIP_WORDS.test(normalize(input.text))));
      if (skipped) {
        ctx.slots[slot.name] = slot.optional.skippedValue;
        return next(ctx);
      }
      const parsed = await slot.parse(input, ctx);
      if (!parsed.ok) return failed(ctx, parsed.error, parsed.params);
      ctx.slots[slot.name] = parsed.value;
      return next(ctx);
    },
  };
}
