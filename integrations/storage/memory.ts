/**
 * In-memory `CaseStore` and `OutboxStore`: the same port semantics as the PostgreSQL store (both pass the contract
 * suites), without durability. For benchmarks and tests of the dialog runtime where the database would dominate.
 *
 * Transactions run one at a time, as on PGlite's single connection, and buffer their writes: the maps change only
 * when the callback resolves, so a throw leaves nothing behind and readers outside the transaction never see
 * uncommitted rows. JSON values (dialog state, message bodies, addresses) are copied in and out with JSON
 * semantics, so a caller never shares an object with the store.
 */
import { randomUUID } from 'node:crypto';
import type { Address, ContactId, ConversationId, Inbound, Outbound } from '../../channels/contract.ts';
import { StoreError } from '../contract.ts';
import type {
  CaseAudience,
  CaseEvent,
  CaseRecord,
  CaseStore,
  ContactRecord,
  ConversationMode,
  ConversationRecord,
  ImportedCase,
  IdentityMatch,
  IncidentRecord,
  LinkCode,
  MessageRecord,
  MessageStatus,
  NewCase,
  OutboxEntry,
  OutboxStore,
  PendingOutbound,
  StoreTx,
  SubscriptionRecord,
  TurnCommit,
} from '../contract.ts';
import { outboundText } from './store.ts';

/** Options of {@link createMemoryStores}. */
export interface MemoryStoreOptions {
  /** The "database clock": timestamps the ports do not receive (creation times, `updated_at`). */
  readonly now?: () => Date;
  /** The status a new case gets (`case-statuses.json` `initial`); `recibido` by default. */
  readonly initialStatus?: string;
}

/** A case store and an outbox store sharing one in-memory dataset. */
export interface MemoryStores {
  readonly store: CaseStore;
  readonly outbox: OutboxStore;
}

type Ms = number;

interface ContactRow {
  readonly id: string;
  readonly locale: string;
  privacyConsentAt: Ms | null;
  readonly createdAt: Ms;
}

/** How a contact is known on one channel; it has exactly one conversation. */
interface IdentityRow {
  readonly id: string;
  contactId: string;
  readonly channel: string;
  readonly user: string;
  phone: string | null;
  email: string | null;
  readonly createdAt: Ms;
  readonly lastSeenAt: Ms;
  conversationId: string;
}

interface ConversationRow {
  readonly id: string;
  contactId: string;
  readonly identity: IdentityRow;
  readonly channel: string;
  readonly address: Address;
  mode: ConversationMode;
  queue: string | null;
  locale: string;
  state: unknown;
  stateVersion: number;
  lastInboundAt: Ms | null;
  readonly createdAt: Ms;
  updatedAt: Ms;
  /** Write order, to break `updatedAt` ties when listing. */
  touched: number;
}

interface MessageRow {
  readonly id: string;
  readonly conversationId: string;
  readonly direction: 'in' | 'out';
  readonly channel: string;
  readonly kind: string;
  readonly body: Record<string, unknown>;
  readonly text: string | null;
  readonly author: string;
  status: MessageStatus;
  failureReason: string | null;
  externalId: string | null;
  readonly createdAt: Ms;
  updatedAt: Ms;
}

interface CaseRow {
  readonly id: string;
  readonly folio: string;
  readonly category: string;
  readonly description: string;
  readonly address: string | null;
  /** `address` normalised for equality (see {@link normAddress}). */
  readonly norm: string | null;
  readonly colonia: string | null;
  lat: number | null;
  lon: number | null;
  status: string;
  readonly department: string;
  readonly queue: string;
  readonly priority: CaseRecord['priority'];
  readonly sensitive: boolean;
  readonly visibility: CaseRecord['visibility'];
  readonly contactPreference: string;
  contactId: string | null;
  readonly conversationId: string | null;
  readonly channel: string | null;
  readonly slaDueAt: Ms;
  readonly createdAt: Ms;
  updatedAt: Ms;
  closedAt: Ms | null;
  readonly hotspotId: string | null;
  readonly incidentId: string | null;
  readonly consentAt: Ms | null;
  geoSource: string | null;
  /** Insertion order, to break `createdAt` ties. */
  seq: number;
}

interface EventRow {
  /** Assigned when the event is committed. */
  id: number;
  readonly caseId: string;
  readonly at: Ms;
  readonly actor: string;
  readonly kind: string;
  readonly data: Record<string, unknown>;
}

interface FollowerRow {
  readonly caseId: string;
  readonly contactId: string;
  readonly conversationId: string | null;
}

interface IncidentRow {
  readonly id: string;
  readonly hotspotId: string;
  status: 'open' | 'resolved';
  readonly openedAt: Ms;
  resolvedAt: Ms | null;
  note: string | null;
}

interface SubscriptionRow {
  readonly id: string;
  readonly contactId: string;
  conversationId: string | null;
  channel: string;
  readonly topic: string;
  readonly colonia: string;
  active: boolean;
  readonly createdAt: Ms;
  updatedAt: Ms;
}

interface OutboxRow {
  readonly id: string;
  readonly messageId: string;
  readonly conversationId: string;
  readonly channel: string;
  readonly address: Address;
  payload: Outbound;
  readonly idempotencyKey: string;
  status: OutboxEntry['status'];
  attempts: number;
  nextAttemptAt: Ms;
  leasedUntil: Ms | null;
  leaseToken: string | null;
  lastError: string | null;
  readonly lastInboundAt: Ms | null;
  seq: number;
  updatedAt: Ms;
}

// ---------------------------------------------------------------------------------------------------------------
// Copies and conversions

/**
 * A copy with the semantics of a jsonb round trip (`undefined` dropped, `toJSON` applied, non-finite numbers null)
 * without building a string: several times cheaper than `JSON.parse(JSON.stringify(…))` for small values.
 */
function jsonCopy(value: unknown, omitKey?: string): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      throw new TypeError('Do not know how to serialize a BigInt');
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value === null) return null;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return jsonCopy(toJSON.call(value));
  if (Array.isArray(value)) {
    const out: unknown[] = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = jsonCopy(value[i]) ?? null;
    return out;
  }
  const out: Record<string, unknown> = {};
  const source = value as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    if (key === omitKey) continue;
    const v = jsonCopy(source[key]);
    if (v === undefined) continue;
    // A plain assignment to `__proto__` would set the prototype; JSON.parse makes it an own property.
    if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true });
    else out[key] = v;
  }
  return out;
}

const date = (ms: Ms): Date => new Date(ms);
const dateOrNull = (ms: Ms | null): Date | null => (ms === null ? null : new Date(ms));

function toCase(r: CaseRow): CaseRecord {
  return {
    id: r.id,
    folio: r.folio,
    category: r.category,
    description: r.description,
    address: r.address,
    colonia: r.colonia,
    lat: r.lat,
    lon: r.lon,
    status: r.status,
    department: r.department,
    queue: r.queue,
    priority: r.priority,
    sensitive: r.sensitive,
    visibility: r.visibility,
    contactPreference: r.contactPreference,
    contactId: r.contactId as ContactId | null,
    conversationId: r.conversationId as ConversationId | null,
    channel: r.channel,
    slaDueAt: date(r.slaDueAt),
    createdAt: date(r.createdAt),
    updatedAt: date(r.updatedAt),
    closedAt: dateOrNull(r.closedAt),
    hotspotId: r.hotspotId,
    incidentId: r.incidentId,
    consentAt: dateOrNull(r.consentAt),
    geoSource: r.geoSource,
  };
}

function toMessage(r: MessageRow): MessageRecord {
  return {
    id: r.id,
    conversationId: r.conversationId as ConversationId,
    direction: r.direction,
    kind: r.kind,
    body: jsonCopy(r.body) as Record<string, unknown>,
    text: r.text,
    author: r.author,
    status: r.status,
    failureReason: r.failureReason,
    externalId: r.externalId,
    createdAt: date(r.createdAt),
  };
}

