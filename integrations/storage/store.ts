/**
 * `PostgresCaseStore` and `PostgresOutboxStore`: one implementation for PGlite and PostgreSQL.
 *
 * The hot path is written as a few CTE statements on purpose: a durable turn is BEGIN, append inbound,
 * (open case), commit turn (state + messages + outbox in one statement), COMMIT.
 */
import { randomUUID } from 'node:crypto';
import type { SQL } from 'drizzle-orm';
import { sql } from 'drizzle-orm';
import type { Address, ContactId, ConversationId, Inbound, Outbound } from '../../channels/contract.ts';
import { StoreError } from '../contract.ts';
import type {
  CaseAudience,
  CaseEvent,
  CaseRecord,
  IncidentRecord,
  SubscriptionRecord,
  CaseStore,
  ConversationFilter,
  ConversationMode,
  ConversationRecord,
  ImportedCase,
  MessageRecord,
  MessageStatus,
  NewCase,
  OutboxEntry,
  OutboxStore,
  PendingOutbound,
  StoreTx,
  TurnCommit,
} from '../contract.ts';
import type { Database, Db } from './db.ts';

type Row = Record<string, unknown>;
type Exec = Pick<Db, 'execute'>;

async function run(db: Exec, query: SQL): Promise<Row[]> {
  try {
    const result: unknown = await db.execute(query);
    return (result as { rows: Row[] }).rows;
  } catch (cause) {
    if (cause instanceof StoreError) throw cause;
    // A deadlock or serialization failure (a contact merge racing another turn) is lost by one side on purpose:
    // the turn is safe to run again, which the router does for version conflicts.
    if (RACE_STATES.has(sqlState(cause) ?? ''))
      throw new StoreError('STORE_VERSION_CONFLICT', `Database race: ${describe(cause)}`, {
        cause,
        retryable: true,
      });
    throw new StoreError('STORE_UNAVAILABLE', `Database error: ${describe(cause)}`, {
      cause,
      retryable: true,
    });
  }
}

/**
 * Once an entry is sent or dead, a one-time code's payload (`otp:` key) is replaced by the message's kept version
 * (see `PendingOutbound.history`).
 */
const FORGET_ONE_TIME_PAYLOAD = sql.raw(
  `payload = case when idempotency_key like 'otp:%' then (select body from messages where messages.id = outbox.message_id) else payload end`,
);

/** SQLSTATEs of a lost race: deadlock_detected, serialization_failure. */
const RACE_STATES = new Set(['40P01', '40001']);

/** The SQLSTATE of a driver error (drizzle may wrap the driver's error in `cause`). */
function sqlState(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 3; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

// Driver errors carry the SQL text and parameters (personal data); keep only the server's message.
function describe(err: unknown): string {
  if (err && typeof err === 'object') {
    const inner = (err as { cause?: unknown }).cause;
    const e = inner && typeof inner === 'object' && 'message' in inner ? inner : err;
    const raw = (e as { message?: unknown }).message;
    const msg = typeof raw === 'string' ? raw : 'unknown error';
    return msg
      .replace(/\n[\s\S]*/, '')
      .replace(/params:.*$/i, '')
      .slice(0, 300);
  }
  return 'unknown error';
}

// PostgreSQL text and jsonb cannot hold NUL characters; a citizen (or a fuzzer) may still send them.
const pgText = (text: string) => text.replaceAll('\u0000', '');
const stripNul = (value: unknown): unknown =>
  typeof value === 'string'
    ? pgText(value)
    : Array.isArray(value)
      ? value.map(stripNul)
      : value !== null && typeof value === 'object'
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [pgText(k), stripNul(v)]))
        : value;
const pgJson = (value: unknown) => JSON.stringify(stripNul(value));

const date = (v: unknown): Date =>
  v instanceof Date ? v : new Date(typeof v === 'string' || typeof v === 'number' ? v : NaN);
const dateOrNull = (v: unknown): Date | null => (v == null ? null : date(v));
const strOrNull = (v: unknown): string | null =>
  v == null ? null : typeof v === 'string' ? v : JSON.stringify(v);
const numOrNull = (v: unknown): number | null => (v == null ? null : Number(v));
const json = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

function toConversation(r: Row): ConversationRecord {
  return {
    id: String(r.id) as ConversationId,
    contactId: String(r.contact_id) as ContactId,
    channel: String(r.channel),
    address: json(r.address) as Address,
    mode: String(r.mode) as ConversationMode,
    queue: strOrNull(r.queue),
    locale: String(r.locale),
    state: json(r.dialog_state) ?? null,
    stateVersion: Number(r.state_version),
    lastInboundAt: dateOrNull(r.last_inbound_at),
    createdAt: date(r.created_at),
    privacyNoticeAt: dateOrNull(r.privacy_notice_at),
  };
}

function toCase(r: Row): CaseRecord {
  return {
    id: String(r.id),
    folio: String(r.folio),
    category: String(r.category),
    description: String(r.description),
    address: strOrNull(r.address),
    colonia: strOrNull(r.colonia),
    lat: numOrNull(r.lat),
    lon: numOrNull(r.lon),
    status: String(r.status),
    department: String(r.department),
    queue: String(r.queue),
    priority: String(r.priority) as CaseRecord['priority'],
    sensitive: Boolean(r.sensitive),
    visibility: String(r.visibility) as CaseRecord['visibility'],
    contactPreference: String(r.contact_preference),
    contactId: (strOrNull(r.contact_id) as ContactId | null) ?? null,
    conversationId: (strOrNull(r.conversation_id) as ConversationId | null) ?? null,
    channel: strOrNull(r.channel),
    slaDueAt: date(r.sla_due_at),
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
    closedAt: dateOrNull(r.closed_at),
    hotspotId: strOrNull(r.hotspot_id),
    incidentId: strOrNull(r.incident_id),
    consentAt: dateOrNull(r.consent_at),
    geoSource: strOrNull(r.geo_source),
  };
}

