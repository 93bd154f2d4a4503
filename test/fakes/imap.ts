/**
 * A loopback IMAP server (RFC 3501 subset, cleartext on 127.0.0.1:0) speaking just enough for imapflow to poll a
 * mailbox: CAPABILITY, LOGIN, LIST/LSUB, SELECT/EXAMINE, UID SEARCH, UID FETCH (UID, RFC822.SIZE, BODY.PEEK[]),
 * UID STORE (+FLAGS \Seen), NOOP, LOGOUT. One mailbox, INBOX. Commands are recorded (the LOGIN password redacted)
 * so tests can check that `\Seen` is set only after the event was emitted.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

/** One message in the fake INBOX. */
export interface FakeImapMessage {
  readonly uid: number;
  readonly raw: Buffer;
  seen: boolean;
}

/** A running fake IMAP server. */
export interface FakeImap {
  /** `imap://user:password@127.0.0.1:<port>/INBOX` for `EMAIL_IMAP_URL`. */
  readonly url: string;
  readonly port: number;
  readonly messages: FakeImapMessage[];
  /** Every command received, as `COMMAND args` without tags (LOGIN's password replaced by `***`). */
  readonly commands: string[];
  /** Deliver a message to INBOX (unseen). */
  add(raw: Buffer | string): FakeImapMessage;
  /** Close the next `n` connections right after accepting them. */
  dropNext(n?: number): void;
  /** Refuse every LOGIN while true. */
  failLogin: boolean;
  close(): Promise<void>;
}

const UIDVALIDITY = 1_700_000_000;

