/**
 * Gender-violence report. The first reply always carries emergency guidance (911, 089, Línea de las Mujeres 079
 * option 1, the municipal women's institute); nothing is required about location or the aggressor; one question
 * asks how the person wants to be contacted and for express consent; the case is sensitive and restricted and
 * goes to the restricted queue, staffed around the clock. No satisfaction survey, and no details by SMS.
 */
import type { TurnContext } from '../contract.ts';
import { defineForm } from '../runtime/form.ts';
import { normalize } from '../runtime/understand.ts';

const CATEGORY = 'violencia_genero';

const PREFERENCES: [string, RegExp][] = [
  [
    'declined',
    /\b(no acepto|no quiero (dar|que|compartir)|no autorizo|prefiero no|i do not consent|i don.?t consent|no thanks)\b/,
  ],
  ['no_calls', /\b(no me llamen|sin llamadas|no llamadas|que no me llamen|no calls|don.?t call)\b/],
  ['whatsapp_only', /\b(solo|nada mas|unicamente) (por )?whats?app\b|\bwhatsapp only\b/],
  ['channel_only', /\b(por aqui|este (chat|medio)|aqui mismo|solo (por )?aqui|this chat|here only)\b/],
  ['any', /\b(como sea|cualquiera|llamenme|pueden llamarme|me pueden llamar|any|call me)\b/],
];

function preference(ctx: TurnContext, value: string): string {
  return value === 'channel_only' ? `${ctx.channel}_only` : value;
}

export const genderViolenceReport = defineForm({
  id: 'gender-violence-report',
  cancelledKey: 'gender-violence-report-cancelled-text',
  prefill(ctx) {
    ctx.say({
      kind: 'text',
      text: ctx.t('gender-violence-report-emergency-text', { institute: ctx.settings.womensInstitute }),
    });
    if (ctx.text) ctx.slots._opening = ctx.text.slice(0, 2000);
  },
  slots: [
    {
      name: 'contact_preference',
      ask: (ctx) => ({
        kind: 'choices',
        text: ctx.t('gender-violence-report-ask-contact', { url: ctx.settings.privacyNoticeUrl }),
        choices: [
          { id: 'contact:channel_only', label: ctx.t('gender-violence-report-contact-channel') },
          { id: 'contact:whatsapp_only', label: ctx.t('gender-violence-report-contact-whatsapp') },
          { id: 'contact:no_calls', label: ctx.t('gender-violence-report-contact-no-calls') },
          { id: 'contact:any', label: ctx.t('gender-violence-report-contact-any') },
          { id: 'contact:declined', label: ctx.t('gender-violence-report-contact-declined') },
        ],
      }),
      parse(input) {
        if (input.kind === 'choice' && input.choiceId.startsWith('contact:'))
          return { ok: true, value: input.choiceId.slice(8) };
        if (input.kind === 'text') {
          const found = PREFERENCES.find(([, re]) => re.test(normalize(input.text)))?.[0];
          if (found) return { ok: true, value: found };
        }
        return { ok: false, error: 'gender-violence-report-contact-invalid' };
      },
    },
  ],
  async complete(ctx) {
    const choice = String(ctx.slots.contact_preference);
    if (choice === 'declined') {
      ctx.say({ kind: 'text', text: ctx.t('gender-violence-report-declined-text') });
      return { status: 'complete', output: { consent: false } };
    }
    const category = ctx.catalog.categories.find((c) => c.id === CATEGORY);
    const queue = category?.queue ?? 'restricted_gender_violence';
    const created = await ctx.createCase({
      category: CATEGORY,
      description:
        typeof ctx.slots._opening === 'string'
          ? ctx.slots._opening
          : ctx.t('gender-violence-report-default-description'),
      department: category?.department ?? 'Instituto Municipal de las Mujeres',
      queue,
      priority: 'urgent',
      sensitive: true,
      visibility: 'restricted',
      contactPreference: preference(ctx, choice),
      consentAt: ctx.now,
      slaDueAt: new Date(ctx.now.getTime() + (category?.sla_hours ?? 1) * 3_600_000),
    });
    // Nothing about the case goes by SMS: on SMS the folio is not repeated.
    ctx.say({
      kind: 'text',
      text:
        ctx.channel === 'twilio-sms'
          ? ctx.t('gender-violence-report-handoff-sms')
          : ctx.t('gender-violence-report-handoff-text', { folio: created.folio }),
    });
    return {
      status: 'handoff',
      reason: 'sensitive-report',
      queue,
      summary: {
        intent: 'gender_violence_report',
        language: ctx.locale === 'en' ? 'en' : 'es',
        category: CATEGORY,
        folio: created.folio,
        slots: { contact_preference: preference(ctx, choice) },
        recentMessages: await ctx.recentMessages(6),
        reason: 'sensitive-report',
      },
    };
  },
});
