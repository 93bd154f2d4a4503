/**
 * The dialog engine: loads versioned state, applies global commands (menu, cancel, help), resumes the open flow
 * or starts one from what the citizen said, and returns the new state. State from another deploy's format is
 * detected by its version and discarded, never misread.
 */
import type { Outbound } from '../../channels/contract.ts';
import type { CaseRecord, Catalog, ConversationRecord, NewCase } from '../../integrations/contract.ts';
import { DIALOG_IDS } from '../contract.ts';
import type {
  DialogId,
  DialogResult,
  Locale,
  TurnContext,
  TurnTrace,
  Understanding,
  UserInput,
} from '../contract.ts';
import type { Flow } from '../flows/index.ts';
import { menu } from '../flows/index.ts';
import type { Translate } from './i18n.ts';
import { understand } from './understand.ts';

/** Bump when the shape of {@link DialogState} or of any flow's slots changes incompatibly. */
export const STATE_VERSION = 1;

/** What is persisted per conversation. */
export interface DialogState {
  readonly v: number;
  readonly dialog: DialogId | null;
  readonly slots: Record<string, unknown>;
  /** Ids of the choices offered last, so a numeric reply ("2") on text-only channels selects one. */
  readonly choices?: readonly string[];
}

const EMPTY: DialogState = { v: STATE_VERSION, dialog: null, slots: {} };

/** Parse stored state; anything not of this version is reported stale. */
export function readState(raw: unknown): { state: DialogState; stale: boolean } {
  if (raw == null) return { state: EMPTY, stale: false };
  const s = raw as Partial<DialogState>;
  const ok =
    typeof raw === 'object' &&
    s.v === STATE_VERSION &&
    (s.dialog === null ||
      (typeof s.dialog === 'string' && (DIALOG_IDS as readonly string[]).includes(s.dialog))) &&
    typeof s.slots === 'object' &&
    s.slots !== null;
  return ok ? { state: s as DialogState, stale: false } : { state: EMPTY, stale: true };
}

/** Dependencies of the engine. */
export interface EngineDeps {
  readonly flows: { [K in DialogId]: Flow };
  readonly catalog: Catalog;
  readonly t: Translate;
  readonly folioPrefix: string;
}

/** Turn-scoped I/O the engine hands to flows (backed by the turn's transaction). */
export interface TurnIO {
  createCase(input: NewCase): Promise<CaseRecord>;
  findCase(folio: string): Promise<CaseRecord | null>;
}

/** Outcome of one engine turn. */
export interface EngineTurn {
  readonly state: DialogState;
  readonly outbound: Outbound[];
  readonly trace: TurnTrace;
  readonly result: DialogResult;
  readonly stale: boolean;
}

const FORM_NAMES: Partial<Record<DialogId, string>> = {
  'file-complaint': 'file_complaint',
  'case-status': 'case_status',
};

const routeChoice: Record<string, DialogId> = {
  'menu:file-complaint': 'file-complaint',
  'menu:case-status': 'case-status',
};

/** Run one turn of the dialog engine. */
export async function runEngine(
  deps: EngineDeps,
  conversation: ConversationRecord,
  locale: Locale,
  now: Date,
  input: UserInput,
  io: TurnIO,
): Promise<EngineTurn> {
  const { state: loaded, stale } = readState(conversation.state);
  const outbound: Outbound[] = [];
  const trace: TurnTrace = { statusReported: [], casesCreated: [] };
  let dialog: DialogId | null = loaded.dialog;
  let slots: Record<string, unknown> = structuredClone(loaded.slots);

  const ctx = (): TurnContext => ({
    locale,
    now,
    catalog: deps.catalog,
    conversation,
    contactId: conversation.contactId,
    t: (key, params) => deps.t(locale, key, params),
    say: (o) => outbound.push(o),
    slots,
    trace,
    createCase: async (input) => {
      const created = await io.createCase({
        ...input,
        contactId: conversation.contactId,
        conversationId: conversation.id,
        channel: conversation.channel,
      });
      trace.casesCreated.push(created.folio);
      return created;
    },
    findCase: (folio) => io.findCase(folio),
  });

  if (stale) outbound.push({ kind: 'text', text: deps.t(locale, 'main-menu-stale-text') });

  const start = async (
    id: DialogId,
    u: Understanding,
    preset: Record<string, unknown> = {},
  ): Promise<DialogResult> => {
    dialog = id;
    slots = { ...preset };
    return deps.flows[id].begin(ctx(), u);
  };

  const picked = input.kind === 'text' ? /^\s*(\d{1,2})\s*$/.exec(input.text) : null;
  const pickedId = picked ? loaded.choices?.[Number(picked[1]) - 1] : undefined;
  if (pickedId && input.kind === 'text') input = { kind: 'choice', choiceId: pickedId, text: input.text };
  const text = input.kind === 'text' ? input.text : undefined;
  const u: Understanding =
    text !== undefined
      ? understand(text, deps.catalog, deps.folioPrefix)
      : { intent: 'unknown', entities: {} };
  trace.intent = u.intent;

  let result: DialogResult;
  const sensitive = u.entities.category
    ? deps.catalog.categories.find((c) => c.id === u.entities.category)?.sensitive
    : false;

  if (sensitive) {
    // Safety first: emergency guidance at once, whatever was going on (the restricted flow builds on this).
    outbound.push({ kind: 'text', text: deps.t(locale, 'main-menu-emergency-text') });
    dialog = null;
    slots = {};
    result = { status: 'complete' };
  } else if (u.intent === 'menu' || u.intent === 'cancel') {
    const wasOpen = dialog !== null && dialog !== 'main-menu';
    dialog = null;
    slots = {};
    outbound.push(
      menu(ctx(), u.intent === 'cancel' && wasOpen ? 'main-menu-cancelled-text' : 'main-menu-welcome-text'),
    );
    result = { status: 'complete' };
  } else if (u.intent === 'help' && dialog) {
    // Help mid-form: answer, then ask the same question again.
    outbound.push({ kind: 'text', text: deps.t(locale, 'main-menu-help-text') });
    deps.flows[dialog].reprompt?.(ctx());
    result = { status: 'waiting' };
  } else if (dialog) {
    result = await deps.flows[dialog].resume(ctx(), input);
  } else if (input.kind === 'choice' && routeChoice[input.choiceId]) {
    result = await start(routeChoice[input.choiceId]!, { intent: 'unknown', entities: {} });
  } else if (u.intent === 'file_complaint' || input.kind === 'media') {
    // A photo on its own starts a complaint with the photo attached.
    result = await start('file-complaint', u, input.kind === 'media' ? { photo: input.mediaIds } : {});
  } else if (u.intent === 'case_status') {
    result = await start('case-status', u);
  } else {
    result = await deps.flows['main-menu'].begin(ctx(), u);
    dialog = null;
  }

  if (result.status !== 'waiting') {
    if (result.status === 'failed') outbound.push(menu(ctx(), 'main-menu-options-prompt'));
    dialog = null;
    slots = {};
  }
  trace.activeForm = dialog ? (FORM_NAMES[dialog] ?? null) : null;
  if (!dialog) trace.awaiting = null;
  const lastChoices = outbound.findLast((o) => o.kind === 'choices');
  const choices = lastChoices?.kind === 'choices' ? lastChoices.choices.map((c) => c.id) : undefined;
  return {
    state: { v: STATE_VERSION, dialog, slots, ...(choices ? { choices } : {}) },
    outbound,
    trace,
    result,
    stale,
  };
}
