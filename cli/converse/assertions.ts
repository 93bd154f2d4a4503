/**
 * Evaluation of every assertion kind of the scripted-conversation format against what one turn (or the whole
 * conversation, for `final`) produced. Text comparisons ignore case and accents; regexes run with flags `iu` on
 * text without accents.
 */
import type { CaseView, HandoffView, OutboundView, SubscriptionView, TurnResult } from './report.ts';
import type { Assertion, CaseWhere, SubscriptionWhere } from './script.ts';
import {
  canonicalFolio,
  clip,
  containsFolded,
  detectLanguage,
  distanceM,
  fold,
  stripAccents,
} from './text.ts';

/** A seeded case's fields that `case_unchanged` compares. */
export interface CaseSnapshot {
  readonly status: string;
  readonly category: string;
  readonly address: string | null;
}

/** Everything an assertion may look at, for one scope. */
export interface Observation {
  /** The turns in scope: the current one, or every turn for `final`. */
  readonly turns: readonly TurnResult[];
  /** Cases created so far in this conversation, as they are now. */
  readonly cases: readonly CaseView[];
  /** The citizen's subscriptions now. */
  readonly subscriptions: readonly SubscriptionView[];
  /** Proactive messages in scope. */
  readonly outbound: readonly OutboundView[];
  /** The conversation's hand-off state now. */
  readonly queue: { readonly mode: string; readonly queue: string | null };
  /** `general` or `restricted` for a queue name. */
  queueType(queue: string): 'general' | 'restricted';
  /** A seeded case as seeded and as it is now (`undefined` when the folio was not seeded). */
  seeded(folio: string): Promise<{ before: CaseSnapshot; after: CaseSnapshot | null } | undefined>;
  /** Maps a script channel name to the product's (`sms` → `twilio-sms`). */
  productChannel(channel: string): string;
}

/** Outcome of one assertion. */
export interface Verdict {
  readonly ok: boolean;
  readonly detail: string;
}

const pass = (detail: string): Verdict => ({ ok: true, detail });
const fail = (detail: string): Verdict => ({ ok: false, detail });

/** The text the citizen saw in scope. */
function replyText(o: Observation): string {
  return o.turns.flatMap((t) => t.replies).join('\n');
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value ?? null);
}

/** Whether a created case matches a `where`. */
export function caseMatches(c: CaseView, where: CaseWhere): boolean {
  const eq = (a: string | null, b: string | undefined) =>
    b === undefined || (a !== null && fold(a) === fold(b));
  if (!eq(c.category, where.category)) return false;
  if (!eq(c.channel, where.channel)) return false;
  if (!eq(c.colonia, where.colonia)) return false;
  if (
    where.address_contains !== undefined &&
    !(c.address && containsFolded(c.address, where.address_contains))
  )
    return false;
  if (where.description_contains !== undefined && !containsFolded(c.description, where.description_contains))
    return false;
  if (where.has_location !== undefined && c.has_location !== where.has_location) return false;
  if (where.location_near) {
    const { lat, lon, max_m } = where.location_near;
    if (c.lat === null || c.lon === null || distanceM(lat, lon, c.lat, c.lon) > max_m) return false;
  }
  if (!eq(c.hotspot_id, where.hotspot_id)) return false;
  if (where.phone !== undefined && c.phone !== where.phone) return false;
  if (where.sensitive !== undefined && c.sensitive !== where.sensitive) return false;
  if (!eq(c.queue, where.queue)) return false;
  if (where.routing !== undefined && c.routing !== where.routing) return false;
  if (where.visibility !== undefined && c.visibility !== where.visibility) return false;
  if (!eq(c.contact_preference, where.contact_preference)) return false;
  return true;
}

function subscriptionMatches(s: SubscriptionView, where: SubscriptionWhere, o: Observation): boolean {
  if (where.topic !== undefined && fold(s.topic) !== fold(where.topic)) return false;
  if (where.colonia !== undefined && fold(s.colonia) !== fold(where.colonia)) return false;
  if (where.channel !== undefined && o.productChannel(s.channel) !== o.productChannel(where.channel))
    return false;
  if (where.active !== undefined && s.active !== where.active) return false;
  return true;
}