function toIncident(r: Row): IncidentRecord {
  return {
    id: String(r.id),
    hotspotId: String(r.hotspot_id),
    status: r.status === 'resolved' ? 'resolved' : 'open',
    openedAt: date(r.opened_at),
    resolvedAt: dateOrNull(r.resolved_at),
    note: strOrNull(r.note),
    reports: Number(r.reports ?? 0),
  };
}

function toSubscription(r: Row): SubscriptionRecord {
  return {
    id: String(r.id),
    contactId: String(r.contact_id) as ContactId,
    channel: String(r.channel),
    topic: String(r.topic),
    colonia: String(r.colonia),
    active: Boolean(r.active),
  };
}

/** SQL that normalises an address for equality (lowercase, no accents, letters and digits only). */
const normAddress = (expr: SQL) =>
  sql`regexp_replace(translate(lower(${expr}), 'áéíóúüñ', 'aeiouun'), '[^a-z0-9]', '', 'g')`;

/** Subscriptions of a contact. */
async function subscriptionsOf(db: Exec, contactId: ContactId): Promise<SubscriptionRecord[]> {
  const rows = await run(
    db,
    sql`select * from subscriptions where contact_id = ${contactId}::uuid order by created_at, topic, colonia`,
  );
  return rows.map(toSubscription);
}

/** Conversation columns plus the contact's privacy-notice time. */
const CONVERSATION_WITH_CONTACT = sql`c.*, ct.privacy_consent_at as privacy_notice_at`;

function toMessage(r: Row): MessageRecord {
  return {
    id: String(r.id),
    conversationId: String(r.conversation_id) as ConversationId,
    direction: r.direction === 'in' ? 'in' : 'out',
    kind: String(r.kind),
    body: json(r.body) as Record<string, unknown>,
    text: strOrNull(r.text),
    author: String(r.author),
    status: String(r.status) as MessageStatus,
    failureReason: strOrNull(r.failure_reason),
    externalId: strOrNull(r.external_id),
    createdAt: date(r.created_at),
  };
}

function toOutbox(r: Row): OutboxEntry {
  return {
    id: String(r.id),
    messageId: String(r.message_id),
    conversationId: String(r.conversation_id) as ConversationId,
    channel: String(r.channel),
    address: json(r.address) as Address,
    outbound: json(r.payload) as Outbound,
    idempotencyKey: String(r.idempotency_key),
    status: String(r.status) as OutboxEntry['status'],
    attempts: Number(r.attempts),
    nextAttemptAt: date(r.next_attempt_at),
    lastError: strOrNull(r.last_error),
    lastInboundAt: dateOrNull(r.last_inbound_at),
    leaseToken: strOrNull(r.lease_token),
  };
}

/** The text of an outbound message as shown in transcripts and searched by agents. */
export function outboundText(o: Outbound): string | null {
  switch (o.kind) {
    case 'text':
    case 'choices':
    case 'speech':
      return o.text;
    case 'media':
      return o.caption ?? null;
    case 'template':
      return o.fallbackText;
    case 'typing':
      return null;
  }
}

function caseColumns(c: NewCase) {
  return {
    address: c.address ?? null,
    colonia: c.colonia ?? null,
    lat: c.lat ?? null,
    lon: c.lon ?? null,
    priority: c.priority ?? 'normal',
    contactPreference: c.contactPreference ?? 'any',
    hotspotId: c.hotspotId ?? null,
    incidentId: c.incidentId ?? null,
    consentAt: c.consentAt ? c.consentAt.toISOString() : null,
    geoSource: c.geoSource ?? (c.lat != null ? 'pin' : null),
  };
}

function inboundBody(inbound: Inbound): Record<string, unknown> {
  const { raw: _raw, ...body } = inbound;
  return body;
}

/**
 * Move everything of contact `from` to contact `into` (identities, conversations with a version bump so turns
 * holding the old contact retry, cases, followers, subscriptions, link requests, consent) and delete `from`.
 */
async function mergeContact(tx: Exec, from: string, into: string): Promise<void> {
  await run(
    tx,
    sql`with ids as (update channel_identities set contact_id = ${into}::uuid where contact_id = ${from}::uuid returning id),
         convs as (
           update conversations set contact_id = ${into}::uuid, state_version = state_version + 1, updated_at = now()
           where contact_id = ${from}::uuid returning id),
         cs as (update cases set contact_id = ${into}::uuid where contact_id = ${from}::uuid returning id),
         fol as (
           insert into case_followers (case_id, contact_id, conversation_id, created_at)
           select case_id, ${into}::uuid, conversation_id, created_at from case_followers where contact_id = ${from}::uuid
           on conflict do nothing returning case_id),
         subs as (
           insert into subscriptions (id, contact_id, conversation_id, channel, topic, colonia, active, created_at, updated_at)
           select gen_random_uuid(), ${into}::uuid, conversation_id, channel, topic, colonia, active, created_at, updated_at
           from subscriptions where contact_id = ${from}::uuid
           on conflict (contact_id, topic, colonia) do nothing returning id),
         links as (
           update contact_links
           set contact_id = case when contact_id = ${from}::uuid then ${into}::uuid else contact_id end,
               target_contact_id = case when target_contact_id = ${from}::uuid then ${into}::uuid else target_contact_id end
           where contact_id = ${from}::uuid or target_contact_id = ${from}::uuid returning id),
         consent as (
           update contacts set privacy_consent_at = coalesce(privacy_consent_at,
             (select privacy_consent_at from contacts where id = ${from}::uuid)), updated_at = now()
           where id = ${into}::uuid returning id)
       select (select count(*) from ids) as identities, (select count(*) from convs) as conversations,
              (select count(*) from cs) as cases, (select count(*) from fol) as followers,
              (select count(*) from subs) as subscriptions, (select count(*) from links) as links,
              (select count(*) from consent) as consent`,
  );
  // Followers and subscriptions were copied; the cascade removes the old contact's rows with it.
  await run(tx, sql`delete from contacts where id = ${from}::uuid`);
}

