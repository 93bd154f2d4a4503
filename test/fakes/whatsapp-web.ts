/**
 * A fake whatsapp-web.js for adapter tests: no browser, no phone. `FakeWwebClient` is an EventEmitter with the
 * `Client` methods the adapter calls; tests drive it by emitting the library's events (`qr`, `authenticated`,
 * `ready`, `disconnected`, `message`, `message_ack`) with message objects built by {@link wwebMessage}.
 */
import { EventEmitter } from 'node:events';
import type {
  WwebClientLike,
  WwebClientOptions,
  WwebDriver,
  WwebMediaLike,
  WwebMessageLike,
} from '../../channels/whatsapp-web.ts';

/** A scripted send failure, in whatsapp-web.js's own terms. */
export type WwebFailure =
  /** The page or browser went away (puppeteer "Protocol error … Session closed"). */
  | 'session-closed'
  /** Puppeteer's protocol timeout. */
  | 'timeout'
  /** WhatsApp Web refused the recipient ("wid error: invalid wid"). */
  | 'invalid-wid'
  /** sendMessage resolved without a message (no chat for that id). */
  | 'no-chat';

/** What `sendMessage` received. */
export interface SentCall {
  readonly chatId: string;
  readonly content: unknown;
  readonly options: Record<string, unknown> | undefined;
  readonly id: string;
}

/** Stand-in for whatsapp-web.js's `MessageMedia` (the adapter builds it through the driver). */
export class FakeMessageMedia {
  constructor(
    readonly mimetype: string,
    readonly data: string,
    readonly filename?: string,
  ) {}
}

/** A fake `Client`. */
export class FakeWwebClient extends EventEmitter implements WwebClientLike {
  readonly sent: SentCall[] = [];
  initialized = 0;
  destroyed = 0;
  /** Make `initialize()` reject with this message. */
  initError: string | undefined;
  readonly #failures: WwebFailure[] = [];
  #n = 0;

  constructor(readonly options: WwebClientOptions) {
    super();
  }

  async initialize(): Promise<void> {
    this.initialized++;
    if (this.initError) throw new Error(this.initError);
  }

  async destroy(): Promise<void> {
    this.destroyed++;
  }

  /** Fail the next send. */
  failNext(f: WwebFailure): void {
    this.#failures.push(f);
  }

  async sendMessage(
    chatId: string,
    content: unknown,
    options?: Record<string, unknown>,
  ): Promise<{ id: { _serialized: string } } | undefined> {
    const failure = this.#failures.shift();
    const id = `true_${chatId}_3EB0${String(++this.#n).padStart(16, '0')}`;
    this.sent.push({ chatId, content, options, id });
    switch (failure) {
      case 'session-closed':
        throw new Error(
          'Protocol error (Runtime.callFunctionOn): Session closed. Most likely the page has been closed.',
        );
      case 'timeout':
        throw Object.assign(new Error('Runtime.callFunctionOn timed out. Increase the protocolTimeout.'), {
          name: 'ProtocolError',
        });
      case 'invalid-wid':
        throw new Error(
          'Evaluation failed: Error: wid error: invalid wid\n    at new Error (<anonymous>:6:31)',
        );
      case 'no-chat':
        return undefined;
      case undefined:
        return { id: { _serialized: id } };
    }
  }

  /** Walk the pairing flow: a QR, then (optionally) the phone scans it. */
  pair(qr = 'fake-qr-ref,fake-noise-key,fake-identity-key,fake-adv-secret', scanned = true): void {
    this.emit('qr', qr);
    if (scanned) {
      this.emit('authenticated');
      this.emit('ready');
    }
  }
}

/** A driver whose clients are {@link FakeWwebClient}s; `clients` lists every one created, newest last. */
export interface FakeWwebDriver extends WwebDriver {
  readonly clients: FakeWwebClient[];
  latest(): FakeWwebClient;
  /** Resolves when the n-th client (1-based) has been created and initialised. */
  created(n: number, timeoutMs?: number): Promise<FakeWwebClient>;
}

/** Build a fake driver. `preflight` simulates a missing Chromium; `onCreate` scripts each new client. */
export function fakeWwebDriver(
  opts: { preflight?: string; onCreate?: (c: FakeWwebClient, index: number) => void } = {},
): FakeWwebDriver {
  const clients: FakeWwebClient[] = [];
  return {
    clients,
    ...(opts.preflight ? { preflight: () => opts.preflight } : {}),
    createClient(options) {
      const c = new FakeWwebClient(options);
      clients.push(c);
      opts.onCreate?.(c, clients.length - 1);
      return c;
    },
    messageMedia(mimetype, base64, filename) {
      return new FakeMessageMedia(mimetype, base64, filename);
    },
    latest() {
      const c = clients.at(-1);
      if (!c) throw new Error('no whatsapp-web client created yet');
      return c;
    },
    async created(n, timeoutMs = 2_000) {
      const until = Date.now() + timeoutMs;
      while (!(clients.length >= n && clients[n - 1]!.initialized > 0)) {
        if (Date.now() > until) throw new Error(`client ${n} was not created (have ${clients.length})`);
        await new Promise((r) => setTimeout(r, 2));
      }
      return clients[n - 1]!;
    },
  };
}

/** Bytes `downloadMedia()` returns for each media type (tiny, recognisable headers). */
export const FAKE_MEDIA: Readonly<Record<string, { mimetype: string; bytes: Buffer }>> = {
  image: { mimetype: 'image/jpeg', bytes: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4]) },
  video: { mimetype: 'video/mp4', bytes: Buffer.from('\u0000\u0000\u0000\u0018ftypmp42') },
  document: { mimetype: 'application/pdf', bytes: Buffer.from('%PDF-1.4 fake') },
  audio: { mimetype: 'audio/mpeg', bytes: Buffer.from('ID3 fake mp3') },
  ptt: { mimetype: 'audio/ogg; codecs=opus', bytes: Buffer.from('OggS fake opus voice note') },
};

/**
 * A message object as whatsapp-web.js hands it to `message` listeners, from a JSON-like value (a fixture or a
 * fuzzed copy). `downloadMedia()` answers {@link FAKE_MEDIA} for the message's type, or `mediaOverride`.
 */
export function wwebMessage(json: unknown, mediaOverride?: WwebMediaLike | Error | null): WwebMessageLike {
  const base: Record<string, unknown> =
    json && typeof json === 'object' && !Array.isArray(json) ? { ...json } : {};
  return Object.assign(base, {
    async downloadMedia(): Promise<WwebMediaLike | undefined | null> {
      if (mediaOverride instanceof Error) throw mediaOverride;
      if (mediaOverride !== undefined) return mediaOverride;
      const m = typeof base.type === 'string' ? FAKE_MEDIA[base.type] : undefined;
      return m ? { mimetype: m.mimetype, data: m.bytes.toString('base64'), filename: null } : undefined;
    },
  }) as unknown as WwebMessageLike;
}

/** A plain text message from a citizen (`5212291234567@c.us` style wid). */
export function textMessage(from: string, body: string, id: string, timestamp = 1_773_158_400): unknown {
  return {
    id: { _serialized: `false_${from}_${id}`, fromMe: false, remote: from, id },
    from,
    to: '5212290000000@c.us',
    body,
    type: 'chat',
    timestamp,
    hasMedia: false,
    fromMe: false,
    isStatus: false,
  };
}
