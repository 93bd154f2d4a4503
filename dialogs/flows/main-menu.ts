/** The main menu: greeting, help and the way back from anywhere. */
import type { Outbound } from '../../channels/contract.ts';
import type { Dialog, TurnContext } from '../contract.ts';

/** The menu as a choice prompt, introduced by `textKey`. */
export function menu(ctx: TurnContext, textKey = 'main-menu-welcome-text'): Outbound {
  return {
    kind: 'choices',
    text: ctx.t(textKey, { municipality: ctx.catalog.municipality }),
    choices: [
      { id: 'menu:file-complaint', label: ctx.t('main-menu-options-file') },
      { id: 'menu:case-status', label: ctx.t('main-menu-options-status') },
    ],
  };
}

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
      case 'greeting':
      case 'menu':
        ctx.say(menu(ctx));
        break;
      case 'cancel':
        ctx.say(menu(ctx, 'main-menu-cancelled-text'));
        break;
      case 'file_complaint':
      case 'case_status':
      case 'unknown':
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
