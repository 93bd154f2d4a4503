/**
 * Child process: the same complaint flow on botbuilder-dialogs (ComponentDialog + WaterfallDialog, TextPrompt,
 * ChoicePrompt with the catalogue keywords as Spanish synonyms, ConfirmPrompt in es-es), state in MemoryStorage
 * through ConversationState, turns run in process through a minimal BotAdapter (TurnContext + middleware pipeline,
 * no HTTP). Every turn pays the same `nlu.parse`; the final step writes the case through the product's case store on
 * its own in-memory PGlite. Prints one JSON line ({@link DialogBenchResult}) on stdout.
 */
import type { Activity, ConversationReference, ResourceResponse } from 'botbuilder-core';
import { ActivityTypes, BotAdapter, ConversationState, MemoryStorage, TurnContext } from 'botbuilder-core';
import type { Choice, DialogTurnResult, FoundChoice, WaterfallStepContext } from 'botbuilder-dialogs';
import {
  ChoicePrompt,
  ComponentDialog,
  ConfirmPrompt,
  DialogSet,
  DialogTurnStatus,
  TextPrompt,
  WaterfallDialog,
} from 'botbuilder-dialogs';
import type { Catalog } from '../../integrations/contract.ts';
import { createPostgresCaseStore } from '../../integrations/storage/store.ts';
import type { Side } from './common.ts';
import { measure, openSide } from './common.ts';

const LOCALE = 'es-es';

/** Collects what the bot sends; nothing leaves the process. */
class BenchAdapter extends BotAdapter {
  sent = 0;

  async sendActivities(_context: TurnContext, activities: Partial<Activity>[]): Promise<ResourceResponse[]> {
    return activities.map(() => ({ id: `x${++this.sent}` }));
  }
  async updateActivity(): Promise<void> {}
  async deleteActivity(): Promise<void> {}
  async continueConversation(
    _reference: Partial<ConversationReference>,
    _logic: (context: TurnContext) => Promise<void>,
  ): Promise<void> {
    throw new Error('not used');
  }

  /** Run one inbound activity through the middleware pipeline and `logic`. */
  process(activity: Partial<Activity>, logic: (context: TurnContext) => Promise<void>): Promise<void> {
    return this.runMiddleware(new TurnContext(this, activity), logic);
  }
}

interface ComplaintState {
  category?: string;
  description?: string;
  address?: string;
  colonia?: string | null;
}

const fold = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();

class ComplaintDialog extends ComponentDialog<ComplaintState> {
  start(id: string): void {
    this.initialDialogId = id;
  }
}

/** The complaint waterfall: category → description → address → optional photo → confirmation → case. */
function complaintDialog(
  catalog: Catalog,
  createCase: (s: Required<ComplaintState>) => Promise<string>,
): ComponentDialog {
  const categoryChoices: Choice[] = catalog.categories.map((c) => ({
    value: c.id,
    action: { type: 'imBack', title: c.name, value: c.name },
    synonyms: [c.name, ...c.keywords],
  }));
  const colonias: { key: string; name: string }[] = catalog.colonias.flatMap((c) =>
    [c.name, ...c.aliases].map((n) => ({ key: fold(n), name: c.name })),
  );
  const dialog = new ComplaintDialog('complaint');
  dialog.addDialog(new ChoicePrompt('category', undefined, LOCALE));
  dialog.addDialog(new TextPrompt('description', async (p) => (p.recognized.value ?? '').trim().length >= 3));
  dialog.addDialog(new TextPrompt('address', async (p) => (p.recognized.value ?? '').trim().length >= 5));
  dialog.addDialog(
    new TextPrompt('photo', async (p) => {
      if ((p.context.activity.attachments ?? []).length > 0) return true;
      return /^(omitir|no|saltar|sin foto|no tengo)$/.test(fold(p.recognized.value ?? '').trim());
    }),
  );
  dialog.addDialog(new ConfirmPrompt('confirm', undefined, LOCALE));
  dialog.addDialog(
    new WaterfallDialog('steps', [
      async (step: WaterfallStepContext<ComplaintState>): Promise<DialogTurnResult> => {
        if (step.options.category) return step.next(step.options.category);
        return step.prompt('category', {
          prompt: '¿De qué tipo es el reporte?',
          retryPrompt: 'Elija una categoría de la lista.',
          choices: categoryChoices,
        });
      },
      async (step: WaterfallStepContext<ComplaintState>) => {
        const found = step.result as FoundChoice | string;
        (step.values as ComplaintState).category = typeof found === 'string' ? found : found.value;
        return step.prompt('description', {
          prompt: 'Cuénteme qué pasa, en pocas palabras.',
          retryPrompt: 'Descríbalo un poco más, por favor.',
        });
      },
      async (step) => {
        (step.values as ComplaintState).description = step.result as string;
        return step.prompt('address', {
          prompt: '¿Dónde está? Escriba calle, número y colonia, o comparta su ubicación.',
          retryPrompt: 'Necesito la dirección: calle, número y colonia.',
        });
      },
      async (step) => {
        const address = step.result as string;
        const plain = fold(address);
        (step.values as ComplaintState).address = address;
        (step.values as ComplaintState).colonia = colonias.find((e) => plain.includes(e.key))?.name ?? null;
        return step.prompt('photo', {
          prompt: 'Si tiene una foto, envíela; si no, escriba "omitir".',
          retryPrompt: 'Envíe la foto o escriba "omitir".',
        });
      },
      async (step) => {
        const v = step.values as ComplaintState;
        const cat = catalog.categories.find((c) => c.id === v.category);
        return step.prompt('confirm', {
          prompt: `Voy a registrar: ${cat?.name ?? v.category} — "${v.description}" en ${v.address}. ¿Es correcto?`,
          retryPrompt: 'Responda sí o no, por favor.',
        });
      },
      async (step) => {
        if (step.result !== true) {
          await step.context.sendActivity('De acuerdo, no registré nada.');
          return step.endDialog(null);
        }
        const folio = await createCase(step.values as Required<ComplaintState>);
        await step.context.sendActivity(
          `Listo. Su folio es ${folio}. Puede consultar su estado escribiendo el folio.`,
        );
        return step.endDialog(folio);
      },
    ]),
  );
  dialog.start('steps');
  return dialog;
}

