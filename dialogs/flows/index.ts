/** The flow registry: every {@link DialogId} has exactly one flow (the compiler checks). */
import type { Dialog, DialogId } from '../contract.ts';
import type { Form } from '../runtime/form.ts';
import { createCaseStatus } from './case-status.ts';
import type { FolioSettings } from './case-status.ts';
import { fileComplaint } from './file-complaint.ts';
import { genderViolenceReport } from './gender-violence-report.ts';
import { hotspotOutage } from './hotspot-outage.ts';
import { linkChannel } from './link-channel.ts';
import { mainMenu } from './main-menu.ts';
import { procedureInfo } from './procedure-info.ts';
import { subscribeNotices } from './subscribe-notices.ts';
import { talkToAgent } from './talk-to-agent.ts';
import { unsubscribeNotices } from './unsubscribe-notices.ts';

export { menu } from './main-menu.ts';
export { isProcedureFollowUp } from './procedure-info.ts';

/** A flow; forms also repeat, accept corrections and say what they wait for. */
export type Flow = Dialog & Partial<Pick<Form, 'reprompt' | 'awaiting' | 'accepts' | 'correct'>>;

/** Build the registry. */
export function createFlows(settings: FolioSettings): { [K in DialogId]: Flow } {
  return {
    'main-menu': mainMenu,
    'file-complaint': fileComplaint,
    'case-status': createCaseStatus(settings),
    'hotspot-outage': hotspotOutage,
    'procedure-info': procedureInfo,
    'gender-violence-report': genderViolenceReport,
    'talk-to-agent': talkToAgent,
    'subscribe-notices': subscribeNotices,
    'unsubscribe-notices': unsubscribeNotices,
    'link-channel': linkChannel,
  } satisfies { [K in DialogId]: Flow };
}
