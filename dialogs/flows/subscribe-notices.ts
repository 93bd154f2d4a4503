/** Service notices: subscribe by topic and colonia (ALTA reactivates earlier subscriptions). */
import { NOTICE_TOPICS } from '../../integrations/contract.ts';
import type { TurnContext } from '../contract.ts';
import { defineForm, SKIP_CHOICE } from '../runtime/form.ts';
import { findColonia } from '../runtime/geo.ts';
import { findTopic, normalize } from '../runtime/understand.ts';

/** The topic label in the conversation's language. */
export const topicLabel = (ctx: TurnContext, topic: string) => ctx.t(`subscribe-notices-topic-${topic}`);

export const subscribeNotices = defineForm({
  id: 'subscribe-notices',
  cancelledKey: 'main-menu-cancelled-text',
  prefill(ctx, understanding) {
    if (understanding.entities.topic) ctx.slots.topic = understanding.entities.topic;
    if (understanding.entities.colonia) ctx.slots.colonia = understanding.entities.colonia;
  },
  slots: [
    {
      name: 'topic',
      async prepare(ctx) {
        // ALTA / START: bring back what the citizen had before, without asking again.
        if (ctx.slots._keyword !== true || ctx.slots._reactivated !== undefined) return;
        const previous = await ctx.mySubscriptions();
        ctx.slots._reactivated = previous.length;
        for (const s of previous) await ctx.subscribe(s.topic, s.colonia);
        if (previous.length > 0) {
          ctx.slots.topic = previous[0]!.topic;
          ctx.slots.colonia = previous[0]!.colonia;
        }
      },
      ask: (ctx) => ({
        kind: 'choices',
        text: ctx.t('subscribe-notices-ask-topic'),
        choices: NOTICE_TOPICS.map((t) => ({ id: `topic:${t}`, label: topicLabel(ctx, t) })),
      }),
      parse(input, ctx) {
        if (input.kind === 'choice' && input.choiceId.startsWith('topic:')) {
          const topic = input.choiceId.slice(6);
          return (NOTICE_TOPICS as readonly string[]).includes(topic)
            ? { ok: true, value: topic }
            : { ok: false, error: 'subscribe-notices-topic-invalid' };
        }
        // A one-word answer ("agua", "water") names the topic even when the NLU reads it as something else.
        const topic =
          ctx.understanding?.entities.topic ?? (input.kind === 'text' ? findTopic(input.text) : undefined);
        return topic ? { ok: true, value: topic } : { ok: false, error: 'subscribe-notices-topic-invalid' };
      },
    },
    {
      name: 'colonia',
      optional: { skippedValue: '' },
      ask: (ctx) => ({
        kind: 'choices',
        text: ctx.t('subscribe-notices-ask-colonia'),
        choices: [{ id: SKIP_CHOICE, label: ctx.t('subscribe-notices-colonia-all') }],
      }),
      parse(input, ctx) {
        if (input.kind !== 'text') return { ok: false, error: 'subscribe-notices-colonia-invalid' };
        if (
          /\b(todo el municipio|toda la ciudad|todas( las colonias)?|en todos lados|whole (municipality|city)|everywhere|all of (it|them))\b/.test(
            normalize(input.text),
          )
        ) {
          return { ok: true, value: '' };
        }
        const name =
          ctx.understanding?.entities.colonia ?? findColonia(input.text, ctx.catalog.colonias)?.name;
        return name ? { ok: true, value: name } : { ok: false, error: 'subscribe-notices-colonia-invalid' };
      },
    },
  ],
  async complete(ctx) {
    const reactivated = Number(ctx.slots._reactivated ?? 0);
    if (reactivated > 0) {
      ctx.say({ kind: 'text', text: ctx.t('subscribe-notices-reactivated', { count: reactivated }) });
      return { status: 'complete' };
    }
    const topic = String(ctx.slots.topic);
    const colonia = typeof ctx.slots.colonia === 'string' ? ctx.slots.colonia : '';
    await ctx.subscribe(topic, colonia);
    ctx.say({
      kind: 'text',
      text: colonia
        ? ctx.t('subscribe-notices-done-colonia', { topic: topicLabel(ctx, topic), colonia })
        : ctx.t('subscribe-notices-done', { topic: topicLabel(ctx, topic) }),
    });
    return { status: 'complete' };
  },
});
