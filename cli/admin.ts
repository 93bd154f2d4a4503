/**
 * `npm run admin -- <command>`: staff commands against a running Ventanilla through its admin API (so the
 * embedded database stays owned by the server). Needs `ADMIN_TOKEN`; the server is `VENTANILLA_URL`
 * (default http://localhost:3000). Output is JSON on stdout.
 *
 *   queue [--queue Q]                       conversations waiting for a person
 *   incidents [--status open|resolved]      wifi incidents
 *   resolve-incident HOTSPOT_ID [--note N]  resolve an outage and notify every reporter
 *   case FOLIO                              a case and its audit trail
 *   case-status FOLIO STATUS [--note N]     change a case's status (public note notifies reporter and followers)
 *   dead                                    replies that could not be delivered
 */
import { parseArgs } from 'node:util';

const USAGE =
  'usage: npm run admin -- queue|incidents|resolve-incident HOTSPOT_ID|case FOLIO|case-status FOLIO STATUS|dead [--note N] [--queue Q] [--status S]';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      note: { type: 'string' },
      queue: { type: 'string' },
      status: { type: 'string' },
      by: { type: 'string' },
    },
  });
  const token = process.env.ADMIN_TOKEN;
  const base = (process.env.VENTANILLA_URL ?? 'http://localhost:3000').replace(/\/$/, '');
  if (!token) {
    process.stderr.write('Set ADMIN_TOKEN (the same value the server runs with).\n');
    return 2;
  }
  const [command, a, b] = positionals;
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const res = await fetch(`${base}/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json: unknown = await res.json().catch(() => ({}));
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    return res.ok ? 0 : 1;
  };
  const by = values.by ?? process.env.USER ?? 'cli';
  switch (command) {
    case 'queue':
      return call(
        'GET',
        `/conversations?mode=queued${values.queue ? `&queue=${encodeURIComponent(values.queue)}` : ''}`,
      );
    case 'incidents':
      return call('GET', `/incidents${values.status ? `?status=${encodeURIComponent(values.status)}` : ''}`);
    case 'resolve-incident':
      if (!a) break;
      return call('POST', `/incidents/${encodeURIComponent(a)}/resolve`, {
        ...(values.note ? { note: values.note } : {}),
        by,
      });
    case 'case':
      if (!a) break;
      return call('GET', `/cases/${encodeURIComponent(a)}`);
    case 'case-status':
      if (!a || !b) break;
      return call('POST', `/cases/${encodeURIComponent(a)}/status`, {
        status: b,
        ...(values.note ? { note: values.note } : {}),
        by,
      });
    case 'dead':
      return call('GET', '/outbox/dead');
    default:
      break;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`admin command failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
