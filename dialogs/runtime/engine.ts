/**
 * The dialog engine: loads versioned state, applies the built-in repair patterns (menu, cancel with confirmation,
 * help, repeat, correction, topic change with an offer to resume, hand-off offer after repeated failures), resumes
 * the open flow or starts one from what the citizen said, and returns the new state. State from another deploy's
 * format is detected by its version and discarded, never misread.
 */
import type { Outbound } from '../../channels/contract.ts';
import type {
  CaseRecord,
  Catalog,
  ConversationRecord,
  NewCase,
  NluIntent,
} from '../../integrations/contract.ts';
import { DIALOG_IDS } from '../contract.ts';
import type {
  ConversationMemory,
  DialogId,
  DialogResult,
  DialogSettings,
  Locale,
  TurnContext,
  TurnTrace,
  Understanding,
  UserInput,
} from '../contract.ts';
import type { Flow } from '../flows/index.ts';
import { isProcedureFollowUp, menu } from '../flows/index.ts';
import type { Translate } from './i18n.ts';
import { normalize, yesNo } from './understand.ts';

/** Bump when the shape of {@link DialogState} or of any flow's slots changes incompatibly. */
export const STATE_VERSION = 2;

/** A meta-question the engine itself asked and is waiting for. */
type Pending = 'cancel-confirm' | 'resume-offer' | 'handoff-offer';

/** What is persisted per conversation. */
export interface DialogState {
  readonly v: number;
  readonly dialog: DialogId | null;
  readonly slots: Record<string, unknown>;
  /** Ids of the choices offered last, so a numeric reply ("2") on text-only channels selects one. */
  readonly choices?: readonly string[];
  /** A form put aside by a topic change, offered back when the new request is done. */
  readonly suspended?: { readonly dialog: DialogId; readonly slots: Record<string, unknown> } | null;
  readonly pending?: Pending | null;
  readonly memory?: ConversationMemory;
}

const EMPTY: DialogState = { v: STATE_VERSION, dialog: null, slots: {} };

/** Parse stored state; anything not of this version is reported stale. */
export function readState(raw: unknown): { state: DialogState; stale: boolean } {
  if (raw == null) return { state: EMPTY, stale: false };
  const s = raw as Partial<DialogState>;
  const known = (d: unknown) =>
    d === null || (typeof d === 'string' && (DIALOG_IDS as readonly string[]).includes(d));
  const ok =
    typeof raw === 'object' &&
    s.v === STATE_VERSION &&
    known(s.dialog) &&
    typeof s.slots === 'object' &&
    s.slots !== null &&
    (s.suspended == null || known(s.suspended.dialog));
  return ok ? { state: s as DialogState, stale: false } : { state: EMPTY, stale: true };
}

/**
 * State after the citizen finished `dialog` outside the engine (e.g. Telegram's shared phone ends `link-channel`):
 * that form is closed, anything else is kept as it was.
 */
export function closeDialog(raw: unknown, dialog: DialogId): unknown {
  const { state, stale } = readState(raw);
  if (stale || state.dialog !== dialog) return raw;
  return { ...state, dialog: null, slots: {}, choices: undefined };
}

/** Dependencies of the engine. */
export interface EngineDeps {
  readonly flows: { [K in DialogId]: Flow };
  readonly catalog: Catalog;
  readonly t: Translate;
  readonly settings: DialogSettings;
}

/** Turn-scoped I/O the engine hands to flows (backed by the turn's transaction). */
export type TurnIO = Pick<
  TurnContext,
  | 'findCase'
  | 'findOpenCasesNear'
  | 'followCase'
  | 'joinIncident'
  | 'myCases'
  | 'subscribe'
  | 'unsubscribe'
  | 'mySubscriptions'
  | 'recentMessages'
  | 'startLink'
  | 'confirmLink'
> & {
  /** Unlike the flow's `createCase`, takes the conversation's own fields too (the engine adds them). */
  createCase(input: NewCase): Promise<CaseRecord>;
};

/** Outcome of one engine turn. */
export interface EngineTurn {
  readonly state: DialogState;
  readonly outbound: Outbound[];
  readonly trace: TurnTrace;
  readonly result: DialogResult;
  readonly stale: boolean;
  /** Whether this turn showed the privacy notice (first reply to a new contact). */
  readonly privacyNoticeShown: boolean;
}

