/**
 * A loopback fake of the Bot Framework services a bot talks to:
 *  - the OpenID metadata document and JWKS the Bot Connector signs channel → bot tokens with (RS256, `kid`,
 *    `iss` https://api.botframework.com, `aud` = app id, `serviceurl` claim, channel endorsements);
 *  - the AAD v2 token endpoint (`POST /{tenant}/oauth2/v2.0/token`, client-credentials grant);
 *  - the Bot Connector under a Teams-like service URL (`{baseUrl}/amer/`): `POST v3/conversations/{id}/activities`
 *    (bearer token required, scripted failures) and attachment downloads (`…/attachments/…`, bearer token required);
 *  - a second host (`otherBaseUrl`) serving public media, to check that the bot token never leaves the connector.
 * `token()` / `headers()` sign inbound requests exactly as the Bot Connector does.
 */
import { createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A recorded request. */
export interface BotFrameworkCall {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: unknown;
}

/** A scripted failure for the next activity POST. */
export type ConnectorFailure = { status: number; retryAfter?: number } | 'drop' | 'hang';

/** Claims and signing choices for one channel → bot token. */
export interface TokenOptions {
  readonly serviceUrl?: string;
  readonly aud?: string;
  readonly iss?: string;
  /** Seconds from now (negative: already expired). */
  readonly expiresIn?: number;
  readonly kid?: string;
  /** `other` signs with a key the JWKS does not publish (same kid). */
  readonly key?: 'published' | 'other';
}

/** A running fake. */
export interface FakeBotFramework {
  readonly baseUrl: string;
  /** A Teams-like service URL on the fake (with the trailing slash real ones have). */
  readonly serviceUrl: string;
  readonly openIdMetadataUrl: string;
  /** A second host serving `GET /media/*` without authentication. */
  readonly otherBaseUrl: string;
  readonly appId: string;
  readonly appPassword: string;
  readonly kid: string;
  /** Every request to the fake, in order. */
  readonly calls: BotFrameworkCall[];
  /** Requests to the second host. */
  readonly otherCalls: BotFrameworkCall[];
  /** Access tokens the token endpoint issued. */
  readonly issuedTokens: string[];
  /** Activity POSTs the connector received (answered or not). */
  activities(conversationId?: string): BotFrameworkCall[];
  /** Token requests. */
  tokenRequests(): BotFrameworkCall[];
  failNext(failure: ConnectorFailure): void;
  /** A signed channel → bot JWT. */
  token(opts?: TokenOptions): string;
  /** The headers of a Bot Connector POST for a body (its `serviceUrl` becomes the token's `serviceurl` claim). */
  headers(body: unknown, opts?: TokenOptions): Record<string, string>;
  /** Wait until `n` activities reached the connector (for a conversation). */
  waitForActivities(n: number, conversationId?: string, timeoutMs?: number): Promise<BotFrameworkCall[]>;
  close(): Promise<void>;
}

/** Channel ids the fake's signing key is endorsed for (real keys carry such a list). */
export const ENDORSEMENTS = [
  'msteams',
  'webchat',
  'directline',
  'emulator',
  'telegram',
  'facebook',
  'slack',
  'test',
];

/** 1×1 PNG. */
export const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
/** A few bytes that look like an Ogg/Opus voice note. */
export const OGG = Buffer.from('OggS\u0000\u0002fake opus voice note', 'latin1');

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function sign(key: KeyObject, kid: string, claims: Record<string, unknown>): string {
  const data = `${b64url({ alg: 'RS256', typ: 'JWT', kid, x5t: kid })}.${b64url(claims)}`;
  return `${data}.${createSign('RSA-SHA256').update(data).sign(key).toString('base64url')}`;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function readBody(req: IncomingMessage): Promise<{ text: string; body: unknown }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // form or empty body
      }
      resolve({ text, body });
    });
  });
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
};