function toSubscription(r: SubscriptionRow): SubscriptionRecord {
  return {
    id: r.id,
    contactId: r.contactId as ContactId,
    channel: r.channel,
    topic: r.topic,
    colonia: r.colonia,
    active: r.active,
  };
}

function toIncident(r: IncidentRow, reports: number): IncidentRecord {
  return {
    id: r.id,
    hotspotId: r.hotspotId,
    status: r.status,
    openedAt: date(r.openedAt),
    resolvedAt: dateOrNull(r.resolvedAt),
    note: r.note,
    reports,
  };
}

function toOutbox(r: OutboxRow): OutboxEntry {
  return {
    id: r.id,
    messageId: r.messageId,
    conversationId: r.conversationId as ConversationId,
    channel: r.channel,
    address: jsonCopy(r.address) as Address,
    outbound: jsonCopy(r.payload) as Outbound,
    idempotencyKey: r.idempotencyKey,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: date(r.nextAttemptAt),
    lastError: r.lastError,
    lastInboundAt: dateOrNull(r.lastInboundAt),
    leaseToken: r.leaseToken,
  };
}

/** As the SQL store's `normAddress`: lowercase, no accents, letters and digits only. */
function normAddress(address: string): string {
  return address
    .toLowerCase()
    .replace(/[áéíóúüñ]/g, (c) => ACCENTS[c] ?? c)
    .replace(/[^a-z0-9]/g, '');
}
const ACCENTS: Record<string, string> = { á: 'a', é: 'e', í: 'i', ó: 'o', ú: 'u', ü: 'u', ñ: 'n' };

/** Great-circle distance in metres, the same formula as the SQL store. */
function haversineM(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const a =
    Math.sin(((lat2 - lat1) * rad) / 2) ** 2 +
    Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 6371000 * 2 * Math.asin(Math.sqrt(a));
}

const FOLIO_RE = /^([A-Z0-9]+)-(\d{4})-(\d{6,})$/;
const RECEIPT_RANK = { sent: 1, delivered: 2, read: 3, failed: 4 } as const;
const rankOf = (s: MessageStatus): number =>
  s === 'pending' ? 0 : s === 'sent' ? 1 : s === 'delivered' ? 2 : s === 'read' ? 3 : 4;

/** What PostgreSQL reports as a constraint violation; the SQL store wraps those as `STORE_UNAVAILABLE`. */
function violation(message: string): StoreError {
  return new StoreError('STORE_UNAVAILABLE', `Database error: ${message}`, { retryable: true });
}

const byCreatedDesc = (a: CaseRow, b: CaseRow) => b.createdAt - a.createdAt || b.seq - a.seq;
const bySubscriptionOrder = (a: SubscriptionRow, b: SubscriptionRow) =>
  a.createdAt - b.createdAt ||
  (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0) ||
  (a.colonia < b.colonia ? -1 : a.colonia > b.colonia ? 1 : 0);

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function remove<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  const i = list ? list.indexOf(value) : -1;
  if (i >= 0) list!.splice(i, 1);
  if (list?.length === 0) map.delete(key);
}

/** Add an identity to a phone or e-mail index, kept oldest first. */
function vouched(map: Map<string, IdentityRow[]>, key: string, i: IdentityRow): void {
  const list = map.get(key);
  if (!list) return void map.set(key, [i]);
  let at = list.length;
  while (at > 0 && list[at - 1]!.createdAt > i.createdAt) at--;
  list.splice(at, 0, i);
}

// ---------------------------------------------------------------------------------------------------------------
// Committed data

/** The committed dataset with its indexes; only commits and the non-transactional port calls change it. */
class Tables {
  readonly contacts = new Map<string, ContactRow>();
  /** `channel \0 user` → identity. */
  readonly identities = new Map<string, IdentityRow>();
  readonly identitiesByContact = new Map<string, IdentityRow[]>();
  /** Identities by the phone or e-mail a provider vouched for, oldest first. */
  readonly identitiesByPhone = new Map<string, IdentityRow[]>();
  readonly identitiesByEmail = new Map<string, IdentityRow[]>();
  readonly conversations = new Map<string, ConversationRow>();
  touched = 0;

  readonly messages = new Map<string, MessageRow>();
  /** Messages of a conversation in append order. */
  readonly messagesByConversation = new Map<string, MessageRow[]>();
  /** `channel \0 externalId` of inbound messages: a redelivery is a duplicate. */
  readonly inboundKeys = new Set<string>();
  /** `channel \0 externalId` of outbound messages (unique, as the SQL index), for receipts. */
  readonly outboundByExternal = new Map<string, MessageRow>();

  /** `prefix \0 year` → last folio number. */
  readonly sequences = new Map<string, number>();
  readonly cases = new Map<string, CaseRow>();
  readonly casesByFolio = new Map<string, CaseRow>();
  readonly casesByContact = new Map<string, CaseRow[]>();
  readonly casesByIncident = new Map<string, CaseRow[]>();
  /** Cases with `closedAt === null`, per category (duplicate detection scans these). */
  readonly openCasesByCategory = new Map<string, Set<CaseRow>>();
  caseSeq = 0;

  readonly events = new Map<string, EventRow[]>();
  eventSeq = 0;

  readonly followers = new Map<string, FollowerRow[]>();
  readonly followedBy = new Map<string, FollowerRow[]>();

  readonly incidents: IncidentRow[] = [];
  readonly openIncidents = new Map<string, IncidentRow>();

  /** `contact \0 topic \0 colonia` → subscription. */
  readonly subscriptions = new Map<string, SubscriptionRow>();
  readonly subscriptionsByContact = new Map<string, SubscriptionRow[]>();

  /** Link requests by id (few, short-lived: scanned for the rate limits). */
  readonly links = new Map<string, LinkCode>();

  readonly outbox = new Map<string, OutboxRow>();
  /** Entries not yet sent nor dead, in write order. */
  readonly undelivered = new Set<OutboxRow>();
  /** The same, per conversation (replies go out in order). */
  readonly undeliveredByConversation = new Map<string, OutboxRow[]>();
  readonly dead: OutboxRow[] = [];
  outboxSeq = 0;

  insertIdentity(i: IdentityRow): void {
    this.identities.set(`${i.channel}\0${i.user}`, i);
    push(this.identitiesByContact, i.contactId, i);
    if (i.phone !== null) vouched(this.identitiesByPhone, i.phone, i);
    if (i.email !== null) vouched(this.identitiesByEmail, i.email, i);
  }

  setPhone(i: IdentityRow, phone: string): void {
    if (i.phone === phone) return;
    if (i.phone !== null) remove(this.identitiesByPhone, i.phone, i);
    i.phone = phone;
    vouched(this.identitiesByPhone, phone, i);
  }

  setEmail(i: IdentityRow, email: string): void {
    if (i.email === email) return;
    if (i.email !== null) remove(this.identitiesByEmail, i.email, i);
    i.email = email;
    vouched(this.identitiesByEmail, email, i);
  }