function createTx(tx: Exec, initialStatus: string): StoreTx {
  return {
    async appendInbound(conversationId, inbound, text) {
      // No conflict target: the deterministic id and (channel, direction, external_id) collide together.
      const rows = await run(
        tx,
        sql`insert into messages (id, conversation_id, direction, channel, kind, body, text, external_id, raw, author, status, created_at, updated_at)
            values (${inbound.id}::uuid, ${conversationId}::uuid, 'in', ${inbound.address.channel}, ${inbound.kind},
                    ${pgJson(inboundBody(inbound))}::jsonb, ${text === null ? null : pgText(text)}, ${inbound.externalId},
                    ${pgJson(inbound.raw ?? null)}::jsonb, 'citizen', 'received', ${inbound.at}::timestamptz, now())
            on conflict do nothing returning id`,
      );
      return rows.length > 0 ? 'inserted' : 'duplicate';
    },

    async createCase(input, folio, actor) {
      const id = randomUUID();
      const c = caseColumns(input);
      const rows = await run(
        tx,
        sql`with seq as (
              insert into case_sequences (prefix, year, last) values (${folio.prefix}, ${folio.year}, 1)
              on conflict (prefix, year) do update set last = case_sequences.last + 1
              returning last
            ), ins as (
              insert into cases (id, folio, folio_year, folio_seq, category, description, address, colonia, lat, lon, status,
                                 department, queue, priority, sensitive, visibility, contact_preference, contact_id,
                                 conversation_id, channel, sla_due_at, hotspot_id, incident_id, consent_at, geo_source,
                                 created_at, updated_at)
              select ${id}::uuid,
                     ${folio.prefix} || '-' || ${String(folio.year)} || '-' || lpad(seq.last::text, greatest(6, length(seq.last::text)), '0'),
                     ${folio.year}, seq.last, ${input.category}, ${input.description}, ${c.address}, ${c.colonia},
                     ${c.lat}::double precision, ${c.lon}::double precision,
                     ${initialStatus}, ${input.department}, ${input.queue}, ${c.priority},
                     ${input.sensitive}, ${input.visibility}, ${c.contactPreference}, ${input.contactId}::uuid,
                     ${input.conversationId}::uuid, ${input.channel}, ${input.slaDueAt.toISOString()}::timestamptz,
                     ${c.hotspotId}, ${c.incidentId}::uuid, ${c.consentAt}::timestamptz, ${c.geoSource},
                     coalesce(${input.openedAt?.toISOString() ?? null}::timestamptz, now()),
                     coalesce(${input.openedAt?.toISOString() ?? null}::timestamptz, now())
              from seq
              returning *
            ), ev as (
              insert into case_events (case_id, actor, kind, data)
              select id, ${actor}, 'created', jsonb_build_object('folio', folio, 'status', status) from ins
            ), att as (
              update attachments set case_id = (select id from ins)
              where id in (select jsonb_array_elements_text(${JSON.stringify(input.attachmentIds ?? [])}::jsonb)::uuid)
            )
            select * from ins`,
      );
      const row = rows[0];
      if (!row) throw new StoreError('STORE_UNAVAILABLE', 'Case insert returned nothing');
      return toCase(row);
    },

    async findCase(folio) {
      const rows = await run(tx, sql`select * from cases where folio = ${folio}`);
      return rows[0] ? toCase(rows[0]) : null;
    },

    async addCaseEvent(caseId, actor, kind, data) {
      await run(
        tx,
        sql`insert into case_events (case_id, actor, kind, data) values (${caseId}::uuid, ${actor}, ${kind}, ${JSON.stringify(data)}::jsonb)`,
      );
    },

    async findOpenCasesNear(input) {
      const rows = await run(
        tx,
        sql`select * from (
              select c.*, case when c.lat is null or ${input.lat}::double precision is null then null else
                6371000 * 2 * asin(sqrt(power(sin(radians(c.lat - ${input.lat}::double precision) / 2), 2)
                  + cos(radians(${input.lat}::double precision)) * cos(radians(c.lat))
                  * power(sin(radians(c.lon - ${input.lon}::double precision) / 2), 2))) end as distance_m
              from cases c
              where c.category = ${input.category} and c.closed_at is null and c.sensitive = false
                and (c.geo_source is distinct from 'colonia' or ${input.lat}::double precision is null)
            ) near
            where distance_m <= ${input.radiusM}
               or (${input.address}::text is not null and near.address is not null
                   and ${normAddress(sql`near.address`)} = ${normAddress(sql`${input.address}::text`)})
            order by distance_m nulls last, created_at desc
            limit ${input.limit ?? 3}`,
      );
      return rows.map(toCase);
    },

    async followCase(caseId, contactId, conversationId, actor) {
      const rows = await run(
        tx,
        sql`with ins as (
              insert into case_followers (case_id, contact_id, conversation_id)
              select ${caseId}::uuid, ${contactId}::uuid, ${conversationId}::uuid
              where not exists (select 1 from cases where id = ${caseId}::uuid and contact_id = ${contactId}::uuid)
              on conflict do nothing
              returning case_id
            ), ev as (
              insert into case_events (case_id, actor, kind, data)
              select case_id, ${actor}, 'follower_added', jsonb_build_object('contactId', ${contactId}::text) from ins
            )
            select count(*)::int as n from ins`,
      );
      return Number(rows[0]?.n ?? 0) > 0;
    },

    async joinIncident(hotspotId, now) {
      for (let attempt = 0; attempt < 3; attempt++) {
        const id = randomUUID();
        const rows = await run(
          tx,
          sql`with existing as (
                select * from incidents where hotspot_id = ${hotspotId} and status = 'open'
              ), ins as (
                insert into incidents (id, hotspot_id, opened_at)
                select ${id}::uuid, ${hotspotId}, ${now.toISOString()}::timestamptz
                where not exists (select 1 from existing)
                on conflict do nothing
                returning *
              ), chosen as (select * from existing union all select * from ins)
              select chosen.*, (select count(*)::int from cases where incident_id = chosen.id) as reports,
                     chosen.id = ${id}::uuid as opened
              from chosen`,
        );
        // A concurrent report opened the incident between our read and insert: read it on the next attempt.
        if (rows[0]) return { incident: toIncident(rows[0]), opened: rows[0].opened === true };
      }
      throw new StoreError('STORE_UNAVAILABLE', `Could not open or join an incident for ${hotspotId}`, {
        retryable: true,
      });
    },

    async listCases(filter) {
      const rows = await run(
        tx,
        sql`select * from cases where contact_id = ${filter.contactId}::uuid
            union
            select c.* from cases c join case_followers f on f.case_id = c.id where f.contact_id = ${filter.contactId}::uuid
            order by created_at desc limit ${filter.limit ?? 10}`,
      );
      return rows.map(toCase);
    },

    async attachPhone(conversation, phone) {
      const rows = await run(
        tx,
        sql`with me as (
              update channel_identities set phone = ${phone}
              where id = (select identity_id from conversations where id = ${conversation.id}::uuid)
              returning contact_id
            )
            select (select contact_id from me) as mine,
                   (select contact_id from channel_identities
                     where phone = ${phone} and contact_id <> (select contact_id from me)
                     order by created_at limit 1) as other`,
      );
      const mine = (strOrNull(rows[0]?.mine) ?? conversation.contactId) as ContactId;
      const other = strOrNull(rows[0]?.other) as ContactId | null;
      if (!other) return { contactId: mine, merged: false };
      // The older contact keeps its id (its cases and folios are what the citizen already knows).
      await mergeContact(tx, mine, other);
      return { contactId: other, merged: true };
    },

    async mergeContacts(conversation, other) {
      const rows = await run(
        tx,
        sql`select c.id, c.created_at, (c.id = v.contact_id) as mine
            from contacts c, (select contact_id from conversations where id = ${conversation.id}::uuid) v
            where c.id in (v.contact_id, ${other}::uuid) order by c.created_at, c.id`,
      );
      const mine = (strOrNull(rows.find((r) => r.mine === true)?.id) ?? conversation.contactId) as ContactId;
      if (mine === other || rows.length < 2) return { contactId: mine, moved: false };
      // The older contact keeps its id (its cases and folios are what the citizen already knows).
      const into = strOrNull(rows[0]?.id) as ContactId;
      const from = into === mine ? other : mine;
      await mergeContact(tx, from, into);
      return { contactId: into, moved: from === mine };
    },

    async findIdentities(match) {
      const phone = match.phone ?? null;
      const email = match.email?.toLowerCase() ?? null;
      if (phone === null && email === null) return [];
      const rows = await run(
        tx,
        sql`select i.contact_id, i.channel, coalesce(c.last_inbound_at, i.last_seen_at) as last_seen_at,
                   c.id as conversation_id, c.locale
            from channel_identities i join conversations c on c.identity_id = i.id
            where (${phone}::text is not null and i.phone = ${phone}) or (${email}::text is not null and i.email = ${email})
            order by c.last_inbound_at desc nulls last, i.created_at desc limit 20`,
      );
      return rows.map((r) => ({
        contactId: String(r.contact_id) as ContactId,
        channel: String(r.channel),
        conversationId: String(r.conversation_id) as ConversationId,
        locale: String(r.locale),
        lastSeenAt: date(r.last_seen_at),
      }));
    },

    async saveLinkCode(code) {
      await run(
        tx,
        sql`with forget as (
              delete from contact_links
              where expires_at < ${new Date(code.createdAt.getTime() - 25 * 3_600_000).toISOString()}::timestamptz
            )
            insert into contact_links (id, conversation_id, contact_id, target, target_contact_id, code_hash, attempts,
                                       expires_at, created_at, linked_at)
            values (${code.id}::uuid, ${code.conversationId}::uuid, ${code.contactId}::uuid, ${code.target},
                    ${code.targetContactId}::uuid, ${code.codeHash}, ${code.attempts}, ${code.expiresAt.toISOString()}::timestamptz,
                    ${code.createdAt.toISOString()}::timestamptz, ${code.linkedAt?.toISOString() ?? null}::timestamptz)
            on conflict (id) do update set attempts = excluded.attempts, linked_at = excluded.linked_at`,
      );
    },

    async getLinkCode(id) {
      const rows = await run(tx, sql`select * from contact_links where id = ${id}::uuid`);
      const r = rows[0];
      if (!r) return null;
      return {
        id: String(r.id),
        conversationId: String(r.conversation_id) as ConversationId,
        contactId: String(r.contact_id) as ContactId,
        target: String(r.target),
        targetContactId: strOrNull(r.target_contact_id) as ContactId | null,
        codeHash: strOrNull(r.code_hash),
        attempts: Number(r.attempts),
        expiresAt: date(r.expires_at),
        createdAt: date(r.created_at),
        linkedAt: dateOrNull(r.linked_at),
      };
    },

    async countLinkCodes(filter) {
      // Serialises requests for one target (a separate statement: a statement's snapshot predates its own locks).
      await run(tx, sql`select pg_advisory_xact_lock(hashtext(${`contact-link:${filter.target}`}))`);
      const rows = await run(
        tx,
        sql`select count(*)::int as n from contact_links
            where (target = ${filter.target} or contact_id = ${filter.contactId}::uuid)
              and created_at >= ${filter.since.toISOString()}::timestamptz`,
      );
      return Number(rows[0]?.n ?? 0);
    },

    async queueOutbound(conversationId, message, now) {
      const messageId = randomUUID();
      const outboxId = randomUUID();
      const at = now.toISOString();
      const kept = message.history ?? message.outbound;
      // `otp:` marks an entry whose payload is replaced by the kept version once it is delivered or dead.
      const key = `${message.history ? 'otp' : 'out'}:${messageId}`;
      const rows = await run(
        tx,
        sql`with conv as (
              select id, channel, address, last_inbound_at from conversations where id = ${conversationId}::uuid
            ), msg as (
              insert into messages (id, conversation_id, direction, channel, kind, body, text, author, status, created_at, updated_at)
              select ${messageId}::uuid, conv.id, 'out', conv.channel, ${kept.kind}, ${pgJson(kept)}::jsonb,
                     ${outboundText(kept)}, ${message.author}, 'pending', ${at}::timestamptz, ${at}::timestamptz
              from conv returning id
            )
            insert into outbox (id, message_id, conversation_id, channel, address, payload, idempotency_key, status,
                                next_attempt_at, last_inbound_at, created_at, updated_at)
            select ${outboxId}::uuid, msg.id, conv.id, conv.channel, conv.address, ${pgJson(message.outbound)}::jsonb,
                   ${key}, 'pending', ${at}::timestamptz, conv.last_inbound_at, ${at}::timestamptz, ${at}::timestamptz
            from conv, msg returning id`,
      );
      if (rows.length === 0)
        throw new StoreError('STORE_NOT_FOUND', `No conversation ${conversationId} to queue a message to`);
      return outboxId;
    },

    async subscribe(input) {
      const rows = await run(
        tx,
        sql`insert into subscriptions (id, contact_id, conversation_id, channel, topic, colonia)
            values (${randomUUID()}::uuid, ${input.contactId}::uuid, ${input.conversationId}::uuid, ${input.channel}, ${input.topic}, ${input.colonia})
            on conflict (contact_id, topic, colonia) do update
              set active = true, channel = excluded.channel, conversation_id = excluded.conversation_id, updated_at = now()
            returning *`,
      );
      return toSubscription(rows[0]!);
    },

    async unsubscribe(input) {
      const rows = await run(
        tx,
        sql`update subscriptions set active = false, updated_at = now()
            where contact_id = ${input.contactId}::uuid and active
              and (${input.topic ?? null}::text is null or topic = ${input.topic ?? null})
              and (${input.colonia ?? null}::text is null or colonia = ${input.colonia ?? null})
            returning id`,
      );
      return rows.length;
    },

    listSubscriptions: (contactId) => subscriptionsOf(tx, contactId),

    async recentTexts(conversationId, limit) {
      const rows = await run(
        tx,
        sql`select author, text from (
              select author, text, seq from messages where conversation_id = ${conversationId}::uuid and text is not null
              order by seq desc limit ${limit}
            ) m order by seq asc`,
      );
      return rows.map((r) => `${r.author === 'citizen' ? 'citizen' : String(r.author)}: ${String(r.text)}`);
    },

    async commitTurn(input): Promise<TurnCommit> {
      const now = input.now.toISOString();
      const lease = input.lease && input.outbound.length > 0 ? input.lease : undefined;
      const token = lease ? randomUUID() : null;
      const leasedUntil = lease ? new Date(input.now.getTime() + lease.leaseMs).toISOString() : null;
      const items = input.outbound.map((o: PendingOutbound, ord) => {
        const messageId = randomUUID();
        return {
          message_id: messageId,
          outbox_id: randomUUID(),
          kind: o.outbound.kind,
          body: o.outbound,
          text: outboundText(o.outbound),
          author: o.author,
          key: `out:${messageId}`,
          ord,
        };
      });
      const rows = await run(
        tx,
        sql`with upd as (
              update conversations set dialog_state = ${JSON.stringify(input.state ?? null)}::jsonb,
                     state_version = state_version + 1, mode = ${input.mode}, queue = ${input.queue},
                     locale = ${input.locale},
                     address = coalesce(${input.address ? JSON.stringify(input.address) : null}::jsonb, address),
                     last_inbound_at = coalesce(${input.lastInboundAt?.toISOString() ?? null}::timestamptz, last_inbound_at),
                     updated_at = ${now}::timestamptz
              where id = ${input.conversation.id}::uuid and state_version = ${input.conversation.stateVersion}
              returning id, state_version, channel, address, last_inbound_at, contact_id
            ), notice as (
              update contacts set privacy_consent_at = coalesce(privacy_consent_at, ${now}::timestamptz), updated_at = ${now}::timestamptz
              where ${input.privacyNoticeShown === true} and id = (select contact_id from upd)
            ), free as (
              -- Replies go out in order: lease this turn's only when nothing older of the conversation is undelivered.
              select ${lease !== undefined} and not exists (
                select 1 from outbox o where o.conversation_id = (select id from upd)
                  and o.status in ('pending', 'sending', 'retrying')
              ) as yes
            ), items as (
              select * from jsonb_to_recordset(${JSON.stringify(items)}::jsonb)
                as x(message_id uuid, outbox_id uuid, kind text, body jsonb, text text, author text, key text, ord int)
            ), msg as (
              insert into messages (id, conversation_id, direction, channel, kind, body, text, author, status, created_at, updated_at)
              select i.message_id, upd.id, 'out', upd.channel, i.kind, i.body, i.text, i.author, 'pending',
                     ${now}::timestamptz, ${now}::timestamptz
              from upd cross join items i order by i.ord
              returning id
            ), ob as (
              insert into outbox (id, message_id, conversation_id, channel, address, payload, idempotency_key, status,
                                  attempts, lease_token, leased_until, next_attempt_at, last_inbound_at, created_at, updated_at)
              select i.outbox_id, i.message_id, upd.id, upd.channel, upd.address, i.body, i.key,
                     case when free.yes then 'sending' else 'pending' end, case when free.yes then 1 else 0 end,
                     case when free.yes then ${token}::uuid end, case when free.yes then ${leasedUntil}::timestamptz end,
                     ${now}::timestamptz, upd.last_inbound_at, ${now}::timestamptz, ${now}::timestamptz
              from upd cross join free cross join items i join msg on msg.id = i.message_id order by i.ord
              returning id
            )
            select (select state_version from upd) as version, (select count(*) from ob)::int as written,
                   (select yes from free) as leased, (select channel from upd) as channel,
                   (select address from upd) as address, (select last_inbound_at from upd) as last_inbound_at`,
      );
      const version = rows[0]?.version;
      if (version == null) {
        throw new StoreError(
          'STORE_VERSION_CONFLICT',
          `Conversation ${input.conversation.id} was saved by another turn (expected version ${input.conversation.stateVersion})`,
          { retryable: true },
        );
      }
      const r = rows[0]!;
      const leased: OutboxEntry[] =
        r.leased === true && token
          ? items.map((i) => ({
              id: i.outbox_id,
              messageId: i.message_id,
              conversationId: input.conversation.id,
              channel: String(r.channel),
              address: json(r.address) as Address,
              outbound: i.body,
              idempotencyKey: i.key,
              status: 'sending',
              attempts: 1,
              nextAttemptAt: input.now,
              lastError: null,
              lastInboundAt: dateOrNull(r.last_inbound_at),
              leaseToken: token,
            }))
          : [];
      return { stateVersion: Number(version), outboxIds: items.map((i) => i.outbox_id), leased };
    },
  };
}

