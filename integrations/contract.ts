/**
 * Ports that dialogs use and integrations implement: the case store, the outbox store, the media store and the
 * catalogue. Everything here is types, zod schemas and error codes; no I/O.
 *
 * To add a storage backend: implement {@link CaseStore} and {@link OutboxStore} and run
 * `test/contract/case-store.contract.ts` and `test/contract/outbox.contract.ts` against it.
 */
import { z } from 'zod';
import { ToolkitError } from '../channels/contract.ts';
import type { Address, ContactId, ConversationId, Inbound, Outbound } from '../channels/contract.ts';

/** Error codes owned by `integrations/`. Stable: a retired code is never reused. */
export const INTEGRATION_ERROR_CODES = {
  STORE_VERSION_CONFLICT:
    'A conversation was saved with a stale version (another turn won); the turn is retried.',
  STORE_LOCKED: 'The embedded database folder is held by another running process (see the lock file).',
  STORE_UNAVAILABLE: 'The database could not be reached or answered with an error.',
  STORE_NOT_FOUND: 'A record that was named (folio, conversation, outbox entry) does not exist.',
  STORE_MIGRATION_FAILED: 'Applying database migrations failed at start-up.',
  CATALOG_INVALID:
    'A catalogue file is missing, is not JSON, or does not match its schema (the file and field are named).',
  CONFIG_INVALID: 'An environment variable is missing or malformed (the variable is named).',
  TRANSCRIBE_FAILED:
    'A voice note could not be transcribed (service down, timeout or refusal); the citizen is asked to write instead.',
} as const;
/** A stable code owned by `integrations/`. */
export type IntegrationErrorCode = keyof typeof INTEGRATION_ERROR_CODES;

/** Storage failure. */
export class StoreError extends ToolkitError<IntegrationErrorCode> {}
/** Failure of a configured integration (catalogue, config, media). */
export class IntegrationError extends ToolkitError<IntegrationErrorCode> {}

// ---------------------------------------------------------------------------------------------------------------
// Catalogue (validated at start; a city points CATALOG_DIR at files of the same shape)

/** A complaint category: where cases go and how fast they are due. */
export const CategorySchema = z.object({
  id: z.string().regex(/^[a-z0-9_]+$/),
  name: z.string().min(1),
  name_en: z.string().optional(),
  department: z.string().min(1),
  queue: z.string().regex(/^[a-z0-9_]+$/),
  sla_hours: z.number().positive(),
  keywords: z.array(z.string()),
  requires_location: z.boolean(),
  sensitive: z.boolean(),
  routing: z.enum(['standard', 'restricted']),
  notes: z.string().optional(),
  emergency_guidance: z.string().optional(),
});
/** See {@link CategorySchema}. */
export type Category = z.infer<typeof CategorySchema>;

/** One municipal procedure (trámite). */
export const ProcedureSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  name_en: z.string().optional(),
  category: z.string(),
  description: z.string(),
  requirements: z.array(z.string()),
  cost_mxn: z.number().nonnegative().nullable(),
  cost_note: z.string().nullable().optional(),
  duration_days: z.number().nonnegative(),
  office: z.string(),
  office_hours: z.string(),
  channels_available: z.array(z.string()),
  keywords: z.array(z.string()),
});
/** See {@link ProcedureSchema}. */
export type Procedure = z.infer<typeof ProcedureSchema>;

/** A public wifi point. */
export const HotspotSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  kind: z.enum(['park', 'digital_center', 'community_tower']),
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
  colonia: z.string(),
  aliases: z.array(z.string()),
  ssid: z.string().optional(),
});
/** See {@link HotspotSchema}. */
export type Hotspot = z.infer<typeof HotspotSchema>;

/** A colonia with its informal aliases and approximate centroid. */
export const ColoniaSchema = z.object({
  name: z.string().min(1),
  type: z.string(),
  aliases: z.array(z.string()),
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
});
/** See {@link ColoniaSchema}. */
export type Colonia = z.infer<typeof ColoniaSchema>;

/** A case status code with its citizen-facing labels. */
export const CaseStatusSchema = z.object({
  id: z.string().regex(/^[a-z_]+$/),
  label_es: z.string().min(1),
  label_en: z.string().min(1),
  open311: z.enum(['open', 'closed']),
  final: z.boolean(),
});
/** See {@link CaseStatusSchema}. */
export type CaseStatus = z.infer<typeof CaseStatusSchema>;

