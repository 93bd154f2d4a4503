/**
 * Microsoft Bot Framework (Azure Bot Service): Teams, Web Chat, Direct Line and the other Azure channels through one
 * messaging endpoint, served by botbuilder's `CloudAdapter`.
 *
 * Inbound: the Bot Connector POSTs an Activity to `/webhooks/botframework` (or the conventional `/api/messages`)
 * with `Authorization: Bearer <JWT>`, signed by a key published through the OpenID metadata document; the SDK
 * checks signature, issuer, audience (our app id), expiry, channel endorsements and the `serviceurl` claim.
 *   https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication
 *   https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference
 * Outbound: proactive messages through the stored conversation reference (`continueConversationAsync` →
 * `POST {serviceUrl}/v3/conversations/{id}/activities`) with a bearer token from the AAD v2 token endpoint.
 *   https://learn.microsoft.com/azure/bot-service/bot-builder-howto-proactive-message
 *   https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-send-and-receive-messages
 *   https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-add-suggested-actions
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type {
  Activity,
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  ConversationReference,
  TurnContext,
} from 'botbuilder';
import type {
  Address,
  Capabilities,
  ChannelAdapter,
  Inbound,
  Outbound,
  Received,
  WebhookRequest,
} from './contract.ts';
import { ChannelError } from './contract.ts';
import { defineChannel, inboundId, numbered, providerFetch, safeEqual } from './kit/index.ts';
import type { ChannelDeps, ProviderResponse } from './kit/index.ts';

/** Where the Bot Connector publishes the keys that sign channel → bot tokens. */
const PUBLIC_OPENID_METADATA = 'https://login.botframework.com/v1/.well-known/openidconfiguration';
/** Base of the AAD token endpoint (`{base}/{tenant}/oauth2/v2.0/token`). */
const PUBLIC_LOGIN = 'https://login.microsoftonline.com';
/** Issuer of channel → bot tokens, and the audience (scope) of bot → channel tokens. */
const BOT_FRAMEWORK = 'https://api.botframework.com';
const EMULATOR_OPENID_METADATA =
  'https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration';
const MAX_MEDIA_BYTES = 20 * 1024 * 1024;
/** Sub-channels whose client (Web Chat) renders `messageBack` suggested actions. */
const WEB_CHAT_FAMILY = new Set(['webchat', 'directline', 'emulator']);
/** Teams sends files (not inline images) as download-info attachments; their `fileType` is an extension. */
const TEAMS_FILE = 'application/vnd.microsoft.teams.file.download.info';
const EXTENSION_MIME: Readonly<Record<string, string>> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  m4a: 'audio/mp4',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  opus: 'audio/ogg',
  wav: 'audio/wav',
  aac: 'audio/aac',
};

const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

/** Configuration of the Bot Framework channel (see the README table for the variables). */
export const botframeworkConfig = z
  .object({
    appId: z.string().trim().default(''),
    appPassword: z.string().default(''),
    appType: z
      .string()
      .trim()
      .default('MultiTenant')
      .transform((s) => s.toLowerCase())
      .pipe(z.enum(['multitenant', 'singletenant'], { message: 'must be MultiTenant or SingleTenant' })),
    tenantId: z.string().trim().default(''),
    openIdMetadataUrl: z.string().url().default(PUBLIC_OPENID_METADATA),
    loginUrl: z
      .string()
      .url()
      .default(PUBLIC_LOGIN)
      .transform((s) => s.replace(/\/+$/, '')),
    allowUnauthenticated: flag.default(false),
  })
  .superRefine((c, ctx) => {
    if (!c.appId && !c.allowUnauthenticated)
      ctx.addIssue({
        code: 'custom',
        path: ['appId'],
        message:
          'required (an empty app id turns authentication off, which is allowed only in tests with BOTFRAMEWORK_ALLOW_UNAUTHENTICATED=true)',
      });
    if (c.appId && !c.appPassword)
      ctx.addIssue({ code: 'custom', path: ['appPassword'], message: 'required with BOTFRAMEWORK_APP_ID' });
    if (c.appId && c.appType === 'singletenant' && !c.tenantId)
      ctx.addIssue({ code: 'custom', path: ['tenantId'], message: 'required for a SingleTenant app' });
  });
/** Parsed configuration of the Bot Framework channel. */
export type BotframeworkConfig = z.infer<typeof botframeworkConfig>;

