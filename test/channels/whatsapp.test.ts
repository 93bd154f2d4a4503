/** WhatsApp Cloud API: the shared channel contract against a fake Graph API, plus WhatsApp specifics. */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChannelError } from '../../channels/contract.ts';
import type { ChannelAdapter, Inbound, Received } from '../../channels/contract.ts';
import type { ChannelCounter } from '../../channels/kit/index.ts';
import { whatsapp, whatsappConfig } from '../../channels/whatsapp.ts';
import type { WhatsappConfig } from '../../channels/whatsapp.ts';
import { createLogger } from '../../main.ts';
import { channelContract } from '../contract/channel.contract.ts';
import { memoryMedia } from '../fakes/media.ts';
import {
  choicesOf,
  inboundMessage,
  messages,
  signWebhook,
  startFakeGraph,
  statusPayload,
  webhookPayload,
} from '../fakes/whatsapp.ts';
import type { FakeGraph } from '../fakes/whatsapp.ts';
import { TINY_PNG } from '../fakes/images.ts';

const TOKEN = 'EAAGm0PX4ZCpsBAFakeAccessToken1234567890abcdef';
const APP_SECRET = 'f3a1c9e2b7d44e0a9c8b6d5e4f3a2b1c';
const VERIFY_TOKEN = 'vtn-verify-5b8f2c1e9d7a';
const PNID = '106540352242922';
const FROM = '5212291234567';
const NOW = new Date('2026-03-10T16:00:00Z');

interface Rig {
  adapter: ChannelAdapter;
  fake: FakeGraph;
  logs: string[];
  counts: Map<ChannelCounter, number>;
  media: ReturnType<typeof memoryMedia>;
  now: { at: Date };
  post(raw: unknown, opts?: { signature?: 'valid' | 'missing' | 'wrong' }): Promise<Received>;
  get(query: string): Promise<Received>;
  close(): Promise<void>;
}

async function startRig(config: Partial<Record<keyof WhatsappConfig, string>> = {}): Promise<Rig> {
  const fake = await startFakeGraph({ token: TOKEN });
  fake.addMedia('1098765432100001', TINY_PNG, 'image/jpeg');
  fake.addMedia('1098765432100002', Buffer.alloc(4096, 0x4f), 'audio/ogg');
  fake.addMedia('1098765432100003', Buffer.alloc(1024, 0x25), 'application/pdf');
  const logs: string[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      logs.push(c.toString());
      cb();
    },
  });
  const counts = new Map<ChannelCounter, number>();
  const media = memoryMedia();
  const now = { at: NOW };
  const adapter = whatsapp.create(
    whatsappConfig.parse({
      accessToken: TOKEN,
      phoneNumberId: PNID,
      appSecret: APP_SECRET,
      verifyToken: VERIFY_TOKEN,
      graphUrl: fake.baseUrl,
      ...config,
    }),
    {
      media,
      log: createLogger('debug', sink),
      now: () => now.at,
      dataDir: '/nonexistent',
      publicUrl: 'https://ventanilla.example.gob.mx',
      count: (name, n = 1) => counts.set(name, (counts.get(name) ?? 0) + n),
    },
  );
  const post: Rig['post'] = (raw, opts = {}) => {
    const body = Buffer.isBuffer(raw)
      ? raw
      : Buffer.from(typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? ''), 'utf8');
    const signature = opts.signature ?? 'valid';
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (signature !== 'missing')
      headers['x-hub-signature-256'] = signWebhook(
        body,
        signature === 'valid' ? APP_SECRET : 'not-the-secret',
      );
    return adapter.receive!({ method: 'POST', url: '/webhooks/whatsapp', headers, rawBody: body });
  };
  return {
    adapter,
    fake,
    logs,
    counts,
    media,
    now,
    post,
    get: (query) =>
      adapter.receive!({
        method: 'GET',
        url: `/webhooks/whatsapp?${query}`,
        headers: {},
        rawBody: Buffer.alloc(0),
      }),
    close: () => fake.close(),
  };
}

const eventsOf = (r: Received): Inbound[] => (r.kind === 'accepted' ? r.events : []);