/** The form names conversation tests use (`active_form`). */
export const FORM_NAMES: Record<DialogId, string | null> = {
  'main-menu': null,
  'file-complaint': 'file_complaint',
  'case-status': 'case_status',
  'hotspot-outage': 'hotspot_outage',
  'procedure-info': 'procedure_info',
  'gender-violence-report': 'gender_violence_report',
  'talk-to-agent': 'talk_to_agent',
  'subscribe-notices': 'subscribe_notices',
  'unsubscribe-notices': 'unsubscribe_notices',
  'link-channel': 'link_channel',
};

const INTENT_FLOW: Partial<Record<NluIntent, DialogId>> = {
  file_complaint: 'file-complaint',
  case_status: 'case-status',
  hotspot_outage: 'hotspot-outage',
  procedure_info: 'procedure-info',
  gender_violence_report: 'gender-violence-report',
  talk_to_agent: 'talk-to-agent',
  subscribe_notices: 'subscribe-notices',
  unsubscribe_notices: 'unsubscribe-notices',
  link_channel: 'link-channel',
};

/** Confidence above which a different request in the middle of a form is taken as a topic change. */
const TOPIC_CHANGE_CONFIDENCE = 0.75;

const MENU_RE =
  /^(menu|menu principal|inicio|empezar de nuevo|volver a empezar|start over|main menu|restart)$/;
const REPEAT_RE =
  /^(repite|repitelo|repitemelo|otra vez|de nuevo la pregunta|no entendi la pregunta|cual era la pregunta|repeat|say (that )?again|repeat the question)$/;
const CANCEL_RE =
  /^(cancelar|cancela|cancelalo|cancelo|ya no|olvidalo|dejalo|mejor no|cancel|cancel it|never ?mind|forget it)$/;
const STOP_RE = /^(stop|baja|unsubscribe|stopall|parar|detener)$/;
const START_RE = /^(alta|start|unstop|subscribe)$/;
const SLOT_WORD =
  'direccion|ubicacion|domicilio|calle|descripcion|categoria|tipo|colonia|folio|address|location|description|category|numero|telefono|correo|number|phone|email';
// A correction names the slot and says it is wrong ("no, la dirección es otra: …", "perdón, la colonia es Centro").
const CORRECTION_RE = new RegExp(
  `^\\s*(?:(?:no|perdon|mejor|corrijo|correccion|sorry|actually|wait)[,.]?\\s+)(?:la |el |mi |the |my )?(${SLOT_WORD})\\b\\s*(?:es|era|correcta es|is|should be)?\\s*(?:otra|otro|another|different|wrong)?\\s*[:,-]?\\s*(.+)$|^(?:la |el |mi |the |my )?(${SLOT_WORD})\\s+(?:es|era|is) (?:otra|otro|another|different)\\s*[:,-]?\\s*(.+)$`,
  'd',
);
const WHERE_CORRECTION_RE = /^\s*no[,.]?\s+(?:es|esta|queda|fue) (?:en|sobre) (.+)$/d;

/** Lowercase without accents, keeping every other character so positions match the original text. */
const fold = (text: string) =>
  text
    .normalize('NFC')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();
const SLOT_WORDS: Record<string, string> = {
  direccion: 'location',
  ubicacion: 'location',
  domicilio: 'location',
  calle: 'location',
  colonia: 'location',
  address: 'location',
  location: 'location',
  descripcion: 'description',
  description: 'description',
  categoria: 'category',
  tipo: 'category',
  category: 'category',
  folio: 'folio',
  // The phone or e-mail of the channel to link (link-channel); other forms have no such slot.
  numero: 'target',
  telefono: 'target',
  correo: 'target',
  number: 'target',
  phone: 'target',
  email: 'target',
};