const { t0, catalog, nlu, nluMs, db } = await openSide();
const store = createPostgresCaseStore(db);

const createCase = async (s: Required<ComplaintState>): Promise<string> => {
  const cat = catalog.categories.find((c) => c.id === s.category);
  if (!cat) throw new Error(`unknown category ${s.category}`);
  const now = new Date();
  const record = await store.transaction((tx) =>
    tx.createCase(
      {
        category: cat.id,
        description: s.description,
        address: s.address,
        colonia: s.colonia,
        department: cat.department,
        queue: cat.queue,
        sensitive: cat.sensitive,
        visibility: cat.routing === 'restricted' ? 'restricted' : 'public',
        contactId: null,
        conversationId: null,
        channel: 'bench',
        slaDueAt: new Date(now.getTime() + cat.sla_hours * 3_600_000),
        openedAt: now,
      },
      { prefix: 'VER', year: now.getFullYear() },
      'bot',
    ),
  );
  return record.folio;
};

const adapter = new BenchAdapter();
const conversationState = new ConversationState(new MemoryStorage());
const dialogState = conversationState.createProperty('dialogState');
const dialogs = new DialogSet(dialogState);
dialogs.add(complaintDialog(catalog, createCase));
const startupMs = performance.now() - t0;

/** The bot's turn: NLU on every message (as Ventanilla does), then continue or begin the complaint dialog. */
async function onTurn(context: TurnContext, folios: string[]): Promise<void> {
  if (context.activity.type !== 'message') return;
  const text = context.activity.text ?? '';
  const parsed = await nlu.parse(text, { locale: 'es-MX' });
  const dc = await dialogs.createContext(context);
  let result = await dc.continueDialog();
  if (result.status === DialogTurnStatus.empty) {
    if (parsed.intent === 'file_complaint') {
      const category = typeof parsed.entities.category === 'string' ? parsed.entities.category : undefined;
      result = await dc.beginDialog('complaint', category ? { category } : {});
    } else {
      await context.sendActivity('¿En qué le puedo ayudar? Puede reportar un problema o consultar un folio.');
    }
  }
  if (result.status === DialogTurnStatus.complete && typeof result.result === 'string')
    folios.push(result.result);
  await conversationState.saveChanges(context);
}

let n = 0;
const side: Side = {
  async turn(user, text) {
    const folios: string[] = [];
    const activity: Partial<Activity> = {
      type: ActivityTypes.Message,
      id: `m${++n}`,
      channelId: 'bench',
      conversation: { id: user, isGroup: false, conversationType: 'personal', name: user },
      from: { id: user, name: user },
      recipient: { id: 'bot', name: 'bot' },
      serviceUrl: 'http://localhost',
      locale: LOCALE,
      timestamp: new Date(),
      text,
    };
    await adapter.process(activity, (context) => onTurn(context, folios));
    return folios;
  },
};

if (process.env.BENCH_DIALOG_DEBUG === '1') {
  const { script } = await import('./common.ts');
  for (const text of script(1)) {
    const before = adapter.sent;
    const folios = await side.turn('debug', text);
    process.stderr.write(`> ${text}\n  folios ${JSON.stringify(folios)} (sent ${adapter.sent - before})\n`);
  }
  process.exit(0);
}

const result = await measure('botbuilder', side, {
  startupMs,
  nluMs,
  nluTrained: nlu.trained,
  notes: 'state in MemoryStorage (not durable); only the final case write hits PGlite',
});
process.stdout.write(`${JSON.stringify({ ...result, outboundSent: adapter.sent })}\n`);
await db.close();
process.exit(0);
