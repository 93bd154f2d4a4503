/**
 * What the conversation runner reports: per conversation the turns (replies and the product's trace) and the
 * assertion results; a summary; and the human-readable rendering (one line per failure, then the totals).
 */

/** A case as the format's `where` sees it (every field it can name). */
export interface CaseView {
  readonly folio: string;
  readonly status: string;
  readonly category: string;
  /** The script's channel name (`sms` for `twilio-sms`, `ivr` for `twilio-voice`). */
  readonly channel: string | null;
  readonly colonia: string | null;
  readonly address: string | null;
  readonly description: string;
  readonly has_location: boolean;
  readonly lat: number | null;
  readonly lon: number | null;
  readonly hotspot_id: string | null;
  /** 10 national digits of the reporter's phone, or null (web chat has none). */
  readonly phone: string | null;
  readonly sensitive: boolean;
  readonly queue: string;
  readonly routing: 'standard' | 'restricted';
  readonly visibility: 'public' | 'restricted';
  readonly contact_preference: string;
}

/** A notice subscription of the citizen. */
export interface SubscriptionView {
  readonly topic: string;
  /** Canonical colonia, or '' for the whole municipality. */
  readonly colonia: string;
  readonly channel: string;
  readonly active: boolean;
}

/** A proactive message (sent outside the citizen's turns, e.g. a notification). */
export interface OutboundView {
  /** The script's channel name. */
  readonly channel: string;
  readonly text: string | null;
}

/** The hand-off summary as scripts name its keys. */
export interface HandoffView {
  readonly queue: string;
  readonly queue_type: 'general' | 'restricted';
  readonly summary: {
    readonly intent: string;
    readonly language: string;
    readonly category: string | null;
    readonly procedure: string | null;
    readonly folio: string | null;
    readonly slots: Record<string, unknown>;
    readonly recent_messages: readonly string[];
    readonly reason: string;
  };
}

/** One turn as run. */
export interface TurnResult {
  readonly n: number;
  /** What the citizen saw, one entry per message, choice labels included as `[label]`. */
  readonly replies: string[];
  readonly nlu: { intent: string; confidence: number; entities: Record<string, unknown> } | null;
  readonly active_form: string | null;
  /** The slot the bot waits for after this turn, in the format's slot names. */
  readonly asks_for: string | null;
  readonly handoff: HandoffView | null;
  readonly status_reported: { folio: string; status: string }[];
  readonly cases_created: CaseView[];
  readonly subscriptions: SubscriptionView[];
  readonly outbound: OutboundView[];
}

/** One evaluated assertion (`turn` is null for `final` assertions and runner errors). */
export interface AssertionResult {
  readonly turn: number | null;
  readonly kind: string;
  readonly level: 'must' | 'should';
  readonly ok: boolean;
  readonly detail: string;
}

/** One conversation as run (or skipped). */
export interface ConversationResult {
  readonly id: string;
  readonly file: string;
  readonly skipped: boolean;
  readonly skip_reason: string | null;
  readonly turns: TurnResult[];
  readonly assertions: AssertionResult[];
}

/** Totals over every conversation that ran (skipped ones are only counted). */
export interface Summary {
  readonly must: { passed: number; failed: number };
  readonly should: { passed: number; failed: number };
  readonly skipped: number;
}

/** The `--json` output: exactly this object. */
export interface Report {
  readonly conversations: ConversationResult[];
  readonly summary: Summary;
}

/** Count passed and failed assertions per level. */
export function summarize(conversations: readonly ConversationResult[]): Summary {
  const must = { passed: 0, failed: 0 };
  const should = { passed: 0, failed: 0 };
  let skipped = 0;
  for (const c of conversations) {
    if (c.skipped) {
      skipped++;
      continue;
    }
    for (const a of c.assertions) {
      const bucket = a.level === 'must' ? must : should;
      if (a.ok) bucket.passed++;
      else bucket.failed++;
    }
  }
  return { must, should, skipped };
}

/** Build the report. */
export function buildReport(conversations: ConversationResult[]): Report {
  return { conversations, summary: summarize(conversations) };
}

/** The human output: one line per failed assertion (and per skipped conversation), then the totals. */
export function formatHuman(report: Report): string {
  const lines: string[] = [];
  for (const c of report.conversations) {
    if (c.skipped) {
      lines.push(`SKIP ${c.file} [${c.id}]: ${c.skip_reason ?? 'skipped'}`);
      continue;
    }
    for (const a of c.assertions) {
      if (a.ok) continue;
      const where = a.turn === null ? 'final' : `turn ${a.turn}`;
      lines.push(`FAIL ${a.level} ${c.file} [${c.id}] ${where} ${a.kind}: ${a.detail}`);
    }
  }
  const { must, should, skipped } = report.summary;
  lines.push(`must: ${must.passed} passed, ${must.failed} failed`);
  lines.push(`should: ${should.passed} passed, ${should.failed} failed`);
  if (skipped > 0) lines.push(`skipped: ${skipped}`);
  return `${lines.join('\n')}\n`;
}
