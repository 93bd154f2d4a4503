/**
 * Every scripted conversation under `test/conversations/` runs through the conversation runner (in process, one
 * isolated app for the whole folder) and must pass all of its `must` assertions. `should` failures are product gaps
 * reported to the team; they do not fail the suite.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssertionResult } from '../cli/converse/report.ts';
import { createConverseRunner, DRIVABLE_CHANNELS, localesOf } from '../cli/converse/runner.ts';
import type { ConverseRunner } from '../cli/converse/runner.ts';
import { loadScripts } from '../cli/converse/script.ts';

const DIR = fileURLToPath(new URL('./conversations', import.meta.url));
const { scripts, errors } = loadScripts([DIR]);

/** Flows and repair patterns every locale must cover (the scripts' `covers` tags). */
const REQUIRED_COVERS = [
  'file_complaint',
  'gps_pin',
  'two_problems',
  'duplicate',
  'case_status',
  'unknown_folio',
  'my_reports',
  'hotspot_outage',
  'hotspot_pin',
  'known_incident',
  'procedure_info',
  'follow_up',
  'federal_redirect',
  'gender_violence_report',
  'talk_to_agent',
  'subscribe_notices',
  'unsubscribe_notices',
  'link_channel',
  'greeting',
  'help',
  'thanks',
  'goodbye',
  'out_of_scope',
  'repair_help',
  'repair_cancel',
  'repair_correction',
  'repair_topic_change',
  'repair_resume',
  'repair_skip_photo',
  'repair_repeat',
  'repair_attempts',
  'repair_menu',
];

const describeFailure = (a: AssertionResult) =>
  `${a.turn === null ? 'final' : `turn ${a.turn}`} ${a.kind}: ${a.detail}`;

describe('scripted conversations', () => {
  it('are valid, at least 20, on drivable channels (two or more on each provider channel), in both locales, covering every flow and repair pattern', () => {
    expect(errors).toEqual([]);
    expect(scripts.length).toBeGreaterThanOrEqual(20);
    expect([...localesOf(scripts.map((s) => s.script))].sort()).toEqual(['en', 'es-MX']);
    expect(scripts.filter((s) => !DRIVABLE_CHANNELS.has(s.script.channel)).map((s) => s.file)).toEqual([]);
    for (const channel of ['whatsapp', 'telegram', 'sms', 'email']) {
      const on = scripts.filter((s) => s.script.channel === channel);
      expect({ channel, scripts: on.length >= 2 }).toEqual({ channel, scripts: true });
    }
    for (const locale of ['es-MX', 'en']) {
      const covered = new Set(
        scripts.filter((s) => s.script.locale === locale).flatMap((s) => s.script.covers),
      );
      expect({ locale, missing: REQUIRED_COVERS.filter((c) => !covered.has(c)) }).toEqual({
        locale,
        missing: [],
      });
    }
  });

  let runner: ConverseRunner | undefined;
  beforeAll(async () => {
    runner = await createConverseRunner();
  });
  afterAll(async () => {
    await runner?.close();
  });

  it.each(scripts.map((s) => [s.script.id, s] as const))('%s passes every must', async (_id, loaded) => {
    const result = await runner!.run(loaded);
    expect(result.skipped, result.skip_reason ?? '').toBe(false);
    expect(result.turns).toHaveLength(loaded.script.turns.length);
    const failures = result.assertions.filter((a) => a.level === 'must' && !a.ok).map(describeFailure);
    expect(failures, `${loaded.file}: must failures`).toEqual([]);
  });
});
