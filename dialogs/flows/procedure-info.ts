/**
 * Procedure information: find the procedure (NLU entity, keywords), answer what was asked (requirements, cost,
 * duration, office and hours, channels) or a summary; follow-ups ("¿y cuánto cuesta?") keep the context.
 */
import type { Procedure } from '../../integrations/contract.ts';
import type { TurnContext } from '../contract.ts';
import { defineForm } from '../runtime/form.ts';
import { normalize } from '../runtime/understand.ts';
import { FEDERAL } from './main-menu.ts';

type Aspect = 'cost' | 'requirements' | 'where' | 'hours' | 'duration' | 'channels' | 'summary';
const ASPECTS: [Aspect, RegExp][] = [
  ['cost', /\b(cuanto cuesta|costo|precio|cobran|cuanto (se )?paga|pago|how much|cost|price|fee)\b/],
  [
    'requirements',
    /\b(requisitos|que (necesito|ocupo|piden|llevo)|documentos|papeles|requirements|what do i need|documents)\b/,
  ],
  ['where', /\b(donde (queda|esta|se tramita|es|lo hago|voy)|oficina|direccion|where)\b/],
  ['hours', /\b(horario|a que hora|que dias|abren|cierran|hours|open)\b/],
  ['duration', /\b(cuanto (tarda|tiempo|dias)|tardan|plazo|how long|days)\b/],
  ['channels', /\b(en linea|internet|por whatsapp|por telefono|online|app)\b/],
];

/** Whether a message is a follow-up question about a procedure already discussed. */
export function isProcedureFollowUp(ctx: TurnContext): boolean {
  const text = normalize(ctx.text ?? '');
  // "¿y el pasaporte?" right after a municipal procedure is a new (federal) question, not a follow-up.
  return Boolean(ctx.memory.procedure) && !FEDERAL.test(text) && ASPECTS.some(([, re]) => re.test(text));
}

function name(ctx: TurnContext, p: Procedure): string {
  return ctx.locale === 'en' ? (p.name_en ?? p.name) : p.name;
}

function costText(ctx: TurnContext, p: Procedure): string {
  const base =
    p.cost_mxn === null
      ? ctx.t('procedure-info-cost-free')
      : ctx.t('procedure-info-cost-amount', {
          amount: new Intl.NumberFormat('es-MX', { style: 'currency', currency: 'MXN' }).format(p.cost_mxn),
        });
  return p.cost_note ? `${base} ${p.cost_note}` : base;
}

function durationText(ctx: TurnContext, p: Procedure): string {
  return p.duration_days === 0
    ? ctx.t('procedure-info-duration-same-day')
    : ctx.t('procedure-info-duration-days', { count: p.duration_days });
}

function answer(ctx: TurnContext, p: Procedure, aspect: Aspect): string {
  const n = name(ctx, p);
  switch (aspect) {
    case 'cost':
      return ctx.t('procedure-info-answer-cost', { name: n, cost: costText(ctx, p) });
    case 'requirements':
      return ctx.t('procedure-info-answer-requirements', {
        name: n,
        list: p.requirements.map((r) => `• ${r}`).join('\n'),
      });
    case 'where':
      return ctx.t('procedure-info-answer-where', { name: n, office: p.office, hours: p.office_hours });
    case 'hours':
      return ctx.t('procedure-info-answer-hours', { name: n, office: p.office, hours: p.office_hours });
    case 'duration':
      return ctx.t('procedure-info-answer-duration', { name: n, duration: durationText(ctx, p) });
    case 'channels':
      return ctx.t('procedure-info-answer-channels', { name: n, channels: p.channels_available.join(', ') });
    case 'summary':
      return ctx.t('procedure-info-answer-summary', {
        name: n,
        description: p.description,
        list: p.requirements.map((r) => `• ${r}`).join('\n'),
        cost: costText(ctx, p),
        duration: durationText(ctx, p),
        office: p.office,
        hours: p.office_hours,
        channels: p.channels_available.join(', '),
      });
  }
}

export const procedureInfo = defineForm({
  id: 'procedure-info',
  cancelledKey: 'main-menu-cancelled-text',
  prefill(ctx, understanding) {
    const id =
      understanding.entities.procedure ?? (isProcedureFollowUp(ctx) ? ctx.memory.procedure : undefined);
    if (id && ctx.catalog.procedures.some((p) => p.id === id)) ctx.slots.procedure = id;
    ctx.slots._aspect = ASPECTS.find(([, re]) => re.test(normalize(ctx.text ?? '')))?.[0] ?? 'summary';
  },
  slots: [
    {
      name: 'procedure',
      ask: (ctx) => ({ kind: 'text', text: ctx.t('procedure-info-ask-procedure') }),
      parse(input, ctx) {
        if (input.kind === 'choice' && input.choiceId.startsWith('procedure:')) {
          const id = input.choiceId.slice(10);
          return ctx.catalog.procedures.some((p) => p.id === id)
            ? { ok: true, value: id }
            : { ok: false, error: 'procedure-info-not-found' };
        }
        const id = ctx.understanding?.entities.procedure;
        return id ? { ok: true, value: id } : { ok: false, error: 'procedure-info-not-found' };
      },
    },
  ],
  async complete(ctx) {
    const p = ctx.catalog.procedures.find((x) => x.id === ctx.slots.procedure)!;
    ctx.memory.procedure = p.id;
    ctx.say({ kind: 'text', text: answer(ctx, p, (ctx.slots._aspect as Aspect | undefined) ?? 'summary') });
    if (ctx.slots._aspect === 'summary')
      ctx.say({ kind: 'text', text: ctx.t('procedure-info-follow-up-hint') });
    return { status: 'complete', output: { procedure: p.id } };
  },
});