/** The whole catalogue of one municipality, as loaded from `CATALOG_DIR`. */
export interface Catalog {
  readonly municipality: string;
  readonly categories: readonly Category[];
  readonly procedures: readonly Procedure[];
  readonly hotspots: readonly Hotspot[];
  readonly colonias: readonly Colonia[];
  readonly statuses: readonly CaseStatus[];
  /** The status a new case gets. */
  readonly initialStatus: string;
  /** Days the human desk is closed (`holidays.json`, optional). */
  readonly holidays: readonly Holiday[];
}

/** A day the desk is closed. */
export const HolidaySchema = z.object({
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  name: z.string().min(1),
});
/** See {@link HolidaySchema}. */
export type Holiday = z.infer<typeof HolidaySchema>;

// ---------------------------------------------------------------------------------------------------------------
// Records

/** Who talks to us: `bot` runs dialogs; `queued` waits for an agent; `agent` is being served by one. */
export type ConversationMode = 'bot' | 'queued' | 'agent';

/** A conversation as the runtime sees it. `stateVersion` is the optimistic-concurrency version. */
export interface ConversationRecord {
  readonly id: ConversationId;
  readonly contactId: ContactId;
  readonly channel: string;
  readonly address: Address;
  readonly mode: ConversationMode;
  readonly queue: string | null;
  readonly locale: string;
  /** Serialised dialog state (versioned by the engine itself); `null` for a new conversation. */
  readonly state: unknown;
  readonly stateVersion: number;
  readonly lastInboundAt: Date | null;
  readonly createdAt: Date;
  /** When the contact was first shown the privacy notice (continuing counts as consent); null before. */
  readonly privacyNoticeAt: Date | null;
}

/** A stored message, inbound or outbound. */
export interface MessageRecord {
  readonly id: string;
  readonly conversationId: ConversationId;
  readonly direction: 'in' | 'out';
  readonly kind: string;
  /** The normalised content without `raw`. */
  readonly body: Record<string, unknown>;
  readonly text: string | null;
  readonly author: string;
  readonly status: MessageStatus;
  readonly failureReason: string | null;
  readonly externalId: string | null;
  readonly createdAt: Date;
}

/** Delivery state of a message. Inbound messages are `received`. */
export type MessageStatus = 'received' | 'pending' | 'sent' | 'delivered' | 'read' | 'failed';

/** A citizen's case. */
export interface CaseRecord {
  readonly id: string;
  readonly folio: string;
  readonly category: string;
  readonly description: string;
  readonly address: string | null;
  readonly colonia: string | null;
  readonly lat: number | null;
  readonly lon: number | null;
  readonly status: string;
  readonly department: string;
  readonly queue: string;
  readonly priority: 'low' | 'normal' | 'high' | 'urgent';
  readonly sensitive: boolean;
  readonly visibility: 'public' | 'restricted';
  readonly contactPreference: string;
  readonly contactId: ContactId | null;
  readonly conversationId: ConversationId | null;
  readonly channel: string | null;
  readonly slaDueAt: Date;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly closedAt: Date | null;
  readonly hotspotId: string | null;
  readonly incidentId: string | null;
  readonly consentAt: Date | null;
  /** Where `lat`/`lon` come from: a shared `pin`, a `colonia` centroid, a `geocoder`; null without coordinates. */
  readonly geoSource: string | null;
}

/** What a flow supplies to open a case; the store assigns folio, status and timestamps. */
export interface NewCase {
  readonly category: string;
  readonly description: string;
  readonly address?: string | null;
  readonly colonia?: string | null;
  readonly lat?: number | null;
  readonly lon?: number | null;
  readonly department: string;
  readonly queue: string;
  readonly priority?: CaseRecord['priority'];
  readonly sensitive: boolean;
  readonly visibility: CaseRecord['visibility'];
  readonly contactPreference?: string;
  readonly contactId: ContactId | null;
  readonly conversationId: ConversationId | null;
  readonly channel: string | null;
  readonly slaDueAt: Date;
  /** Media ids (from uploads) to attach to the case. */
  readonly attachmentIds?: readonly string[];
  readonly hotspotId?: string | null;
  readonly incidentId?: string | null;
  readonly geoSource?: 'pin' | 'colonia' | 'geocoder' | 'hotspot' | null;
  /** Express consent for sensitive data. */
  readonly consentAt?: Date | null;
  /** When the case was opened (the turn's clock); the database's clock when omitted. */
  readonly openedAt?: Date;
}