/** Run one turn of the dialog engine. */
export async function runEngine(
  deps: EngineDeps,
  conversation: ConversationRecord,
  locale: Locale,
  now: Date,
  rawInput: UserInput,
  understanding: Understanding | null,
  io: TurnIO,
): Promise<EngineTurn> {
  const { state: loaded, stale } = readState(conversation.state);
  const outbound: Outbound[] = [];
  const trace: TurnTrace = { statusReported: [], casesCreated: [], handoff: null };
  let dialog: DialogId | null = loaded.dialog;
  let slots: Record<string, unknown> = structuredClone(loaded.slots);
  let suspended = loaded.suspended ? structuredClone(loaded.suspended) : null;
  let pending: Pending | null = loaded.pending ?? null;
  const memory: ConversationMemory = structuredClone(loaded.memory ?? {});
  const t = (key: string, params?: Record<string, string | number>) => deps.t(locale, key, params);
  const say = (text: string) => outbound.push({ kind: 'text', text });

  const ctx = (): TurnContext => ({
    locale,
    now,
    catalog: deps.catalog,
    conversation,
    contactId: conversation.contactId,
    channel: conversation.channel,
    settings: deps.settings,
    memory,
    understanding: u,
    text: input.kind === 'text' ? input.text : null,
    t,
    say: (o) => outbound.push(o),
    slots,
    trace,
    createCase: async (input) => {
      const created = await io.createCase({
        ...input,
        openedAt: now,
        contactId: conversation.contactId,
        conversationId: conversation.id,
        channel: conversation.channel,
      });
      trace.casesCreated.push(created.folio);
      memory.folio = created.folio;
      return created;
    },
    findCase: io.findCase,
    findOpenCasesNear: io.findOpenCasesNear,
    followCase: io.followCase,
    joinIncident: io.joinIncident,
    myCases: io.myCases,
    subscribe: io.subscribe,
    unsubscribe: io.unsubscribe,
    mySubscriptions: io.mySubscriptions,
    recentMessages: io.recentMessages,
    startLink: io.startLink,
    confirmLink: io.confirmLink,
  });

  if (stale) say(t('main-menu-stale-text'));

  // A number answers the last choices on channels that show them as numbered text.
  let input: UserInput = rawInput;
  const picked = input.kind === 'text' ? /^\s*(\d{1,2})\s*$/.exec(input.text) : null;
  const pickedId = picked ? loaded.choices?.[Number(picked[1]) - 1] : undefined;
  if (pickedId && input.kind === 'text') input = { kind: 'choice', choiceId: pickedId, text: input.text };

  const u = input.kind === 'text' ? understanding : null;
  const text = input.kind === 'text' ? normalize(input.text) : '';
  if (u) {
    trace.intent = u.intent;
    trace.nlu = {
      intent: u.intent,
      confidence: u.confidence,
      entities: { ...u.entities },
      language: u.language,
    };
  } else if (input.kind === 'choice') {
    trace.intent = `choice:${input.choiceId}`;
  }

  const abandon = () => {
    if (dialog && dialog !== 'main-menu') memory.lastForm = { dialog, slots: publicSlots(slots) };
    dialog = null;
    slots = {};
  };
  const start = async (id: DialogId, preset: Record<string, unknown> = {}): Promise<DialogResult> => {
    dialog = id;
    slots = { ...preset };
    return deps.flows[id].begin(
      ctx(),
      u ?? { intent: 'out_of_scope', confidence: 0, language: 'es', entities: {}, source: 'rules' },
    );
  };
  const flowFor = (intent: NluIntent | undefined): DialogId | undefined =>
    intent ? INTENT_FLOW[intent] : undefined;

  let result: DialogResult | undefined;
  const sensitive =
    u?.intent === 'gender_violence_report' ||
    (u?.entities.category && deps.catalog.categories.find((c) => c.id === u.entities.category)?.sensitive);

  // 1. Keywords that work everywhere, and safety first.
  if (STOP_RE.test(text) || START_RE.test(text)) {
    abandon();
    pending = null;
    result = await start(STOP_RE.test(text) ? 'unsubscribe-notices' : 'subscribe-notices', {
      _keyword: true,
    });
  } else if (sensitive && dialog !== 'gender-violence-report') {
    // Emergency guidance at once, whatever was going on; the old form is dropped, not offered back.
    abandon();
    suspended = null;
    pending = null;
    result = await start('gender-violence-report');
  } else if (MENU_RE.test(text) || (input.kind === 'choice' && input.choiceId === 'menu:main')) {
    abandon();
    suspended = null;
    pending = null;
    outbound.push(menu(ctx()));
    result = { status: 'complete' };
  } else if (pending) {
    // 2. Answers to the engine's own questions.
    const answer =
      input.kind === 'choice'
        ? input.choiceId.endsWith(':yes')
        : input.kind === 'text'
          ? yesNo(input.text)
          : undefined;
    const was = pending;
    pending = null;
    if (was === 'cancel-confirm' && answer === true) {
      abandon();
      suspended = null;
      outbound.push(menu(ctx(), 'main-menu-cancelled-text'));
      result = { status: 'complete' };
    } else if (was === 'cancel-confirm' && answer === false) {
      say(t('main-menu-continue-text'));
      if (dialog) deps.flows[dialog].reprompt?.(ctx());
      result = { status: 'waiting' };
    } else if (was === 'resume-offer' && answer !== undefined && suspended) {
      if (answer) {
        dialog = suspended.dialog;
        slots = suspended.slots;
        suspended = null;
        say(t('main-menu-resumed-text'));
        deps.flows[dialog].reprompt?.(ctx());
        result = { status: 'waiting' };
      } else {
        suspended = null;
        outbound.push(menu(ctx(), 'main-menu-dropped-text'));
        result = { status: 'complete' };
      }
    } else if (was === 'handoff-offer' && answer !== undefined) {
      result = answer
        ? await start('talk-to-agent', { _reason: 'attempts' })
        : (outbound.push(menu(ctx(), 'main-menu-options-prompt')), { status: 'complete' });
    } else {
      // Not an answer to the offer: forget it and treat the message normally.
      if (was === 'resume-offer') suspended = null;
    }
  }

  if (!result && dialog) {
    const flow = deps.flows[dialog];
    const original = input.kind === 'text' ? input.text.normalize('NFC') : '';
    const correction = original ? CORRECTION_RE.exec(fold(original)) : null;
    const where = original ? WHERE_CORRECTION_RE.exec(fold(original)) : null;
    const newFlow = flowFor(u?.intent);
    // "no", "no photo" or a button's own label can read as cancel: an answer the form accepts wins, unless the
    // citizen plainly said to cancel.
    if (u?.intent === 'cancel' && (CANCEL_RE.test(text) || !(await flow.accepts?.(ctx(), input)))) {
      const started = Object.keys(publicSlots(slots)).length > 0;
      if (started) {
        pending = 'cancel-confirm';
        outbound.push({
          kind: 'choices',
          text: t('main-menu-cancel-confirm'),
          choices: [
            { id: 'cancel:yes', label: t('main-menu-cancel-yes') },
            { id: 'cancel:no', label: t('main-menu-cancel-no') },
          ],
        });
        result = { status: 'waiting' };
      } else {
        abandon();
        outbound.push(menu(ctx(), 'main-menu-cancelled-text'));
        result = { status: 'complete' };
      }
    } else if (u?.intent === 'help' && !(await flow.accepts?.(ctx(), input))) {
      say(t('main-menu-help-text'));
      flow.reprompt?.(ctx());
      result = { status: 'waiting' };
    } else if (REPEAT_RE.test(text)) {
      flow.reprompt?.(ctx());
      result = { status: 'waiting' };
    } else if ((correction || where) && flow.correct) {
      const slot = correction ? SLOT_WORDS[correction[1] ?? correction[3]!] : 'location';
      // Keep the citizen's own spelling of the new value (the folded text lost accents and case).
      const span = correction ? (correction.indices?.[2] ?? correction.indices?.[4]) : where?.indices?.[1];
      const value = span ? original.slice(span[0]).trim() : '';
      result = slot && value ? await flow.correct(ctx(), slot, { kind: 'text', text: value }) : undefined;
    } else if (
      newFlow &&
      newFlow !== dialog &&
      u &&
      u.confidence >= TOPIC_CHANGE_CONFIDENCE &&
      (unmistakable(newFlow, u) || !(await flow.accepts?.(ctx(), input)))
    ) {
      // Topic change: put the form aside, handle the new request, then offer to resume.
      if (
        dialog !== 'main-menu' &&
        Object.keys(publicSlots(slots)).length > 0 &&
        newFlow !== 'talk-to-agent'
      ) {
        suspended = { dialog, slots };
      } else {
        abandon();
      }
      if (newFlow === 'talk-to-agent' && dialog) memory.lastForm = { dialog, slots: publicSlots(slots) };
      result = await start(newFlow);
    }
    result ??= await flow.resume(ctx(), input);
  }

  if (!result) {
    // 3. No form open: start one from a button or from what was said.
    const routed =
      input.kind === 'choice' && input.choiceId.startsWith('menu:')
        ? (input.choiceId.slice(5) as DialogId)
        : undefined;
    if (routed && (DIALOG_IDS as readonly string[]).includes(routed) && routed !== 'main-menu') {
      result = await start(routed);
    } else if (input.kind === 'media') {
      // A photo on its own starts a complaint with the photo attached.
      result = await start('file-complaint', { photo: input.mediaIds });
    } else if (input.kind === 'location') {
      result = await start('file-complaint');
      result = await deps.flows['file-complaint'].resume(ctx(), input);
    } else if (
      isProcedureFollowUp(ctx()) &&
      (!u || u.intent === 'out_of_scope' || u.intent === 'procedure_info')
    ) {
      // "¿y cuánto cuesta?" after a procedure answer: same procedure, new question.
      result = await start('procedure-info');
    } else if (flowFor(u?.intent)) {
      result = await start(flowFor(u?.intent)!);
    } else {
      dialog = 'main-menu';
      result = await deps.flows['main-menu'].begin(
        ctx(),
        u ?? { intent: 'out_of_scope', confidence: 0, language: 'es', entities: {}, source: 'rules' },
      );
    }
  }

  // 4. Wrap up: failures offer a person; finished requests offer back a suspended form.
  if (result.status === 'failed') {
    abandon();
    pending = 'handoff-offer';
    outbound.push({
      kind: 'choices',
      text: t('main-menu-attempts-text'),
      choices: [
        { id: 'handoff:yes', label: t('main-menu-handoff-yes') },
        { id: 'handoff:no', label: t('main-menu-handoff-no') },
      ],
    });
  } else if (result.status === 'handoff') {
    trace.handoff = {
      queue: result.queue,
      queueType: queueTypeOf(deps.catalog, result.queue),
      summary: result.summary,
    };
    dialog = null;
    slots = {};
    suspended = null;
  } else if (result.status === 'complete') {
    if (dialog && dialog !== 'main-menu') memory.lastForm = { dialog, slots: publicSlots(slots) };
    dialog = null;
    slots = {};
    if (suspended && !pending) {
      pending = 'resume-offer';
      outbound.push({
        kind: 'choices',
        text: t('main-menu-resume-offer', { form: t(`main-menu-form-${suspended.dialog}`) }),
        choices: [
          { id: 'resume:yes', label: t('main-menu-resume-yes') },
          { id: 'resume:no', label: t('main-menu-resume-no') },
        ],
      });
    }
  }
  if (dialog === 'main-menu') dialog = null;

  const privacyNoticeShown = conversation.privacyNoticeAt === null && outbound.length > 0;
  if (privacyNoticeShown)
    appendNotice(outbound, t('main-menu-privacy-notice', { url: deps.settings.privacyNoticeUrl }));

  trace.activeForm = dialog ? FORM_NAMES[dialog] : null;
  // The engine's own yes/no questions (cancel, resume, a person?) wait for a confirmation.
  if (pending) trace.awaiting = 'confirmation';
  else if (!dialog) trace.awaiting = null;
  else trace.awaiting = deps.flows[dialog].awaiting?.(ctx()) ?? null;
  const lastChoices = outbound.findLast((o) => o.kind === 'choices');
  const choices = lastChoices?.kind === 'choices' ? lastChoices.choices.map((c) => c.id) : undefined;
  return {
    state: { v: STATE_VERSION, dialog, slots, ...(choices ? { choices } : {}), suspended, pending, memory },
    outbound,
    trace,
    result,
    stale,
    privacyNoticeShown,
  };
}

