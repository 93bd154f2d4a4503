/** Bot Framework: the shared channel contract against a loopback Bot Connector, plus JWT and serviceUrl specifics. */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { botframework, botframeworkConfig } from '../../channels/botframework.ts';
import type { Address, ChannelAdapter, Inbound, WebhookRequest } from '../../channels/contract.ts';
import { ChannelError } from '../../channels/contract.ts';
import type { ChannelDeps } from '../../channels/kit/index.ts';
import { createLogger } from '../../main.ts';
import { channelContract } from '../contract/channel.contract.ts';
import { startFakeBotFramework } from '../fakes/botframework.ts';
import type { FakeBotFramework, TokenOptions } from '../fakes/botframework.ts';
import { memoryMedia } from '../fakes/media.ts';

const FIXTURES = 'test/fixtures/botframework/inbound';
/** Fixtures carry real-looking service URLs; the harness points them at the fake. */
const REAL_SERVICE_URLS = ['https://smba.trafficmanager.net/amer/', 'https://webchat.botframework.com/'];

interface Rig {
  readonly fake: FakeBotFramework;
  readonly adapter: ChannelAdapter;
  readonly logs: string[];
  readonly media: ReturnType<typeof memoryMedia>;
  readonly counts: Record<string, number>;
  /** Rewrite a payload's real service URLs to the fake. */
  local(raw: unknown): unknown;
  post(
    raw: unknown,
    opts?: { signature?: 'valid' | 'missing' | 'wrong'; token?: TokenOptions },
  ): Promise<{ events: Inbound[]; status: number; threw?: unknown }>;
  close(): Promise<void>;
}

async function startRig(env: Record<string, string> = {}, fakeOpts = {}): Promise<Rig> {
  const fake = await startFakeBotFramework(fakeOpts);
  const logs: string[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      logs.push(c.toString());
      cb();
    },
  });
  const media = memoryMedia();
  const counts: Record<string, number> = {};
  const deps: ChannelDeps = {
    media,
    log: createLogger('debug', sink),
    now: () => new Date('2026-03-10T16:00:00Z'),
    dataDir: '/nonexistent',
    publicUrl: 'https://ventanilla.example.gob.mx',
    count: (name, n = 1) => void (counts[name] = (counts[name] ?? 0) + n),
  };
  const adapter = botframework.create(
    botframeworkConfig.parse({
      appId: fake.appId,
      appPassword: fake.appPassword,
      openIdMetadataUrl: fake.openIdMetadataUrl,
      loginUrl: fake.baseUrl,
      ...env,
    }),
    deps,
  );
  const local = (raw: unknown): unknown => {
    if (Buffer.isBuffer(raw) || raw === undefined) return raw;
    let text = JSON.stringify(raw);
    for (const u of REAL_SERVICE_URLS) text = text.split(u).join(fake.serviceUrl);
    return JSON.parse(text);
  };
  return {
    fake,
    adapter,
    logs,
    media,
    counts,
    local,
    async post(raw, opts = {}) {
      const body = local(raw);
      const rawBody = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body ?? null));
      const headers: Record<string, string> = { ...fake.headers(body, opts.token) };
      if (opts.signature === 'missing') delete headers.authorization;
      if (opts.signature === 'wrong')
        headers.authorization = `Bearer ${fake.token({ ...opts.token, key: 'other' })}`;
      const req: WebhookRequest = { method: 'POST', url: '/api/messages', headers, rawBody };
      try {
        const r = await adapter.receive!(req);
        return { events: r.kind === 'accepted' ? r.events : [], status: r.ack.status };
      } catch (threw) {
        return { events: [], status: 500, threw };
      }
    },
    close: () => fake.close(),
  };
}

const fixture = async (name: string): Promise<Record<string, unknown>> =>
  (
    (await import(`../fixtures/botframework/inbound/${name}.json`, { with: { type: 'json' } })) as {
      default: { raw: Record<string, unknown> };
    }
  ).default.raw;