/** A wifi outage incident. */
export interface IncidentRecord {
  readonly id: string;
  readonly hotspotId: string;
  readonly status: 'open' | 'resolved';
  readonly openedAt: Date;
  readonly resolvedAt: Date | null;
  readonly note: string | null;
  /** How many cases (reports) are linked to it. */
  readonly reports: number;
}

/** A notice subscription. */
export interface SubscriptionRecord {
  readonly id: string;
  readonly contactId: ContactId;
  readonly channel: string;
  readonly topic: string;
  /** Canonical colonia, or '' for the whole municipality. */
  readonly colonia: string;
  readonly active: boolean;
}

/** Who must hear about a case: its reporter and followers, each on their own conversation. */
export interface CaseAudience {
  readonly contactId: ContactId;
  readonly conversationId: ConversationId;
  readonly channel: string;
  readonly locale: string;
  readonly role: 'reporter' | 'follower';
}

/** A case imported from another system or seeded, with its own folio; it advances the sequence. */
export interface ImportedCase extends NewCase {
  readonly folio: string;
  readonly status: string;
  readonly createdAt: Date;
  /** When a case imported in a final status was closed; null (the default) for open cases. */
  readonly closedAt?: Date | null;
}

/** One entry of a case's append-only audit trail. */
export interface CaseEvent {
  readonly id: number;
  readonly caseId: string;
  readonly at: Date;
  readonly actor: string;
  readonly kind: string;
  readonly data: Record<string, unknown>;
}

/** An outbound message as a turn writes it, before delivery. */
export interface PendingOutbound {
  readonly outbound: Outbound;
  readonly author: string;
  /**
   * What the conversation's history keeps instead of `outbound` (a one-time code is delivered, never kept readable):
   * with it, the outbox entry also forgets `outbound` once delivered or dead-lettered. Honoured by `queueOutbound`.
   */
  readonly history?: Outbound;
}

/** Facts the store needs to resolve (or create) a contact and conversation for an inbound address. */
export interface ResolveInput {
  /** A `ChannelName`, or a test-only channel's name. */
  readonly channel: string;
  readonly address: Address;
  readonly locale: string;
  readonly now: Date;
  /**
   * Identifiers the provider vouches for. A *new* channel identity with a phone or e-mail another identity already
   * has joins that identity's contact (the same phone on WhatsApp, SMS and voice is one person).
   */
  readonly identity?: Inbound['identity'];
}

/** A person and every channel identity they are known by (the contact record). */
export interface ContactRecord {
  readonly id: ContactId;
  readonly locale: string;
  readonly privacyConsentAt: Date | null;
  readonly createdAt: Date;
  readonly identities: readonly {
    readonly channel: string;
    readonly user: string;
    readonly phone: string | null;
    readonly email: string | null;
    readonly createdAt: Date;
    readonly lastSeenAt: Date;
  }[];
}

/**
 * A request to link this contact with another identity that did not match automatically, proven with a one-time
 * code sent to that identity's channel (the `link-channel` flow). Kept whatever the outcome, so requests for an
 * unknown phone or e-mail look the same to the citizen and count against the same limits.
 */
export interface LinkCode {
  readonly id: string;
  /** The conversation, and its contact, that asked. */
  readonly conversationId: ConversationId;
  readonly contactId: ContactId;
  /** What the citizen typed, normalised: an E.164 phone or a lowercase e-mail. */
  readonly target: string;
  /** The contact that has `target`; null when no other contact has it (no code was sent). */
  readonly targetContactId: ContactId | null;
  /** SHA-256 (hex) of `<id>:<code>`; null when no code was sent. The code itself is never stored. */
  readonly codeHash: string | null;
  /** Codes typed so far. */
  readonly attempts: number;
  readonly expiresAt: Date;
  readonly createdAt: Date;
  /** When the two contacts were merged; null while pending. */
  readonly linkedAt: Date | null;
}