  /**
   * Move everything of contact `from` to `into` and delete `from`, as the SQL merge does: identities and cases
   * move; followers and subscriptions are copied unless `into` already has them (`copy` gives the copy), and the
   * originals go with the contact. Conversations and consent are the transaction's own writes.
   */
  mergeContact(from: string, into: string, copy: (s: SubscriptionRow) => SubscriptionRow): void {
    for (const i of this.identitiesByContact.get(from) ?? []) {
      i.contactId = into;
      push(this.identitiesByContact, into, i);
    }
    this.identitiesByContact.delete(from);
    for (const c of this.casesByContact.get(from) ?? []) {
      c.contactId = into;
      push(this.casesByContact, into, c);
    }
    this.casesByContact.delete(from);
    for (const f of this.followedBy.get(from) ?? []) {
      const list = this.followers.get(f.caseId) ?? [];
      const kept = list.filter((x) => x !== f);
      if (kept.length > 0) this.followers.set(f.caseId, kept);
      else this.followers.delete(f.caseId);
      if (!kept.some((x) => x.contactId === into))
        this.insertFollower({ caseId: f.caseId, contactId: into, conversationId: f.conversationId });
    }
    this.followedBy.delete(from);
    for (const sub of this.subscriptionsByContact.get(from) ?? []) {
      this.subscriptions.delete(`${from}\0${sub.topic}\0${sub.colonia}`);
      const key = `${into}\0${sub.topic}\0${sub.colonia}`;
      if (this.subscriptions.has(key)) continue;
      const moved = copy(sub);
      this.subscriptions.set(key, moved);
      push(this.subscriptionsByContact, into, moved);
    }
    this.subscriptionsByContact.delete(from);
    for (const [id, l] of this.links) {
      if (l.contactId === from || l.targetContactId === from)
        this.links.set(id, {
          ...l,
          contactId: (l.contactId === from ? into : l.contactId) as ContactId,
          targetContactId: (l.targetContactId === from ? into : l.targetContactId) as ContactId | null,
        });
    }
    this.contacts.delete(from);
  }

  insertMessage(m: MessageRow): void {
    this.messages.set(m.id, m);
    push(this.messagesByConversation, m.conversationId, m);
    if (m.direction === 'in' && m.externalId !== null) this.inboundKeys.add(`${m.channel}\0${m.externalId}`);
  }

  insertCase(c: CaseRow): void {
    c.seq = ++this.caseSeq;
    this.cases.set(c.id, c);
    this.casesByFolio.set(c.folio, c);
    if (c.contactId !== null) push(this.casesByContact, c.contactId, c);
    if (c.incidentId !== null) push(this.casesByIncident, c.incidentId, c);
    if (c.closedAt === null) this.setOpen(c, true);
  }

  setOpen(c: CaseRow, open: boolean): void {
    let set = this.openCasesByCategory.get(c.category);
    if (open) {
      if (!set) this.openCasesByCategory.set(c.category, (set = new Set()));
      set.add(c);
    } else if (set) {
      set.delete(c);
      if (set.size === 0) this.openCasesByCategory.delete(c.category);
    }
  }

  insertEvent(e: EventRow): void {
    e.id = ++this.eventSeq;
    push(this.events, e.caseId, e);
  }

  insertFollower(f: FollowerRow): void {
    push(this.followers, f.caseId, f);
    push(this.followedBy, f.contactId, f);
  }

  insertOutbox(o: OutboxRow): void {
    o.seq = ++this.outboxSeq;
    this.outbox.set(o.id, o);
    this.undelivered.add(o);
    push(this.undeliveredByConversation, o.conversationId, o);
  }

  /** The entry was sent or dead-lettered: it no longer holds back its conversation. */
  delivered(o: OutboxRow): void {
    this.undelivered.delete(o);
    const list = this.undeliveredByConversation.get(o.conversationId);
    if (!list) return;
    const i = list.indexOf(o);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.undeliveredByConversation.delete(o.conversationId);
  }

  reports(incidentId: string): number {
    return this.casesByIncident.get(incidentId)?.length ?? 0;
  }

  toConversation(r: ConversationRow): ConversationRecord {
    return {
      id: r.id as ConversationId,
      contactId: r.contactId as ContactId,
      channel: r.channel,
      address: jsonCopy(r.address) as Address,
      mode: r.mode,
      queue: r.queue,
      locale: r.locale,
      state: jsonCopy(r.state) ?? null,
      stateVersion: r.stateVersion,
      lastInboundAt: dateOrNull(r.lastInboundAt),
      createdAt: date(r.createdAt),
      privacyNoticeAt: dateOrNull(this.contacts.get(r.contactId)?.privacyConsentAt ?? null),
    };
  }

  toEvent(e: EventRow): CaseEvent {
    return {
      id: e.id,
      caseId: e.caseId,
      at: date(e.at),
      actor: e.actor,
      kind: e.kind,
      data: jsonCopy(e.data) as Record<string, unknown>,
    };
  }
}

