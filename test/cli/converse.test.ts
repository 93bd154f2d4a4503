/** `npm run converse` as a process: the JSON contract, the human summary lines and the exit codes. */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function converse(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'cli/converse.ts', ...args],
      { cwd: ROOT, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const temp = mkdtempSync(join(tmpdir(), 'converse-cli-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

const context = { now: '2026-03-10T16:00:00Z', citizen: { channel_id: 'cli-test' } };

describe('npm run converse', () => {
  it('prints exactly one JSON object of the documented shape with --json, and exits 0', async () => {
    const run = await converse('test/conversations/es-estado-formatos-folio.json', '--json');
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(Object.keys(report).sort()).toEqual(['conversations', 'summary']);
    const summary = report.summary as {
      must: { passed: number; failed: number };
      should: { passed: number; failed: number };
      skipped: number;
    };
    expect(summary.must.passed).toBeGreaterThan(0);
    expect(summary.must.failed).toBe(0);
    expect(Object.keys(summary.should).sort()).toEqual(['failed', 'passed']);
    expect(summary.skipped).toBe(0);
    const [conversation] = report.conversations as Record<string, unknown>[];
    expect(Object.keys(conversation!).sort()).toEqual(
      ['assertions', 'file', 'id', 'skip_reason', 'skipped', 'turns'].sort(),
    );
    expect(conversation).toMatchObject({
      id: 'es-estado-formatos-folio',
      file: 'test/conversations/es-estado-formatos-folio.json',
      skipped: false,
      skip_reason: null,
    });
    const turns = conversation!.turns as Record<string, unknown>[];
    expect(turns).toHaveLength(6);
    expect(Object.keys(turns[0]!).sort()).toEqual(
      [
        'n',
        'replies',
        'nlu',
        'active_form',
        'asks_for',
        'handoff',
        'status_reported',
        'cases_created',
        'subscriptions',
        'outbound',
      ].sort(),
    );
    expect(turns[0]).toMatchObject({
      n: 1,
      status_reported: [{ folio: 'VER-2026-001203', status: 'en_proceso' }],
      handoff: null,
      active_form: null,
    });
    const nlu = turns[0]!.nlu as { intent: string; confidence: number; entities: Record<string, unknown> };
    expect(nlu.intent).toBe('case_status');
    expect(typeof nlu.confidence).toBe('number');
    expect(nlu.entities.folio).toBe('VER-2026-001203');
    expect((turns[0]!.replies as string[]).join('\n')).toMatch(/En proceso/);
    const assertions = conversation!.assertions as Record<string, unknown>[];
    expect(assertions.length).toBeGreaterThan(0);
    for (const a of assertions)
      expect(Object.keys(a).sort()).toEqual(['detail', 'kind', 'level', 'ok', 'turn']);
    expect(assertions.at(-1)).toMatchObject({ turn: null });
  });

  it('exits non-zero on a must failure, prints one line per failure and the totals, drives WhatsApp and skips IVR', async () => {
    const dir = join(temp, 'failing');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'a-failing.json'),
      JSON.stringify({
        id: 'deliberately-failing',
        channel: 'webchat',
        locale: 'es-MX',
        context,
        turns: [
          {
            n: 1,
            citizen: { text: 'hola' },
            expect: [
              { kind: 'intent', level: 'must', equals: 'greeting' },
              { kind: 'reply_contains_any', level: 'must', values: ['esto nunca lo dice el bot'] },
              { kind: 'reply_language', level: 'should', equals: 'en' },
            ],
          },
        ],
        final: [{ kind: 'case_count', level: 'must', where: {}, equals: 0 }],
      }),
    );
    writeFileSync(
      join(dir, 'b-whatsapp.json'),
      JSON.stringify({
        id: 'whatsapp-greeting',
        channel: 'whatsapp',
        locale: 'es-MX',
        context: { ...context, citizen: { channel_id: '+529211234567' } },
        turns: [
          {
            n: 1,
            citizen: { text: 'hola' },
            expect: [
              { kind: 'intent', level: 'must', equals: 'greeting' },
              // The menu goes out as a WhatsApp list, read at the fake Graph API.
              { kind: 'reply_contains_any', level: 'must', values: ['[Reportar un problema]'] },
            ],
          },
        ],
      }),
    );
    writeFileSync(
      join(dir, 'c-ivr.json'),
      JSON.stringify({
        id: 'ivr-not-yet',
        channel: 'ivr',
        locale: 'es-MX',
        context: { ...context, citizen: { channel_id: '+529211234567' } },
        turns: [
          {
            n: 1,
            citizen: { event: 'call_start', caller_id: '+529211234567' },
            expect: [{ kind: 'intent', level: 'must', equals: 'greeting' }],
          },
        ],
      }),
    );
    const run = await converse(dir);
    expect(run.code).not.toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toContain('must: 4 passed, 1 failed');
    expect(lines).toContain('should: 0 passed, 1 failed');
    expect(lines).toContain('skipped: 1');
    expect(lines.filter((l) => l.startsWith('FAIL '))).toHaveLength(2);
    expect(run.stdout).toMatch(
      /FAIL must \S*a-failing\.json \[deliberately-failing\] turn 1 reply_contains_any: /,
    );
    expect(run.stdout).toMatch(/SKIP \S*c-ivr\.json \[ivr-not-yet\]: channel adapter not available yet: ivr/);
  });

  it('names the file and the field of an invalid script, and exits 2', async () => {
    const file = join(temp, 'invalid.json');
    writeFileSync(
      file,
      JSON.stringify({
        id: 'invalid',
        channel: 'webchat',
        locale: 'es-MX',
        context,
        turns: [
          {
            n: 1,
            citizen: { text: 'hola' },
            expect: [{ kind: 'reply_contains_any', level: 'must', value: 'x' }],
          },
        ],
      }),
    );
    const run = await converse(file);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/invalid\.json: turns\.0\.expect\.0/);
    expect(run.stdout).toBe('');
  });
});