/** A channel identity with a given phone or e-mail, and its conversation. */
export interface IdentityMatch {
  readonly contactId: ContactId;
  readonly channel: string;
  readonly conversationId: ConversationId;
  /** The conversation's language. */
  readonly locale: string;
  /** When the citizen last wrote on that conversation (or the identity was first seen). */
  readonly lastSeenAt: Date;
}

/** The outcome of writing one turn. */
export interface TurnCommit {
  readonly stateVersion: number;
  /** Ids of the outbox entries written in this turn, in order, for immediate dispatch. */
  readonly outboxIds: readonly string[];
  /**
   * With `lease`: the turn's entries, already leased to the caller (all of them, or none when an older reply of
   * the conversation is still undelivered), ready to send without a lease round trip.
   */
  readonly leased: readonly OutboxEntry[];
}

/** Operations available inside one turn's transaction. */
export interface StoreTx {
  /**
   * Record a phone the provider says belongs to this conversation's identity. When another contact already has
   * that phone, this identity's contact is merged into it (identities, conversations, cases, followers,
   * subscriptions move; the newer contact is removed) and `merged` is true.
   */
  attachPhone(
    conversation: ConversationRecord,
    phone: string,
  ): Promise<{ contactId: ContactId; merged: boolean }>;
  /**
   * Merge this conversation's contact and `other` into one: the older contact keeps its id and receives the
   * other's identities, conversations (their versions bump), cases, followers, subscriptions and link requests.
   * `moved` is true when this conversation changed contact.
   */
  mergeContacts(
    conversation: ConversationRecord,
    other: ContactId,
  ): Promise<{ contactId: ContactId; moved: boolean }>;
  /** Identities (of any contact) with this phone or e-mail, the one that wrote last first. */
  findIdentities(match: { readonly phone?: string; readonly email?: string }): Promise<IdentityMatch[]>;
  /**
   * Save a link request (insert, or update `attempts` and `linkedAt` by id); a new one also forgets requests that
   * expired more than a day and an hour ago.
   */
  saveLinkCode(code: LinkCode): Promise<void>;
  /** A link request by id, or null. */
  getLinkCode(id: string): Promise<LinkCode | null>;
  /**
   * Link requests made since `since` for `target` or by `contactId` (either counts), for rate limits. Holds a lock
   * on `target` until the transaction ends, so concurrent requests for one target are counted one after another.
   */
  countLinkCodes(filter: { target: string; contactId: ContactId; since: Date }): Promise<number>;
  /**
   * Queue a message to another conversation (e.g. a linking code to the citizen's other channel), stored and
   * delivered through the outbox like a turn's replies. Returns the outbox entry's id.
   */
  queueOutbound(conversationId: ConversationId, message: PendingOutbound, now: Date): Promise<string>;
  /** Append an inbound message; `duplicate` when this channel already has that external id. */
  appendInbound(
    conversationId: ConversationId,
    inbound: Inbound,
    text: string | null,
  ): Promise<'inserted' | 'duplicate'>;
  /** Open a case with the next folio of `prefix` for `year`. */
  createCase(input: NewCase, folio: { prefix: string; year: number }, actor: string): Promise<CaseRecord>;
  /** Read a case by folio (inside the transaction). */
  findCase(folio: string): Promise<CaseRecord | null>;
  /** Log an event on a case's audit trail. */
  addCaseEvent(caseId: string, actor: string, kind: string, data: Record<string, unknown>): Promise<void>;
  /**
   * Open cases of a category within `radiusM` of a precise point (only cases with precise coordinates count: a
   * colonia centroid is not a position) or at the same normalised address, nearest first.
   */
  findOpenCasesNear(input: {
    category: string;
    lat: number | null;
    lon: number | null;
    radiusM: number;
    address: string | null;
    limit?: number;
  }): Promise<CaseRecord[]>;
  /** Make a contact follow a case (idempotent). Returns false when already following or the reporter. */
  followCase(
    caseId: string,
    contactId: ContactId,
    conversationId: ConversationId | null,
    actor: string,
  ): Promise<boolean>;
  /** Join the open incident of a hotspot, opening one if none is open. */
  joinIncident(hotspotId: string, now: Date): Promise<{ incident: IncidentRecord; opened: boolean }>;
  /** Cases of a contact, newest first. */
  listCases(filter: { contactId: ContactId; limit?: number }): Promise<CaseRecord[]>;
  /** Subscribe (or reactivate) a contact to a topic and colonia. */
  subscribe(input: {
    contactId: ContactId;
    conversationId: ConversationId;
    channel: string;
    topic: string;
    colonia: string;
  }): Promise<SubscriptionRecord>;
  /** Deactivate subscriptions of a contact: one topic (and colonia), or all when `topic` is undefined. Returns how many. */
  unsubscribe(input: { contactId: ContactId; topic?: string; colonia?: string }): Promise<number>;
  /** A contact's subscriptions. */
  listSubscriptions(contactId: ContactId): Promise<SubscriptionRecord[]>;
  /** The texts of the last messages of a conversation, oldest first, prefixed with who said them. */
  recentTexts(conversationId: ConversationId, limit: number): Promise<string[]>;
  /**
   * Save the dialog state (only if the stored version is still `expectedVersion`), the conversation mode and the
   * turn's outbound messages with their outbox entries, in one statement.
   * @throws {StoreError} `STORE_VERSION_CONFLICT` when another turn saved first.
   */
  commitTurn(input: {
    conversation: ConversationRecord;
    state: unknown;
    mode: ConversationMode;
    queue: string | null;
    locale: string;
    lastInboundAt: Date | null;
    /**
     * The address of the inbound being answered; replaces the stored one, so replies follow the citizen's latest
     * e-mail thread or Bot Framework conversation. Omitted for turns without an inbound.
     */
    address?: Address;
    outbound: readonly PendingOutbound[];
    now: Date;
    /** Record that the contact has now seen the privacy notice (first reply). */
    privacyNoticeShown?: boolean;
    /**
     * Lease the turn's replies to the caller for `leaseMs` as they are written (the hot path: the dispatcher sends
     * them right after the commit), unless an older reply of the conversation is still undelivered. A crash before
     * the send leaves them to whoever leases them after `leaseMs`.
     */
    lease?: { readonly leaseMs: number };
  }): Promise<TurnCommit>;
}

