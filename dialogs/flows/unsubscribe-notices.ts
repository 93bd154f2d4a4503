/** Service notices: unsubscribe from one topic or from all (STOP / BAJA on any channel, at any point). */
import type { Dialog, DialogResult, TurnContext } from '../contract.ts';
import { topicLabel } from './subscribe-notices.ts';

async function stopAll(ctx: TurnContext): Promise<DialogResult> {
  const n = await ctx.unsubscribe();
  ctx.say({ kind: 'text', text: ctx.t(n > 0 ? 'unsubscribe-notices-all-done' : 'unsubscribe-notices-none') });
  return { status: 'complete' };
}

async function stopTopic(ctx: TurnContext, topic: string): Promise<DialogResult> {
  const n = await ctx.unsubscribe(topic);
  ctx.say({
    kind: 'text',
    text: ctx.t(n > 0 ? 'unsubscribe-notices-topic-done' : 'unsubscribe-notices-topic-none', {
      topic: topicLabel(ctx, topic),
    }),
  });
  return { status: 'complete' };
}

export const unsubscribeNotices: Dialog & { awaiting(ctx: TurnContext): string | null } = {
  id: 'unsubscribe-notices',
  awaiting: (ctx) => (ctx.slots._asked ? 'topic' : null),
  async begin(ctx, understanding) {
    if (ctx.slots._keyword === true) return stopAll(ctx);
    if (understanding.entities.topic) return stopTopic(ctx, understanding.entities.topic);
    const active = (await ctx.mySubscriptions()).filter((s) => s.active);
    const topics = [...new Set(active.map((s) => s.topic))];
    if (topics.length === 0) return stopAll(ctx);
    if (topics.length === 1) return stopTopic(ctx, topics[0]!);
    ctx.slots._asked = true;
    ctx.trace.awaiting = 'topic';
    ctx.say({
      kind: 'choices',
      text: ctx.t('unsubscribe-notices-ask-topic'),
      choices: [
        ...topics.map((t) => ({ id: `topic:${t}`, label: topicLabel(ctx, t) })),
        { id: 'topic:all', label: ctx.t('unsubscribe-notices-all') },
      ],
    });
    return { status: 'waiting' };
  },
  async resume(ctx, input) {
    const topic =
      input.kind === 'choice' && input.choiceId.startsWith('topic:')
        ? input.choiceId.slice(6)
        : ctx.understanding?.entities.topic;
    if (!topic || topic === 'all') return stopAll(ctx);
    return stopTopic(ctx, topic);
  },
};
