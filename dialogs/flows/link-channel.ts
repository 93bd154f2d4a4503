/**
 * Link this conversation to the citizen's other channel when the identities do not match by themselves (web chat
 * has no phone; a Telegram user who will not share it; a second e-mail address): the citizen names the phone or
 * e-mail of the other channel, a one-time code goes there, and typing it here merges the two contacts.
 * On Telegram the citizen can share their own phone instead, which Telegram vouches for (no code needed).
 */
import type { TurnContext, Understanding, UserInput } from '../contract.ts';
import type { SlotParse } from '../runtime/form.ts';
import { defineForm } from '../runtime/form.ts';

/** The choice id that asks the channel for the citizen's own phone (Telegram's request-contact button). */
const SHARE_PHONE_CHOICE = 'share:phone';
/** Channels that can share the citizen's own, verified phone. */
const SHARES_PHONE = new Set(['telegram']);

const EMAIL_RE = /[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}/i;
const INTERNATIONAL_RE = /\+\s?\d[\d\s().-]{6,18}\d/;

/** The phone (E.164) or e-mail (lowercase) named in a message, if any. */
export function linkTarget(text: string, understanding: Understanding | null): string | undefined {
  const email = understanding?.entities.email ?? EMAIL_RE.exec(text)?.[0];
  if (email) return email.toLowerCase();
  // A number with another country code is taken as typed (the NLU would read "+1 555 123 4567" as national).
  const typed = INTERNATIONAL_RE.exec(text)?.[0]?.replace(/\D/g, '');
  if (typed && !typed.startsWith('52') && typed.length >= 8 && typed.length <= 15) return `+${typed}`;
  // The NLU gives Mexican numbers as 10 national digits.
  if (understanding?.entities.phone) return `+52${understanding.entities.phone}`;
  const national = /(?<!\d)(\d[\s.-]?){10}(?!\d)/.exec(text)?.[0]?.replace(/\D/g, '');
  if (national?.length === 10) return `+52${national}`;
  const international = INTERNATIONAL_RE.exec(text)?.[0]?.replace(/\D/g, '');
  if (international && international.length >= 8 && international.length <= 15) {
    // +52 1 … is the old mobile prefix WhatsApp still reports; the line is the same without it.
    return international.startsWith('521') && international.length === 13
      ? `+52${international.slice(3)}`
      : `+${international}`;
  }
  return undefined;
}

const parseTarget = (input: UserInput, ctx: TurnContext): SlotParse => {
  const target = input.kind === 'text' ? linkTarget(input.text, ctx.understanding) : undefined;
  return target ? { ok: true, value: target } : { ok: false, error: 'link-channel-target-invalid' };
};

export const linkChannel = defineForm({
  id: 'link-channel',
  cancelledKey: 'main-menu-cancelled-text',
  prefill(ctx, understanding) {
    const target = linkTarget(ctx.text ?? '', understanding);
    if (target) ctx.slots.target = target;
  },
  slots: [
    {
      name: 'target',
      ask: (ctx) =>
        SHARES_PHONE.has(ctx.channel)
          ? {
              kind: 'choices',
              text: `${ctx.t('link-channel-ask-target')}\n${ctx.t('link-channel-ask-share')}`,
              choices: [{ id: SHARE_PHONE_CHOICE, label: ctx.t('link-channel-share-phone') }],
            }
          : { kind: 'text', text: ctx.t('link-channel-ask-target') },
      parse: parseTarget,
    },
    {
      name: 'code',
      async prepare(ctx) {
        // The code is sent once per request, when the target is known (also after a correction of the target).
        if (typeof ctx.slots.target !== 'string' || ctx.slots._sentTo === ctx.slots.target) return;
        const started = await ctx.startLink(ctx.slots.target);
        ctx.slots._sentTo = ctx.slots.target;
        ctx.slots._start = started.status;
        ctx.slots._link = started.status === 'pending' ? started.linkId : null;
        ctx.slots._minutes = started.status === 'pending' ? started.minutes : null;
        ctx.slots.code = null;
      },
      when: (ctx) => ctx.slots._start === 'pending',
      ask: (ctx) => ({
        kind: 'text',
        text: ctx.t('link-channel-ask-code', { minutes: Number(ctx.slots._minutes ?? 10) }),
      }),
      parse(input) {
        // However it is spaced ("123456", "123 456", "1 2 3 4 5 6"): six digits in all, and not much else.
        const text = input.kind === 'text' ? input.text : '';
        const digits = text.replace(/\D/g, '');
        return digits.length === 6 && text.replace(/[\d\s.-]/g, '').length <= 40
          ? { ok: true, value: digits }
          : { ok: false, error: 'link-channel-code-invalid' };
      },
    },
  ],
  async complete(ctx) {
    const say = (key: string, params?: Record<string, string | number>) =>
      ctx.say({ kind: 'text', text: ctx.t(key, params) });
    if (ctx.slots._start === 'already-linked') {
      say('link-channel-already-linked');
      return { status: 'complete' };
    }
    if (ctx.slots._start === 'rate-limited') {
      say('link-channel-rate-limited');
      return { status: 'complete' };
    }
    const checked = await ctx.confirmLink(String(ctx.slots._link), String(ctx.slots.code));
    switch (checked.status) {
      case 'linked':
        say('link-channel-done');
        return { status: 'complete', output: { linked: true } };
      case 'wrong':
        // Ask again for the code; the store counts the attempts, so a guesser runs out.
        say('link-channel-code-wrong', { count: checked.attemptsLeft });
        ctx.slots.code = null;
        ctx.slots._awaiting = 'code';
        ctx.trace.awaiting = 'code';
        return { status: 'waiting' };
      case 'expired':
        say('link-channel-code-expired');
        return { status: 'complete' };
      case 'exhausted':
        say('link-channel-code-exhausted');
        return { status: 'complete' };
    }
  },
});