/** Filter for listing conversations (e.g. the queued ones of a queue). */
export interface ConversationFilter {
  readonly mode?: ConversationMode;
  readonly queue?: string;
  readonly limit?: number;
}

/**
 * Persistence of contacts, conversations, messages, cases and their audit trail.
 * One implementation runs on both PGlite and PostgreSQL ({@link https://orm.drizzle.team drizzle}).
 */
export interface CaseStore {
  /** Resolve contact + channel identity + conversation for an address, creating them on first contact. */
  resolveConversation(input: ResolveInput): Promise<ConversationRecord>;
  /** A contact with all of its channel identities, or null. */
  getContact(id: ContactId): Promise<ContactRecord | null>;
  /** The conversation of a channel identity, without creating anything. */
  findConversation(channel: string, user: string): Promise<ConversationRecord | null>;
  /** Read a conversation by id. */
  getConversation(id: ConversationId): Promise<ConversationRecord | null>;
  /** Run `fn` in one database transaction; everything in it commits or none of it does. */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /** Messages of a conversation, oldest first. */
  listMessages(conversationId: ConversationId, opts?: { limit?: number }): Promise<MessageRecord[]>;
  /** Conversations matching a filter, newest activity first. */
  listConversations(filter: ConversationFilter): Promise<ConversationRecord[]>;
  /** A case by folio, or null. */
  findCase(folio: string): Promise<CaseRecord | null>;
  /** Cases of a contact, newest first. */
  listCases(filter: { contactId?: ContactId; status?: string; limit?: number }): Promise<CaseRecord[]>;
  /** A case's audit trail, oldest first. */
  caseEvents(caseId: string): Promise<CaseEvent[]>;
  /** Append an audit event outside a turn (e.g. an admin viewed the case). */
  addCaseEvent(caseId: string, actor: string, kind: string, data: Record<string, unknown>): Promise<void>;
  /** Insert a case with its own folio (import or seed) and advance that year's sequence past it. */
  importCase(input: ImportedCase, actor: string): Promise<CaseRecord>;
  /** Change a case's status (audit event with the public note); returns the updated case. */
  updateCaseStatus(input: {
    folio: string;
    status: string;
    note: string | null;
    actor: string;
    now: Date;
    final: boolean;
  }): Promise<CaseRecord>;
  /**
   * Set a case's coordinates from the geocoder, unless it already has a shared pin (a citizen's GPS beats a
   * geocoded address). Records a `geocoded` case event. Returns whether the case was updated.
   */
  setGeocodedLocation(input: { caseId: string; lat: number; lon: number; now: Date }): Promise<boolean>;
  /** The reporter and followers of a case, each with their conversation. */
  caseAudience(caseId: string): Promise<CaseAudience[]>;
  /** Resolve the open incident of a hotspot (its cases become resolved); null when none is open. */
  resolveIncident(input: {
    hotspotId: string;
    note: string | null;
    actor: string;
    now: Date;
    resolvedStatus: string;
  }): Promise<{ incident: IncidentRecord; cases: CaseRecord[] } | null>;
  /** Incidents, open first. */
  listIncidents(filter: { status?: 'open' | 'resolved'; limit?: number }): Promise<IncidentRecord[]>;
  /** Subscriptions of a contact (outside a turn). */
  listSubscriptions(contactId: ContactId): Promise<SubscriptionRecord[]>;
  /** Record a delivery receipt against the outbound message with that external id. */
  applyReceipt(
    channel: string,
    externalId: string,
    status: 'sent' | 'delivered' | 'read' | 'failed',
    error?: string,
  ): Promise<boolean>;
}

