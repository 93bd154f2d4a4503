/** The flow registry: every {@link DialogId} has exactly one flow (the compiler checks). */
import type { Dialog, DialogId } from '../contract.ts';
import { createCaseStatus } from './case-status.ts';
import type { FolioSettings } from './case-status.ts';
import { fileComplaint } from './file-complaint.ts';
import { mainMenu } from './main-menu.ts';

export { menu } from './main-menu.ts';

/** A flow that can repeat its current question (forms can). */
export type Flow = Dialog & { reprompt?(ctx: Parameters<Dialog['resume']>[0]): void };

/** Build the registry. */
export function createFlows(settings: FolioSettings & { timeZone: string }): { [K in DialogId]: Flow } {
  return {
    'main-menu': mainMenu,
    'file-complaint': fileComplaint,
    'case-status': createCaseStatus(settings),
  } satisfies { [K in DialogId]: Flow };
}