channelContract({
  name: 'whatsapp',
  fixtures: 'test/fixtures/whatsapp/inbound',
  skip: [
    {
      reason: 'WhatsApp Cloud API is a push channel (replies go through the Graph API)',
      tests: ['in-response'],
    },
  ],
  async setup() {
    const rig = await startRig();
    return {
      adapter: rig.adapter,
      address: { channel: 'whatsapp', user: FROM },
      secrets: [TOKEN, APP_SECRET, VERIFY_TOKEN],
      sends: async () => {
        await new Promise((r) => setTimeout(r, 10));
        return rig.fake.sendRequests();
      },
      failNext(f) {
        rig.fake.respond(f === 'drop' ? { kind: 'drop' } : { kind: 'error', ...f });
      },
      receipt: () => ({
        raw: statusPayload(PNID, 'wamid.HBgNNTIxMjI5MTIzNDU2NxUCABEYEj000042', 'read', FROM),
        of: 'wamid.HBgNNTIxMjI5MTIzNDU2NxUCABEYEj000042',
      }),
      logs: () => rig.logs.join(''),
      async feed(raw, opts) {
        try {
          const r = await rig.post(raw, opts);
          return { events: eventsOf(r), status: r.ack.status };
        } catch (threw) {
          return { events: [], status: 500, threw };
        }
      },
      close: () => rig.close(),
    };
  },
});