// ---------------------------------------------------------------------------------------------------------------
// Outbox

/** An outbox entry: one outbound message waiting for (or done with) delivery. */
export interface OutboxEntry {
  readonly id: string;
  readonly messageId: string;
  readonly conversationId: ConversationId;
  readonly channel: string;
  readonly address: Address;
  readonly outbound: Outbound;
  readonly idempotencyKey: string;
  readonly status: 'pending' | 'sending' | 'retrying' | 'sent' | 'dead';
  readonly attempts: number;
  readonly nextAttemptAt: Date;
  readonly lastError: string | null;
  readonly lastInboundAt: Date | null;
  /** The token of the current lease; only its holder may record the outcome. */
  readonly leaseToken: string | null;
}

/** Durable delivery bookkeeping. Leases make concurrent dispatchers (threads, nodes) safe. */
export interface OutboxStore {
  /**
   * Take entries for delivery: the named ids, or (without ids) entries due by `now`. An entry leased by someone
   * else until after `now` is skipped, and so is an entry with an older undelivered entry in its conversation
   * (replies go out in order). Attempts are counted here.
   */
  lease(opts: {
    ids?: readonly string[];
    now: Date;
    leaseMs: number;
    limit?: number;
  }): Promise<OutboxEntry[]>;
  /**
   * Delivery succeeded: entry `sent`, message `sent` with the provider id. The `mark*` calls take the lease token
   * and return false when the lease was lost (it expired and someone else took the entry).
   */
  markSent(id: string, leaseToken: string, externalId: string, now: Date): Promise<boolean>;
  /** Retryable failure: back to `retrying` until `nextAttemptAt`. */
  markRetry(id: string, leaseToken: string, error: string, nextAttemptAt: Date, now: Date): Promise<boolean>;
  /** Permanent failure: entry `dead`, message `failed` with the reason shown to agents. */
  markDead(id: string, leaseToken: string, reason: string, now: Date): Promise<boolean>;
  /** Give a leased entry back without counting the attempt (it waits behind an earlier message). */
  release(id: string, leaseToken: string): Promise<void>;
  /** Entries not yet sent nor dead. */
  depth(): Promise<number>;
  /** Read one entry. */
  get(id: string): Promise<OutboxEntry | null>;
  /** Dead-lettered entries, newest first. */
  listDead(limit: number): Promise<OutboxEntry[]>;
}

