/**
 * Dialog kernel: what a flow is, what it returns, and the desk port the router diverts to.
 *
 * To add a flow: write `dialogs/flows/<dialog-id>.ts` exporting a {@link Dialog} (usually through `defineForm`),
 * add its id to {@link DIALOG_IDS} and to the flow registry in `dialogs/flows/index.ts`, put every text it says in
 * `locales/es-MX/dialogs.json` and `locales/en/dialogs.json` under `<dialog-id>-<step>-<purpose>`, and add one
 * scripted conversation per locale under `test/dialogs/`.
 */
import type { Address, ContactId, ConversationId, Inbound, Outbound } from '../channels/contract.ts';
import { ToolkitError } from '../channels/contract.ts';
import type {
  CaseRecord,
  Catalog,
  ConversationRecord,
  IncidentRecord,
  NewCase,
  NluResult,
  SubscriptionRecord,
} from '../integrations/contract.ts';

/** Error codes owned by `dialogs/`. Stable: a retired code is never reused. */
export const DIALOG_ERROR_CODES = {
  DIALOG_STATE_STALE:
    'Stored dialog state was written by an older deploy; it is discarded and the citizen restarts.',
  DIALOG_FLOW_FAILED:
    'A flow threw during a turn; the citizen got an apology and the error reached runtime.onError.',
  DIALOG_TURN_CONFLICT: 'A turn kept losing the optimistic-concurrency race and was given up after retries.',
  DIALOG_SHUTTING_DOWN:
    'A message arrived while the server was draining for shutdown; the channel should redeliver.',
} as const;
/** A stable code owned by `dialogs/`. */
export type DialogErrorCode = keyof typeof DIALOG_ERROR_CODES;

/** A dialog failure. */
export class DialogError extends ToolkitError<DialogErrorCode> {}

/** Ids of the flows. A flow file's name is its id. */
export const DIALOG_IDS = [
  'main-menu',
  'file-complaint',
  'case-status',
  'hotspot-outage',
  'procedure-info',
  'gender-violence-report',
  'talk-to-agent',
  'subscribe-notices',
  'unsubscribe-notices',
  'link-channel',
] as const;
/** See {@link DIALOG_IDS}. */
export type DialogId = (typeof DIALOG_IDS)[number];

/** Supported conversation locales; `es-MX` is the source of truth. */
export const LOCALES = ['es-MX', 'en'] as const;
/** See {@link LOCALES}. */
export type Locale = (typeof LOCALES)[number];

/** What the citizen said this turn, stripped of channel details. */
export type UserInput =
  | { kind: 'text'; text: string }
  | { kind: 'choice'; choiceId: string; text?: string }
  | { kind: 'location'; lat: number; lon: number; label?: string }
  | { kind: 'media'; mediaIds: string[]; caption?: string };

/** What the understanding step found in a text (the NLU result). */
export type Understanding = NluResult;

/** Weekly opening hours of the human-agent desk, in the service time zone. */
export interface ServiceHours {
  /** Per ISO weekday (1 = Monday … 7 = Sunday): opening intervals in minutes since midnight. */
  readonly days: Readonly<Record<number, readonly { readonly from: number; readonly to: number }[]>>;
  /** Human-readable form, e.g. "mon-fri 08:00-20:00". */
  readonly text: string;
}

/** Deployment settings flows need (from configuration, through the composition root). */
export interface DialogSettings {
  readonly folioPrefix: string;
  readonly timeZone: string;
  readonly privacyNoticeUrl: string;
  /** How to reach the municipal women's institute (shown with emergency guidance). */
  readonly womensInstitute: string;
  readonly serviceHours: ServiceHours;
  /** The call centre's phone, offered when the bot cannot help on a channel (e.g. voice notes); optional. */
  readonly callCentrePhone?: string;
  /** ISO dates (YYYY-MM-DD) when the desk is closed. */
  readonly holidays: readonly string[];
  /** Queues staffed around the clock (the restricted gender-violence queue by default). */
  readonly alwaysOpenQueues: readonly string[];
}

/** Facts kept across flows in one conversation, so follow-ups keep context. */
export interface ConversationMemory {
  procedure?: string;
  category?: string;
  folio?: string;
  /** The form that was last abandoned, suspended or given up, for hand-off summaries. */
  lastForm?: { dialog: string; slots: Record<string, unknown> };
}

/** Outcome of one dialog step (after botbuilder's `DialogTurnStatus`). */
export type DialogResult =
  | { status: 'waiting' }
  | { status: 'complete'; output?: Record<string, unknown> }
  | { status: 'handoff'; reason: string; queue: string; summary: HandoffSummary }
  | { status: 'failed'; error: string };

/** What an agent sees when a conversation is handed over. */
export interface HandoffSummary {
  readonly intent: string;
  readonly language: 'es' | 'en';
  readonly category?: string;
  readonly procedure?: string;
  readonly folio?: string;
  readonly slots: Record<string, unknown>;
  readonly recentMessages: readonly string[];
  /** Why the citizen is handed over (asked for a person, too many failed attempts, sensitive report). */
  readonly reason: string;
}

