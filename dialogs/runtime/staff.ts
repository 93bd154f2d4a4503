/**
 * Staff operations that notify citizens (until the agent desk exists they come from the admin API and CLI):
 * resolving a hotspot incident tells every reporter; changing a case's status with a public note tells the
 * reporter and the followers, each on their own channel through the outbox, in their own language.
 */
import type { CaseRecord, CaseStore, Catalog, IncidentRecord } from '../../integrations/contract.ts';
import { StoreError } from '../../integrations/contract.ts';
import type { Locale } from '../contract.ts';
import type { Translate } from './i18n.ts';
import type { Router } from './router.ts';
import type { Clock, RuntimeLogger } from './types.ts';

/** Dependencies of {@link createStaffOperations}. */
export interface StaffDeps {
  readonly store: CaseStore;
  readonly router: Router;
  readonly catalog: Catalog;
  readonly t: Translate;
  readonly clock: Clock;
  readonly log: RuntimeLogger;
}

/** What staff can do. */
export interface StaffOperations {
  /** Resolve the open incident of a hotspot and tell every reporter. Null when no incident is open. */
  resolveIncident(input: {
    hotspotId: string;
    note?: string;
    by: string;
  }): Promise<{ incident: IncidentRecord; cases: CaseRecord[]; notified: number } | null>;
  /** Change a case's status with an optional public note, and tell the reporter and followers. */
  changeCaseStatus(input: {
    folio: string;
    status: string;
    note?: string;
    by: string;
  }): Promise<{ case: CaseRecord; notified: number }>;
}

const asLocale = (l: string): Locale => (l === 'en' ? 'en' : 'es-MX');

/** Build the staff operations. */
export function createStaffOperations(deps: StaffDeps): StaffOperations {
  const resolvedStatus =
    deps.catalog.statuses.find((s) => s.final && s.open311 === 'closed' && /resuel|resolv/.test(s.id))?.id ??
    'resuelto';

  const notify = async (c: CaseRecord, text: (locale: Locale) => string, by: string): Promise<number> => {
    let sent = 0;
    for (const who of await deps.store.caseAudience(c.id)) {
      // Sensitive cases: only the reporter, and never by SMS.
      if (c.sensitive && (who.role !== 'reporter' || who.channel === 'twilio-sms')) continue;
      try {
        await deps.router.reply(who.conversationId, { kind: 'text', text: text(asLocale(who.locale)) }, by);
        sent++;
      } catch (err) {
        deps.log.warn(
          { folio: c.folio, err: err instanceof Error ? err.message : String(err) },
          'could not notify a citizen',
        );
      }
    }
    return sent;
  };

  return {
    async resolveIncident({ hotspotId, note, by }) {
      const hotspot = deps.catalog.hotspots.find((h) => h.id === hotspotId);
      if (!hotspot) throw new StoreError('STORE_NOT_FOUND', `No hotspot ${hotspotId} in the catalogue`);
      const done = await deps.store.resolveIncident({
        hotspotId,
        note: note ?? null,
        actor: by,
        now: deps.clock.now(),
        resolvedStatus,
      });
      if (!done) return null;
      let notified = 0;
      for (const c of done.cases) {
        notified += await notify(
          c,
          (l) => deps.t(l, 'hotspot-outage-resolved-notice', { name: hotspot.name, folio: c.folio }),
          by,
        );
      }
      return { ...done, notified };
    },
    async changeCaseStatus({ folio, status, note, by }) {
      const def = deps.catalog.statuses.find((s) => s.id === status);
      if (!def)
        throw new StoreError('STORE_NOT_FOUND', `Unknown status "${status}" (see case-statuses.json)`);
      const updated = await deps.store.updateCaseStatus({
        folio,
        status,
        note: note ?? null,
        actor: by,
        now: deps.clock.now(),
        final: def.final,
      });
      const notified = await notify(
        updated,
        (l) =>
          deps.t(l, 'case-status-changed-notice', {
            folio: updated.folio,
            status: l === 'en' ? def.label_en : def.label_es,
            note: note ? deps.t(l, 'case-status-changed-note', { note }) : '',
          }),
        by,
      );
      return { case: updated, notified };
    },
  };
}