describe('whatsapp specifics', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ fallbackTemplate: 'aviso_ventanilla' });
  });
  afterAll(async () => {
    await rig.close();
  });
  beforeEach(() => {
    rig.now.at = NOW;
  });
  const last = () => rig.fake.sent.at(-1)!;
  const sendsSince = async (before: number) => rig.fake.sent.slice(before);

  describe('webhook verification handshake', () => {
    it('answers the challenge as plain text when the verify token matches', async () => {
      const r = await rig.get(`hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`);
      expect(r.ack).toEqual({ status: 200, body: '1158201444', contentType: 'text/plain' });
      expect(eventsOf(r)).toEqual([]);
    });

    it('answers 403 (Meta convention) to a wrong verify token, 400 to a request that is no handshake', async () => {
      const wrong = await rig.get('hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444');
      expect(wrong).toMatchObject({ kind: 'rejected', reason: 'signature', ack: { status: 403 } });
      expect(wrong.ack.body).toBeUndefined();
      expect((await rig.get('')).ack.status).toBe(400);
      const xss = await rig.get(`hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=<script>`);
      expect(xss.ack.status).toBe(400);
    });
  });

  describe('inbound', () => {
    it('emits every message and status of a batched webhook, in order', async () => {
      const one = inboundMessage(PNID, FROM, messages.text('uno'), { id: 'wamid.batch1' });
      const two = inboundMessage(PNID, '5215512345678', messages.text('dos'), { id: 'wamid.batch2' });
      const status = statusPayload(PNID, 'wamid.out1', 'delivered', FROM);
      const entry = (p: Record<string, unknown>) => (p.entry as unknown[])[0] as { changes: unknown[] };
      const payload = {
        object: 'whatsapp_business_account',
        entry: [{ id: 'waba', changes: [...entry(one).changes, ...entry(status).changes] }, entry(two)],
      };
      const value = (entry(one).changes[0] as { value: { messages: unknown[] } }).value;
      value.messages.push({
        from: FROM,
        id: 'wamid.batch1b',
        timestamp: '1773158401',
        type: 'text',
        text: { body: 'tres' },
      });
      const r = await rig.post(payload);
      expect(r.ack.status).toBe(200);
      expect(eventsOf(r).map((e) => [e.kind, e.externalId])).toEqual([
        ['text', 'wamid.batch1'],
        ['text', 'wamid.batch1b'],
        ['receipt', 'wamid.out1:delivered'],
        ['text', 'wamid.batch2'],
      ]);
      expect(eventsOf(r)[3]).toMatchObject({
        address: { user: '5215512345678' },
        identity: { phone: '+525512345678' },
      });
    });

    it('keeps the wa_id as WhatsApp gives it for replies, and normalises the identity phone', async () => {
      const mx = eventsOf(await rig.post(inboundMessage(PNID, FROM, messages.text('hola'))))[0]!;
      expect(mx.address.user).toBe('5212291234567');
      expect(mx.identity).toEqual({ phone: '+522291234567' });
      // A 10-digit wa_id (e.g. Liberia +231 …) already carries its country code: no Mexican prefix is added.
      const short = eventsOf(await rig.post(inboundMessage(PNID, '2317712345', messages.text('hi'))))[0]!;
      expect(short.identity).toEqual({ phone: '+2317712345' });
    });

    it('downloads media with the bearer token and stores it through the media port', async () => {
      const before = rig.counts.get('media_downloaded') ?? 0;
      const calls = rig.fake.calls.length;
      const [e] = eventsOf(await rig.post(inboundMessage(PNID, FROM, messages.voice('1098765432100002'))));
      expect(e).toMatchObject({ kind: 'media', media: [{ mime: 'audio/ogg; codecs=opus', bytes: 4096 }] });
      const stored = await rig.media.read((e as Extract<Inbound, { kind: 'media' }>).media[0]!.mediaId);
      expect(stored?.bytes.equals(Buffer.alloc(4096, 0x4f))).toBe(true);
      expect(rig.counts.get('media_downloaded')).toBe(before + 1);
      const used = rig.fake.calls.slice(calls);
      expect(used.map((c) => c.path.split('?')[0])).toEqual([
        '/v21.0/1098765432100002',
        '/download/1098765432100002',
      ]);
      for (const c of used) expect(c.headers.authorization).toBe(`Bearer ${TOKEN}`);
    });

    it('asks Meta to redeliver (503) when the media lookup fails transiently; ignores media that is gone', async () => {
      rig.fake.respondMedia({ kind: 'error', status: 500, code: 2 });
      const payload = inboundMessage(PNID, FROM, messages.image('1098765432100001'), {
        id: 'wamid.photo-retry',
      });
      const first = await rig.post(payload);
      expect(first).toMatchObject({ kind: 'rejected', reason: 'retry', ack: { status: 503 } });
      const again = eventsOf(await rig.post(payload));
      expect(again).toHaveLength(1);
      const gone = await rig.post(inboundMessage(PNID, FROM, messages.image('999000111')));
      expect(gone).toMatchObject({ kind: 'rejected', reason: 'ignored', ack: { status: 200 } });
    });

    it('ignores reactions, stickers, unsupported messages, other numbers and other webhook fields', async () => {
      for (const m of [
        { type: 'reaction', reaction: { message_id: 'wamid.out1', emoji: '👍' } },
        { type: 'sticker', sticker: { id: '1098765432100001', mime_type: 'image/webp', animated: false } },
        { type: 'unsupported', errors: [{ code: 131051, title: 'Message type unknown' }] },
        {
          type: 'contacts',
          contacts: [{ name: { formatted_name: 'X' }, phones: [{ wa_id: '5215500000000' }] }],
        },
      ]) {
        const r = await rig.post(inboundMessage(PNID, FROM, m));
        expect(r, m.type).toMatchObject({ kind: 'rejected', reason: 'ignored', ack: { status: 200 } });
      }
      const other = await rig.post(inboundMessage('999999999999999', FROM, messages.text('hola')));
      expect(other).toMatchObject({ kind: 'rejected', reason: 'ignored' });
      const template = {
        object: 'whatsapp_business_account',
        entry: [
          { id: 'w', changes: [{ field: 'message_template_status_update', value: { event: 'APPROVED' } }] },
        ],
      };
      expect(await rig.post(template)).toMatchObject({ kind: 'rejected', reason: 'ignored' });
    });

    it('acknowledges malformed payloads with 200 so Meta does not retry them for days', async () => {
      expect(await rig.post('{"object":')).toMatchObject({
        kind: 'rejected',
        reason: 'malformed',
        ack: { status: 200 },
      });
      const broken = webhookPayload(PNID, { messages: [{ from: FROM, type: 'text' }] });
      expect(await rig.post(broken)).toMatchObject({
        kind: 'rejected',
        reason: 'malformed',
        ack: { status: 200 },
      });
    });
  });

  describe('sending', () => {
    const to = { channel: 'whatsapp', user: FROM };
    const ctx = (lastInboundAt?: Date) => ({
      idempotencyKey: `out:${Math.random()}`,
      ...(lastInboundAt ? { lastInboundAt } : {}),
    });
    const recent = () => new Date(NOW.getTime() - 60 * 60 * 1000);

    it('sends text without link previews and returns the wamid', async () => {
      const d = await rig.adapter.send(to, { kind: 'text', text: 'Hola' }, ctx(recent()));
      expect(last().body).toEqual({
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        to: FROM,
        type: 'text',
        text: { preview_url: false, body: 'Hola' },
      });
      expect(d.externalId).toBe(last().id);
    });

    it('sends up to 3 choices as reply buttons, titles cut to 20 characters, ids kept', async () => {
      await rig.adapter.send(
        to,
        {
          kind: 'choices',
          text: '¿Confirmas tu reporte?',
          choices: [
            { id: 'confirm:yes', label: 'Sí, enviar el reporte ahora mismo' },
            { id: 'confirm:no', label: 'No' },
            { id: 'confirm:edit', label: 'Sí, enviar el reporte más tarde' },
          ],
        },
        ctx(recent()),
      );
      expect(last().type).toBe('interactive');
      const buttons = choicesOf(last());
      expect(buttons.map((b) => b.id)).toEqual(['confirm:yes', 'confirm:no', 'confirm:edit']);
      for (const b of buttons) expect(b.title.length).toBeLessThanOrEqual(20);
      expect(new Set(buttons.map((b) => b.title)).size).toBe(3);
      expect(buttons[0]!.title).toMatch(/^Sí, enviar el.*…$/);
    });

    it('sends 4–10 choices as a list (row titles ≤ 24, the full label underneath)', async () => {
      const choices = Array.from({ length: 7 }, (_, i) => ({
        id: `category:${i}`,
        label: i === 0 ? 'Alumbrado público y semáforos descompuestos' : `Categoría ${i}`,
      }));
      await rig.adapter.send(to, { kind: 'choices', text: '¿Qué quieres reportar?', choices }, ctx(recent()));
      const body = last().body as {
        interactive: {
          type: string;
          action: { button: string; sections: { rows: { title: string; description?: string }[] }[] };
        };
      };
      expect(body.interactive.type).toBe('list');
      expect(body.interactive.action.button).toBe('Ver opciones');
      const rows = body.interactive.action.sections[0]!.rows;
      expect(rows).toHaveLength(7);
      expect(rows[0]!.title.length).toBeLessThanOrEqual(24);
      expect(rows[0]!.description).toBe('Alumbrado público y semáforos descompuestos');
      expect(rows[1]).toEqual({ id: 'category:1', title: 'Categoría 1' });
    });

    it('degrades more than 10 choices to one numbered text message', async () => {
      const before = rig.fake.sent.length;
      const choices = Array.from({ length: 12 }, (_, i) => ({ id: `c${i}`, label: `Opción ${i + 1}` }));
      await rig.adapter.send(to, { kind: 'choices', text: '¿Cuál?', choices }, ctx(recent()));
      const sent = await sendsSince(before);
      expect(sent.map((m) => m.type)).toEqual(['text']);
      expect((sent[0]!.body as { text: { body: string } }).text.body).toMatch(
        /^¿Cuál\?\n1\. Opción 1\n[\s\S]*12\. Opción 12$/,
      );
    });

    it('puts a body longer than 1024 characters in a text message before the buttons', async () => {
      const before = rig.fake.sent.length;
      const text = `${'Información importante. '.repeat(60)}¿Continuamos?`;
      await rig.adapter.send(
        to,
        {
          kind: 'choices',
          text,
          choices: [
            { id: 'yes', label: 'Sí' },
            { id: 'no', label: 'No' },
          ],
        },
        ctx(recent()),
      );
      expect((await sendsSince(before)).map((m) => m.type)).toEqual(['text', 'interactive']);
    });

    it('sends media by link: image with caption, audio with its caption apart, documents with a file name', async () => {
      const before = rig.fake.sent.length;
      await rig.adapter.send(
        to,
        { kind: 'media', url: 'https://cdn.example.gob.mx/m/1.jpg', mime: 'image/jpeg', caption: 'Foto' },
        ctx(recent()),
      );
      await rig.adapter.send(
        to,
        { kind: 'media', url: '/media/aviso.ogg', mime: 'audio/ogg', caption: 'Escucha' },
        ctx(recent()),
      );
      await rig.adapter.send(
        to,
        { kind: 'media', url: 'https://cdn.example.gob.mx/d/acuse%20123.pdf', mime: 'application/pdf' },
        ctx(recent()),
      );
      const sent = (await sendsSince(before)).map((m) => m.body);
      expect(sent[0]).toMatchObject({
        type: 'image',
        image: { link: 'https://cdn.example.gob.mx/m/1.jpg', caption: 'Foto' },
      });
      expect(sent[1]).toMatchObject({ type: 'text', text: { body: 'Escucha' } });
      expect(sent[2]).toMatchObject({
        type: 'audio',
        audio: { link: 'https://ventanilla.example.gob.mx/media/aviso.ogg' },
      });
      expect(sent[3]).toMatchObject({ type: 'document', document: { filename: 'acuse 123.pdf' } });
    });

    it('sends templates with the configured language and clean body parameters, and counts them', async () => {
      const before = rig.counts.get('templates_sent') ?? 0;
      await rig.adapter.send(
        to,
        {
          kind: 'template',
          template: 'estado_reporte',
          params: ['VER-2026-000001', 'Programado:\n\tla cuadrilla      irá'],
          fallbackText: 'x',
        },
        ctx(),
      );
      expect(last().body).toMatchObject({
        type: 'template',
        template: {
          name: 'estado_reporte',
          language: { code: 'es_MX' },
          components: [
            {
              type: 'body',
              parameters: [
                { type: 'text', text: 'VER-2026-000001' },
                { type: 'text', text: 'Programado: la cuadrilla irá' },
              ],
            },
          ],
        },
      });
      expect(rig.counts.get('templates_sent')).toBe(before + 1);
    });
  });

  describe('24-hour customer-service window', () => {
    const to = { channel: 'whatsapp', user: FROM };
    const old = () => new Date(NOW.getTime() - 25 * 60 * 60 * 1000);

    it('turns a free-form message outside the window into the fallback template', async () => {
      const before = rig.counts.get('templates_sent') ?? 0;
      const text = `Tu reporte VER-2026-000001 cambió a "Atendido".\n\n${'Gracias por avisarnos. '.repeat(60)}`;
      const d = await rig.adapter.send(
        to,
        { kind: 'text', text },
        { idempotencyKey: 'out:w1', lastInboundAt: old() },
      );
      const body = last().body as {
        type: string;
        template: { name: string; components: { parameters: { text: string }[] }[] };
      };
      expect(body.type).toBe('template');
      expect(body.template.name).toBe('aviso_ventanilla');
      const param = body.template.components[0]!.parameters[0]!.text;
      expect(param).toMatch(/^Tu reporte VER-2026-000001 cambió a "Atendido"\. Gracias/);
      expect(param.length).toBeLessThanOrEqual(900);
      expect(param).not.toMatch(/\n/);
      expect(d.externalId).toBe(last().id);
      expect(rig.counts.get('templates_sent')).toBe(before + 1);
    });

    it('renders choices as numbered text inside the template', async () => {
      await rig.adapter.send(
        to,
        {
          kind: 'choices',
          text: '¿Se resolvió?',
          choices: [
            { id: 'y', label: 'Sí' },
            { id: 'n', label: 'No' },
          ],
        },
        { idempotencyKey: 'out:w2', lastInboundAt: old() },
      );
      expect(JSON.stringify(last().body)).toContain('¿Se resolvió? 1. Sí 2. No');
    });

    it('sends free-form inside the window, and with an unknown last inbound unless strict', async () => {
      await rig.adapter.send(
        to,
        { kind: 'text', text: 'dentro' },
        {
          idempotencyKey: 'out:w3',
          lastInboundAt: new Date(NOW.getTime() - 23 * 60 * 60 * 1000),
        },
      );
      expect(last().type).toBe('text');
      await rig.adapter.send(to, { kind: 'text', text: 'desconocido' }, { idempotencyKey: 'out:w4' });
      expect(last().type).toBe('text');
      const strict = await startRig({ strictWindow: 'true', fallbackTemplate: 'aviso_ventanilla' });
      await strict.adapter.send(to, { kind: 'text', text: 'desconocido' }, { idempotencyKey: 'out:w5' });
      expect(strict.fake.sent.at(-1)!.type).toBe('template');
      await strict.close();
    });

    it('falls back to the template when Meta answers 131047 (re-engagement required)', async () => {
      rig.fake.respond({
        kind: 'error',
        status: 400,
        code: 131047,
        message: '(#131047) Re-engagement message',
      });
      await rig.adapter.send(to, { kind: 'text', text: 'hola' }, { idempotencyKey: 'out:w6' });
      expect(last().type).toBe('template');
    });

    it('without a fallback template fails with CHANNEL_WINDOW_CLOSED (not retryable), never silently', async () => {
      const bare = await startRig();
      const err = await bare.adapter
        .send(to, { kind: 'text', text: 'hola' }, { idempotencyKey: 'out:w7', lastInboundAt: old() })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ChannelError);
      expect(err).toMatchObject({ code: 'CHANNEL_WINDOW_CLOSED', retryable: false });
      expect(bare.fake.sendRequests()).toBe(0);
      bare.fake.respond({ kind: 'error', status: 400, code: 131047, message: 'Re-engagement message' });
      await expect(
        bare.adapter.send(to, { kind: 'text', text: 'hola' }, { idempotencyKey: 'out:w8' }),
      ).rejects.toMatchObject({
        code: 'CHANNEL_WINDOW_CLOSED',
        retryable: false,
      });
      await bare.close();
    });
  });

  describe('Graph API errors', () => {
    const to = { channel: 'whatsapp', user: FROM };
    const attempt = async () =>
      rig.adapter.send(to, { kind: 'text', text: 'x' }, { idempotencyKey: 'out:e', lastInboundAt: NOW }).then(
        () => undefined,
        (e: unknown) => e as ChannelError,
      );

    it.each([4, 80007, 130429, 131056])(
      'maps rate-limit code %i (HTTP 400) to a retryable CHANNEL_RATE_LIMITED',
      async (code) => {
        rig.fake.respond({ kind: 'error', status: 400, code, message: 'Rate limit hit' });
        expect(await attempt()).toMatchObject({ code: 'CHANNEL_RATE_LIMITED', retryable: true });
      },
    );

    it('maps other 4xx to CHANNEL_REJECTED and scrubs the token from provider text', async () => {
      rig.fake.respond({ kind: 'error', status: 400, code: 100, message: `Invalid parameter near ${TOKEN}` });
      const err = await attempt();
      expect(err).toMatchObject({ code: 'CHANNEL_REJECTED', retryable: false });
      expect(err!.message).toContain('code 100');
      expect(err!.message).not.toContain(TOKEN);
      expect(rig.logs.join('')).not.toContain(TOKEN);
    });

    it('maps an expired token (401, code 190) to CHANNEL_REJECTED', async () => {
      rig.fake.respond({ kind: 'error', status: 401, code: 190, message: 'Error validating access token' });
      expect(await attempt()).toMatchObject({ code: 'CHANNEL_REJECTED', retryable: false, status: 401 });
    });
  });

  it('maps a failed status to a receipt carrying the Graph error', async () => {
    const r = await rig.post(
      statusPayload(PNID, 'wamid.out9', 'failed', FROM, { code: 131026, title: 'Message undeliverable' }),
    );
    expect(eventsOf(r)[0]).toMatchObject({
      kind: 'receipt',
      of: 'wamid.out9',
      status: 'failed',
      error: '131026 Message undeliverable',
    });
  });
});