/** What the Bot Framework channel can show. */
const capabilities = {
  delivery: 'push',
  // Web Chat shows any number of suggested actions; ten keeps the bar usable (see `render` for Teams).
  choices: { max: 10, style: 'buttons' },
  // Images by URL work on Teams, Web Chat and Direct Line; other files need Teams' file-consent flow.
  media: ['image'],
  // Teams refuses activities over ~28 KB; 4000 characters stays well inside with suggested actions.
  maxText: 4000,
  typing: true,
  templates: false,
  speech: false,
} as const satisfies Capabilities;

type AuthOptions = NonNullable<ConstructorParameters<typeof ConfigurationBotFrameworkAuthentication>[0]>;
type CredentialsFactory = NonNullable<
  ConstructorParameters<typeof ConfigurationBotFrameworkAuthentication>[1]
>;
type ConnectorOptions = NonNullable<ConstructorParameters<typeof ConfigurationBotFrameworkAuthentication>[4]>;
type Credentials = Awaited<ReturnType<CredentialsFactory['createCredentials']>>;
type Sdk = { adapter: CloudAdapter };

/** The part of the SDK's compat `WebResourceLike` our transport reads. */
interface ConnectorRequest {
  readonly url: string;
  readonly method: string;
  readonly body?: unknown;
  readonly headers: { toJson(): Record<string, string> };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, max = 4096): string | undefined =>
  typeof v === 'string' && v.length > 0 && v.length <= max ? v : undefined;
const httpUrl = (v: unknown): URL | undefined => {
  if (typeof v !== 'string' || v.length > 2048) return undefined;
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u : undefined;
  } catch {
    return undefined;
  }
};

/** The fields of an Activity we rely on; everything else is read tolerantly (channels add their own). */
const ActivitySchema = z.object({
  type: z.string(),
  id: z.string().min(1).max(256).optional().catch(undefined),
  timestamp: z.string().datetime({ offset: true }).optional().catch(undefined),
  serviceUrl: z.string().min(1).max(512),
  channelId: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[\w.-]+$/),
  from: z.object({ id: z.string().min(1).max(400) }),
  recipient: z
    .object({ id: z.string().min(1).max(400) })
    .optional()
    .catch(undefined),
  conversation: z.object({
    id: z.string().min(1).max(1024),
    tenantId: z.string().max(128).optional().catch(undefined),
    conversationType: z.string().max(64).optional().catch(undefined),
  }),
  locale: z
    .string()
    .max(35)
    .regex(/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/)
    .optional()
    .catch(undefined),
  text: z.string().max(100_000).optional().catch(undefined),
  value: z.unknown().optional(),
  attachments: z.array(z.unknown()).max(50).optional().catch(undefined),
  entities: z.array(z.unknown()).max(50).optional().catch(undefined),
  channelData: z.unknown().optional(),
});
type ParsedActivity = z.infer<typeof ActivitySchema>;

const TokenResponse = z.object({ access_token: z.string().min(1), expires_in: z.coerce.number().positive() });

/** Bot → channel bearer tokens (AAD client-credentials grant), cached until five minutes before expiry. */
function tokenSource(config: BotframeworkConfig) {
  const tenant = config.appType === 'singletenant' ? config.tenantId : 'botframework.com';
  const url = `${config.loginUrl}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`;
  let cached: { token: string; until: number } | undefined;
  let pending: Promise<string> | undefined;
  const fetchToken = async (): Promise<string> => {
    const res = await providerFetch(url, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: config.appId,
        client_secret: config.appPassword,
        scope: `${BOT_FRAMEWORK}/.default`,
      }),
      label: 'POST /{tenant}/oauth2/v2.0/token',
      secrets: [config.appPassword],
    });
    const parsed = TokenResponse.safeParse(res.json);
    if (!parsed.success)
      throw new ChannelError(
        'CHANNEL_UNAVAILABLE',
        'POST /{tenant}/oauth2/v2.0/token: no access token in the answer',
        {
          retryable: true,
        },
      );
    cached = {
      token: parsed.data.access_token,
      until: Date.now() + Math.max(60, parsed.data.expires_in - 300) * 1000,
    };
    return cached.token;
  };
  return {
    /** A valid token, fetched at most once at a time. */
    async get(): Promise<string> {
      if (cached && cached.until > Date.now()) return cached.token;
      pending ??= fetchToken().finally(() => {
        pending = undefined;
      });
      return pending;
    },
  };
}