channelContract({
  name: 'botframework',
  fixtures: FIXTURES,
  skip: [
    {
      reason:
        'the Bot Connector reports no delivery or read receipts (Teams read receipts reach only the user client)',
      tests: ['receipts'],
    },
    {
      reason: 'Bot Framework is a push channel (replies are proactive Connector calls)',
      tests: ['in-response'],
    },
  ],
  async setup() {
    const rig = await startRig();
    // A real address: the one an authenticated activity produced (its service URL is signed).
    const first = await rig.post(await fixture('text-webchat'));
    const address = first.events[0]!.address;
    return {
      adapter: rig.adapter,
      address,
      secrets: [rig.fake.appPassword, ...rig.fake.issuedTokens],
      feed: (raw, opts) => rig.post(raw, opts),
      sends: async () => {
        await new Promise((r) => setTimeout(r, 20));
        return rig.fake.activities().length;
      },
      failNext: (f) => rig.fake.failNext(f),
      logs: () => rig.logs.join(''),
      close: () => rig.close(),
    };
  },
});

describe('botframework specifics', () => {
  let rig: Rig;
  let text: Record<string, unknown>;
  beforeAll(async () => {
    rig = await startRig();
    text = await fixture('text-webchat');
  });
  afterAll(async () => {
    await rig.close();
  });

  describe('inbound JWT validation', () => {
    it('accepts a token the fake signed with its published key', async () => {
      const r = await rig.post(text);
      expect(r.status).toBe(200);
      expect(r.events).toHaveLength(1);
      expect(rig.fake.calls.some((c) => c.path === '/v1/.well-known/keys')).toBe(true);
    });

    it.each<[string, TokenOptions]>([
      ['an expired token', { expiresIn: -3600 }],
      ['a token for another app id (audience)', { aud: '00000000-0000-4000-8000-000000000000' }],
      ['a token from another issuer', { iss: 'https://evil.example.com' }],
      ['a token signed with an unknown kid', { kid: 'unknown-kid' }],
      [
        'a token whose serviceurl claim differs from the activity',
        { serviceUrl: 'https://evil.example.com/' },
      ],
    ])('rejects %s with 401 and no events', async (_name, token) => {
      const r = await rig.post(text, { token });
      expect(r.status).toBe(401);
      expect(r.events).toHaveLength(0);
    });

    it('rejects an unsigned token, a non-bearer header and garbage with 401', async () => {
      for (const authorization of [
        `Bearer ${rig.fake.token().split('.').slice(0, 2).join('.')}.`,
        'Basic dXNlcjpwYXNz',
        'Bearer not-a-jwt',
        `Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"iss":"https://api.botframework.com"}').toString('base64url')}.`,
      ]) {
        const r = await rig.adapter.receive!({
          method: 'POST',
          url: '/api/messages',
          headers: { authorization },
          rawBody: Buffer.from(JSON.stringify(rig.local(text))),
        });
        expect(r, authorization).toMatchObject({
          kind: 'rejected',
          reason: 'signature',
          ack: { status: 401 },
        });
      }
    });

    it('ignores conversationUpdate and typing (after authenticating them), and 401s them unsigned', async () => {
      for (const type of ['conversationUpdate', 'typing', 'event', 'messageReaction']) {
        const body = { ...text, type, id: `${type}-1` };
        expect(await rig.post(body)).toMatchObject({ status: 200, events: [] });
        expect(await rig.post(body, { signature: 'missing' })).toMatchObject({ status: 401, events: [] });
      }
    });

    it('answers invokes with 200 and no events, and GET with 405', async () => {
      expect(await rig.post({ ...text, type: 'invoke', name: 'adaptiveCard/action' })).toMatchObject({
        status: 200,
        events: [],
      });
      const r = await rig.adapter.receive!({
        method: 'GET',
        url: '/webhooks/botframework',
        headers: {},
        rawBody: Buffer.alloc(0),
      });
      expect(r.ack.status).toBe(405);
    });
  });

  describe('configuration', () => {
    it('refuses an empty app id unless BOTFRAMEWORK_ALLOW_UNAUTHENTICATED=true', () => {
      const r = botframeworkConfig.safeParse({});
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual(['appId']);
      expect(botframeworkConfig.safeParse({ allowUnauthenticated: 'yes' }).success).toBe(false);
      expect(botframeworkConfig.safeParse({ allowUnauthenticated: 'true' }).success).toBe(true);
      expect(botframeworkConfig.safeParse({ appId: 'x' }).error?.issues[0]?.path).toEqual(['appPassword']);
      expect(
        botframeworkConfig.safeParse({ appId: 'x', appPassword: 'y', appType: 'SingleTenant' }).error
          ?.issues[0]?.path,
      ).toEqual(['tenantId']);
      expect(
        botframeworkConfig.safeParse({ appId: 'x', appPassword: 'y', appType: 'UserAssignedMSI' }).success,
      ).toBe(false);
    });

    it('in unauthenticated test mode warns at start and accepts unsigned activities', async () => {
      const open = await startRig(
        { appId: '', appPassword: '', allowUnauthenticated: 'true' },
        { requireAuth: false },
      );
      try {
        const warning = open.logs
          .map((l) => JSON.parse(l) as { level: number; msg: string })
          .find((l) => l.level === 40);
        expect(warning?.msg).toMatch(/authentication is OFF/);
        const r = await open.post(text, { signature: 'missing' });
        expect(r.status).toBe(200);
        expect(r.events[0]).toMatchObject({ kind: 'text' });
        // Replies carry no token (there is none) and still reach the connector of a seen service URL.
        await open.adapter.send(
          r.events[0]!.address,
          { kind: 'text', text: 'Hola' },
          { idempotencyKey: 'k' },
        );
        expect(open.fake.activities().at(-1)?.headers.authorization).toBeUndefined();
      } finally {
        await open.close();
      }
    });

    it('takes the token from the tenant of a SingleTenant app', async () => {
      const single = await startRig({
        appType: 'SingleTenant',
        tenantId: '9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d',
      });
      try {
        const r = await single.post(text);
        await single.adapter.send(
          r.events[0]!.address,
          { kind: 'text', text: 'Hola' },
          { idempotencyKey: 'k' },
        );
        expect(single.fake.tokenRequests().at(-1)?.path).toBe(
          '/9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d/oauth2/v2.0/token',
        );
      } finally {
        await single.close();
      }
    });
  });

  describe('outbound', () => {
    let address: Address;
    beforeAll(async () => {
      address = (await rig.post(text)).events[0]!.address;
    });

    it('posts a proactive message to {serviceUrl}v3/conversations/{id}/activities with a bearer token', async () => {
      const before = rig.fake.activities().length;
      const d = await rig.adapter.send(
        address,
        { kind: 'text', text: 'Tu folio es VER-2026-000001' },
        { idempotencyKey: 'k1' },
      );
      const call = rig.fake.activities().at(-1)!;
      expect(rig.fake.activities()).toHaveLength(before + 1);
      expect(d.externalId).toMatch(/^act-/);
      expect(call.path).toBe(
        `/amer/v3/conversations/${encodeURIComponent('K2pW9xQe3Lr7Fh1Dn8Uz4a-us')}/activities`,
      );
      expect(call.headers.authorization).toBe(`Bearer ${rig.fake.issuedTokens.at(-1)}`);
      expect(call.body).toMatchObject({
        type: 'message',
        text: 'Tu folio es VER-2026-000001',
        conversation: { id: 'K2pW9xQe3Lr7Fh1Dn8Uz4a-us' },
        from: { id: 'ventanilla-bot@8ZsP2kqLx0Q' },
        recipient: { id: 'dl_ciudadano-5f2c91' },
        channelId: 'webchat',
      });
      expect(rig.fake.tokenRequests()).toHaveLength(1); // cached
      const form = new URLSearchParams(String(rig.fake.tokenRequests()[0]!.body));
      expect(form.get('scope')).toBe('https://api.botframework.com/.default');
    });

    it('renders choices as messageBack suggested actions on Web Chat, numbered text on Teams', async () => {
      const choices = [
        { id: 'confirm:yes', label: 'Sí' },
        { id: 'confirm:no', label: 'No' },
      ];
      await rig.adapter.send(
        address,
        { kind: 'choices', text: '¿Lo registro?', choices },
        { idempotencyKey: 'k2' },
      );
      expect(rig.fake.activities().at(-1)!.body).toMatchObject({
        text: '¿Lo registro?',
        suggestedActions: {
          actions: [
            { type: 'messageBack', title: 'Sí', displayText: 'Sí', value: { choiceId: 'confirm:yes' } },
            { type: 'messageBack', title: 'No', value: { choiceId: 'confirm:no' } },
          ],
        },
      });
      const teams = (await rig.post(await fixture('text-teams'))).events[0]!.address;
      await rig.adapter.send(
        teams,
        { kind: 'choices', text: '¿Lo registro?', choices },
        { idempotencyKey: 'k3' },
      );
      const call = rig.fake.activities().at(-1)!;
      expect(call.body).toMatchObject({
        text: '¿Lo registro?\n1. Sí\n2. No',
        conversation: { tenantId: '9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d' },
      });
      expect((call.body as { suggestedActions?: unknown }).suggestedActions).toBeUndefined();
    });

    it('sends media as an attachment and typing as a typing activity', async () => {
      await rig.adapter.send(
        address,
        {
          kind: 'media',
          url: 'https://ventanilla.example.gob.mx/media/mapa.png',
          mime: 'image/png',
          caption: 'Aquí',
        },
        { idempotencyKey: 'k4' },
      );
      expect(rig.fake.activities().at(-1)!.body).toMatchObject({
        text: 'Aquí',
        attachments: [
          { contentType: 'image/png', contentUrl: 'https://ventanilla.example.gob.mx/media/mapa.png' },
        ],
      });
      await rig.adapter.send(address, { kind: 'typing' }, { idempotencyKey: 'k5' });
      expect(rig.fake.activities().at(-1)!.body).toMatchObject({ type: 'typing' });
    });

    it('maps connector errors: 429 + Retry-After, 5xx, timeouts, 403 bot removed, 404 conversation gone', async () => {
      const attempt = async (f: Parameters<FakeBotFramework['failNext']>[0]) => {
        rig.fake.failNext(f);
        return rig.adapter
          .send(address, { kind: 'text', text: 'x' }, { idempotencyKey: 'e' })
          .catch((e: unknown) => e);
      };
      expect(await attempt({ status: 429, retryAfter: 7 })).toMatchObject({
        code: 'CHANNEL_RATE_LIMITED',
        retryable: true,
        retryAfterMs: 7000,
      });
      expect(await attempt({ status: 502 })).toMatchObject({ code: 'CHANNEL_UNAVAILABLE', retryable: true });
      expect(await attempt({ status: 403 })).toMatchObject({
        code: 'CHANNEL_REJECTED',
        retryable: false,
        status: 403,
      });
      const gone = await attempt({ status: 404 });
      expect(gone).toMatchObject({ code: 'CHANNEL_REJECTED', retryable: false });
      // The conversation id never reaches the error text (only a path template).
      expect(String((gone as Error).message)).toContain('/v3/conversations/{id}/activities');
      expect(String((gone as Error).message)).not.toContain('K2pW9xQe3Lr7Fh1Dn8Uz4a');
    });

    it('fails a send permanently (no retry) when the token endpoint refuses the app password', async () => {
      const bad = await startRig({ appPassword: 'a-wrong-password-123' });
      try {
        const a = (await bad.post(text)).events[0]!.address;
        const err = await bad.adapter
          .send(a, { kind: 'text', text: 'x' }, { idempotencyKey: 'k' })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ChannelError);
        expect(err).toMatchObject({ code: 'CHANNEL_REJECTED', retryable: false, status: 401 });
        expect(String((err as Error).message)).not.toContain('a-wrong-password-123');
        expect(bad.fake.activities()).toHaveLength(0);
      } finally {
        await bad.close();
      }
    });
  });

  describe('serviceUrl allow-list', () => {
    it('refuses to send to a service URL no authenticated activity vouched for', async () => {
      const address = (await rig.post(text)).events[0]!.address;
      const before = rig.fake.calls.length;
      for (const extra of [
        { ...address.extra, serviceUrl: 'https://attacker.example.com/' },
        { ...address.extra, serviceUrl: rig.fake.otherBaseUrl + '/' },
        { ...address.extra, serviceUrlSig: 'forged' },
        { ...address.extra, channelId: 'msteams' },
        Object.fromEntries(Object.entries(address.extra!).filter(([k]) => k !== 'serviceUrlSig')),
      ]) {
        const err = await rig.adapter
          .send({ ...address, extra }, { kind: 'text', text: 'x' }, { idempotencyKey: 'k' })
          .catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'CHANNEL_REJECTED', retryable: false });
      }
      expect(rig.fake.calls.length).toBe(before);
      expect(rig.fake.otherCalls).toHaveLength(0);
    });

    it('a signature from another deployment (another app password) is not trusted', async () => {
      const other = await startRig({}, { appPassword: 'another-deployment-password' });
      try {
        const foreign = (await other.post(text)).events[0]!.address;
        const err = await rig.adapter
          .send(foreign, { kind: 'text', text: 'x' }, { idempotencyKey: 'k' })
          .catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'CHANNEL_REJECTED' });
      } finally {
        await other.close();
      }
    });
  });

  describe('inbound media', () => {
    it('downloads connector attachments with the bot token and saves them through deps.media', async () => {
      const r = await rig.post(await fixture('image-teams'));
      const download = rig.fake.calls
        .filter((c) => c.method === 'GET' && c.path.includes('/attachments/'))
        .at(-1)!;
      expect(download.headers.authorization).toMatch(/^Bearer fake-bot-token-/);
      const mediaId = (r.events[0] as Extract<Inbound, { kind: 'media' }>).media[0]!.mediaId;
      expect((await rig.media.read(mediaId))?.media.mime).toBe('image/png');
      expect(rig.counts.media_downloaded).toBeGreaterThanOrEqual(1);
    });

    it('never sends the bot token to another host', async () => {
      const body = {
        ...text,
        id: 'K2pW9xQe3Lr7Fh1Dn8Uz4a-us|0000099',
        attachments: [{ contentType: 'image/png', contentUrl: `${rig.fake.otherBaseUrl}/media/foto.png` }],
      };
      const r = await rig.post(body);
      expect(r.events[0]).toMatchObject({ kind: 'media', media: [{ mime: 'image/png' }] });
      expect(rig.fake.otherCalls.at(-1)?.headers.authorization).toBeUndefined();
    });

    it('answers 503 when a download fails for now, so the Bot Connector redelivers', async () => {
      const body = {
        ...text,
        id: 'K2pW9xQe3Lr7Fh1Dn8Uz4a-us|0000100',
        attachments: [{ contentType: 'image/png', contentUrl: 'http://127.0.0.1:9/media/unreachable.png' }],
      };
      const r = await rig.post(body);
      expect(r).toMatchObject({ status: 503, events: [] });
    });

    it('keeps the caption as text when an attachment is gone for good', async () => {
      const body = {
        ...text,
        id: 'K2pW9xQe3Lr7Fh1Dn8Uz4a-us|0000101',
        text: 'mira la foto',
        attachments: [{ contentType: 'image/png', contentUrl: `${rig.fake.otherBaseUrl}/gone.png` }],
      };
      expect((await rig.post(body)).events[0]).toMatchObject({ kind: 'text', text: 'mira la foto' });
    });
  });

  describe('addresses and ids', () => {
    it('keys the citizen by channel and from.id, so Teams and Web Chat ids never collide', async () => {
      const web = (await rig.post({ ...text, from: { id: 'same-id' } })).events[0]!;
      const teams = (await rig.post({ ...(await fixture('text-teams')), from: { id: 'same-id' } }))
        .events[0]!;
      expect(web.address.user).toBe('webchat:same-id');
      expect(teams.address.user).toBe('msteams:same-id');
    });

    it('scopes Teams activity ids by conversation (they are only unique within one)', async () => {
      const teams = await fixture('text-teams');
      const a = (await rig.post(teams)).events[0]!;
      const b = (
        await rig.post({
          ...teams,
          conversation: { ...(teams.conversation as object), id: 'a:otherConversation' },
        })
      ).events[0]!;
      expect(a.id).not.toBe(b.id);
    });

    it('ignores the bot’s own echoes', async () => {
      expect(await rig.post({ ...text, from: text.recipient })).toMatchObject({ status: 200, events: [] });
    });
  });
});