/**
 * A new request that is clear even while a free-text question is open (a description accepts anything): asking
 * for a person, or naming what the other flow needs (a full folio, a procedure, a hotspot, a notice topic).
 */
function unmistakable(flow: DialogId, u: Understanding): boolean {
  switch (flow) {
    case 'talk-to-agent':
      return true;
    case 'case-status':
      return Boolean(u.entities.folio?.includes('-'));
    case 'procedure-info':
      return Boolean(u.entities.procedure);
    case 'hotspot-outage':
      return Boolean(u.entities.hotspot);
    case 'subscribe-notices':
    case 'unsubscribe-notices':
      return Boolean(u.entities.topic);
    case 'link-channel':
      return u.intent === 'link_channel' && u.source === 'rules';
    case 'main-menu':
    case 'file-complaint':
    case 'gender-violence-report':
      return false;
  }
}

/** Slots without the form's own bookkeeping (`_awaiting`, `_attempts`, …). */
export function publicSlots(slots: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(slots).filter(([k, v]) => !k.startsWith('_') && v !== undefined && v !== null),
  );
}

/** `restricted` for queues of categories routed as restricted, else `general`. */
export function queueTypeOf(catalog: Catalog, queue: string): 'general' | 'restricted' {
  return catalog.categories.some((c) => c.queue === queue && c.routing === 'restricted')
    ? 'restricted'
    : 'general';
}

/** Add the short privacy notice to the first message that has text (after any emergency guidance). */
function appendNotice(outbound: Outbound[], notice: string): void {
  const i = outbound.findIndex((o) => o.kind === 'text' || o.kind === 'choices');
  const o = outbound[i];
  if (o && (o.kind === 'text' || o.kind === 'choices'))
    outbound[i] = { ...o, text: `${o.text}\n\n${notice}` };
}
