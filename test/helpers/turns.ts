/** A bot turn for store-level tests: replies only, state and mode untouched. */
import type { Address } from '../../channels/contract.ts';
import type { ConversationRecord, StoreTx, TurnCommit } from '../../integrations/contract.ts';

/** Commit, inside `tx`, a turn of `conversation` whose bot says `texts` (one text message each). */
export function commitReplies(
  tx: StoreTx,
  conversation: ConversationRecord,
  texts: readonly string[],
  opts: { now?: Date; lastInboundAt?: Date | null; address?: Address; lease?: { leaseMs: number } } = {},
): Promise<TurnCommit> {
  const now = opts.now ?? new Date();
  return tx.commitTurn({
    conversation,
    state: null,
    mode: 'bot',
    queue: null,
    locale: 'es-MX',
    lastInboundAt: opts.lastInboundAt === undefined ? now : opts.lastInboundAt,
    ...(opts.address ? { address: opts.address } : {}),
    outbound: texts.map((text) => ({ outbound: { kind: 'text', text }, author: 'bot' })),
    now,
    ...(opts.lease ? { lease: opts.lease } : {}),
  });
}