/** Everything a flow may use during a turn. Side effects go through here so they join the turn's transaction. */
export interface TurnContext {
  readonly locale: Locale;
  readonly now: Date;
  readonly catalog: Catalog;
  readonly conversation: ConversationRecord;
  readonly contactId: ContactId;
  /** Translate a locale key (`<dialog-id>-<step>-<purpose>`). */
  t(key: string, params?: Record<string, string | number>): string;
  /** Queue an outbound message for this turn. */
  say(outbound: Outbound): void;
  /** The flow's own slots, persisted with the dialog state. Mutate freely. */
  readonly slots: Record<string, unknown>;
  /** This turn's text as the citizen typed it (or dictated it), or null for buttons, pins and photos. */
  readonly text: string | null;
  /** This turn's understanding (text inputs), or null for buttons, pins and photos. */
  readonly understanding: Understanding | null;
  /** The channel the citizen is on (`webchat`, `twilio-sms`, …). */
  readonly channel: string;
  readonly settings: DialogSettings;
  /** Conversation-level memory shared by flows (mutate freely). */
  readonly memory: ConversationMemory;
  /** Open a case (folio assigned in this turn's transaction). */
  createCase(input: Omit<NewCase, 'contactId' | 'conversationId' | 'channel'>): Promise<CaseRecord>;
  /** Look a case up by folio. */
  findCase(folio: string): Promise<CaseRecord | null>;
  /** Open cases of a category near a point or at the same address. */
  findOpenCasesNear(input: {
    category: string;
    lat: number | null;
    lon: number | null;
    address: string | null;
  }): Promise<CaseRecord[]>;
  /** Make this citizen follow a case. */
  followCase(caseId: string): Promise<boolean>;
  /** Join (or open) the open incident of a hotspot. */
  joinIncident(hotspotId: string): Promise<{ incident: IncidentRecord; opened: boolean }>;
  /** This citizen's cases (reported or followed), newest first. */
  myCases(limit?: number): Promise<CaseRecord[]>;
  subscribe(topic: string, colonia: string): Promise<SubscriptionRecord>;
  unsubscribe(topic?: string, colonia?: string): Promise<number>;
  mySubscriptions(): Promise<SubscriptionRecord[]>;
  /**
   * Start linking this contact to the other channel identity that has `target` (an E.164 phone or a lowercase
   * e-mail): a one-time code goes to that identity's conversation. An unknown target answers `pending` too, so
   * nobody can probe which phones or e-mails have written to the city.
   */
  startLink(target: string): Promise<LinkStart>;
  /** Check the code the citizen typed for the pending link `linkId`; `linked` merged the two contacts. */
  confirmLink(linkId: string, code: string): Promise<LinkCheck>;
  /** The last messages of the conversation (both directions), oldest first, for hand-off summaries. */
  recentMessages(limit: number): Promise<string[]>;
  /** Record facts for tests and audit (which slot is awaited, which statuses were reported). */
  readonly trace: TurnTrace;
}

/** Outcome of {@link TurnContext.startLink}. */
export type LinkStart =
  | { status: 'pending'; linkId: string; minutes: number }
  | { status: 'already-linked' }
  | { status: 'rate-limited' };

/** Outcome of {@link TurnContext.confirmLink}. */
export type LinkCheck =
  | { status: 'linked' }
  | { status: 'wrong'; attemptsLeft: number }
  | { status: 'expired' }
  | { status: 'exhausted' };

/** Per-turn facts that conversation tests read. */
export interface TurnTrace {
  intent?: string;
  nlu?: { intent: string; confidence: number; entities: Record<string, unknown>; language: string };
  awaiting?: string | null;
  activeForm?: string | null;
  statusReported: { folio: string; status: string }[];
  casesCreated: string[];
  handoff?: { queue: string; queueType: 'general' | 'restricted'; summary: HandoffSummary } | null;
}

/** A flow. `begin` starts it (possibly with entities already found); `resume` takes the next input. */
export interface Dialog {
  readonly id: DialogId;
  begin(ctx: TurnContext, understanding: Understanding): Promise<DialogResult>;
  resume(ctx: TurnContext, input: UserInput): Promise<DialogResult>;
}

/**
 * The live-agent desk as the router sees it. Declared here, implemented by `agent-desk/`, so dialogs never import
 * the desk.
 */
export interface DeskPort {
  /** An inbound message for a conversation that is `queued` or `agent` (already stored). */
  deliver(conversation: ConversationRecord, inbound: Inbound): Promise<void>;
  /** A flow asked for a person. */
  requested(conversation: ConversationRecord, summary: HandoffSummary): Promise<void>;
}

/** A failure inside a turn, handed to the single `onError` hook (grammY's `BotError`). */
export interface TurnError {
  readonly error: unknown;
  readonly conversationId: ConversationId | null;
  readonly inbound: Inbound;
}

/** Outcome of handling one inbound event. */
export type TurnOutcome =
  | { status: 'handled'; conversationId: ConversationId; trace: TurnTrace; outboxIds: readonly string[] }
  | { status: 'duplicate'; conversationId: ConversationId }
  | { status: 'receipt'; matched: boolean }
  | { status: 'diverted'; conversationId: ConversationId };

/** Who a reply is from, for the audit trail. */
export interface ReplyAuthor {
  readonly by: string;
}

/** Re-export for flows and runtime that need the address type without reaching into channels. */
export type { Address };
