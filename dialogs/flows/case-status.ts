/** Case status by folio. Never claims a status for a folio that does not exist. */
import type { CaseRecord } from '../../integrations/contract.ts';
import type { TurnContext } from '../contract.ts';
import { defineForm } from '../runtime/form.ts';
import { extractFolio } from '../runtime/understand.ts';
import { categoryLabel } from './file-complaint.ts';

/** Context the flow needs beyond the turn: the folio prefix and the current year in the service timezone. */
export interface FolioSettings {
  readonly prefix: string;
  year(now: Date): number;
}

function example(settings: FolioSettings, ctx: TurnContext): string {
  return `${settings.prefix}-${settings.year(ctx.now)}-000123`;
}

function canonical(settings: FolioSettings, ctx: TurnContext, folio: string): string {
  return folio.includes('-') ? folio : `${settings.prefix}-${settings.year(ctx.now)}-${folio}`;
}

function formatDate(ctx: TurnContext, d: Date, timeZone: string): string {
  return new Intl.DateTimeFormat(ctx.locale === 'en' ? 'en-US' : 'es-MX', {
    dateStyle: 'long',
    timeZone,
  }).format(d);
}

/** A sensitive case's status goes only to its own reporter. */
function mayDisclose(ctx: TurnContext, c: CaseRecord): boolean {
  return !c.sensitive || c.contactId === ctx.contactId;
}

/** Build the flow for a folio prefix and service timezone. */
export function createCaseStatus(settings: FolioSettings & { timeZone: string }) {
  return defineForm({
    id: 'case-status',
    cancelledKey: 'main-menu-cancelled-text',
    prefill(ctx, understanding) {
      if (understanding.entities.folio) ctx.slots.folio = understanding.entities.folio;
    },
    slots: [
      {
        name: 'folio',
        ask: (ctx) => ({
          kind: 'text',
          text: ctx.t('case-status-ask-folio', { example: example(settings, ctx) }),
        }),
        parse(input, ctx) {
          const folio = input.kind === 'text' ? extractFolio(input.text, settings.prefix) : undefined;
          return folio
            ? { ok: true, value: folio }
            : { ok: false, error: 'case-status-folio-invalid', params: { example: example(settings, ctx) } };
        },
      },
    ],
    async complete(ctx) {
      const folio = canonical(settings, ctx, String(ctx.slots.folio));
      const found = await ctx.findCase(folio);
      if (!found) {
        ctx.say({
          kind: 'text',
          text: ctx.t('case-status-not-found-text', { folio, example: example(settings, ctx) }),
        });
        return { status: 'complete', output: { found: false } };
      }
      if (!mayDisclose(ctx, found)) {
        ctx.say({ kind: 'text', text: ctx.t('case-status-restricted-text') });
        return { status: 'complete', output: { found: true, disclosed: false } };
      }
      const status = ctx.catalog.statuses.find((s) => s.id === found.status);
      const category = ctx.catalog.categories.find((c) => c.id === found.category);
      ctx.say({
        kind: 'text',
        text: ctx.t('case-status-result-text', {
          folio,
          category: category ? categoryLabel(ctx, category) : found.category,
          status: status ? (ctx.locale === 'en' ? status.label_en : status.label_es) : found.status,
          updated: formatDate(ctx, found.updatedAt, settings.timeZone),
          department: found.department,
        }),
      });
      ctx.trace.statusReported.push({ folio, status: found.status });
      return { status: 'complete', output: { found: true } };
    },
  });
}
