/** Voice notes: transcribed through the OpenAI-compatible transcriber into a normal turn, or a kind request to write. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inbound } from '../../channels/contract.ts';
import { inboundId } from '../../channels/kit/ids.ts';
import { startFakeProvider } from '../fakes/http-provider.ts';
import type { FakeProvider } from '../fakes/http-provider.ts';
import { createLoopbackChannel } from '../fakes/loopback-channel.ts';
import { startFakeOpenAi } from '../fakes/openai.ts';
import type { FakeOpenAi } from '../fakes/openai.ts';
import { startTestApp } from '../helpers/app.ts';
import type { TestApp } from '../helpers/app.ts';

describe('voice notes', () => {
  let t: TestApp;
  let provider: FakeProvider;
  let whisper: FakeOpenAi;
  let n = 0;

  beforeAll(async () => {
    provider = await startFakeProvider();
    whisper = await startFakeOpenAi();
    const channel = createLoopbackChannel(provider.baseUrl);
    t = await startTestApp(
      {
        TRANSCRIBE_BASE_URL: whisper.baseUrl,
        TRANSCRIBE_API_KEY: 'sk-secret-transcribe',
        CALL_CENTRE_PHONE: '070',
      },
      { extraChannels: [channel] },
    );
  });
  afterAll(async () => {
    await t.close();
    await whisper.close();
    await provider.close();
  });

  async function voiceNote(user: string): Promise<Inbound> {
    const saved = await t.app.media.save({ bytes: Buffer.from('OggS fake opus bytes'), mime: 'audio/ogg' });
    const externalId = `voice-${++n}`;
    return {
      id: inboundId('loopback', externalId),
      externalId,
      address: { channel: 'loopback', user },
      at: new Date().toISOString(),
      kind: 'media',
      media: [{ mediaId: saved.id, mime: 'audio/ogg; codecs=opus', bytes: saved.bytes }],
      raw: {},
    };
  }

  const repliesTo = async (user: string) => {
    await new Promise((r) => setTimeout(r, 100));
    return provider.calls
      .filter((c) => (c.body as { to?: string }).to === user)
      .map((c) => JSON.stringify((c.body as { outbound: unknown }).outbound));
  };

  it('turns a transcribed voice note into an ordinary turn', async () => {
    whisper.transcribe('oiga hay un bache enorme en la calle 5 de mayo esquina hidalgo colonia centro');
    const out = await t.app.runtime.handle(await voiceNote('v1'));
    expect(out.status).toBe('handled');
    if (out.status !== 'handled') return;
    expect(out.trace.nlu?.intent).toBe('file_complaint');
    expect(out.trace.activeForm).toBe('file_complaint');
    const call = whisper.transcriptions.at(-1)!;
    expect(call.contentType).toMatch(/^multipart\/form-data/);
    expect(call.body).toContain('name="language"\r\n\r\nes');
    expect(call.body).toContain('whisper-1');
    const conv = await t.app.store.findConversation('loopback', 'v1');
    const stored = await t.app.store.listMessages(conv!.id);
    expect(stored[0]?.text).toContain('bache enorme');
  });

  it('asks kindly to write (or call) when the transcriber fails, and keeps the form', async () => {
    whisper.transcribe('quiero reportar un bache en la calle hidalgo colonia centro');
    await t.app.runtime.handle(await voiceNote('v2'));
    whisper.transcribe({ status: 503 });
    const out = await t.app.runtime.handle(await voiceNote('v2'));
    expect(out.status).toBe('handled');
    const replies = await repliesTo('v2');
    expect(replies.at(-1)).toContain('notas de voz');
    expect(replies.at(-1)).toContain('070');
    const conv = await t.app.store.findConversation('loopback', 'v2');
    expect(JSON.stringify(conv?.state)).toContain('file-complaint');
    expect(t.logs.join('')).not.toContain('sk-secret-transcribe');
    expect(t.logs.join('')).toContain('voice note not transcribed');
  });
});