/** Build the case store on an open database. */
export function createPostgresCaseStore(
  database: Database,
  opts: {
    initialStatus?: string;
    /** Called after each committed transaction with its statement count, BEGIN and COMMIT included. */
    onTransaction?: (statements: number) => void;
  } = {},
): CaseStore {
  // The status a new case gets comes from the catalogue (`case-statuses.json` `initial`).
  const initialStatus = opts.initialStatus ?? 'recibido';
  const { db, counter } = database;

  return {
    async resolveConversation(input) {
      const phone = input.identity?.phone ?? null;
      const email = input.identity?.email?.toLowerCase() ?? null;
      const attempt = () =>
        run(
          db,
          sql`with ident as (
                select id, contact_id from channel_identities where channel = ${input.channel} and external_user = ${input.address.user}
              ), conv as (
                select c.* from conversations c join ident on c.identity_id = ident.id
              ), known as (
                select contact_id from channel_identities
                where (${phone}::text is not null and phone = ${phone}) or (${email}::text is not null and email = ${email})
                order by created_at limit 1
              ), fill as (
                update channel_identities set phone = coalesce(phone, ${phone}), email = coalesce(email, ${email})
                where id in (select id from ident)
                  and ((phone is null and ${phone}::text is not null) or (email is null and ${email}::text is not null))
                returning id
              ), new_contact as (
                insert into contacts (id, locale) select ${randomUUID()}::uuid, ${input.locale}
                where not exists (select 1 from ident) and not exists (select 1 from known) returning id
              ), new_ident as (
                insert into channel_identities (id, contact_id, channel, external_user, phone, email)
                select ${randomUUID()}::uuid, c.id, ${input.channel}, ${input.address.user}, ${phone}, ${email}
                from (select id from new_contact union all select contact_id from known) c
                where not exists (select 1 from ident)
                returning id, contact_id
              ), any_ident as (
                select id, contact_id from ident union all select id, contact_id from new_ident
              ), new_conv as (
                insert into conversations (id, contact_id, identity_id, channel, address, locale)
                select ${randomUUID()}::uuid, contact_id, id, ${input.channel}, ${JSON.stringify(input.address)}::jsonb, ${input.locale}
                from any_ident where not exists (select 1 from conv)
                returning *
              )
              select x.*, ct.privacy_consent_at as privacy_notice_at
              from (select * from conv union all select * from new_conv) x
              left join contacts ct on ct.id = x.contact_id`,
        );
      let rows: Row[];
      try {
        rows = await attempt();
      } catch (err) {
        // Two nodes creating the same identity at once: the loser reads the winner's rows.
        rows = await attempt().catch(() => {
          throw err;
        });
      }
      const row = rows[0];
      if (!row) throw new StoreError('STORE_UNAVAILABLE', 'Could not resolve the conversation');
      return toConversation(row);
    },

    async getContact(id) {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
      const rows = await run(db, sql`select * from contacts where id = ${id}::uuid`);
      const c = rows[0];
      if (!c) return null;
      const idents = await run(
        db,
        sql`select channel, external_user, phone, email, created_at, last_seen_at from channel_identities
            where contact_id = ${id}::uuid order by created_at`,
      );
      return {
        id: String(c.id) as ContactId,
        locale: String(c.locale),
        privacyConsentAt: dateOrNull(c.privacy_consent_at),
        createdAt: new Date(String(c.created_at)),
        identities: idents.map((r) => ({
          channel: String(r.channel),
          user: String(r.external_user),
          phone: strOrNull(r.phone),
          email: strOrNull(r.email),
          createdAt: new Date(String(r.created_at)),
          lastSeenAt: new Date(String(r.last_seen_at)),
        })),
      };
    },

    async findConversation(channel, user) {
      const rows = await run(
        db,
        sql`select ${CONVERSATION_WITH_CONTACT} from conversations c
            join channel_identities i on i.id = c.identity_id join contacts ct on ct.id = c.contact_id
            where i.channel = ${channel} and i.external_user = ${user}`,
      );
      return rows[0] ? toConversation(rows[0]) : null;
    },

    async getConversation(id) {
      const rows = await run(
        db,
        sql`select ${CONVERSATION_WITH_CONTACT} from conversations c join contacts ct on ct.id = c.contact_id where c.id = ${id}::uuid`,
      );
      return rows[0] ? toConversation(rows[0]) : null;
    },

    async transaction(fn) {
      counter.transactions++;
      counter.statements += 2;
      let statements = 2;
      const result = await db.transaction(async (tx) => {
        const counted: Exec = {
          execute: (query: SQL) => {
            statements++;
            return tx.execute(query);
          },
        };
        return fn(createTx(counted, initialStatus));
      });
      opts.onTransaction?.(statements);
      return result;
    },

    async listMessages(conversationId, opts = {}) {
      const limit = opts.limit ?? 200;
      const rows = await run(
        db,
        sql`select * from (select * from messages where conversation_id = ${conversationId}::uuid order by seq desc limit ${limit}) m order by seq asc`,
      );
      return rows.map(toMessage);
    },

    async listConversations(filter: ConversationFilter) {
      const rows = await run(
        db,
        sql`select ${CONVERSATION_WITH_CONTACT} from conversations c join contacts ct on ct.id = c.contact_id
            where (${filter.mode ?? null}::text is null or c.mode = ${filter.mode ?? null})
              and (${filter.queue ?? null}::text is null or c.queue = ${filter.queue ?? null})
            order by c.updated_at desc limit ${filter.limit ?? 100}`,
      );
      return rows.map(toConversation);
    },

    async findCase(folio) {
      return createTx(db, initialStatus).findCase(folio);
    },

    async listCases(filter) {
      const rows = await run(
        db,
        sql`select * from cases
            where (${filter.contactId ?? null}::uuid is null or contact_id = ${filter.contactId ?? null}::uuid)
              and (${filter.status ?? null}::text is null or status = ${filter.status ?? null})
            order by created_at desc, folio desc limit ${filter.limit ?? 100}`,
      );
      return rows.map(toCase);
    },

    async caseEvents(caseId) {
      const rows = await run(
        db,
        sql`select * from case_events where case_id = ${caseId}::uuid order by id asc`,
      );
      return rows.map((r): CaseEvent => ({
        id: Number(r.id),
        caseId: String(r.case_id),
        at: date(r.at),
        actor: String(r.actor),
        kind: String(r.kind),
        data: json(r.data) as Record<string, unknown>,
      }));
    },

    async addCaseEvent(caseId, actor, kind, data) {
      return createTx(db, initialStatus).addCaseEvent(caseId, actor, kind, data);
    },

    async importCase(input: ImportedCase, actor) {
      const m = /^([A-Z0-9]+)-(\d{4})-(\d{6,})$/.exec(input.folio);
      if (!m) throw new StoreError('STORE_NOT_FOUND', `Not a folio: ${input.folio}`);
      const [, prefix, yearText, seqText] = m as unknown as [string, string, string, string];
      const year = Number(yearText);
      const seq = Number(seqText);
      const id = randomUUID();
      const c = caseColumns(input);
      const rows = await run(
        db,
        sql`with seq as (
              insert into case_sequences (prefix, year, last) values (${prefix}, ${year}, ${seq})
              on conflict (prefix, year) do update set last = greatest(case_sequences.last, excluded.last)
            ), ins as (
              insert into cases (id, folio, folio_year, folio_seq, category, description, address, colonia, lat, lon, status,
                                 department, queue, priority, sensitive, visibility, contact_preference, contact_id,
                                 conversation_id, channel, sla_due_at, created_at, updated_at, closed_at,
                                 hotspot_id, incident_id, consent_at, geo_source)
              values (${id}::uuid, ${input.folio}, ${year}, ${seq}, ${input.category}, ${input.description}, ${c.address},
                      ${c.colonia}, ${c.lat}::double precision, ${c.lon}::double precision, ${input.status},
                      ${input.department}, ${input.queue}, ${c.priority}, ${input.sensitive}, ${input.visibility},
                      ${c.contactPreference}, ${input.contactId}::uuid, ${input.conversationId}::uuid, ${input.channel},
                      ${input.slaDueAt.toISOString()}::timestamptz, ${input.createdAt.toISOString()}::timestamptz,
                      ${input.createdAt.toISOString()}::timestamptz, ${input.closedAt?.toISOString() ?? null}::timestamptz,
                      ${c.hotspotId}, ${c.incidentId}::uuid, ${c.consentAt}::timestamptz, ${c.geoSource})
              returning *
            ), ev as (
              insert into case_events (case_id, actor, kind, data)
              select id, ${actor}, 'imported', jsonb_build_object('folio', folio, 'status', status) from ins
            )
            select * from ins`,
      );
      const row = rows[0];
      if (!row) throw new StoreError('STORE_UNAVAILABLE', 'Case import returned nothing');
      return toCase(row);
    },

    async setGeocodedLocation(input) {
      const rows = await run(
        db,
        sql`with upd as (
              update cases set lat = ${input.lat}, lon = ${input.lon}, geo_source = 'geocoder',
                     updated_at = ${input.now.toISOString()}::timestamptz
              where id = ${input.caseId}::uuid and geo_source is distinct from 'pin' returning id
            ), ev as (
              insert into case_events (case_id, actor, kind, data)
              select id, 'geocoder', 'geocoded', jsonb_build_object('lat', ${input.lat}::float8, 'lon', ${input.lon}::float8) from upd
            )
            select id from upd`,
      );
      return rows.length > 0;
    },

    async updateCaseStatus(input) {
      const rows = await run(
        db,
        sql`with upd as (
              update cases set status = ${input.status}, updated_at = ${input.now.toISOString()}::timestamptz,
                     closed_at = case when ${input.final} then ${input.now.toISOString()}::timestamptz else null end
              where folio = ${input.folio} returning *
            ), ev as (
              insert into case_events (case_id, actor, kind, data)
              select id, ${input.actor}, 'status_changed', jsonb_build_object('status', status, 'note', ${input.note}::text) from upd
            )
            select * from upd`,
      );
      if (!rows[0]) throw new StoreError('STORE_NOT_FOUND', `No case ${input.folio}`);
      return toCase(rows[0]);
    },

    async caseAudience(caseId) {
      const rows = await run(
        db,
        sql`select c.contact_id, c.conversation_id, v.channel, v.locale, 'reporter' as role, 0 as ord
            from cases c join conversations v on v.id = c.conversation_id where c.id = ${caseId}::uuid
            union all
            select f.contact_id, f.conversation_id, v.channel, v.locale, 'follower' as role, 1 as ord
            from case_followers f join conversations v on v.id = f.conversation_id where f.case_id = ${caseId}::uuid
            order by ord`,
      );
      return rows.map((r): CaseAudience => ({
        contactId: String(r.contact_id) as ContactId,
        conversationId: String(r.conversation_id) as ConversationId,
        channel: String(r.channel),
        locale: String(r.locale),
        role: r.role === 'follower' ? 'follower' : 'reporter',
      }));
    },

    async resolveIncident(input) {
      const now = input.now.toISOString();
      return db.transaction(async (tx) => {
        const incidents = await run(
          tx,
          sql`update incidents set status = 'resolved', resolved_at = ${now}::timestamptz, resolved_by = ${input.actor}, note = ${input.note}
              where hotspot_id = ${input.hotspotId} and status = 'open'
              returning *, (select count(*)::int from cases where incident_id = incidents.id) as reports`,
        );
        const incident = incidents[0];
        if (!incident) return null;
        const cases = await run(
          tx,
          sql`with upd as (
                update cases set status = ${input.resolvedStatus}, closed_at = ${now}::timestamptz, updated_at = ${now}::timestamptz
                where incident_id = ${String(incident.id)}::uuid and closed_at is null returning *
              ), ev as (
                insert into case_events (case_id, actor, kind, data)
                select id, ${input.actor}, 'status_changed', jsonb_build_object('status', status, 'note', ${input.note}::text, 'incident', incident_id) from upd
              )
              select * from upd`,
        );
        return { incident: toIncident(incident), cases: cases.map(toCase) };
      });
    },

    async listIncidents(filter) {
      const rows = await run(
        db,
        sql`select i.*, (select count(*)::int from cases where incident_id = i.id) as reports from incidents i
            where (${filter.status ?? null}::text is null or i.status = ${filter.status ?? null})
            order by i.status = 'open' desc, i.opened_at desc limit ${filter.limit ?? 100}`,
      );
      return rows.map(toIncident);
    },

    listSubscriptions: (contactId) => subscriptionsOf(db, contactId),

    async applyReceipt(channel, externalId, status, error) {
      const rank = { sent: 1, delivered: 2, read: 3, failed: 4 } as const;
      const rows = await run(
        db,
        sql`update messages set status = ${status}, failure_reason = coalesce(${error ?? null}, failure_reason), updated_at = now()
            where channel = ${channel} and direction = 'out' and external_id = ${externalId}
              and (case status when 'pending' then 0 when 'sent' then 1 when 'delivered' then 2 when 'read' then 3 else 4 end) < ${rank[status]}
            returning id`,
      );
      return rows.length > 0;
    },
  };
}