function describeCases(cases: readonly CaseView[]): string {
  if (cases.length === 0) return 'no case was created';
  return `created: ${cases
    .map(
      (c) =>
        `${c.folio} {category: ${c.category}, colonia: ${show(c.colonia)}, address: ${show(c.address)}, queue: ${c.queue}, sensitive: ${c.sensitive}, contact_preference: ${c.contact_preference}}`,
    )
    .join('; ')}`;
}

/** Compare an expected value with what the product reported (strings ignore case and accents). */
function sameValue(actual: unknown, expected: unknown, substring = false): boolean {
  if (Array.isArray(actual)) {
    if (Array.isArray(expected)) return expected.every((e) => actual.some((a) => sameValue(a, e, substring)));
    return (
      actual.some((a) => sameValue(a, expected, substring)) ||
      (substring && sameValue(actual.join('\n'), expected, true))
    );
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object') return false;
    const record = actual as Record<string, unknown>;
    return Object.entries(expected as Record<string, unknown>).every(([k, v]) =>
      sameValue(record[k], v, substring),
    );
  }
  if (typeof expected === 'string' && typeof actual === 'string') {
    return substring ? containsFolded(actual, expected) : fold(actual) === fold(expected);
  }
  if (typeof expected === 'string' && (typeof actual === 'number' || typeof actual === 'boolean')) {
    return String(actual) === expected;
  }
  return actual === expected;
}

/** Hand-off summary keys as scripts name them → the product's summary. */
function summaryValue(h: HandoffView, key: string): unknown {
  const s = h.summary;
  switch (key) {
    case 'intent':
    case 'category':
    case 'procedure':
    case 'folio':
    case 'slots':
    case 'reason':
    case 'recent_messages':
      return s[key];
    case 'language':
      return s.language;
    case 'queue':
      return h.queue;
    case 'queue_type':
      return h.queue_type;
    default:
      // Other keys name a filled slot, e.g. {"contact_preference": "no_calls"}.
      return s.slots[key];
  }
}

function lastHandoff(o: Observation): HandoffView | null {
  return o.turns.findLast((t) => t.handoff !== null)?.handoff ?? null;
}