/** Start the fake (two loopback listeners). */
export async function startFakeBotFramework(
  opts: {
    appId?: string;
    appPassword?: string;
    /** Connector calls need a token the fake issued (default true). */ requireAuth?: boolean;
  } = {},
): Promise<FakeBotFramework> {
  const appId = opts.appId ?? '6f1c2a9e-4b1d-4f7a-9d3e-2a1b0c9d8e7f';
  const appPassword = opts.appPassword ?? `fake-app-password-${randomBytes(6).toString('hex')}`;
  const kid = 'fake-bf-key-1';
  const published = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const calls: BotFrameworkCall[] = [];
  const otherCalls: BotFrameworkCall[] = [];
  const issuedTokens: string[] = [];
  const script: ConnectorFailure[] = [];
  const waiters = new Set<() => void>();
  let n = 0;
  let baseUrl = '';

  const authorized = (req: IncomingMessage) => {
    if (opts.requireAuth === false) return true;
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    return !!m && issuedTokens.includes(m[1]!);
  };

  const server = createServer((req, res) => {
    void readBody(req).then(({ text, body }) => {
      const path = req.url ?? '/';
      const method = req.method ?? 'GET';
      const call = { method, path, headers: req.headers, body };
      calls.push(call);
      if (method === 'GET' && path === '/v1/.well-known/openidconfiguration') {
        return json(res, 200, {
          issuer: 'https://api.botframework.com',
          authorization_endpoint: `${baseUrl}/v1/.well-known/authorize`,
          jwks_uri: `${baseUrl}/v1/.well-known/keys`,
          id_token_signing_alg_values_supported: ['RS256'],
          token_endpoint_auth_methods_supported: ['private_key_jwt'],
        });
      }
      if (method === 'GET' && path === '/v1/.well-known/keys') {
        const jwk = published.publicKey.export({ format: 'jwk' });
        return json(res, 200, {
          keys: [{ kty: 'RSA', use: 'sig', kid, x5t: kid, n: jwk.n, e: jwk.e, endorsements: ENDORSEMENTS }],
        });
      }
      if (method === 'POST' && /^\/[^/]+\/oauth2\/v2\.0\/token$/.test(path)) {
        const form = new URLSearchParams(text);
        if (
          form.get('grant_type') !== 'client_credentials' ||
          form.get('client_id') !== appId ||
          form.get('client_secret') !== appPassword ||
          form.get('scope') !== 'https://api.botframework.com/.default'
        ) {
          return json(res, 401, {
            error: 'invalid_client',
            error_description: 'AADSTS7000215: Invalid client secret provided.',
          });
        }
        const token = `fake-bot-token-${randomBytes(12).toString('hex')}`;
        issuedTokens.push(token);
        return json(res, 200, {
          token_type: 'Bearer',
          expires_in: 3599,
          ext_expires_in: 3599,
          access_token: token,
        });
      }
      if (method === 'POST' && /^\/amer\/v3\/conversations\/[^/]+\/activities(\/[^/]+)?$/.test(path)) {
        for (const w of waiters) w();
        const failure = script.shift();
        if (failure === 'drop') return req.socket.destroy();
        if (failure === 'hang') return;
        if (failure)
          return json(
            res,
            failure.status,
            { error: { code: 'ServiceError', message: `scripted ${failure.status}` } },
            failure.retryAfter !== undefined ? { 'retry-after': String(failure.retryAfter) } : {},
          );
        if (!authorized(req))
          return json(res, 401, { error: { code: 'Unauthorized', message: 'Unauthorized' } });
        return json(res, 201, { id: `act-${++n}` });
      }
      if (method === 'GET' && path.startsWith('/amer/') && path.includes('/attachments/')) {
        if (!authorized(req))
          return json(res, 401, { error: { code: 'Unauthorized', message: 'Unauthorized' } });
        const audio = path.includes('audio');
        res.writeHead(200, { 'content-type': audio ? 'audio/ogg' : 'image/png' });
        return res.end(audio ? OGG : PNG);
      }
      json(res, 404, { error: { code: 'NotFound', message: 'not found' } });
    });
  });
  baseUrl = await listen(server);

  const otherServer = createServer((req, res) => {
    void readBody(req).then(({ body }) => {
      otherCalls.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body });
      if (req.url?.startsWith('/media/')) {
        res.writeHead(200, { 'content-type': 'image/png' });
        return res.end(PNG);
      }
      json(res, 404, { error: 'not found' });
    });
  });
  const otherBaseUrl = await listen(otherServer);
  const serviceUrl = `${baseUrl}/amer/`;
  const isActivity = (c: BotFrameworkCall, conversationId?: string) =>
    c.method === 'POST' &&
    /\/v3\/conversations\/[^/]+\/activities/.test(c.path) &&
    (conversationId === undefined ||
      c.path.includes(`/conversations/${encodeURIComponent(conversationId)}/`));

  const token = (o: TokenOptions = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return sign(o.key === 'other' ? other.privateKey : published.privateKey, o.kid ?? kid, {
      serviceurl: o.serviceUrl ?? serviceUrl,
      nbf: now - 5,
      exp: now + (o.expiresIn ?? 3600),
      iss: o.iss ?? 'https://api.botframework.com',
      aud: o.aud ?? appId,
    });
  };

  return {
    baseUrl,
    serviceUrl,
    otherBaseUrl,
    openIdMetadataUrl: `${baseUrl}/v1/.well-known/openidconfiguration`,
    appId,
    appPassword,
    kid,
    calls,
    otherCalls,
    issuedTokens,
    activities: (conversationId) => calls.filter((c) => isActivity(c, conversationId)),
    tokenRequests: () => calls.filter((c) => c.path.endsWith('/oauth2/v2.0/token')),
    failNext: (f) => void script.push(f),
    token,
    headers(body, o = {}) {
      const claimed =
        typeof body === 'object' &&
        body !== null &&
        typeof (body as { serviceUrl?: unknown }).serviceUrl === 'string'
          ? (body as { serviceUrl: string }).serviceUrl
          : serviceUrl;
      return {
        'content-type': 'application/json; charset=utf-8',
        authorization: `Bearer ${token({ serviceUrl: claimed, ...o })}`,
      };
    },
    async waitForActivities(count, conversationId, timeoutMs = 15_000) {
      const have = () => calls.filter((c) => isActivity(c, conversationId));
      const end = Date.now() + timeoutMs;
      while (have().length < count) {
        if (Date.now() > end)
          throw new Error(
            `timed out waiting for ${count} activities (have ${have().length}: ${have()
              .map((c) => JSON.stringify((c.body as { text?: string }).text))
              .join(' | ')})`,
          );
        await new Promise<void>((r) => {
          const done = () => {
            waiters.delete(done);
            clearTimeout(timer);
            r();
          };
          const timer = setTimeout(done, 50);
          waiters.add(done);
        });
      }
      // Let the answer to the last one land.
      await new Promise((r) => setTimeout(r, 20));
      return have();
    },
    close: async () => {
      for (const s of [server, otherServer]) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
  };
}
