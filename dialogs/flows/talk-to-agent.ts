/**
 * Talk to a person: hand off with a summary (intent, slots, folio, language, last messages) to the queue of the
 * category in play, else `general`. Outside service hours the conversation is queued all the same and the
 * citizen is told when someone will answer.
 */
import type { Dialog, DialogResult, TurnContext } from '../contract.ts';
import { describeHours, isOpen, nextOpening } from '../runtime/hours.ts';

function queueFor(ctx: TurnContext): { queue: string; category?: string } {
  const fromForm = ctx.memory.lastForm?.slots.category;
  const id = typeof fromForm === 'string' ? fromForm : ctx.memory.category;
  const category = ctx.catalog.categories.find((c) => c.id === id);
  return category ? { queue: category.queue, category: category.id } : { queue: 'general' };
}

function when(ctx: TurnContext, d: Date): string {
  return new Intl.DateTimeFormat(ctx.locale === 'en' ? 'en-US' : 'es-MX', {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    hour: '2-digit',
    minute: '2-digit',
    timeZone: ctx.settings.timeZone,
  }).format(d);
}

/** Build the hand-off result (also used by other flows' "talk to a person" offers). */
export async function handoff(ctx: TurnContext, reason: string): Promise<DialogResult> {
  const { queue, category } = queueFor(ctx);
  const s = ctx.settings;
  const open = s.alwaysOpenQueues.includes(queue) || isOpen(s.serviceHours, s.holidays, s.timeZone, ctx.now);
  if (open) {
    ctx.say({ kind: 'text', text: ctx.t('talk-to-agent-queued-open') });
  } else {
    const next = nextOpening(s.serviceHours, s.holidays, s.timeZone, ctx.now);
    ctx.say({
      kind: 'text',
      text: next
        ? ctx.t('talk-to-agent-queued-closed', {
            hours: describeHours(s.serviceHours, ctx.locale === 'en' ? 'en' : 'es'),
            next: when(ctx, next),
          })
        : ctx.t('talk-to-agent-queued-closed-unknown'),
    });
  }
  const form = ctx.memory.lastForm;
  return {
    status: 'handoff',
    reason,
    queue,
    summary: {
      intent: form ? form.dialog.replaceAll('-', '_') : 'talk_to_agent',
      language: ctx.locale === 'en' ? 'en' : 'es',
      ...(category ? { category } : {}),
      ...(ctx.memory.procedure ? { procedure: ctx.memory.procedure } : {}),
      ...(ctx.memory.folio ? { folio: ctx.memory.folio } : {}),
      slots: form?.slots ?? {},
      recentMessages: await ctx.recentMessages(8),
      reason,
    },
  };
}

export const talkToAgent: Dialog = {
  id: 'talk-to-agent',
  async begin(ctx) {
    return handoff(ctx, ctx.slots._reason === 'attempts' ? 'too-many-attempts' : 'asked-for-a-person');
  },
  async resume(ctx) {
    return handoff(ctx, 'asked-for-a-person');
  },
};
