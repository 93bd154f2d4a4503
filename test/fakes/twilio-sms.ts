/**
 * A loopback fake of Twilio's Programmable Messaging REST API (the parts Ventanilla uses), plus builders for the
 * webhooks Twilio sends, signed the way Twilio signs them.
 *
 *  - `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (form body, HTTP basic auth) → 201 Message JSON, or a
 *    Twilio error JSON (`{ code, message, more_info, status }`) when scripted.
 *  - `GET /2010-04-01/Accounts/{AccountSid}/Messages/{MM…}/Media/{ME…}` (basic auth) → 307 to a media host path,
 *    like Twilio's redirect to its storage, which serves the bytes without auth.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A message the fake accepted. */
export interface FakeSms {
  readonly sid: string;
  readonly to: string;
  readonly from?: string;
  readonly messagingServiceSid?: string;
  readonly body: string;
  readonly mediaUrl: readonly string[];
  readonly statusCallback?: string;
}

/** A scripted failure for the next Messages.json request. */
export type FakeTwilioFailure =
  { status: number; code?: number; message?: string; retryAfter?: number } | 'drop' | 'hang';

/** A running fake. */
export interface FakeTwilio {
  readonly baseUrl: string;
  readonly accountSid: string;
  readonly authToken: string;
  /** Messages accepted by `Messages.json`, in order. */
  readonly sent: FakeSms[];
  /** Every request received (method and path). */
  readonly requests: { method: string; path: string; authorized: boolean }[];
  failNext(failure: FakeTwilioFailure): void;
  /** Serve `bytes` as media `mediaSid` of message `messageSid`; returns the `MediaUrl` Twilio would report. */
  addMedia(bytes: Buffer, mime: string, ids?: { messageSid?: string; mediaSid?: string }): string;
  /** Wait until at least `n` messages have been accepted. */
  waitForSent(n: number, timeoutMs?: number): Promise<FakeSms[]>;
  close(): Promise<void>;
}

/** A Twilio-shaped SID (`SM…`, `MM…`, `ME…`): two letters and 32 hex digits. */
export function sid(prefix: string): string {
  return `${prefix}${randomBytes(16).toString('hex')}`;
}

/** Twilio's signature algorithm, written out independently of the adapter's (full URL + sorted name/value pairs). */
export function twilioSign(
  authToken: string,
  url: string,
  params: Record<string, string | string[]>,
): string {
  let data = url;
  for (const key of Object.keys(params).sort()) {
    const v = params[key]!;
    for (const value of Array.isArray(v) ? [...v].sort() : [v]) data += key + value;
  }
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

/** Encode webhook parameters as Twilio does (application/x-www-form-urlencoded, UTF-8). */
export function formBody(params: Record<string, string | string[]>): string {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) form.append(k, x);
  return form.toString();
}