/** Start the fake with one account. */
export async function startFakeImap(opts: { user?: string; password?: string } = {}): Promise<FakeImap> {
  const user = opts.user ?? 'buzon@municipio.gob.mx';
  const password = opts.password ?? 'imap-secret-7d1e';
  const messages: FakeImapMessage[] = [];
  const commands: string[] = [];
  const sockets = new Set<Socket>();
  let nextUid = 1;
  let drop = 0;
  const state = { failLogin: false };

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (drop > 0) {
      drop--;
      socket.destroy();
      return;
    }
    let buffer = Buffer.alloc(0);
    let pending = '';
    let literal = 0;
    let authed = false;
    let selected = false;
    const write = (s: string | Buffer) => {
      if (!socket.destroyed) socket.write(s);
    };
    write('* OK [CAPABILITY IMAP4rev1] Fake IMAP ready\r\n');

    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (literal > 0) {
          if (buffer.length < literal) return;
          pending += quote(buffer.subarray(0, literal).toString('utf8'));
          buffer = buffer.subarray(literal);
          literal = 0;
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.subarray(0, eol).toString('utf8');
        buffer = buffer.subarray(eol + 2);
        const lit = /\{(\d+)(\+?)\}$/.exec(line);
        if (lit) {
          pending += line.slice(0, lit.index);
          literal = Number(lit[1]);
          if (!lit[2]) write('+ Ready for literal\r\n');
          continue;
        }
        const full = pending + line;
        pending = '';
        handle(full);
      }
    });

    function handle(line: string): void {
      const tokens = tokenize(line);
      const tag = tokens.shift() ?? '*';
      let command = (tokens.shift() ?? '').toUpperCase();
      if (command === 'UID') command = `UID ${(tokens.shift() ?? '').toUpperCase()}`;
      commands.push(
        command === 'LOGIN' ? `LOGIN ${tokens[0] ?? ''} ***` : `${command} ${tokens.join(' ')}`.trim(),
      );
      const ok = (text = `${command} completed`) => write(`${tag} OK ${text}\r\n`);
      const no = (text: string) => write(`${tag} NO ${text}\r\n`);
      switch (command) {
        case 'CAPABILITY':
          write('* CAPABILITY IMAP4rev1\r\n');
          return ok();
        case 'NOOP':
          return ok();
        case 'LOGIN':
          if (!state.failLogin && unquote(tokens[0]) === user && unquote(tokens[1]) === password) {
            authed = true;
            return ok();
          }
          return no('[AUTHENTICATIONFAILED] Invalid credentials');
        case 'LOGOUT':
          write('* BYE Logging out\r\n');
          ok();
          socket.end();
          return;
      }
      if (!authed) return write(`${tag} BAD Not authenticated\r\n`);
      switch (command) {
        case 'LIST':
        case 'LSUB': {
          const pattern = unquote(tokens[1]);
          if (pattern === '') write(`* ${command} (\\Noselect) "/" ""\r\n`);
          else if (pattern.toUpperCase() === 'INBOX') write(`* ${command} (\\HasNoChildren) "/" INBOX\r\n`);
          return ok();
        }
        case 'SELECT':
        case 'EXAMINE': {
          if (unquote(tokens[0]).toUpperCase() !== 'INBOX') return no('[NONEXISTENT] No such mailbox');
          selected = true;
          write('* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n');
          write('* OK [PERMANENTFLAGS (\\Seen \\Deleted \\*)] Flags permitted\r\n');
          write(`* ${messages.length} EXISTS\r\n* 0 RECENT\r\n`);
          write(
            `* OK [UIDVALIDITY ${UIDVALIDITY}] UIDs valid\r\n* OK [UIDNEXT ${nextUid}] Predicted next UID\r\n`,
          );
          return ok(`[${command === 'SELECT' ? 'READ-WRITE' : 'READ-ONLY'}] ${command} completed`);
        }
      }
      if (!selected) return write(`${tag} BAD No mailbox selected\r\n`);
      switch (command) {
        case 'UID SEARCH': {
          const criteria = tokens.map((t) => t.toUpperCase());
          const unseen = criteria.includes('UNSEEN');
          const found = messages.filter((m) => !unseen || !m.seen).map((m) => m.uid);
          write(`* SEARCH${found.map((u) => ` ${u}`).join('')}\r\n`);
          return ok();
        }
        case 'UID FETCH': {
          const uids = uidSet(tokens[0] ?? '', nextUid - 1);
          const items = tokens.slice(1).join(' ').toUpperCase();
          for (const [i, m] of messages.entries()) {
            if (!uids.has(m.uid)) continue;
            const parts: (string | Buffer)[] = [`* ${i + 1} FETCH (UID ${m.uid}`];
            if (items.includes('FLAGS')) parts.push(` FLAGS (${m.seen ? '\\Seen' : ''})`);
            if (items.includes('RFC822.SIZE')) parts.push(` RFC822.SIZE ${m.raw.length}`);
            if (items.includes('BODY.PEEK[]') || items.includes('BODY[]'))
              parts.push(` BODY[] {${m.raw.length}}\r\n`, m.raw);
            parts.push(')\r\n');
            write(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))));
          }
          return ok();
        }
        case 'UID STORE': {
          const uids = uidSet(tokens[0] ?? '', nextUid - 1);
          const op = (tokens[1] ?? '').toUpperCase();
          const flags = tokens.slice(2).join(' ').toUpperCase();
          for (const [i, m] of messages.entries()) {
            if (!uids.has(m.uid) || !flags.includes('\\SEEN')) continue;
            if (op.startsWith('+')) m.seen = true;
            else if (op.startsWith('-')) m.seen = false;
            if (!op.endsWith('.SILENT'))
              write(`* ${i + 1} FETCH (UID ${m.uid} FLAGS (${m.seen ? '\\Seen' : ''}))\r\n`);
          }
          return ok();
        }
        default:
          return write(`${tag} BAD Unknown command\r\n`);
      }
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const fake: FakeImap = {
    url: `imap://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/INBOX`,
    port,
    messages,
    commands,
    add(raw) {
      const m = { uid: nextUid++, raw: Buffer.isBuffer(raw) ? raw : Buffer.from(raw), seen: false };
      messages.push(m);
      return m;
    },
    dropNext(n = 1) {
      drop += n;
    },
    get failLogin() {
      return state.failLogin;
    },
    set failLogin(v: boolean) {
      state.failLogin = v;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  return fake;
}

/** Split an IMAP command line into atoms, quoted strings (kept quoted) and parenthesised lists (kept whole). */
function tokenize(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ') {
      i++;
      continue;
    }
    let j = i;
    if (c === '"') {
      j++;
      while (j < line.length && line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      j++;
    } else if (c === '(') {
      let depth = 0;
      do {
        if (line[j] === '(') depth++;
        if (line[j] === ')') depth--;
        j++;
      } while (j < line.length && depth > 0);
    } else {
      while (j < line.length && line[j] !== ' ') {
        // An atom such as BODY.PEEK[HEADER.FIELDS (A B)] keeps its bracketed part.
        if (line[j] === '[') j = Math.max(j, line.indexOf(']', j));
        j++;
      }
    }
    out.push(line.slice(i, j));
    i = j;
  }
  return out;
}

function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function unquote(s: string | undefined): string {
  if (s === undefined) return '';
  return s.startsWith('"') ? s.slice(1, -1).replace(/\\(.)/g, '$1') : s;
}

/** UIDs named by a set such as `1,3:5,7:*`. */
function uidSet(set: string, max: number): Set<number> {
  const out = new Set<number>();
  for (const part of set.split(',')) {
    const [a, b] = part.split(':');
    const from = a === '*' ? max : Number(a);
    const to = b === undefined ? from : b === '*' ? max : Number(b);
    for (let u = Math.min(from, to); u <= Math.max(from, to); u++) out.add(u);
  }
  return out;
}
