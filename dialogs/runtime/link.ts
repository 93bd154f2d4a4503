/**
 * Linking two contacts with a one-time code (the `link-channel` flow's side effects), inside the turn's
 * transaction: the code goes to the other identity's conversation through the outbox, only its hash is stored,
 * attempts and requests are limited, and a right code merges the contacts (the older keeps its id).
 */
import { createHash, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { ContactId } from '../../channels/contract.ts';
import type { ConversationRecord, IdentityMatch, StoreTx } from '../../integrations/contract.ts';
import type { LinkCheck, LinkStart, Locale } from '../contract.ts';
import type { Translate } from './i18n.ts';

/** How long a code is valid. */
export const LINK_CODE_MINUTES = 10;
/** Codes a citizen may type for one request. */
export const LINK_MAX_ATTEMPTS = 5;
/** Requests per hour for one phone or e-mail, and by one contact (a code must not become a way to spam). */
export const LINK_MAX_PER_HOUR = 3;
/** Requests per day, likewise: bounds the guesses at one target's codes (a new web chat is a new contact). */
export const LINK_MAX_PER_DAY = 6;
/** Channels that cannot carry a written code (a voice call). */
const NO_TEXT = new Set(['twilio-voice']);
/** Channels that only send free-form text within 24 hours of the citizen's last message (WhatsApp's window). */
const WINDOWED = new Set(['whatsapp']);
const WINDOW_MS = 24 * 3_600_000;

const HOUR_MS = 3_600_000;

const hashOf = (id: string, code: string) => createHash('sha256').update(`${id}:${code}`).digest('hex');

/** What a turn needs to link. */
export interface LinkScope {
  readonly tx: StoreTx;
  readonly conversation: ConversationRecord;
  readonly now: Date;
  readonly t: Translate;
}

/**
 * Record a link request for `target` and, when another contact has it, queue the code to that contact's most
 * recently seen conversation. Returns what the flow tells the citizen and the outbox entry to dispatch.
 */
export async function startLink(
  scope: LinkScope,
  target: string,
): Promise<{ start: LinkStart; outboxIds: string[] }> {
  const { tx, conversation, now, t } = scope;
  const matches = (
    await tx.findIdentities(target.includes('@') ? { email: target } : { phone: target })
  ).filter((m) => !NO_TEXT.has(m.channel));
  // The most recent conversation that can still take a free-form message, else the most recent one (a WhatsApp
  // window may be closed; the adapter then sends its fallback template, if one is configured).
  const others = matches.filter((m) => m.contactId !== conversation.contactId);
  const open = (m: IdentityMatch) =>
    !WINDOWED.has(m.channel) || now.getTime() - m.lastSeenAt.getTime() < WINDOW_MS;
  const other = others.find(open) ?? others[0];
  if (!other && matches.length > 0) return { start: { status: 'already-linked' }, outboxIds: [] };
  const since = (ms: number) => ({
    target,
    contactId: conversation.contactId,
    since: new Date(now.getTime() - ms),
  });
  if (
    (await tx.countLinkCodes(since(HOUR_MS))) >= LINK_MAX_PER_HOUR ||
    (await tx.countLinkCodes(since(24 * HOUR_MS))) >= LINK_MAX_PER_DAY
  )
    return { start: { status: 'rate-limited' }, outboxIds: [] };

  const id = randomUUID();
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  await tx.saveLinkCode({
    id,
    conversationId: conversation.id,
    contactId: conversation.contactId,
    target,
    targetContactId: other?.contactId ?? null,
    codeHash: other ? hashOf(id, code) : null,
    attempts: 0,
    expiresAt: new Date(now.getTime() + LINK_CODE_MINUTES * 60_000),
    createdAt: now,
    linkedAt: null,
  });
  const outboxIds: string[] = [];
  if (other) {
    const locale: Locale = other.locale === 'en' ? 'en' : 'es-MX';
    outboxIds.push(
      await tx.queueOutbound(
        other.conversationId,
        {
          outbound: {
            kind: 'text',
            text: t(locale, 'link-channel-code-message', { code, minutes: LINK_CODE_MINUTES }),
          },
          // The conversation's history (seen by agents) and, once sent, the outbox keep the code masked.
          history: {
            kind: 'text',
            text: t(locale, 'link-channel-code-message', { code: '••••••', minutes: LINK_CODE_MINUTES }),
          },
          author: 'bot',
        },
        now,
      ),
    );
  }
  return { start: { status: 'pending', linkId: id, minutes: LINK_CODE_MINUTES }, outboxIds };
}

/**
 * Check a typed code. Every check counts; a request for an unknown target has no code and never matches, so it
 * behaves exactly like a wrong code. `merged` carries the contact change for the caller's conversation record.
 */
export async function confirmLink(
  scope: LinkScope,
  linkId: string,
  code: string,
): Promise<{ check: LinkCheck; merged?: { contactId: ContactId; moved: boolean } }> {
  const { tx, conversation, now } = scope;
  const link = await tx.getLinkCode(linkId);
  if (!link || link.conversationId !== conversation.id) return { check: { status: 'expired' } };
  if (link.linkedAt) return { check: { status: 'linked' } };
  if (now.getTime() > link.expiresAt.getTime()) return { check: { status: 'expired' } };
  if (link.attempts >= LINK_MAX_ATTEMPTS) return { check: { status: 'exhausted' } };

  const attempts = link.attempts + 1;
  const typed = Buffer.from(hashOf(link.id, code), 'hex');
  const right =
    link.codeHash !== null &&
    link.targetContactId !== null &&
    timingSafeEqual(typed, Buffer.from(link.codeHash, 'hex'));
  if (!right || link.targetContactId === null) {
    await tx.saveLinkCode({ ...link, attempts });
    const left = LINK_MAX_ATTEMPTS - attempts;
    return { check: left > 0 ? { status: 'wrong', attemptsLeft: left } : { status: 'exhausted' } };
  }
  await tx.saveLinkCode({ ...link, attempts, linkedAt: now });
  if (link.targetContactId === conversation.contactId) return { check: { status: 'linked' } };
  const merged = await tx.mergeContacts(conversation, link.targetContactId);
  return { check: { status: 'linked' }, merged };
}