/** Parse a form body the way a receiver sees it (a repeated name keeps every value). */
export function parseFormBody(text: string): Record<string, string | string[]> {
  const out = Object.create(null) as Record<string, string | string[]>;
  for (const [k, v] of new URLSearchParams(text)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** A signed webhook request: the body and the headers Twilio would send for `publicUrl`. */
export function signedWebhook(
  authToken: string,
  publicUrl: string,
  params: Record<string, string | string[]>,
): { body: string; headers: Record<string, string> } {
  const body = formBody(params);
  return {
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilioSign(authToken, publicUrl, parseFormBody(body)),
      'i-twilio-idempotency-token': randomBytes(8).toString('hex'),
      'user-agent': 'TwilioProxy/1.1',
    },
  };
}

/** The parameters of an incoming SMS/MMS webhook, as Twilio sends them. */
export function incomingSms(opts: {
  accountSid: string;
  from: string;
  to: string;
  body: string;
  messageSid?: string;
  media?: readonly { url: string; mime: string }[];
  extra?: Record<string, string>;
}): Record<string, string> {
  const messageSid = opts.messageSid ?? sid(opts.media?.length ? 'MM' : 'SM');
  const params: Record<string, string> = {
    ToCountry: 'MX',
    ToState: 'VER',
    SmsMessageSid: messageSid,
    NumMedia: String(opts.media?.length ?? 0),
    ToCity: '',
    FromZip: '',
    SmsSid: messageSid,
    FromState: 'VER',
    SmsStatus: 'received',
    FromCity: '',
    Body: opts.body,
    FromCountry: 'MX',
    To: opts.to,
    ToZip: '',
    NumSegments: '1',
    MessageSid: messageSid,
    AccountSid: opts.accountSid,
    From: opts.from,
    ApiVersion: '2010-04-01',
  };
  opts.media?.forEach((m, i) => {
    params[`MediaContentType${i}`] = m.mime;
    params[`MediaUrl${i}`] = m.url;
  });
  return { ...params, ...opts.extra };
}

/** The parameters of a message status callback, as Twilio sends them. */
export function statusCallback(opts: {
  accountSid: string;
  messageSid: string;
  status: string;
  from: string;
  to: string;
  errorCode?: string;
}): Record<string, string> {
  return {
    SmsSid: opts.messageSid,
    SmsStatus: opts.status,
    MessageStatus: opts.status,
    To: opts.to,
    MessageSid: opts.messageSid,
    AccountSid: opts.accountSid,
    From: opts.from,
    ApiVersion: '2010-04-01',
    ...(opts.errorCode ? { ErrorCode: opts.errorCode } : {}),
    ...(opts.status === 'delivered' ? { RawDlrDoneDate: '2603101600' } : {}),
  };
}

/** Start the fake on 127.0.0.1 with a random port. */
export async function startFakeTwilio(
  opts: { accountSid?: string; authToken?: string } = {},
): Promise<FakeTwilio> {
  const accountSid = opts.accountSid ?? `AC${'1a2b3c4d'.repeat(4)}`;
  const authToken = opts.authToken ?? 'f4ke70ken0f7w1l10f4ke70ken0f7w1l';
  const sent: FakeSms[] = [];
  const requests: FakeTwilio['requests'] = [];
  const failures: FakeTwilioFailure[] = [];
  const media = new Map<string, { bytes: Buffer; mime: string }>();
  let waiters: { n: number; resolve: () => void }[] = [];
  const expectedAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
  const messagesPath = `/2010-04-01/Accounts/${accountSid}/Messages.json`;
  const mediaPath = new RegExp(
    `^/2010-04-01/Accounts/${accountSid}/Messages/(MM|SM)[0-9a-f]{32}/Media/(ME[0-9a-f]{32})$`,
  );

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const authorized = req.headers.authorization === expectedAuth;
      requests.push({ method: req.method ?? 'GET', path, authorized });
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        res.end(JSON.stringify(body));
      };
      const error = (status: number, code: number, message: string, headers: Record<string, string> = {}) =>
        json(
          status,
          { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status },
          headers,
        );

      const stored = /^\/media-host\/(ME[0-9a-f]{32})$/.exec(path);
      if (req.method === 'GET' && stored) {
        const item = media.get(stored[1]!);
        if (!item) return error(404, 20404, 'The requested resource was not found');
        res.writeHead(200, { 'content-type': item.mime, 'content-length': String(item.bytes.length) });
        res.end(item.bytes);
        return;
      }
      if (!authorized) return error(401, 20003, 'Authentication Error - invalid username');
      const m = mediaPath.exec(path);
      if (req.method === 'GET' && m) {
        if (!media.has(m[2]!)) return error(404, 20404, 'The requested resource was not found');
        res.writeHead(307, { location: `/media-host/${m[2]}` });
        res.end();
        return;
      }
      if (req.method !== 'POST' || path !== messagesPath)
        return error(404, 20404, 'The requested resource was not found');

      const failure = failures.shift();
      if (failure === 'drop') return req.socket.destroy();
      if (failure === 'hang') return;
      if (failure)
        return error(
          failure.status,
          failure.code ?? (failure.status === 429 ? 20429 : failure.status >= 500 ? 20500 : 21211),
          failure.message ?? (failure.status === 429 ? 'Too Many Requests' : `status ${failure.status}`),
          failure.retryAfter !== undefined ? { 'retry-after': String(failure.retryAfter) } : {},
        );

      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const to = form.get('To');
      const from = form.get('From') ?? undefined;
      const service = form.get('MessagingServiceSid') ?? undefined;
      const body = form.get('Body') ?? '';
      const mediaUrl = form.getAll('MediaUrl');
      if (!to) return error(400, 21604, "A 'To' phone number is required.");
      if (!from && !service)
        return error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required");
      if (!body && mediaUrl.length === 0) return error(400, 21602, 'Message body is required.');
      if (body.length > 1600)
        return error(400, 21617, 'The concatenated message body exceeds the 1600 character limit.');
      const message: FakeSms = {
        sid: sid(mediaUrl.length ? 'MM' : 'SM'),
        to,
        ...(from ? { from } : {}),
        ...(service ? { messagingServiceSid: service } : {}),
        body,
        mediaUrl,
        ...(form.get('StatusCallback') ? { statusCallback: form.get('StatusCallback')! } : {}),
      };
      sent.push(message);
      waiters = waiters.filter((w) => (sent.length >= w.n ? (w.resolve(), false) : true));
      const now = new Date().toUTCString();
      json(201, {
        account_sid: accountSid,
        api_version: '2010-04-01',
        body,
        date_created: now,
        date_sent: null,
        date_updated: now,
        direction: 'outbound-api',
        error_code: null,
        error_message: null,
        from: from ?? null,
        messaging_service_sid: service ?? null,
        num_media: String(mediaUrl.length),
        num_segments: '1',
        price: null,
        price_unit: 'USD',
        sid: message.sid,
        status: service ? 'accepted' : 'queued',
        subresource_uris: { media: `/2010-04-01/Accounts/${accountSid}/Messages/${message.sid}/Media.json` },
        to,
        uri: `/2010-04-01/Accounts/${accountSid}/Messages/${message.sid}.json`,
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    accountSid,
    authToken,
    sent,
    requests,
    failNext: (f) => failures.push(f),
    addMedia(bytes, mime, ids = {}) {
      const mediaSid = ids.mediaSid ?? sid('ME');
      media.set(mediaSid, { bytes, mime });
      // What Twilio reports: an api.twilio.com URL (the adapter points that host at its configured API URL).
      return `https://api.twilio.com/2010-04-01/Accounts/${accountSid}/Messages/${ids.messageSid ?? sid('MM')}/Media/${mediaSid}`;
    },
    waitForSent(n, timeoutMs = 10_000) {
      if (sent.length >= n) return Promise.resolve(sent.slice());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `timed out waiting for ${n} SMS (have ${sent.length}: ${sent.map((s) => s.body).join(' | ')})`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve(sent.slice());
          },
        });
      });
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