/** A stored upload. */
export interface StoredMedia {
  readonly id: string;
  readonly mime: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** Where channel adapters put media bytes (already sanitised) and the runtime finds them again. */
export interface MediaStore {
  /** Store bytes; returns the media id to reference in an {@link Inbound}. */
  save(input: { bytes: Buffer; mime: string; contactHint?: string }): Promise<StoredMedia>;
  /** Read media metadata, or null. */
  get(id: string): Promise<StoredMedia | null>;
  /** Read the stored bytes, or null when the id is unknown. */
  read(id: string): Promise<{ readonly media: StoredMedia; readonly bytes: Buffer } | null>;
}

/**
 * Address → coordinates (a Nominatim-compatible `/search`). Optional and off by default; it runs after the turn
 * committed, never inside a transaction, and never for sensitive cases.
 */
export interface Geocoder {
  /** Coordinates of a typed address inside the municipality, or null when it cannot place it. */
  geocode(query: { readonly address: string; readonly colonia?: string | null }): Promise<{
    readonly lat: number;
    readonly lon: number;
  } | null>;
}

/**
 * Speech to text for voice notes (an OpenAI-compatible `/v1/audio/transcriptions`). Optional: without one, the
 * citizen is kindly asked to write or call instead.
 */
export interface Transcriber {
  /** The text said in `bytes`; throws `IntegrationError('TRANSCRIBE_FAILED')` when it cannot tell. */
  transcribe(input: {
    readonly bytes: Buffer;
    readonly mime: string;
    readonly language?: 'es' | 'en';
  }): Promise<string>;
}

/** A durable job queue (pg-boss on the same database): the retry and cross-node path of the outbox. */
export interface JobQueue {
  /** Enqueue a job, optionally not before `startAfter`. */
  send(
    queue: string,
    data: Record<string, unknown>,
    opts?: { startAfter?: Date; singletonKey?: string },
  ): Promise<void>;
  /** Handle jobs of a queue; a throw makes the job fail (pg-boss retries per its own policy). */
  work(queue: string, handler: (data: Record<string, unknown>) => Promise<void>): Promise<void>;
  /** Run `queue` on a cron schedule (one node fires it). */
  schedule(queue: string, cron: string): Promise<void>;
  /** Stop polling and wait for active jobs, up to `timeoutMs`. */
  stop(timeoutMs: number): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Natural-language understanding

/** The intents Ventanilla understands (the labels of `locales/<lang>/utterances.jsonl`). */
export const NLU_INTENTS = [
  'greeting',
  'file_complaint',
  'case_status',
  'hotspot_outage',
  'procedure_info',
  'talk_to_agent',
  'gender_violence_report',
  'cancel',
  'help',
  'thanks',
  'goodbye',
  'out_of_scope',
  'subscribe_notices',
  'unsubscribe_notices',
  'link_channel',
] as const;
/** See {@link NLU_INTENTS}. */
export type NluIntent = (typeof NLU_INTENTS)[number];

/** Subscription topics for service notices. */
export const NOTICE_TOPICS = ['agua', 'recoleccion', 'wifi', 'vialidad', 'eventos', 'general'] as const;
/** See {@link NOTICE_TOPICS}. */
export type NoticeTopic = (typeof NOTICE_TOPICS)[number];

/**
 * Entities found in one message, normalised (see `shared/data/README.md`): catalogue ids for `category`,
 * `procedure` and `hotspot`; the canonical colonia name; `VER-YYYY-NNNNNN` (or the zero-padded number alone) for
 * `folio`; 10 national digits for `phone`; lowercase `email`; `address` is a verbatim span without the colonia.
 */
export interface NluEntities {
  readonly category?: string;
  /** Every category mentioned, in order, when a message reports several problems. */
  readonly categories?: readonly string[];
  readonly procedure?: string;
  readonly hotspot?: string;
  readonly colonia?: string;
  readonly address?: string;
  readonly folio?: string;
  readonly phone?: string;
  readonly email?: string;
  readonly topic?: NoticeTopic;
}

/** The understanding of one message. */
export interface NluResult {
  readonly intent: NluIntent;
  /** 0..1; below the configured threshold the intent is `out_of_scope` (the None intent). */
  readonly confidence: number;
  /** The language the message is written in, so replies can follow it. */
  readonly language: 'es' | 'en';
  readonly entities: NluEntities;
  /** Which engine decided the intent. */
  readonly source: 'nlp' | 'llm' | 'rules';
}

/** Natural-language understanding: NLP.js trained from our utterances, optionally backed by an LLM. */
export interface Nlu {
  parse(text: string, hint?: { readonly locale?: string }): Promise<NluResult>;
}