/** A path template for error messages: ids (conversation ids carry the tenant) never reach the desk. */
function pathTemplate(url: string): string {
  try {
    const path = new URL(url).pathname;
    const v3 = path.indexOf('/v3/');
    return (v3 >= 0 ? path.slice(v3) : path)
      .replace(/(\/v3\/conversations\/)[^/]+/, '$1{id}')
      .replace(/(\/activities\/)[^/]+/, '$1{id}');
  } catch {
    return '/v3/…';
  }
}

/**
 * Builds the Bot Framework channel. One `CloudAdapter` per adapter, created on first use: loading botbuilder costs
 * ~0.5–0.7 s and ~45 MB, which deployments without Bot Framework should not pay at start.
 */
function createBotframework(config: BotframeworkConfig, deps: ChannelDeps): ChannelAdapter {
  const log = deps.log;
  const authOff = !config.appId;
  if (authOff)
    log.warn(
      { channel: 'botframework' },
      'Bot Framework authentication is OFF (BOTFRAMEWORK_ALLOW_UNAUTHENTICATED=true and no BOTFRAMEWORK_APP_ID): anyone can post activities. Use this only in tests or with the local Emulator.',
    );
  const tokens = tokenSource(config);
  const secrets = [config.appPassword].filter(Boolean);

  // Why a MAC on the service URL: the bot's bearer token goes to whatever `serviceUrl` an address names, so an
  // address must come from an authenticated activity (whose JWT vouches for the URL through its `serviceurl`
  // claim). Addresses are stored and reused much later (status updates), possibly by another node or after a
  // restart, so an in-memory allow-list would forget them; instead the adapter signs the URL when it builds the
  // address and refuses to send to one whose signature does not verify. The key derives from the app password
  // (rotating the password invalidates stored addresses until the citizen writes again); without an app id (test
  // mode) it is random per process.
  const trustKey = config.appPassword
    ? createHmac('sha256', config.appPassword)
        .update(`ventanilla/botframework/serviceUrl/${config.appId}`)
        .digest()
    : randomBytes(32);
  const signUrl = (serviceUrl: string, channelId: string) =>
    createHmac('sha256', trustKey).update(`${channelId}\n${serviceUrl}`).digest('base64url');

  // Our own credentials instead of ConfigurationServiceClientCredentialFactory: the SDK's MSAL client insists on an
  // https authority and on AAD instance discovery, so it cannot be pointed at BOTFRAMEWORK_LOGIN_URL (a sovereign
  // cloud, a proxy, a test fake). The grant is the one Microsoft documents for the Bot Connector REST API.
  const credentialsFactory: CredentialsFactory = {
    isValidAppId: (appId: string) => Promise.resolve(appId === config.appId),
    isAuthenticationDisabled: () => Promise.resolve(authOff),
    createCredentials: (appId: string): Promise<Credentials> => {
      if (!authOff && appId !== config.appId) return Promise.reject(new Error('Invalid appId.'));
      return Promise.resolve({
        async signRequest(webResource) {
          if (!authOff) webResource.headers.set('authorization', `Bearer ${await tokens.get()}`);
          return webResource;
        },
      });
    },
  };

  // The connector's transport is providerFetch, so 429/5xx/timeouts/drops/4xx become ChannelErrors here; a
  // ChannelError is no "system error" to the Azure pipeline's retry policy, so the SDK does not retry (the outbox
  // does, honouring Retry-After).
  const transport = {
    async sendRequest(request: ConnectorRequest) {
      const method = request.method.toUpperCase() as 'GET' | 'POST' | 'PUT' | 'DELETE';
      const body =
        request.body === undefined || request.body === null
          ? undefined
          : typeof request.body === 'string'
            ? request.body
            : JSON.stringify(request.body);
      const res: ProviderResponse = await providerFetch(request.url, {
        method,
        headers: request.headers.toJson(),
        ...(body === undefined ? {} : { body }),
        label: `${method} ${pathTemplate(request.url)}`,
        secrets,
      });
      const headers = Object.fromEntries(res.headers);
      return {
        status: res.status,
        request,
        bodyAsText: res.body.toString('utf8'),
        headers: { toJson: () => headers, get: (name: string) => headers[name.toLowerCase()] },
      };
    },
  };

  let sdk: Promise<Sdk> | undefined;
  const load = (): Promise<Sdk> =>
    (sdk ??= (async () => {
      const { CloudAdapter, ConfigurationBotFrameworkAuthentication } = await import('botbuilder');
      // Every "parameterized" key is given: as soon as one is set the SDK uses exactly these values (no defaults).
      const options: AuthOptions = {
        MicrosoftAppId: config.appId,
        MicrosoftAppTenantId: config.tenantId,
        ToBotFromChannelOpenIdMetadataUrl: config.openIdMetadataUrl,
        ToBotFromChannelTokenIssuer: BOT_FRAMEWORK,
        ToBotFromEmulatorOpenIdMetadataUrl: EMULATOR_OPENID_METADATA,
        ToChannelFromBotLoginUrl: `${config.loginUrl}/${config.appType === 'singletenant' ? config.tenantId : 'botframework.com'}`,
        ToChannelFromBotOAuthScope: BOT_FRAMEWORK,
        OAuthUrl: BOT_FRAMEWORK,
        CallerId: 'urn:botframework:azure',
        ValidateAuthority: true,
      };
      const auth = new ConfigurationBotFrameworkAuthentication(
        options,
        credentialsFactory,
        undefined,
        undefined,
        {
          // The SDK's compat HttpClient type is wider than what its pipeline calls (sendRequest → status, headers.toJson, bodyAsText).
          httpClient: transport as unknown as ConnectorOptions['httpClient'],
        },
      );
      return { adapter: new CloudAdapter(auth) };
    })().catch((err: unknown) => {
      sdk = undefined;
      throw err;
    }));

  const rejected = (reason: 'signature' | 'malformed' | 'ignored', status: number): Received => ({
    kind: 'rejected',
    reason,
    ack: { status },
  });

  /** Only channel tokens reach the SDK (see `receive`). */
  const isChannelToken = (header: string): boolean => {
    const m = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(header);
    if (!m) return false;
    try {
      const payload: unknown = JSON.parse(Buffer.from(m[2]!, 'base64url').toString('utf8'));
      return isRecord(payload) && payload.iss === BOT_FRAMEWORK;
    } catch {
      return false;
    }
  };

  async function download(url: URL, serviceUrl: URL, typeHint: string | undefined) {
    // The bot token goes only to the Bot Connector itself (Teams and Direct Line attachment URLs live there).
    const token = !authOff && url.host === serviceUrl.host ? await tokens.get() : undefined;
    const res = await providerFetch(url.href, {
      ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
      label: 'GET attachment',
      secrets,
      timeoutMs: 20_000,
    });
    const header = res.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
    const mime = typeHint && !typeHint.endsWith('/*') ? typeHint : header;
    return { bytes: res.body, mime };
  }

  /** Attachments we can take (images and audio); Teams marks inline images as `image/*`. */
  function mediaAttachments(attachments: readonly unknown[]) {
    const out: { url: URL; mime: string | undefined; name: string | undefined }[] = [];
    for (const a of attachments) {
      if (!isRecord(a)) continue;
      const type = str(a.contentType, 200)?.toLowerCase();
      if (!type) continue;
      if (/^(image|audio)\//.test(type)) {
        const url = httpUrl(a.contentUrl);
        if (url) out.push({ url, mime: type, name: str(a.name, 256) });
      } else if (type === TEAMS_FILE && isRecord(a.content)) {
        const ext = str(a.content.fileType, 10)?.toLowerCase();
        const url = httpUrl(a.content.downloadUrl);
        const mime = ext ? EXTENSION_MIME[ext] : undefined;
        if (url && mime) out.push({ url, mime, name: str(a.name, 256) });
      }
    }
    return out.slice(0, 10);
  }

  function locationOf(entities: readonly unknown[]) {
    for (const e of entities) {
      if (!isRecord(e)) continue;
      const geo = e.type === 'GeoCoordinates' ? e : e.type === 'Place' && isRecord(e.geo) ? e.geo : undefined;
      if (!geo) continue;
      const lat = geo.latitude;
      const lon = geo.longitude;
      if (typeof lat !== 'number' || typeof lon !== 'number') continue;
      if (!(Math.abs(lat) <= 90 && Math.abs(lon) <= 180)) continue;
      const label = str(e.name, 512) ?? str(e.address, 512) ?? str(geo.name, 512);
      return { lat, lon, ...(label ? { label } : {}) };
    }
    return undefined;
  }

  async function normalise(raw: Record<string, unknown>, rawBody: Buffer): Promise<Received> {
    if (raw.type !== 'message') return rejected('ignored', 200); // conversationUpdate, typing, events, reactions…
    const parsed = ActivitySchema.safeParse(raw);
    if (!parsed.success) return rejected('malformed', 400);
    const a: ParsedActivity = parsed.data;
    if (a.recipient && a.recipient.id === a.from.id) return rejected('ignored', 200); // our own echo
    const serviceUrl = httpUrl(a.serviceUrl);
    if (!serviceUrl) return rejected('malformed', 400);
    const user = `${a.channelId}:${a.from.id}`;
    if (user.length > 512) return rejected('malformed', 400);

    const tenantId =
      a.conversation.tenantId ??
      (isRecord(a.channelData) && isRecord(a.channelData.tenant)
        ? str(a.channelData.tenant.id, 128)
        : undefined);
    const address: Address = {
      channel: 'botframework',
      user,
      thread: a.conversation.id.slice(0, 512),
      extra: {
        serviceUrl: a.serviceUrl,
        serviceUrlSig: signUrl(a.serviceUrl, a.channelId),
        channelId: a.channelId,
        conversationId: a.conversation.id,
        ...(a.recipient ? { botId: a.recipient.id } : {}),
        ...(tenantId ? { tenantId } : {}),
        ...(a.conversation.conversationType ? { conversationType: a.conversation.conversationType } : {}),
      },
    };
    // Teams activity ids are unique only within a conversation; Direct Line ids already start with it.
    const providerId = a.id
      ? a.id.startsWith(a.conversation.id)
        ? a.id
        : `${a.conversation.id}|${a.id}`
      : `${a.conversation.id}|${a.timestamp ?? createHash('sha256').update(rawBody).digest('hex')}`;
    const externalId =
      providerId.length <= 512
        ? providerId
        : `sha256:${createHash('sha256').update(providerId).digest('hex')}`;
    const base = {
      id: inboundId('botframework', `${a.channelId}/${externalId}`),
      externalId,
      address,
      at: a.timestamp ? new Date(a.timestamp).toISOString() : deps.now().toISOString(),
      ...(a.locale ? { locale: a.locale } : {}),
      raw,
    };
    // Teams prefixes group messages with an <at>mention</at> of the bot.
    const text = a.text
      ?.replace(/<at>[^<]*<\/at>/g, '')
      .replace(/\s+/g, ' ')
      .trim();
    const accepted = (event: Inbound): Received => ({
      kind: 'accepted',
      events: [event],
      ack: { status: 200 },
    });

    const value = a.value;
    const choiceId =
      typeof value === 'string' ? str(value, 256) : isRecord(value) ? str(value.choiceId, 256) : undefined;
    if (choiceId) return accepted({ ...base, kind: 'choice', choiceId, ...(text ? { text } : {}) });

    const wanted = mediaAttachments(a.attachments ?? []);
    if (wanted.length) {
      const media: { mediaId: string; mime: string; bytes: number; caption?: string }[] = [];
      for (const item of wanted) {
        try {
          const got = await download(item.url, serviceUrl, item.mime);
          if (
            !got.mime ||
            !/^(image|audio)\//.test(got.mime) ||
            !got.bytes.length ||
            got.bytes.length > MAX_MEDIA_BYTES
          ) {
            log.warn(
              { channel: 'botframework', mime: got.mime, bytes: got.bytes.length },
              'attachment skipped',
            );
            continue;
          }
          const saved = await deps.media.save({ bytes: got.bytes, mime: got.mime });
          deps.count('media_downloaded');
          media.push({ mediaId: saved.id, mime: got.mime, bytes: saved.bytes });
        } catch (err) {
          const e = err instanceof ChannelError ? err : undefined;
          log.warn(
            { channel: 'botframework', code: e?.code ?? 'MEDIA_STORE', status: e?.status, err: e?.message },
            'attachment download failed',
          );
          // A passing outage: answer 503 so the Bot Connector redelivers (the inbound id makes that idempotent).
          if (!e || e.retryable)
            return {
              kind: 'rejected',
              reason: 'retry',
              ack: {
                status: 503,
                body: '{"code":"CHANNEL_UNAVAILABLE","message":"Try again later"}',
                contentType: 'application/json',
                headers: { 'retry-after': '5' },
              },
            };
        }
      }
      if (media.length) {
        if (text) media[0] = { ...media[0]!, caption: text.slice(0, 4096) };
        return accepted({ ...base, kind: 'media', media });
      }
    }

    const place = locationOf(a.entities ?? []);
    if (place) return accepted({ ...base, kind: 'location', ...place });
    if (text) return accepted({ ...base, kind: 'text', text });
    return rejected('ignored', 200);
  }

  async function receive(req: WebhookRequest): Promise<Received> {
    if (req.method !== 'POST') return rejected('malformed', 405);
    let body: unknown;
    try {
      body = JSON.parse(req.rawBody.toString('utf8'));
    } catch {
      return rejected('malformed', 400);
    }
    // The SDK's authentication reads channelId and serviceUrl as strings (and throws TypeErrors otherwise); every
    // Bot Connector activity carries both.
    if (
      !isRecord(body) ||
      typeof body.type !== 'string' ||
      typeof body.channelId !== 'string' ||
      typeof body.serviceUrl !== 'string'
    )
      return rejected('malformed', 400);
    const authorization = req.headers.authorization ?? '';
    // Only tokens issued by the Bot Connector reach the SDK: we are neither a skill nor an Emulator target, and the
    // SDK's Emulator path appends every unseen `tid` of an *unverified* token to a process-wide issuer list.
    if (!authOff && !isChannelToken(authorization)) return rejected('signature', 401);

    let loaded: Sdk;
    try {
      loaded = await load();
    } catch (err) {
      log.error(
        { channel: 'botframework', err: err instanceof Error ? err.name : 'unknown' },
        'botbuilder failed to load',
      );
      return { kind: 'rejected', reason: 'retry', ack: { status: 503, headers: { 'retry-after': '5' } } };
    }
    let authenticated = false;
    const res = {
      socket: null,
      statusCode: 200,
      status(code: number) {
        this.statusCode = code;
        return this;
      },
      header: () => undefined,
      send: () => undefined,
      end: () => undefined,
    };
    try {
      await loaded.adapter.process(
        { method: 'POST', headers: { authorization }, body: structuredClone(body) },
        res,
        async (context: TurnContext) => {
          authenticated = true;
          // Nothing is answered inside the turn: replies go out later through the outbox, proactively.
          if (context.activity.type === 'invoke')
            await context.sendActivity({ type: 'invokeResponse', value: { status: 200 } });
        },
      );
    } catch {
      return rejected('malformed', 400); // process() rejects bodies it cannot read as an Activity
    }
    if (!authenticated) {
      // 400/405 come before authentication; any other failure is the token's (the SDK answers 500 for some
      // jsonwebtoken errors, such as a bad signature, that are no server fault).
      if (res.statusCode === 400 || res.statusCode === 405) return rejected('malformed', res.statusCode);
      return rejected('signature', 401);
    }
    return normalise(body, req.rawBody);
  }

  /** The conversation reference stored in an address, if its service URL was signed by us. */
  function referenceOf(address: Address): Partial<ConversationReference> & { channelId: string } {
    const x = address.extra ?? {};
    const { serviceUrl, serviceUrlSig, channelId, conversationId } = x;
    if (!serviceUrl || !serviceUrlSig || !channelId || !conversationId)
      throw new ChannelError('CHANNEL_REJECTED', 'Bot Framework address without a conversation reference');
    if (!safeEqual(serviceUrlSig, signUrl(serviceUrl, channelId)))
      throw new ChannelError(
        'CHANNEL_REJECTED',
        'Bot Framework service URL not trusted: it was not seen on an authenticated activity',
      );
    const prefix = `${channelId}:`;
    const userId = address.user.startsWith(prefix) ? address.user.slice(prefix.length) : address.user;
    return {
      channelId,
      serviceUrl,
      conversation: {
        id: conversationId,
        isGroup: false,
        conversationType: x.conversationType ?? 'personal',
        name: '',
        ...(x.tenantId ? { tenantId: x.tenantId } : {}),
      },
      bot: { id: x.botId ?? config.appId, name: '' },
      user: { id: userId, name: '' },
    };
  }

  function render(outbound: Outbound, channelId: string): Partial<Activity> {
    switch (outbound.kind) {
      case 'text':
        return { type: 'message', text: outbound.text };
      case 'choices':
        // Web Chat renders messageBack suggested actions (the label shows as the citizen's message, the id comes
        // back in `value`); Teams shows only the first three suggested actions and only imBack, whose text would be
        // the raw id, so elsewhere the choices are numbered text (a reply "2" picks the second).
        if (WEB_CHAT_FAMILY.has(channelId))
          return {
            type: 'message',
            text: outbound.text,
            suggestedActions: {
              to: [],
              actions: outbound.choices.map((c) => ({
                type: 'messageBack',
                title: c.label,
                displayText: c.label,
                text: c.label,
                value: { choiceId: c.id },
              })),
            },
          };
        return {
          type: 'message',
          text: numbered(
            outbound.text,
            outbound.choices.map((c) => c.label),
          ),
        };
      case 'media':
        return {
          type: 'message',
          ...(outbound.caption ? { text: outbound.caption } : {}),
          attachments: [{ contentType: outbound.mime, contentUrl: outbound.url }],
        };
      case 'typing':
        return { type: 'typing' };
      case 'template':
        return { type: 'message', text: outbound.fallbackText };
      case 'speech':
        return { type: 'message', text: outbound.text };
    }
  }

  function asChannelError(err: unknown): ChannelError {
    if (err instanceof ChannelError) return err;
    const status = isRecord(err) && typeof err.statusCode === 'number' ? err.statusCode : undefined;
    const name = err instanceof Error ? err.name : 'Error';
    if (status === 429)
      return new ChannelError('CHANNEL_RATE_LIMITED', 'Bot Connector answered 429', {
        retryable: true,
        status,
      });
    if (status !== undefined && status < 500 && status !== 408)
      return new ChannelError('CHANNEL_REJECTED', `Bot Connector answered ${status}`, { status });
    return new ChannelError('CHANNEL_UNAVAILABLE', `Bot Connector call failed (${status ?? name})`, {
      retryable: true,
      ...(status !== undefined ? { status } : {}),
      cause: err,
    });
  }

  return {
    name: 'botframework',
    capabilities: capabilities,
    receive(req) {
      return receive(req).catch((err: unknown): Received => {
        // Defensive: receive() must never throw.
        log.error(
          { channel: 'botframework', err: err instanceof Error ? err.name : 'unknown' },
          'receive failed',
        );
        return rejected('malformed', 400);
      });
    },
    async send(address, outbound, ctx) {
      const reference = referenceOf(address);
      const activity = render(outbound, reference.channelId);
      let loaded: Sdk;
      try {
        loaded = await load();
      } catch (cause) {
        throw new ChannelError('CHANNEL_UNAVAILABLE', 'botbuilder failed to load', {
          retryable: true,
          cause,
        });
      }
      let id: string | undefined;
      try {
        await loaded.adapter.continueConversationAsync(config.appId, reference, async (context) => {
          // A proactive message answers nothing: without this the SDK replies to the random id of its own
          // continuation event (`…/activities/{uuid}`) instead of posting to the conversation.
          context.onSendActivities(async (_context, activities, next) => {
            for (const a of activities) delete a.replyToId;
            return next();
          });
          id = (await context.sendActivity(activity))?.id;
        });
      } catch (err) {
        throw asChannelError(err);
      }
      return { externalId: id || ctx.idempotencyKey };
    },
  };
}

/** The Bot Framework channel (Teams, Web Chat, Direct Line…) behind `/webhooks/botframework` and `/api/messages`. */
export const botframework = defineChannel({
  name: 'botframework',
  config: botframeworkConfig,
  env: {
    BOTFRAMEWORK_APP_ID: 'appId',
    BOTFRAMEWORK_APP_PASSWORD: 'appPassword',
    BOTFRAMEWORK_APP_TYPE: 'appType',
    BOTFRAMEWORK_TENANT_ID: 'tenantId',
    BOTFRAMEWORK_OPENID_METADATA_URL: 'openIdMetadataUrl',
    BOTFRAMEWORK_LOGIN_URL: 'loginUrl',
    BOTFRAMEWORK_ALLOW_UNAUTHENTICATED: 'allowUnauthenticated',
  },
  capabilities: capabilities,
  create: (config: BotframeworkConfig, deps: ChannelDeps) => createBotframework(config, deps),
});
