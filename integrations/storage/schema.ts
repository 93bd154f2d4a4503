/**
 * The database schema (drizzle). Migrations under `./migrations` are generated from this file with
 * `npm run db:generate`; the same SQL runs on PGlite and PostgreSQL.
 */
import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** One person, reachable on several channels. */
export const contacts = pgTable('contacts', {
  id: uuid('id').primaryKey(),
  displayName: text('display_name'),
  locale: text('locale').notNull().default('es-MX'),
  privacyConsentAt: ts('privacy_consent_at'),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/** How a contact is known on one channel (phone, chat id, web-chat session key). */
export const channelIdentities = pgTable(
  'channel_identities',
  {
    id: uuid('id').primaryKey(),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    channel: text('channel').notNull(),
    externalUser: text('external_user').notNull(),
    phone: text('phone'),
    email: text('email'),
    createdAt: ts('created_at').notNull().defaultNow(),
    lastSeenAt: ts('last_seen_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('channel_identities_channel_user_uq').on(t.channel, t.externalUser),
    index('channel_identities_contact_idx').on(t.contactId),
    index('channel_identities_phone_idx').on(t.phone),
    index('channel_identities_email_idx').on(t.email),
  ],
);

/** A conversation on one channel identity, with its versioned dialog state. */
export const conversations = pgTable(
  'conversations',
  {
    id: uuid('id').primaryKey(),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    identityId: uuid('identity_id')
      .notNull()
      .references(() => channelIdentities.id, { onDelete: 'cascade' }),
    channel: text('channel').notNull(),
    address: jsonb('address').notNull(),
    mode: text('mode').notNull().default('bot'),
    queue: text('queue'),
    locale: text('locale').notNull().default('es-MX'),
    dialogState: jsonb('dialog_state'),
    stateVersion: integer('state_version').notNull().default(0),
    lastInboundAt: ts('last_inbound_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('conversations_identity_uq').on(t.identityId),
    index('conversations_mode_queue_idx').on(t.mode, t.queue, t.updatedAt),
    check('conversations_mode_ck', sql`${t.mode} in ('bot', 'queued', 'agent')`),
  ],
);

/** Every message in and out. `(channel, direction, external_id)` is unique so a redelivered webhook is a no-op. */
export const messages = pgTable(
  'messages',
  {
    id: uuid('id').primaryKey(),
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    direction: text('direction').notNull(),
    channel: text('channel').notNull(),
    kind: text('kind').notNull(),
    body: jsonb('body').notNull(),
    text: text('text'),
    externalId: text('external_id'),
    raw: jsonb('raw'),
    author: text('author').notNull(),
    status: text('status').notNull(),
    failureReason: text('failure_reason'),
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('messages_channel_external_uq').on(t.channel, t.direction, t.externalId),
    index('messages_conversation_idx').on(t.conversationId, t.seq),
    check('messages_direction_ck', sql`${t.direction} in ('in', 'out')`),
  ],
);

/** Folio sequence per prefix and year. Upserting a row serialises concurrent case creation. */
export const caseSequences = pgTable(
  'case_sequences',
  {
    prefix: text('prefix').notNull(),
    year: integer('year').notNull(),
    last: integer('last').notNull(),
  },
  (t) => [primaryKey({ columns: [t.prefix, t.year] })],
);

/** A citizen's case (complaint, outage report, …). */
export const cases = pgTable(
  'cases',
  {
    id: uuid('id').primaryKey(),
    folio: text('folio').notNull(),
    folioYear: integer('folio_year').notNull(),
    folioSeq: integer('folio_seq').notNull(),
    category: text('category').notNull(),
    description: text('description').notNull(),
    address: text('address'),
    colonia: text('colonia'),
    lat: doublePrecision('lat'),
    lon: doublePrecision('lon'),
    status: text('status').notNull(),
    department: text('department').notNull(),
    queue: text('queue').notNull(),
    priority: text('priority').notNull().default('normal'),
    sensitive: boolean('sensitive').notNull().default(false),
    visibility: text('visibility').notNull().default('public'),
    contactPreference: text('contact_preference').notNull().default('any'),
    contactId: uuid('contact_id').references(() => contacts.id, { onDelete: 'set null' }),
    conversationId: uuid('conversation_id').references(() => conversations.id, { onDelete: 'set null' }),
    channel: text('channel'),
    slaDueAt: ts('sla_due_at').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
    closedAt: ts('closed_at'),
    /** Where the coordinates come from: `pin` (shared GPS), `colonia` (centroid of a typed colonia), `geocoder`. */
    geoSource: text('geo_source'),
    /** The hotspot of a wifi outage report, and the incident it joined. */
    hotspotId: text('hotspot_id'),
    incidentId: uuid('incident_id'),
    /** When the citizen gave express consent to process sensitive data (gender-violence reports). */
    consentAt: ts('consent_at'),
  },
  (t) => [
    uniqueIndex('cases_folio_uq').on(t.folio),
    index('cases_contact_idx').on(t.contactId, t.createdAt),
    index('cases_category_status_idx').on(t.category, t.status),
    index('cases_queue_status_idx').on(t.queue, t.status),
    index('cases_incident_idx').on(t.incidentId),
    check('cases_visibility_ck', sql`${t.visibility} in ('public', 'restricted')`),
  ],
);

/** Append-only audit trail of a case: who did what, when (including who viewed it). */
export const caseEvents = pgTable(
  'case_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    caseId: uuid('case_id')
      .notNull()
      .references(() => cases.id, { onDelete: 'cascade' }),
    at: ts('at').notNull().defaultNow(),
    actor: text('actor').notNull(),
    kind: text('kind').notNull(),
    data: jsonb('data').notNull().default({}),
  },
  (t) => [index('case_events_case_idx').on(t.caseId, t.id)],
);

/** Stored media (uploads, downloaded provider media), sanitised before storing. */
export const attachments = pgTable(
  'attachments',
  {
    id: uuid('id').primaryKey(),
    caseId: uuid('case_id').references(() => cases.id, { onDelete: 'set null' }),
    messageId: uuid('message_id'),
    path: text('path').notNull(),
    mime: text('mime').notNull(),
    bytes: integer('bytes').notNull(),
    sha256: text('sha256').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('attachments_case_idx').on(t.caseId)],
);

/** Durable outbox: written in the turn's transaction, dispatched after commit, retried by pg-boss. */
export const outbox = pgTable(
  'outbox',
  {
    id: uuid('id').primaryKey(),
    messageId: uuid('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    conversationId: uuid('conversation_id').notNull(),
    channel: text('channel').notNull(),
    address: jsonb('address').notNull(),
    payload: jsonb('payload').notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at').notNull().defaultNow(),
    leasedUntil: ts('leased_until'),
    /** Fences a lease: only the holder of the current token may record the outcome. */
    leaseToken: uuid('lease_token'),
    lastError: text('last_error'),
    lastInboundAt: ts('last_inbound_at'),
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('outbox_idempotency_uq').on(t.idempotencyKey),
    uniqueIndex('outbox_message_uq').on(t.messageId),
    index('outbox_due_idx').on(t.status, t.nextAttemptAt),
    index('outbox_conversation_idx').on(t.conversationId, t.seq),
    check('outbox_status_ck', sql`${t.status} in ('pending', 'sending', 'retrying', 'sent', 'dead')`),
  ],
);

/** Citizens who joined a case instead of opening a duplicate; they are notified like the reporter. */
export const caseFollowers = pgTable(
  'case_followers',
  {
    caseId: uuid('case_id')
      .notNull()
      .references(() => cases.id, { onDelete: 'cascade' }),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    conversationId: uuid('conversation_id').references(() => conversations.id, { onDelete: 'set null' }),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.caseId, t.contactId] })],
);

/** One outage of a public wifi hotspot; many reports (cases) join the open incident. */
export const incidents = pgTable(
  'incidents',
  {
    id: uuid('id').primaryKey(),
    hotspotId: text('hotspot_id').notNull(),
    status: text('status').notNull().default('open'),
    openedAt: ts('opened_at').notNull().defaultNow(),
    resolvedAt: ts('resolved_at'),
    resolvedBy: text('resolved_by'),
    note: text('note'),
  },
  (t) => [
    // At most one open incident per hotspot: concurrent reports race on this index, never create two.
    uniqueIndex('incidents_open_hotspot_uq')
      .on(t.hotspotId)
      .where(sql`${t.status} = 'open'`),
    check('incidents_status_ck', sql`${t.status} in ('open', 'resolved')`),
  ],
);

/** Opt-in to service notices by topic and (optionally) colonia. */
export const subscriptions = pgTable(
  'subscriptions',
  {
    id: uuid('id').primaryKey(),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    conversationId: uuid('conversation_id').references(() => conversations.id, { onDelete: 'set null' }),
    channel: text('channel').notNull(),
    topic: text('topic').notNull(),
    /** Canonical colonia name, or '' for the whole municipality. */
    colonia: text('colonia').notNull().default(''),
    active: boolean('active').notNull().default(true),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('subscriptions_contact_topic_colonia_uq').on(t.contactId, t.topic, t.colonia),
    index('subscriptions_topic_idx').on(t.topic, t.colonia, t.active),
  ],
);

/** Requests to link two contacts with a one-time code (only the code's hash is kept). */
export const contactLinks = pgTable(
  'contact_links',
  {
    id: uuid('id').primaryKey(),
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    /** An E.164 phone or a lowercase e-mail, as the citizen typed it (normalised). */
    target: text('target').notNull(),
    targetContactId: uuid('target_contact_id').references(() => contacts.id, { onDelete: 'set null' }),
    codeHash: text('code_hash'),
    attempts: integer('attempts').notNull().default(0),
    expiresAt: ts('expires_at').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    linkedAt: ts('linked_at'),
  },
  (t) => [
    index('contact_links_target_idx').on(t.target, t.createdAt),
    index('contact_links_contact_idx').on(t.contactId, t.createdAt),
  ],
);