/** Build the outbox store on an open database. */
export function createPostgresOutboxStore(database: Database): OutboxStore {
  const { db } = database;
  return {
    async lease({ ids, now, leaseMs, limit }) {
      const nowIso = now.toISOString();
      const until = new Date(now.getTime() + leaseMs).toISOString();
      const token = randomUUID();
      const candidate = (t: SQL) =>
        ids !== undefined
          ? sql`${t}.id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)::uuid)
                and (${t}.status in ('pending', 'retrying') or (${t}.status = 'sending' and ${t}.leased_until < ${nowIso}::timestamptz))`
          : sql`((${t}.status in ('pending', 'retrying') and ${t}.next_attempt_at <= ${nowIso}::timestamptz)
                 or (${t}.status = 'sending' and ${t}.leased_until < ${nowIso}::timestamptz))`;
      const rows = await run(
        db,
        sql`update outbox set status = 'sending', attempts = attempts + 1, leased_until = ${until}::timestamptz,
                   lease_token = ${token}::uuid, updated_at = ${nowIso}::timestamptz
            where id in (
              select o.id from outbox o
              where ${candidate(sql.raw('o'))}
                -- Replies go out in order: an older undelivered reply that is not itself being taken now blocks.
                and not exists (
                  select 1 from outbox p
                  where p.conversation_id = o.conversation_id and p.seq < o.seq
                    and p.status in ('pending', 'retrying', 'sending')
                    and not (${candidate(sql.raw('p'))})
                )
              order by o.seq limit ${limit ?? 100}
              for update skip locked
            )
            returning *`,
      );
      // RETURNING has no order: hand entries out in the order they were written.
      return rows.sort((a, b) => Number(a.seq) - Number(b.seq)).map(toOutbox);
    },

    async markSent(id, leaseToken, externalId, now) {
      const rows = await run(
        db,
        sql`with o as (
              update outbox set status = 'sent', leased_until = null, lease_token = null, last_error = null,
                     ${FORGET_ONE_TIME_PAYLOAD}, updated_at = ${now.toISOString()}::timestamptz
              where id = ${id}::uuid and lease_token = ${leaseToken}::uuid and status = 'sending'
              returning message_id
            ), m as (
              update messages set status = case when messages.status = 'pending' then 'sent' else messages.status end,
                     external_id = ${externalId}, failure_reason = null, updated_at = ${now.toISOString()}::timestamptz
              from o where messages.id = o.message_id
            )
            select count(*)::int as n from o`,
      );
      return Number(rows[0]?.n ?? 0) > 0;
    },

    async markRetry(id, leaseToken, error, nextAttemptAt, now) {
      const rows = await run(
        db,
        sql`update outbox set status = 'retrying', leased_until = null, lease_token = null, last_error = ${error},
                   next_attempt_at = ${nextAttemptAt.toISOString()}::timestamptz, updated_at = ${now.toISOString()}::timestamptz
            where id = ${id}::uuid and lease_token = ${leaseToken}::uuid and status = 'sending'
            returning id`,
      );
      return rows.length > 0;
    },

    async markDead(id, leaseToken, reason, now) {
      const rows = await run(
        db,
        sql`with o as (
              update outbox set status = 'dead', leased_until = null, lease_token = null, last_error = ${reason},
                     ${FORGET_ONE_TIME_PAYLOAD}, updated_at = ${now.toISOString()}::timestamptz
              where id = ${id}::uuid and lease_token = ${leaseToken}::uuid and status = 'sending'
              returning message_id
            ), m as (
              update messages set status = 'failed', failure_reason = ${reason}, updated_at = ${now.toISOString()}::timestamptz
              from o where messages.id = o.message_id
            )
            select count(*)::int as n from o`,
      );
      return Number(rows[0]?.n ?? 0) > 0;
    },

    async release(id, leaseToken) {
      await run(
        db,
        sql`update outbox set status = case when attempts > 1 then 'retrying' else 'pending' end,
                   attempts = greatest(attempts - 1, 0), leased_until = null, lease_token = null, updated_at = now()
            where id = ${id}::uuid and lease_token = ${leaseToken}::uuid and status = 'sending'`,
      );
    },

    async depth() {
      const rows = await run(
        db,
        sql`select count(*)::int as n from outbox where status in ('pending', 'sending', 'retrying')`,
      );
      return Number(rows[0]?.n ?? 0);
    },

    async get(id) {
      const rows = await run(db, sql`select * from outbox where id = ${id}::uuid`);
      return rows[0] ? toOutbox(rows[0]) : null;
    },

    async listDead(limit) {
      const rows = await run(
        db,
        sql`select * from outbox where status = 'dead' order by updated_at desc limit ${limit}`,
      );
      return rows.map(toOutbox);
    },
  };
}
