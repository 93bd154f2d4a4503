/** The main menu: greeting, help, thanks, goodbye and out-of-scope answers; the way back from anywhere. */
import type { Outbound } from '../../channels/contract.ts';
import type { Dialog, TurnContext } from '../contract.ts';
import { normalize } from '../runtime/understand.ts';

/** The menu as a choice prompt, introduced by `textKey`. */
export function menu(ctx: TurnContext, textKey = 'main-menu-welcome-text'): Outbound {
  return {
    kind: 'choices',
    text: ctx.t(textKey, { municipality: ctx.catalog.municipality }),
    choices: [
      { id: 'menu:file-complaint', label: ctx.t('main-menu-options-file') },
      { id: 'menu:case-status', label: ctx.t('main-menu-options-status') },
      { id: 'menu:hotspot-outage', label: ctx.t('main-menu-options-wifi') },
      { id: 'menu:procedure-info', label: ctx.t('main-menu-options-procedures') },
      { id: 'menu:talk-to-agent', label: ctx.t('main-menu-options-agent') },
    ],
  };
}

// State and federal procedures the municipality does not handle (labelling rules of the sample data).
export const FEDERAL =
  /\b(pasaporte|passport|ine|credencial (de|para) votar|curp|licencia de (manejo|conducir)|driver.?s licen[cs]e|cfe|recibo de (la )?luz|luz electrica|sat|rfc|imss|issste|bienestar|pension|visa)\b/;

export const mainMenu: Dialog = {
  id: 'main-menu',
  async begin(ctx, understanding) {
    switch (understanding.intent) {
      case 'help':
        ctx.say({ kind: 'text', text: ctx.t('main-menu-help-text') });
        ctx.say(menu(ctx, 'main-menu-options-prompt'));
        break;
      case 'thanks':
        ctx.say({ kind: 'text', text: ctx.t('main-menu-thanks-text') });
        break;
      case 'goodbye':
        ctx.say({ kind: 'text', text: ctx.t('main-menu-goodbye-text') });
        break;
      case 'greeting':
        ctx.say(menu(ctx));
        break;
      case 'cancel':
        ctx.say(menu(ctx, 'main-menu-cancelled-text'));
        break;
      case 'out_of_scope': {
        const text = normalize(ctx.text ?? '');
        if (FEDERAL.test(text)) {
          ctx.say({ kind: 'text', text: ctx.t('main-menu-federal-text') });
          ctx.say(menu(ctx, 'main-menu-options-prompt'));
        } else {
          ctx.say(menu(ctx, 'main-menu-unknown-text'));
        }
        break;
      }
      case 'file_complaint':
      case 'case_status':
      case 'hotspot_outage':
      case 'procedure_info':
      case 'talk_to_agent':
      case 'gender_violence_report':
      case 'subscribe_notices':
      case 'unsubscribe_notices':
      case 'link_channel':
        ctx.say(menu(ctx, 'main-menu-unknown-text'));
        break;
    }
    ctx.trace.awaiting = null;
    return { status: 'complete' };
  },
  async resume(ctx) {
    ctx.say(menu(ctx));
    return { status: 'complete' };
  },
};