/** The row of a new or imported case (the same columns as the SQL store's `caseColumns`). */
function caseRow(
  input: NewCase,
  fields: { folio: string; status: string; createdAt: Ms; closedAt: Ms | null },
): CaseRow {
  const address = input.address ?? null;
  return {
    id: randomUUID(),
    folio: fields.folio,
    category: input.category,
    description: input.description,
    address,
    norm: address === null ? null : normAddress(address),
    colonia: input.colonia ?? null,
    lat: input.lat ?? null,
    lon: input.lon ?? null,
    status: fields.status,
    department: input.department,
    queue: input.queue,
    priority: input.priority ?? 'normal',
    sensitive: input.sensitive,
    visibility: input.visibility,
    contactPreference: input.contactPreference ?? 'any',
    contactId: input.contactId,
    conversationId: input.conversationId,
    channel: input.channel,
    slaDueAt: input.slaDueAt.getTime(),
    createdAt: fields.createdAt,
    updatedAt: fields.createdAt,
    closedAt: fields.closedAt,
    hotspotId: input.hotspotId ?? null,
    incidentId: input.incidentId ?? null,
    consentAt: input.consentAt ? input.consentAt.getTime() : null,
    geoSource: input.geoSource ?? (input.lat != null ? 'pin' : null),
    seq: 0,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Transactions

/** One transaction: reads see the committed data plus its own writes, which {@link MemoryTx.commit} applies. */
class MemoryTx implements StoreTx {
  readonly #t: Tables;
  readonly #now: () => Ms;
  readonly #initialStatus: string;
  #finished = false;

  // Buffered writes, applied in this order by commit().
  readonly #conversations = new Map<string, ConversationRow>();
  readonly #consent = new Map<string, Ms>();
  readonly #messages: MessageRow[] = [];
  readonly #messageIds = new Set<string>();
  readonly #inboundKeys = new Set<string>();
  readonly #sequences = new Map<string, number>();
  readonly #cases: CaseRow[] = [];
  readonly #events: EventRow[] = [];
  readonly #followers: FollowerRow[] = [];
  readonly #incidents: IncidentRow[] = [];
  readonly #subscriptions = new Map<string, SubscriptionRow>();
  readonly #outbox: OutboxRow[] = [];
  /** Phones recorded by `attachPhone`, and contacts merged away (→ the contact that absorbed them). */
  readonly #phones = new Map<IdentityRow, string>();
  readonly #mergedInto = new Map<string, string>();
  /** Subscription id → the survivor's copy, for merged contacts. */
  readonly #copies = new Map<string, SubscriptionRow>();
  readonly #links = new Map<string, LinkCode>();
  readonly #forgetLinks = new Set<string>();

  constructor(tables: Tables, now: () => Ms, initialStatus: string) {
    this.#t = tables;
    this.#now = now;
    this.#initialStatus = initialStatus;
  }

  async appendInbound(
    conversationId: ConversationId,
    inbound: Inbound,
    text: string | null,
  ): Promise<'inserted' | 'duplicate'> {
    this.#open();
    const t = this.#t;
    const channel = inbound.address.channel;
    const key = `${channel}\0${inbound.externalId}`;
    if (
      t.messages.has(inbound.id) ||
      this.#messageIds.has(inbound.id) ||
      t.inboundKeys.has(key) ||
      this.#inboundKeys.has(key)
    )
      return 'duplicate';
    if (!t.conversations.has(conversationId)) throw violation('messages_conversation_id_fkey');
    const at = Date.parse(inbound.at);
    if (Number.isNaN(at)) throw violation('invalid input syntax for type timestamp with time zone');
    this.#messageIds.add(inbound.id);
    this.#inboundKeys.add(key);
    this.#messages.push({
      id: inbound.id,
      conversationId,
      direction: 'in',
      channel,
      kind: inbound.kind,
      // `raw` stays with the provider: no port reads it back.
      body: jsonCopy(inbound, 'raw') as Record<string, unknown>,
      text,
      author: 'citizen',
      status: 'received',
      failureReason: null,
      externalId: inbound.externalId,
      createdAt: at,
      updatedAt: this.#now(),
    });
    return 'inserted';
  }

  async createCase(
    input: NewCase,
    folio: { prefix: string; year: number },
    actor: string,
  ): Promise<CaseRecord> {
    this.#open();
    const t = this.#t;
    this.#checkParties(input);
    const key = `${folio.prefix}\0${folio.year}`;
    const last = (this.#sequences.get(key) ?? t.sequences.get(key) ?? 0) + 1;
    const text = `${folio.prefix}-${folio.year}-${String(last).padStart(6, '0')}`;
    if (this.#case(text)) throw violation('cases_folio_uq');
    this.#sequences.set(key, last);
    const row = caseRow(input, {
      folio: text,
      status: this.#initialStatus,
      createdAt: input.openedAt?.getTime() ?? this.#now(),
      closedAt: null,
    });
    // Transactions run one at a time, so the sequence it will get at commit is already known.
    row.seq = t.caseSeq + this.#cases.length + 1;
    this.#cases.push(row);
    this.#events.push({
      id: 0,
      caseId: row.id,
      at: this.#now(),
      actor,
      kind: 'created',
      data: { folio: row.folio, status: row.status },
    });
    return toCase(row);
  }

  async findCase(folio: string): Promise<CaseRecord | null> {
    this.#open();
    const row = this.#case(folio);
    return row ? toCase(row) : null;
  }

  async addCaseEvent(
    caseId: string,
    actor: string,
    kind: string,
    data: Record<string, unknown>,
  ): Promise<void> {
    this.#open();
    if (!this.#t.cases.has(caseId) && !this.#cases.some((c) => c.id === caseId))
      throw violation('case_events_case_id_fkey');
    this.#events.push({
      id: 0,
      caseId,
      at: this.#now(),
      actor,
      kind,
      data: jsonCopy(data) as Record<string, unknown>,
    });
  }

  async findOpenCasesNear(input: {
    category: string;
    lat: number | null;
    lon: number | null;
    radiusM: number;
    address: string | null;
    limit?: number;
  }): Promise<CaseRecord[]> {
    this.#open();
    const norm = input.address === null ? null : normAddress(input.address);
    const found: { row: CaseRow; distance: number | null }[] = [];
    const consider = (c: CaseRow) => {
      if (c.sensitive || (c.geoSource === 'colonia' && input.lat !== null)) return;
      const distance =
        c.lat === null || c.lon === null || input.lat === null || input.lon === null
          ? null
          : haversineM(input.lat, input.lon, c.lat, c.lon);
      const near = distance !== null && distance <= input.radiusM;
      if (near || (norm !== null && c.norm !== null && c.norm === norm)) found.push({ row: c, distance });
    };
    for (const c of this.#t.openCasesByCategory.get(input.category) ?? []) consider(c);
    for (const c of this.#cases) if (c.category === input.category && c.closedAt === null) consider(c);
    found.sort((a, b) => (a.distance ?? Infinity) - (b.distance ?? Infinity) || byCreatedDesc(a.row, b.row));
    return found.slice(0, input.limit ?? 3).map((f) => toCase(f.row));
  }

  async followCase(
    caseId: string,
    contactId: ContactId,
    conversationId: ConversationId | null,
    actor: string,
  ): Promise<boolean> {
    this.#open();
    const t = this.#t;
    const row = t.cases.get(caseId) ?? this.#cases.find((c) => c.id === caseId);
    if (row && row.contactId !== null && this.#owner(row.contactId) === contactId) return false;
    const same = (f: FollowerRow) => f.caseId === caseId && this.#owner(f.contactId) === contactId;
    if (t.followers.get(caseId)?.some(same) || this.#followers.some(same)) return false;
    if (!row) throw violation('case_followers_case_id_fkey');
    if (!this.#contactExists(contactId)) throw violation('case_followers_contact_id_fkey');
    if (conversationId !== null && !t.conversations.has(conversationId))
      throw violation('case_followers_conversation_id_fkey');
    this.#followers.push({ caseId, contactId, conversationId });
    this.#events.push({ id: 0, caseId, at: this.#now(), actor, kind: 'follower_added', data: { contactId } });
    return true;
  }

  async joinIncident(hotspotId: string, now: Date): Promise<{ incident: IncidentRecord; opened: boolean }> {
    this.#open();
    const own = this.#incidents.find((i) => i.hotspotId === hotspotId && i.status === 'open');
    const existing = own ?? this.#t.openIncidents.get(hotspotId);
    if (existing) return { incident: toIncident(existing, this.#reports(existing.id)), opened: false };
    const row: IncidentRow = {
      id: randomUUID(),
      hotspotId,
      status: 'open',
      openedAt: now.getTime(),
      resolvedAt: null,
      note: null,
    };
    this.#incidents.push(row);
    return { incident: toIncident(row, 0), opened: true };
  }

  async listCases(filter: { contactId: ContactId; limit?: number }): Promise<CaseRecord[]> {
    this.#open();
    const t = this.#t;
    const rows = new Set<CaseRow>();
    for (const contactId of this.#aliases(filter.contactId)) {
      for (const c of t.casesByContact.get(contactId) ?? []) rows.add(c);
      for (const c of this.#cases) if (c.contactId === contactId) rows.add(c);
      const followed = [
        ...(t.followedBy.get(contactId) ?? []),
        ...this.#followers.filter((f) => f.contactId === contactId),
      ];
      for (const f of followed) {
        const row = t.cases.get(f.caseId) ?? this.#cases.find((c) => c.id === f.caseId);
        if (row) rows.add(row);
      }
    }
    return [...rows]
      .sort(byCreatedDesc)
      .slice(0, filter.limit ?? 10)
      .map(toCase);
  }

  async attachPhone(
    conversation: ConversationRecord,
    phone: string,
  ): Promise<{ contactId: ContactId; merged: boolean }> {
    this.#open();
    const t = this.#t;
    const conv = this.#conversations.get(conversation.id) ?? t.conversations.get(conversation.id);
    if (!conv) return { contactId: conversation.contactId, merged: false };
    const mine = this.#owner(conv.identity.contactId);
    // The oldest other identity with that phone, as it stands in this transaction.
    let other: IdentityRow | undefined;
    const consider = (i: IdentityRow) => {
      if ((this.#phones.get(i) ?? i.phone) !== phone || this.#owner(i.contactId) === mine) return;
      if (!other || i.createdAt < other.createdAt) other = i;
    };
    for (const i of t.identitiesByPhone.get(phone) ?? []) consider(i);
    for (const i of this.#phones.keys()) consider(i);
    this.#phones.set(conv.identity, phone);
    if (!other) return { contactId: mine as ContactId, merged: false };
    const into = this.#owner(other.contactId);
    this.#merge(mine, into);
    return { contactId: into as ContactId, merged: true };
  }

  async mergeContacts(
    conversation: ConversationRecord,
    other: ContactId,
  ): Promise<{ contactId: ContactId; moved: boolean }> {
    this.#open();
    const t = this.#t;
    const conv = this.#conversations.get(conversation.id) ?? t.conversations.get(conversation.id);
    const mine = this.#owner(conv?.contactId ?? conversation.contactId);
    const theirs = this.#owner(other);
    const a = t.contacts.get(mine);
    const b = t.contacts.get(theirs);
    if (mine === theirs || !a || !b) return { contactId: mine as ContactId, moved: false };
    // The older contact keeps its id (its cases and folios are what the citizen already knows).
    const older = a.createdAt < b.createdAt || (a.createdAt === b.createdAt && a.id < b.id) ? a : b;
    const from = older === a ? theirs : mine;
    this.#merge(from, older.id);
    return { contactId: older.id as ContactId, moved: from === mine };
  }

  async findIdentities(match: {
    readonly phone?: string;
    readonly email?: string;
  }): Promise<IdentityMatch[]> {
    this.#open();
    const t = this.#t;
    const found = new Set<IdentityRow>();
    if (match.phone !== undefined) {
      for (const i of t.identitiesByPhone.get(match.phone) ?? []) found.add(i);
      for (const [i, phone] of this.#phones) if (phone === match.phone) found.add(i);
    }
    if (match.email !== undefined)
      for (const i of t.identitiesByEmail.get(match.email.toLowerCase()) ?? []) found.add(i);
    const out: { match: IdentityMatch; last: number; created: Ms }[] = [];
    for (const i of found) {
      // A phone this transaction changed counts as it now is.
      if (match.email === undefined && (this.#phones.get(i) ?? i.phone) !== match.phone) continue;
      const conv = this.#conversations.get(i.conversationId) ?? t.conversations.get(i.conversationId);
      if (!conv) continue;
      out.push({
        match: {
          contactId: this.#owner(i.contactId) as ContactId,
          channel: i.channel,
          conversationId: conv.id as ConversationId,
          locale: conv.locale,
          lastSeenAt: date(conv.lastInboundAt ?? i.lastSeenAt),
        },
        last: conv.lastInboundAt ?? Number.NEGATIVE_INFINITY,
        created: i.createdAt,
      });
    }
    // As the SQL: the conversation that wrote last first (never-written ones last), then the newest identity.
    return out
      .sort((x, y) => y.last - x.last || y.created - x.created)
      .slice(0, 20)
      .map((o) => o.match);
  }

  async saveLinkCode(code: LinkCode): Promise<void> {
    this.#open();
    const existing = this.#links.get(code.id) ?? this.#t.links.get(code.id);
    if (!existing) {
      if (!this.#contactExists(code.contactId)) throw violation('contact_links_contact_id_fkey');
      if (!this.#t.conversations.has(code.conversationId))
        throw violation('contact_links_conversation_id_fkey');
    }
    if (!existing) {
      // As the SQL insert: requests that expired over a day (and an hour) ago are forgotten.
      const before = code.createdAt.getTime() - 25 * 3_600_000;
      for (const [id, l] of this.#t.links) if (l.expiresAt.getTime() < before) this.#forgetLinks.add(id);
    }
    // As the SQL upsert: only the attempts and the linking time change on an existing request.
    this.#links.set(
      code.id,
      existing ? { ...existing, attempts: code.attempts, linkedAt: code.linkedAt } : structuredClone(code),
    );
  }

  async getLinkCode(id: string): Promise<LinkCode | null> {
    this.#open();
    const l = this.#links.get(id) ?? this.#t.links.get(id);
    if (!l) return null;
    return {
      ...structuredClone(l),
      contactId: this.#owner(l.contactId) as ContactId,
      targetContactId: l.targetContactId === null ? null : (this.#owner(l.targetContactId) as ContactId),
    };
  }

  async countLinkCodes(filter: { target: string; contactId: ContactId; since: Date }): Promise<number> {
    this.#open();
    const since = filter.since.getTime();
    const all = new Map([...this.#t.links, ...this.#links]);
    let n = 0;
    for (const l of all.values())
      if (
        (l.target === filter.target || this.#owner(l.contactId) === filter.contactId) &&
        l.createdAt.getTime() >= since
      )
        n++;
    return n;
  }

  async queueOutbound(conversationId: ConversationId, message: PendingOutbound, now: Date): Promise<string> {
    this.#open();
    const conv = this.#conversations.get(conversationId) ?? this.#t.conversations.get(conversationId);
    if (!conv)
      throw new StoreError('STORE_NOT_FOUND', `No conversation ${conversationId} to queue a message to`);
    return this.#queue(conv, message, now.getTime());
  }

  /** Move contact `from` into `into` as this transaction sees them (applied to the tables on commit). */
  #merge(from: string, into: string): void {
    const t = this.#t;
    const moving = this.#aliases(from);
    this.#mergedInto.set(from, into);
    const now = this.#now();
    for (const alias of moving) {
      for (const i of t.identitiesByContact.get(alias) ?? []) {
        const current = this.#conversations.get(i.conversationId) ?? t.conversations.get(i.conversationId);
        if (!current) continue;
        this.#conversations.set(current.id, {
          ...current,
          contactId: into,
          stateVersion: current.stateVersion + 1,
          updatedAt: now,
        });
      }
    }
    const consent = (c: string) => t.contacts.get(c)?.privacyConsentAt ?? this.#consent.get(c) ?? null;
    const carried = consent(from);
    if (consent(into) === null && carried !== null) this.#consent.set(into, carried);
  }

  async subscribe(input: {
    contactId: ContactId;
    conversationId: ConversationId;
    channel: string;
    topic: string;
    colonia: string;
  }): Promise<SubscriptionRecord> {
    this.#open();
    const t = this.#t;
    if (!this.#contactExists(input.contactId)) throw violation('subscriptions_contact_id_fkey');
    if (!t.conversations.has(input.conversationId)) throw violation('subscriptions_conversation_id_fkey');
    const existing = this.#subscriptionsOf(input.contactId).find(
      (x) => x.topic === input.topic && x.colonia === input.colonia,
    );
    const now = this.#now();
    const row: SubscriptionRow = existing
      ? {
          ...existing,
          active: true,
          channel: input.channel,
          conversationId: input.conversationId,
          updatedAt: now,
        }
      : {
          id: randomUUID(),
          contactId: input.contactId,
          conversationId: input.conversationId,
          channel: input.channel,
          topic: input.topic,
          colonia: input.colonia,
          active: true,
          createdAt: now,
          updatedAt: now,
        };
    this.#subscriptions.set(`${input.contactId}\0${input.topic}\0${input.colonia}`, row);
    return toSubscription(row);
  }

  async unsubscribe(input: { contactId: ContactId; topic?: string; colonia?: string }): Promise<number> {
    this.#open();
    let n = 0;
    const now = this.#now();
    for (const s of this.#subscriptionsOf(input.contactId)) {
      if (!s.active) continue;
      if (input.topic !== undefined && s.topic !== input.topic) continue;
      if (input.colonia !== undefined && s.colonia !== input.colonia) continue;
      this.#subscriptions.set(`${s.contactId}\0${s.topic}\0${s.colonia}`, {
        ...s,
        active: false,
        updatedAt: now,
      });
      n++;
    }
    return n;
  }

  async listSubscriptions(contactId: ContactId): Promise<SubscriptionRecord[]> {
    this.#open();
    return this.#subscriptionsOf(contactId).sort(bySubscriptionOrder).map(toSubscription);
  }

  async recentTexts(conversationId: ConversationId, limit: number): Promise<string[]> {
    this.#open();
    const out: string[] = [];
    const take = (m: MessageRow) => {
      if (m.text !== null && m.conversationId === conversationId) out.push(`${m.author}: ${m.text}`);
    };
    for (let i = this.#messages.length - 1; i >= 0 && out.length < limit; i--) take(this.#messages[i]!);
    const committed = this.#t.messagesByConversation.get(conversationId) ?? [];
    for (let i = committed.length - 1; i >= 0 && out.length < limit; i--) take(committed[i]!);
    return out.reverse();
  }

  async commitTurn(input: Parameters<StoreTx['commitTurn']>[0]): Promise<TurnCommit> {
    this.#open();
    const t = this.#t;
    const id = input.conversation.id;
    const current = this.#conversations.get(id) ?? t.conversations.get(id);
    if (!current || current.stateVersion !== input.conversation.stateVersion) {
      throw new StoreError(
        'STORE_VERSION_CONFLICT',
        `Conversation ${id} was saved by another turn (expected version ${input.conversation.stateVersion})`,
        { retryable: true },
      );
    }
    const now = input.now.getTime();
    const next: ConversationRow = {
      ...current,
      state: jsonCopy(input.state ?? null) ?? null,
      stateVersion: current.stateVersion + 1,
      mode: input.mode,
      queue: input.queue,
      locale: input.locale,
      // Replies follow the citizen's latest address (an e-mail thread, a Bot Framework conversation).
      address: input.address ? (jsonCopy(input.address) as Address) : current.address,
      lastInboundAt: input.lastInboundAt?.getTime() ?? current.lastInboundAt,
      updatedAt: now,
    };
    this.#conversations.set(id, next);
    if (input.privacyNoticeShown === true && !this.#consent.has(current.contactId))
      this.#consent.set(current.contactId, now);
    // Replies go out in order: lease this turn's only when nothing older of the conversation is undelivered.
    const free =
      input.lease !== undefined &&
      input.outbound.length > 0 &&
      !t.undeliveredByConversation.get(id)?.length &&
      !this.#outbox.some((o) => o.conversationId === id);
    const outboxIds = input.outbound.map((o) => this.#queue(next, o, now));
    if (!free || !input.lease) return { stateVersion: next.stateVersion, outboxIds, leased: [] };
    const token = randomUUID();
    const until = now + input.lease.leaseMs;
    const leased = this.#outbox
      .filter((o) => outboxIds.includes(o.id))
      .map((o) => {
        o.status = 'sending';
        o.attempts = 1;
        o.leaseToken = token;
        o.leasedUntil = until;
        return toOutbox(o);
      });
    return { stateVersion: next.stateVersion, outboxIds, leased };
  }

  /** Store an outbound message of `conv` with its outbox entry; returns the entry's id. */
  #queue(conv: ConversationRow, o: PendingOutbound, now: Ms): string {
    const messageId = randomUUID();
    const payload = jsonCopy(o.outbound) as Outbound;
    const kept = o.history ? (jsonCopy(o.history) as Outbound) : payload;
    this.#messages.push({
      id: messageId,
      conversationId: conv.id,
      direction: 'out',
      channel: conv.channel,
      kind: kept.kind,
      body: kept,
      text: outboundText(kept),
      author: o.author,
      status: 'pending',
      failureReason: null,
      externalId: null,
      createdAt: now,
      updatedAt: now,
    });
    const outboxId = randomUUID();
    this.#outbox.push({
      id: outboxId,
      messageId,
      conversationId: conv.id,
      channel: conv.channel,
      address: conv.address,
      payload,
      idempotencyKey: `${o.history ? 'otp' : 'out'}:${messageId}`,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: now,
      leasedUntil: null,
      leaseToken: null,
      lastError: null,
      lastInboundAt: conv.lastInboundAt,
      seq: 0,
      updatedAt: now,
    });
    return outboxId;
  }

  /** Apply the buffered writes. Everything that could fail was checked when the write was made. */
  commit(): void {
    const t = this.#t;
    for (const [id, row] of this.#conversations) {
      row.touched = ++t.touched;
      t.conversations.set(id, row);
    }
    for (const [contactId, at] of this.#consent) {
      const contact = t.contacts.get(contactId);
      if (contact) contact.privacyConsentAt ??= at;
    }
    for (const m of this.#messages) t.insertMessage(m);
    for (const [key, last] of this.#sequences)
      t.sequences.set(key, Math.max(last, t.sequences.get(key) ?? 0));
    for (const i of this.#incidents) {
      t.incidents.push(i);
      t.openIncidents.set(i.hotspotId, i);
    }
    for (const c of this.#cases) t.insertCase(c);
    for (const e of this.#events) t.insertEvent(e);
    for (const f of this.#followers) t.insertFollower(f);
    for (const [key, row] of this.#subscriptions) {
      const committed = t.subscriptions.get(key);
      if (committed) Object.assign(committed, row);
      else {
        t.subscriptions.set(key, row);
        push(t.subscriptionsByContact, row.contactId, row);
      }
    }
    for (const o of this.#outbox) t.insertOutbox(o);
    for (const id of this.#forgetLinks) t.links.delete(id);
    for (const [id, l] of this.#links) t.links.set(id, l);
    for (const [identity, phone] of this.#phones) t.setPhone(identity, phone);
    for (const [from, into] of this.#mergedInto)
      t.mergeContact(from, into, (sub) => {
        const copy = this.#copies.get(sub.id);
        return copy?.contactId === into ? copy : { ...sub, id: randomUUID(), contactId: into };
      });
  }

  /** The transaction ended; a late call through a kept reference must not write into the void. */
  finish(): void {
    this.#finished = true;
  }

  #open(): void {
    if (this.#finished) throw new StoreError('STORE_UNAVAILABLE', 'The transaction has already finished');
  }

  #case(folio: string): CaseRow | undefined {
    return this.#t.casesByFolio.get(folio) ?? this.#cases.find((c) => c.folio === folio);
  }

  #reports(incidentId: string): number {
    return this.#t.reports(incidentId) + this.#cases.filter((c) => c.incidentId === incidentId).length;
  }

  #checkParties(input: NewCase): void {
    if (input.contactId !== null && !this.#contactExists(input.contactId))
      throw violation('cases_contact_id_fkey');
    if (input.conversationId !== null && !this.#t.conversations.has(input.conversationId))
      throw violation('cases_conversation_id_fkey');
  }

  /** A contact's subscriptions as this transaction sees them (a merged contact's ones count as the survivor's). */
  #subscriptionsOf(contactId: string): SubscriptionRow[] {
    const t = this.#t;
    const out: SubscriptionRow[] = [];
    const seen = new Set<string>();
    for (const alias of this.#aliases(contactId)) {
      const rows: SubscriptionRow[] = [];
      for (const s of t.subscriptionsByContact.get(alias) ?? [])
        rows.push(this.#subscriptions.get(`${alias}\0${s.topic}\0${s.colonia}`) ?? s);
      for (const [key, s] of this.#subscriptions)
        if (s.contactId === alias && !t.subscriptions.has(key)) rows.push(s);
      for (const s of rows) {
        const key = `${s.topic}\0${s.colonia}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(alias === contactId ? s : this.#copyFor(s, contactId));
      }
    }
    return out;
  }

  /** The survivor's copy of a merged contact's subscription (one per row, so its id is stable). */
  #copyFor(s: SubscriptionRow, contactId: string): SubscriptionRow {
    let copy = this.#copies.get(s.id);
    if (!copy) this.#copies.set(s.id, (copy = { ...s, id: randomUUID(), contactId }));
    return copy;
  }

  /** The contact a contact id stands for after this transaction's merges. */
  #owner(contactId: string): string {
    let c = contactId;
    for (let into = this.#mergedInto.get(c); into !== undefined; into = this.#mergedInto.get(c)) c = into;
    return c;
  }

  /** A contact and those merged into it in this transaction; nothing for a contact merged away. */
  #aliases(contactId: string): string[] {
    if (this.#mergedInto.size === 0) return [contactId];
    if (this.#mergedInto.has(contactId)) return [];
    return [contactId, ...[...this.#mergedInto.keys()].filter((c) => this.#owner(c) === contactId)];
  }

  #contactExists(contactId: string): boolean {
    return this.#t.contacts.has(contactId) && !this.#mergedInto.has(contactId);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The stores

/**
 * Build an in-memory {@link CaseStore} and {@link OutboxStore} over one dataset. Same port semantics as
 * `createPostgresCaseStore`/`createPostgresOutboxStore` (version conflicts, idempotent inbound, gapless folios per
 * prefix and year, one open incident per hotspot, fenced outbox leases in conversation order), nothing durable.
 *
 * Transactions run one at a time (like PGlite); a transaction callback must not wait for another transaction (nor
 * for `importCase`, `updateCaseStatus` or `resolveIncident`, which take the same turn), or it waits forever.
 */
export function createMemoryStores(opts: MemoryStoreOptions = {}): MemoryStores {
  const clock = opts.now ?? (() => new Date());
  const nowMs = () => clock().getTime();
  const initialStatus = opts.initialStatus ?? 'recibido';
  const t = new Tables();

  // One transaction at a time; `waiting` holds the turns of the others, first come first served.
  let busy = false;
  const waiting: (() => void)[] = [];
  async function exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    if (busy) await new Promise<void>((resolve) => waiting.push(resolve));
    else busy = true;
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else busy = false;
    }
  }

  const requireCase = (caseId: string) => {
    if (!t.cases.has(caseId)) throw violation('case_events_case_id_fkey');
  };

  const store: CaseStore = {
    async resolveConversation(input) {
      const key = `${input.channel}\0${input.address.user}`;
      const phone = input.identity?.phone ?? null;
      const email = input.identity?.email?.toLowerCase() ?? null;
      const known = t.identities.get(key);
      if (known) {
        if (phone !== null && known.phone === null) t.setPhone(known, phone);
        if (email !== null && known.email === null) t.setEmail(known, email);
        const existing = t.conversations.get(known.conversationId);
        if (existing) return t.toConversation(existing);
      }
      const now = nowMs();
      // A new identity with a phone or e-mail another identity already has joins that (oldest) identity's contact.
      const byPhone = phone === null ? undefined : t.identitiesByPhone.get(phone)?.[0];
      const byEmail = email === null ? undefined : t.identitiesByEmail.get(email)?.[0];
      const oldest =
        byPhone && byEmail
          ? byEmail.createdAt < byPhone.createdAt
            ? byEmail
            : byPhone
          : (byPhone ?? byEmail);
      let contactId = oldest?.contactId;
      if (contactId === undefined) {
        const contact: ContactRow = {
          id: randomUUID(),
          locale: input.locale,
          privacyConsentAt: null,
          createdAt: now,
        };
        t.contacts.set(contact.id, contact);
        contactId = contact.id;
      }
      const identity: IdentityRow = known ?? {
        id: randomUUID(),
        contactId,
        channel: input.channel,
        user: input.address.user,
        phone,
        email,
        createdAt: now,
        lastSeenAt: now,
        conversationId: randomUUID(),
      };
      const row: ConversationRow = {
        id: identity.conversationId,
        contactId: identity.contactId,
        identity,
        channel: input.channel,
        address: jsonCopy(input.address) as Address,
        mode: 'bot',
        queue: null,
        locale: input.locale,
        state: null,
        stateVersion: 0,
        lastInboundAt: null,
        createdAt: now,
        updatedAt: now,
        touched: ++t.touched,
      };
      if (!known) t.insertIdentity(identity);
      t.conversations.set(row.id, row);
      return t.toConversation(row);
    },

    async getContact(id) {
      const contact = t.contacts.get(id);
      if (!contact) return null;
      const identities = [...(t.identitiesByContact.get(id) ?? [])].sort((a, b) => a.createdAt - b.createdAt);
      const record: ContactRecord = {
        id: contact.id as ContactId,
        locale: contact.locale,
        privacyConsentAt: dateOrNull(contact.privacyConsentAt),
        createdAt: date(contact.createdAt),
        identities: identities.map((i) => ({
          channel: i.channel,
          user: i.user,
          phone: i.phone,
          email: i.email,
          createdAt: date(i.createdAt),
          lastSeenAt: date(i.lastSeenAt),
        })),
      };
      return record;
    },

    async findConversation(channel, user) {
      const identity = t.identities.get(`${channel}\0${user}`);
      const row = identity === undefined ? undefined : t.conversations.get(identity.conversationId);
      return row ? t.toConversation(row) : null;
    },

    async getConversation(id) {
      const row = t.conversations.get(id);
      return row ? t.toConversation(row) : null;
    },

    transaction(fn) {
      return exclusive(async () => {
        const tx = new MemoryTx(t, nowMs, initialStatus);
        try {
          const result = await fn(tx);
          tx.commit();
          return result;
        } finally {
          tx.finish();
        }
      });
    },

    async listMessages(conversationId, options = {}) {
      const list = t.messagesByConversation.get(conversationId) ?? [];
      const limit = options.limit ?? 200;
      return list.slice(Math.max(0, list.length - limit)).map(toMessage);
    },

    async listConversations(filter) {
      const out: ConversationRow[] = [];
      for (const c of t.conversations.values()) {
        if (filter.mode !== undefined && c.mode !== filter.mode) continue;
        if (filter.queue !== undefined && c.queue !== filter.queue) continue;
        out.push(c);
      }
      return out
        .sort((a, b) => b.updatedAt - a.updatedAt || b.touched - a.touched)
        .slice(0, filter.limit ?? 100)
        .map((c) => t.toConversation(c));
    },

    async findCase(folio) {
      const row = t.casesByFolio.get(folio);
      return row ? toCase(row) : null;
    },

    async listCases(filter) {
      const source =
        filter.contactId !== undefined ? (t.casesByContact.get(filter.contactId) ?? []) : t.cases.values();
      const out: CaseRow[] = [];
      for (const c of source) if (filter.status === undefined || c.status === filter.status) out.push(c);
      return out
        .sort((a, b) => b.createdAt - a.createdAt || (a.folio < b.folio ? 1 : a.folio > b.folio ? -1 : 0))
        .slice(0, filter.limit ?? 100)
        .map(toCase);
    },

    async caseEvents(caseId) {
      return (t.events.get(caseId) ?? []).map((e) => t.toEvent(e));
    },

    async addCaseEvent(caseId, actor, kind, data) {
      requireCase(caseId);
      t.insertEvent({
        id: 0,
        caseId,
        at: nowMs(),
        actor,
        kind,
        data: jsonCopy(data) as Record<string, unknown>,
      });
    },

    importCase(input: ImportedCase, actor) {
      return exclusive(() => {
        const m = FOLIO_RE.exec(input.folio);
        if (!m) throw new StoreError('STORE_NOT_FOUND', `Not a folio: ${input.folio}`);
        const [, prefix, yearText, seqText] = m as unknown as [string, string, string, string];
        if (t.casesByFolio.has(input.folio)) throw violation('cases_folio_uq');
        if (input.contactId !== null && !t.contacts.has(input.contactId))
          throw violation('cases_contact_id_fkey');
        if (input.conversationId !== null && !t.conversations.has(input.conversationId))
          throw violation('cases_conversation_id_fkey');
        const key = `${prefix}\0${Number(yearText)}`;
        t.sequences.set(key, Math.max(t.sequences.get(key) ?? 0, Number(seqText)));
        const row = caseRow(input, {
          folio: input.folio,
          status: input.status,
          createdAt: input.createdAt.getTime(),
          closedAt: input.closedAt ? input.closedAt.getTime() : null,
        });
        t.insertCase(row);
        t.insertEvent({
          id: 0,
          caseId: row.id,
          at: nowMs(),
          actor,
          kind: 'imported',
          data: { folio: row.folio, status: row.status },
        });
        return toCase(row);
      });
    },

    setGeocodedLocation(input) {
      return exclusive(() => {
        const row = t.cases.get(input.caseId);
        // A citizen's shared pin beats a geocoded address.
        if (!row || row.geoSource === 'pin') return false;
        row.lat = input.lat;
        row.lon = input.lon;
        row.geoSource = 'geocoder';
        row.updatedAt = input.now.getTime();
        t.insertEvent({
          id: 0,
          caseId: row.id,
          at: nowMs(),
          actor: 'geocoder',
          kind: 'geocoded',
          data: { lat: input.lat, lon: input.lon },
        });
        return true;
      });
    },

    updateCaseStatus(input) {
      return exclusive(() => {
        const row = t.casesByFolio.get(input.folio);
        if (!row) throw new StoreError('STORE_NOT_FOUND', `No case ${input.folio}`);
        const now = input.now.getTime();
        row.status = input.status;
        row.updatedAt = now;
        row.closedAt = input.final ? now : null;
        t.setOpen(row, row.closedAt === null);
        t.insertEvent({
          id: 0,
          caseId: row.id,
          at: nowMs(),
          actor: input.actor,
          kind: 'status_changed',
          data: { status: row.status, note: input.note },
        });
        return toCase(row);
      });
    },

    async caseAudience(caseId) {
      const row = t.cases.get(caseId);
      if (!row) return [];
      const out: CaseAudience[] = [];
      const reporter = row.conversationId === null ? undefined : t.conversations.get(row.conversationId);
      if (reporter) {
        out.push({
          contactId: (row.contactId ?? reporter.contactId) as ContactId,
          conversationId: reporter.id as ConversationId,
          channel: reporter.channel,
          locale: reporter.locale,
          role: 'reporter',
        });
      }
      for (const f of t.followers.get(caseId) ?? []) {
        const conv = f.conversationId === null ? undefined : t.conversations.get(f.conversationId);
        if (!conv) continue;
        out.push({
          contactId: f.contactId as ContactId,
          conversationId: conv.id as ConversationId,
          channel: conv.channel,
          locale: conv.locale,
          role: 'follower',
        });
      }
      return out;
    },

    resolveIncident(input) {
      return exclusive(() => {
        const incident = t.openIncidents.get(input.hotspotId);
        if (!incident) return null;
        const now = input.now.getTime();
        incident.status = 'resolved';
        incident.resolvedAt = now;
        incident.note = input.note;
        t.openIncidents.delete(input.hotspotId);
        const cases: CaseRecord[] = [];
        for (const c of t.casesByIncident.get(incident.id) ?? []) {
          if (c.closedAt !== null) continue;
          c.status = input.resolvedStatus;
          c.closedAt = now;
          c.updatedAt = now;
          t.setOpen(c, false);
          t.insertEvent({
            id: 0,
            caseId: c.id,
            at: nowMs(),
            actor: input.actor,
            kind: 'status_changed',
            data: { status: c.status, note: input.note, incident: incident.id },
          });
          cases.push(toCase(c));
        }
        return { incident: toIncident(incident, t.reports(incident.id)), cases };
      });
    },

    async listIncidents(filter) {
      return t.incidents
        .filter((i) => filter.status === undefined || i.status === filter.status)
        .sort((a, b) => (a.status === b.status ? 0 : a.status === 'open' ? -1 : 1) || b.openedAt - a.openedAt)
        .slice(0, filter.limit ?? 100)
        .map((i) => toIncident(i, t.reports(i.id)));
    },

    async listSubscriptions(contactId) {
      return [...(t.subscriptionsByContact.get(contactId) ?? [])]
        .sort(bySubscriptionOrder)
        .map(toSubscription);
    },

    async applyReceipt(channel, externalId, status, error) {
      const row = t.outboundByExternal.get(`${channel}\0${externalId}`);
      if (!row || rankOf(row.status) >= RECEIPT_RANK[status]) return false;
      row.status = status;
      if (error !== undefined) row.failureReason = error;
      row.updatedAt = nowMs();
      return true;
    },
  };

  /** The entry, when `token` holds its current lease. */
  /** A one-time code's entry keeps only the history's version once it is done with (as the SQL store). */
  const forget = (row: OutboxRow) => {
    const message = t.messages.get(row.messageId);
    if (row.idempotencyKey.startsWith('otp:') && message) row.payload = jsonCopy(message.body) as Outbound;
  };
  const leased = (id: string, token: string): OutboxRow | undefined => {
    const row = t.outbox.get(id);
    return row && row.status === 'sending' && row.leaseToken === token ? row : undefined;
  };
  const endLease = (row: OutboxRow, status: OutboxRow['status'], lastError: string | null, now: Ms) => {
    row.status = status;
    row.leasedUntil = null;
    row.leaseToken = null;
    row.lastError = lastError;
    row.updatedAt = now;
  };

  const outbox: OutboxStore = {
    async lease({ ids, now, leaseMs, limit = 100 }) {
      const nowMs = now.getTime();
      const named = ids === undefined ? undefined : new Set(ids);
      const expired = (o: OutboxRow) =>
        o.status === 'sending' && o.leasedUntil !== null && o.leasedUntil < nowMs;
      const candidate = (o: OutboxRow) =>
        named !== undefined
          ? named.has(o.id) && (o.status === 'pending' || o.status === 'retrying' || expired(o))
          : ((o.status === 'pending' || o.status === 'retrying') && o.nextAttemptAt <= nowMs) || expired(o);
      // Replies go out in order: an older undelivered reply that is not itself being taken now blocks.
      const blocked = (o: OutboxRow) => {
        for (const p of t.undeliveredByConversation.get(o.conversationId) ?? []) {
          if (p === o) return false;
          if (!candidate(p)) return true;
        }
        return false;
      };
      const chosen: OutboxRow[] = [];
      if (named !== undefined) {
        const rows: OutboxRow[] = [];
        for (const id of named) {
          const row = t.outbox.get(id);
          if (row && candidate(row) && !blocked(row)) rows.push(row);
        }
        rows.sort((a, b) => a.seq - b.seq);
        chosen.push(...rows.slice(0, limit));
      } else {
        for (const row of t.undelivered) {
          if (chosen.length >= limit) break;
          if (candidate(row) && !blocked(row)) chosen.push(row);
        }
      }
      if (chosen.length === 0) return [];
      const token = randomUUID();
      const until = nowMs + leaseMs;
      return chosen.map((row) => {
        row.status = 'sending';
        row.attempts++;
        row.leasedUntil = until;
        row.leaseToken = token;
        row.updatedAt = nowMs;
        return toOutbox(row);
      });
    },

    async markSent(id, leaseToken, externalId, now) {
      const row = leased(id, leaseToken);
      if (!row) return false;
      const message = t.messages.get(row.messageId);
      const key = message ? `${message.channel}\0${externalId}` : '';
      const holder = t.outboundByExternal.get(key);
      if (message && holder && holder !== message) throw violation('messages_channel_external_uq');
      endLease(row, 'sent', null, now.getTime());
      t.delivered(row);
      forget(row);
      if (message) {
        if (message.externalId !== null)
          t.outboundByExternal.delete(`${message.channel}\0${message.externalId}`);
        if (message.status === 'pending') message.status = 'sent';
        message.externalId = externalId;
        message.failureReason = null;
        message.updatedAt = now.getTime();
        t.outboundByExternal.set(key, message);
      }
      return true;
    },

    async markRetry(id, leaseToken, error, nextAttemptAt, now) {
      const row = leased(id, leaseToken);
      if (!row) return false;
      endLease(row, 'retrying', error, now.getTime());
      row.nextAttemptAt = nextAttemptAt.getTime();
      return true;
    },

    async markDead(id, leaseToken, reason, now) {
      const row = leased(id, leaseToken);
      if (!row) return false;
      endLease(row, 'dead', reason, now.getTime());
      t.delivered(row);
      forget(row);
      t.dead.push(row);
      const message = t.messages.get(row.messageId);
      if (message) {
        message.status = 'failed';
        message.failureReason = reason;
        message.updatedAt = now.getTime();
      }
      return true;
    },

    async release(id, leaseToken) {
      const row = leased(id, leaseToken);
      if (!row) return;
      const attempts = row.attempts;
      endLease(row, attempts > 1 ? 'retrying' : 'pending', row.lastError, nowMs());
      row.attempts = Math.max(attempts - 1, 0);
    },

    async depth() {
      return t.undelivered.size;
    },

    async get(id) {
      const row = t.outbox.get(id);
      return row ? toOutbox(row) : null;
    },

    async listDead(limit) {
      // Later dead letters first; `dead` is in the order entries died.
      return t.dead
        .map((row, i) => ({ row, i }))
        .sort((a, b) => b.row.updatedAt - a.row.updatedAt || b.i - a.i)
        .slice(0, limit)
        .map(({ row }) => toOutbox(row));
    },
  };

  return { store, outbox };
}
