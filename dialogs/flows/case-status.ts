/** Case status by folio, or "mis reportes". Never claims a status for a folio that does not exist. */
import type { CaseRecord } from '../../integrations/contract.ts';
import type { TurnContext } from '../contract.ts';
import { defineForm } from '../runtime/form.ts';
import { extractFolio, normalize } from '../runtime/understand.ts';
import { categoryLabel } from './file-complaint.ts';

/** Context the flow needs beyond the turn: the current year in the service timezone. */
export interface FolioSettings {
  year(now: Date): number;
}

const MY_CASES = /\b(mis (reportes|folios|casos|quejas)|my (reports|cases|complaints))\b/;

function example(settings: FolioSettings, ctx: TurnContext): string {
  return `${ctx.settings.folioPrefix}-${settings.year(ctx.now)}-000123`;
}

function canonical(settings: FolioSettings, ctx: TurnContext, folio: string): string {
  return folio.includes('-') ? folio : `${ctx.settings.folioPrefix}-${settings.year(ctx.now)}-${folio}`;
}

function formatDate(ctx: TurnContext, d: Date): string {
  return new Intl.DateTimeFormat(ctx.locale === 'en' ? 'en-US' : 'es-MX', {
    dateStyle: 'long',
    timeZone: ctx.settings.timeZone,
  }).format(d);
}

/** A sensitive case's status goes only to its own reporter. */
function mayDisclose(ctx: TurnContext, c: CaseRecord): boolean {
  return !c.sensitive || c.contactId === ctx.contactId;
}

function statusLabel(ctx: TurnContext, c: CaseRecord): string {
  const status = ctx.catalog.statuses.find((s) => s.id === c.status);
  return status ? (ctx.locale === 'en' ? status.label_en : status.label_es) : c.status;
}

function categoryOf(ctx: TurnContext, c: CaseRecord): string {
  const category = ctx.catalog.categories.find((x) => x.id === c.category);
  return category ? categoryLabel(ctx, category) : c.category;
}

/** Build the flow. */
export function createCaseStatus(settings: FolioSettings) {
  return defineForm({
    id: 'case-status',
    cancelledKey: 'main-menu-cancelled-text',
    prefill(ctx, understanding) {
      if (MY_CASES.test(normalize(ctx.text ?? ''))) ctx.slots.mine = true;
      else if (understanding.entities.folio) ctx.slots.folio = understanding.entities.folio;
      else if (
        ctx.memory.folio &&
        /\b(como va|y mi reporte|how is it going|and my report)\b/.test(normalize(ctx.text ?? ''))
      ) {
        ctx.slots.folio = ctx.memory.folio;
      }
    },
    slots: [
      {
        name: 'folio',
        when: (ctx) => ctx.slots.mine !== true,
        ask: (ctx) => ({
          kind: 'text',
          text: ctx.t('case-status-ask-folio', { example: example(settings, ctx) }),
        }),
        parse(input, ctx) {
          if (input.kind === 'text' && MY_CASES.test(normalize(input.text))) {
            ctx.slots.mine = true;
            return { ok: true, value: '' };
          }
          const folio =
            input.kind === 'text'
              ? (ctx.understanding?.entities.folio ?? extractFolio(input.text, ctx.settings.folioPrefix))
              : undefined;
          return folio
            ? { ok: true, value: folio }
            : { ok: false, error: 'case-status-folio-invalid', params: { example: example(settings, ctx) } };
        },
      },
    ],
    async complete(ctx) {
      if (ctx.slots.mine === true) {
        const mine = await ctx.myCases(10);
        if (mine.length === 0) {
          ctx.say({ kind: 'text', text: ctx.t('case-status-mine-none') });
          return { status: 'complete' };
        }
        const lines = mine.map((c) =>
          ctx.t('case-status-mine-line', {
            folio: c.folio,
            category: categoryOf(ctx, c),
            status: statusLabel(ctx, c),
          }),
        );
        ctx.say({
          kind: 'text',
          text: `${ctx.t('case-status-mine-title', { count: mine.length })}\n${lines.join('\n')}`,
        });
        for (const c of mine) ctx.trace.statusReported.push({ folio: c.folio, status: c.status });
        return { status: 'complete' };
      }
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
      ctx.memory.folio = folio;
      ctx.say({
        kind: 'text',
        text: ctx.t('case-status-result-text', {
          folio,
          category: categoryOf(ctx, found),
          status: statusLabel(ctx, found),
          updated: formatDate(ctx, found.updatedAt),
          department: found.department,
        }),
      });
      ctx.trace.statusReported.push({ folio, status: found.status });
      return { status: 'complete', output: { found: true } };
    },
  });
}