/** Evaluate one assertion. */
export async function evaluate(a: Assertion, o: Observation): Promise<Verdict> {
  const text = replyText(o);
  const last = o.turns.at(-1);
  switch (a.kind) {
    case 'intent': {
      const seen = o.turns.map((t) => t.nlu?.intent ?? null);
      return seen.includes(a.equals)
        ? pass(`intent ${a.equals}`)
        : fail(
            `expected intent ${a.equals}, trace shows ${seen.map((s) => s ?? 'none (not a text turn)').join(', ')}`,
          );
    }
    case 'entity': {
      const values = o.turns.map((t) => t.nlu?.entities[a.name]);
      return values.some((v) => v !== undefined && sameValue(v, a.equals))
        ? pass(`entity ${a.name} = ${show(a.equals)}`)
        : fail(
            `expected entity ${a.name} = ${show(a.equals)}, trace has ${values.map((v) => show(v)).join(', ')} (entities: ${show(last?.nlu?.entities ?? {})})`,
          );
    }
    case 'bot_asks_for': {
      const wanted = a.slot !== undefined ? [a.slot] : (a.slot_any_of ?? []);
      const asked = o.turns.map((t) => t.asks_for);
      return asked.some((s) => s !== null && wanted.includes(s))
        ? pass(`asks for ${asked.filter(Boolean).join(', ')}`)
        : fail(
            `expected the bot to ask for ${wanted.join(' or ')}; it waits for ${asked.map((s) => s ?? 'nothing').join(', ')} | reply: ${show(clip(text))}`,
          );
    }
    case 'bot_does_not_ask_for': {
      const asked = o.turns.map((t) => t.asks_for);
      return asked.includes(a.slot)
        ? fail(`the bot asks for ${a.slot} | reply: ${show(clip(text))}`)
        : pass(`does not ask for ${a.slot}`);
    }
    case 'reply_contains_any': {
      const hit = a.values.find((v) => containsFolded(text, v));
      return hit !== undefined
        ? pass(`reply contains ${show(hit)}`)
        : fail(
            `expected one of ${a.values.map((v) => show(v)).join(', ')} in reply ${show(clip(text, 300))}`,
          );
    }
    case 'reply_not_contains_any': {
      const hit = a.values.find((v) => containsFolded(text, v));
      return hit === undefined
        ? pass('reply contains none of the values')
        : fail(`reply contains ${show(hit)}: ${show(clip(text, 300))}`);
    }
    case 'reply_matches':
    case 'reply_not_matches': {
      const found = new RegExp(a.regex, 'iu').test(stripAccents(text));
      const want = a.kind === 'reply_matches';
      return found === want
        ? pass(`/${a.regex}/ ${found ? 'found' : 'not found'}`)
        : fail(`/${a.regex}/ ${found ? 'found' : 'not found'} in reply ${show(clip(text, 300))}`);
    }
    case 'reply_language': {
      if (text.trim() === '') return fail('no reply in scope');
      const lang = detectLanguage(text);
      return lang === a.equals
        ? pass(`reply is in ${lang}`)
        : fail(`expected a reply in ${a.equals}, it looks ${lang}: ${show(clip(text))}`);
    }
    case 'reply_contains_created_folio': {
      const matching = o.cases.filter((c) => caseMatches(c, a.where));
      const hit = matching.find((c) => text.toUpperCase().includes(c.folio));
      if (hit) return pass(`reply contains ${hit.folio}`);
      return matching.length === 0
        ? fail(`no created case matches ${show(a.where)} (${describeCases(o.cases)})`)
        : fail(`reply lacks ${matching.map((c) => c.folio).join(' / ')}: ${show(clip(text))}`);
    }
    case 'case_exists':
    case 'case_absent': {
      const matching = o.cases.filter((c) => caseMatches(c, a.where));
      const want = a.kind === 'case_exists';
      return matching.length > 0 === want
        ? pass(want ? `${matching.map((c) => c.folio).join(', ')} matches` : 'no created case matches')
        : fail(
            want
              ? `no created case matches ${show(a.where)} (${describeCases(o.cases)})`
              : `${matching.map((c) => c.folio).join(', ')} matches ${show(a.where)}`,
          );
    }
    case 'case_count': {
      const n = o.cases.filter((c) => caseMatches(c, a.where)).length;
      return n === a.equals
        ? pass(`${n} cases match`)
        : fail(
            `expected ${a.equals} cases matching ${show(a.where)}, found ${n} (${describeCases(o.cases)})`,
          );
    }
    case 'case_unchanged': {
      const folio = canonicalFolio(a.folio);
      const seeded = await o.seeded(folio);
      if (!seeded) return fail(`${folio} is not one of the script's existing_cases`);
      if (!seeded.after) return fail(`${folio} no longer exists`);
      const changed = (['status', 'category', 'address'] as const).filter(
        (k) => seeded.before[k] !== seeded.after![k],
      );
      return changed.length === 0
        ? pass(`${folio} unchanged`)
        : fail(
            `${folio} changed: ${changed.map((k) => `${k} ${show(seeded.before[k])} → ${show(seeded.after![k])}`).join(', ')}`,
          );
    }
    case 'no_status_claimed_for': {
      const claimed = o.turns.flatMap((t) => t.status_reported);
      let hits: { folio: string; status: string }[];
      let name: string;
      if (a.folio !== undefined) {
        name = canonicalFolio(a.folio);
        hits = claimed.filter((s) => canonicalFolio(s.folio) === name);
      } else {
        const digits = (a.dtmf_entry ?? '').replace(/\D/g, '');
        name = `keypad entry ${a.dtmf_entry ?? ''}`;
        hits = claimed.filter((s) => {
          const own = s.folio.replace(/\D/g, '');
          return digits.length > 0 && (own.endsWith(digits) || Number(own.slice(4)) === Number(digits));
        });
      }
      return hits.length === 0
        ? pass(`no status claimed for ${name}`)
        : fail(
            `the bot reported status ${hits.map((h) => `${h.folio}: ${h.status}`).join(', ')} for ${name}`,
          );
    }
    case 'active_form': {
      const actual = last?.active_form ?? null;
      return actual === a.equals
        ? pass(`active form ${show(actual)}`)
        : fail(`expected active form ${show(a.equals)}, got ${show(actual)}`);
    }
    case 'handoff': {
      const handoffs = o.turns.flatMap((t) => (t.handoff ? [t.handoff] : []));
      const ok = handoffs.some(
        (h) =>
          (a.queue === undefined || h.queue === a.queue) &&
          (a.queue_type === undefined || h.queue_type === a.queue_type),
      );
      const want = [a.queue && `queue ${a.queue}`, a.queue_type && `queue type ${a.queue_type}`]
        .filter(Boolean)
        .join(', ');
      return ok
        ? pass(`handed off (${handoffs.map((h) => `${h.queue}/${h.queue_type}`).join(', ')})`)
        : fail(
            handoffs.length === 0
              ? `expected a hand-off${want ? ` (${want})` : ''}; none happened | reply: ${show(clip(text))}`
              : `expected a hand-off with ${want}; got ${handoffs.map((h) => `${h.queue}/${h.queue_type}`).join(', ')}`,
          );
    }
    case 'handoff_context_includes': {
      const h = lastHandoff(o);
      if (!h) return fail('no hand-off in scope');
      const missing = Object.entries(a.values).filter(
        ([k, v]) => !sameValue(summaryValue(h, k), v, k === 'recent_messages' || k === 'slots'),
      );
      return missing.length === 0
        ? pass('hand-off summary has every value')
        : fail(
            `hand-off summary lacks ${missing.map(([k, v]) => `${k}=${show(v)} (has ${show(summaryValue(h, k))})`).join(', ')}`,
          );
    }
    case 'in_queue':
    case 'not_in_queue': {
      const { mode, queue } = o.queue;
      const queued = mode !== 'bot' && queue !== null;
      const matches =
        queued &&
        (a.queue === undefined || queue === a.queue) &&
        (a.queue_type === undefined || o.queueType(queue) === a.queue_type);
      const want = a.kind === 'in_queue';
      const state = queued ? `${mode} in ${queue} (${o.queueType(queue)})` : 'with the bot';
      return matches === want ? pass(`conversation is ${state}`) : fail(`conversation is ${state}`);
    }
    case 'subscription_active': {
      const active = o.subscriptions.some((s) => s.active && subscriptionMatches(s, a.where, o));
      return active === a.equals
        ? pass(`active subscription ${active ? 'found' : 'absent'}`)
        : fail(
            `expected ${a.equals ? 'an' : 'no'} active subscription matching ${show(a.where)}; has ${show(o.subscriptions)}`,
          );
    }
    case 'subscription_count': {
      const n = o.subscriptions.filter((s) => subscriptionMatches(s, a.where, o)).length;
      return n === a.equals
        ? pass(`${n} subscriptions match`)
        : fail(
            `expected ${a.equals} subscriptions matching ${show(a.where)}, found ${n}: ${show(o.subscriptions)}`,
          );
    }
    case 'outbound_messages': {
      const channel = o.productChannel(a.channel);
      const n = o.outbound.filter((m) => o.productChannel(m.channel) === channel).length;
      return n === a.count
        ? pass(`${n} proactive messages on ${a.channel}`)
        : fail(`expected ${a.count} proactive messages on ${a.channel}, found ${n}`);
    }
  }
}
