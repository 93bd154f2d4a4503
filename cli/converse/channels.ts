/**
 * The provider channels the runner drives through their real inbound paths: each one's adapter is pointed at a
 * loopback fake of its provider (the fakes under `test/fakes/`, which are the runner's loopback providers, not test
 * code it copies), citizens' inputs are delivered the provider's way (signed webhooks, or SMTP for e-mail) and
 * replies are read where the provider would receive them, rendered as the citizen sees them on that channel.
 *
 * Script channels: `whatsapp` (Cloud API), `telegram` (webhook mode with a secret), `sms` (`twilio-sms`) and
 * `email` (the adapter's SMTP listener; replies to an SMTP sink). A `speech` input on WhatsApp and Telegram is a
 * voice note whose transcript the runner hands to a fake OpenAI-compatible transcriber; on SMS and e-mail it is
 * typed text. A `location` input is a shared pin on WhatsApp and Telegram; SMS and e-mail have no pins, so the
 * coordinates are typed.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Address } from '../../channels/contract.ts';
import { normalizePhone } from '../../channels/kit/index.ts';
import { startFakeOpenAi } from '../../test/fakes/openai.ts';
import type { FakeOpenAi } from '../../test/fakes/openai.ts';
import { compose, smtpClient, startSmtpSink } from '../../test/fakes/smtp-sink.ts';
import type { SinkMessage, SmtpSink } from '../../test/fakes/smtp-sink.ts';
import { deliverUpdate, startFakeTelegram, TelegramChat } from '../../test/fakes/telegram.ts';
import type { FakeTelegram, TelegramCall } from '../../test/fakes/telegram.ts';
import { incomingSms, signedWebhook, startFakeTwilio } from '../../test/fakes/twilio-sms.ts';
import type { FakeSms, FakeTwilio } from '../../test/fakes/twilio-sms.ts';
import { inboundMessage, messages, partsOf, postWebhook, startFakeGraph } from '../../test/fakes/whatsapp.ts';
import type { FakeGraph, SentMessage } from '../../test/fakes/whatsapp.ts';

/** One citizen input as a provider carries it. */
export type ProviderInput =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'location'; readonly lat: number; readonly lon: number }
  | { readonly kind: 'voice'; readonly transcript: string };

/** Where the runner reaches the running product. */
export interface ProductEndpoints {
  /** The product's base URL (webhooks are posted to `<url>/webhooks/<channel>`). */
  readonly url: string;
  /** `PUBLIC_URL` as the product sees it (Twilio signs webhooks for the public URL). */
  readonly publicUrl: string;
  /** The e-mail adapter's SMTP listener port, if it is listening. */
  readonly smtpPort: number | null;
}

/** One provider channel as the runner drives it. */
export interface ChannelDriver {
  /** The product's channel name (`twilio-sms` for the script channel `sms`). */
  readonly channel: string;
  /** Whether citizens send voice notes here (a `speech` input is one, transcribed by the fake transcriber). */
  readonly voiceNotes: boolean;
  /** The conversation address (and the identity the adapter reports) of a script's `channel_id`. */
  addressOf(channelId: string): { address: Address; identity?: { phone?: string; email?: string } };
  /** Messages recorded at the fake so far: a mark to read a turn's replies from. */
  mark(): number;
  /** Deliver one input from `channelId` as the provider does; resolves once the provider got the product's ack. */
  deliver(channelId: string, input: ProviderInput, at: Date, locale: string): Promise<void>;
  /** What `channelId` received since `mark`, one string per message, as the citizen sees it. */
  received(channelId: string, since: number): string[];
}

/** The loopback providers of one runner. */
export interface Providers {
  /** Variables pointing every driven channel (and the transcriber) at its fake, with throwaway secrets. */
  readonly env: Readonly<Record<string, string>>;
  /** Drivers by script channel name. */
  readonly drivers: ReadonlyMap<string, ChannelDriver>;
  /** Tell the drivers where the product listens (after it started). */
  attach(endpoints: ProductEndpoints): void;
  /** Forget every recorded call (per script). */
  reset(): void;
  /** Hand a voice note's transcript to the fake transcriber (before the note is delivered). */
  willTranscribe(transcript: string): void;
  /** Throw away transcripts the product did not ask for (after a turn), so the next note gets its own. */
  settleTranscripts(): Promise<void>;
  /** Close the citizens' side (the sending MTA's open SMTP connection), before the product stops. */
  hangUp(): void;
  /** Stop the fakes. */
  close(): Promise<void>;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
/** A few bytes that look like an Ogg/Opus voice note (the fake transcriber never listens). */
const VOICE_NOTE = Buffer.concat([Buffer.from('OggS\0\x02'), Buffer.alloc(2048, 0x4f)]);
const E164 = /^\+[1-9]\d{7,14}$/;
const EMAIL = z.email();

/** Choices as the citizen sees them: one bracketed label each, after the text (as web chat renders them). */
const withLabels = (text: string | undefined, labels: readonly string[]) =>
  [text ?? '', labels.map((l) => `[${l}]`).join(' ')].filter(Boolean).join('\n');

function phoneOf(channel: string, channelId: string): string {
  if (!E164.test(channelId))
    throw new Error(`citizen channel_id "${channelId}" is not an E.164 phone (+52…), as ${channel} needs`);
  return channelId;
}

/** A WhatsApp message as the citizen sees it: text, interactive body with its buttons or list rows, template. */
function renderWhatsapp(m: SentMessage): string {
  const { text, labels, template, link } = partsOf(m);
  if (template) return template.params.join('\n');
  return link ?? withLabels(text, labels);
}

type Keyboard = {
  inline_keyboard?: { text: string }[][];
  keyboard?: { text: string }[][];
};

/** A Telegram message as the citizen sees it: text or caption, then its inline or reply-keyboard buttons. */
function renderTelegram(c: TelegramCall): string {
  const markup = c.body.reply_markup as Keyboard | undefined;
  const labels = [...(markup?.inline_keyboard ?? []), ...(markup?.keyboard ?? [])].flat().map((b) => b.text);
  const text = typeof c.body.text === 'string' ? c.body.text : (c.body.caption as string | undefined);
  return withLabels(text, labels);
}

/** Start every loopback provider (and the transcriber) on 127.0.0.1. */
export async function startProviders(): Promise<Providers> {
  const started: { close(): Promise<void> }[] = [];
  try {
    const whisper: FakeOpenAi = await startFakeOpenAi();
    started.push(whisper);
    const graphToken = `EAAG${hex(24)}`;
    const graph: FakeGraph = await startFakeGraph({ token: graphToken });
    started.push(graph);
    const telegramToken = `${100_000_000 + (randomBytes(3).readUIntBE(0, 3) % 900_000_000)}:AA${randomBytes(27).toString('base64url')}`;
    const telegram: FakeTelegram = await startFakeTelegram(telegramToken);
    started.push(telegram);
    const twilio: FakeTwilio = await startFakeTwilio({ accountSid: `AC${hex(16)}`, authToken: hex(16) });
    started.push(twilio);
    const sink: SmtpSink = await startSmtpSink({ user: 'ventanilla', password: hex(12) });
    started.push(sink);

    const wa = { phoneNumberId: '100000000000001', appSecret: hex(16), verifyToken: hex(8) };
    const telegramSecret = randomBytes(24).toString('base64url');
    const smsNumber = '+522290000000';
    const inbox = 'atencion@ventanilla.test';
    const env: Record<string, string> = {
      WHATSAPP_ACCESS_TOKEN: graphToken,
      WHATSAPP_PHONE_NUMBER_ID: wa.phoneNumberId,
      WHATSAPP_APP_SECRET: wa.appSecret,
      WHATSAPP_VERIFY_TOKEN: wa.verifyToken,
      WHATSAPP_GRAPH_URL: graph.baseUrl,
      WHATSAPP_FALLBACK_TEMPLATE: 'aviso_ventanilla',
      TELEGRAM_BOT_TOKEN: telegramToken,
      TELEGRAM_WEBHOOK_SECRET: telegramSecret,
      TELEGRAM_API_ROOT: telegram.baseUrl,
      TWILIO_ACCOUNT_SID: twilio.accountSid,
      TWILIO_AUTH_TOKEN: twilio.authToken,
      TWILIO_SMS_FROM: smsNumber,
      TWILIO_API_URL: twilio.baseUrl,
      EMAIL_ADDRESS: inbox,
      EMAIL_FROM: `Ventanilla <${inbox}>`,
      EMAIL_SMTP_OUT_URL: sink.url,
      EMAIL_SMTP_HOST: '127.0.0.1',
      EMAIL_SMTP_PORT: '0',
      TRANSCRIBE_BASE_URL: whisper.baseUrl,
      TRANSCRIBE_API_KEY: `sk-converse-${hex(8)}`,
    };

    let endpoints: ProductEndpoints | undefined;
    const product = (): ProductEndpoints => {
      if (!endpoints) throw new Error('the product is not listening yet');
      return endpoints;
    };
    let mta: ReturnType<typeof smtpClient> | undefined;
    /** Transcripts handed to the fake transcriber in this script. */
    let expected = 0;

    const whatsapp: ChannelDriver = {
      channel: 'whatsapp',
      voiceNotes: true,
      addressOf(channelId) {
        // WhatsApp's `from` (and so the address) is the wa_id: the phone without `+`.
        const from = phoneOf('whatsapp', channelId).slice(1);
        const phone = normalizePhone(from);
        return { address: { channel: 'whatsapp', user: from }, ...(phone ? { identity: { phone } } : {}) };
      },
      mark: () => graph.sent.length,
      async deliver(channelId, input, at) {
        const from = phoneOf('whatsapp', channelId).slice(1);
        let message: Record<string, unknown> & { type: string };
        if (input.kind === 'text') message = messages.text(input.text);
        else if (input.kind === 'location') message = messages.location(input.lat, input.lon);
        else {
          const mediaId = String(Date.now()) + String(randomBytes(3).readUIntBE(0, 3));
          graph.addMedia(mediaId, VOICE_NOTE, 'audio/ogg');
          message = messages.voice(mediaId);
        }
        const res = await postWebhook(
          `${product().url}/webhooks/whatsapp`,
          inboundMessage(wa.phoneNumberId, from, message, { at }),
          wa.appSecret,
        );
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`the WhatsApp webhook answered ${res.status}`);
      },
      received(channelId, since) {
        const to = channelId.replace(/^\+/, '');
        return graph.sent
          .slice(since)
          .filter((m) => m.to === to)
          .map(renderWhatsapp);
      },
    };

    const chatId = (channelId: string) => {
      if (!/^\d{1,15}$/.test(channelId))
        throw new Error(
          `citizen channel_id "${channelId}" is not a Telegram chat id (digits), as telegram needs`,
        );
      return channelId;
    };
    /** One update builder per chat and app language, kept for the run (it numbers updates and messages). */
    const chats = new Map<string, TelegramChat>();
    const chatOf = (channelId: string, locale: string) => {
      const languageCode = locale.slice(0, 2);
      const key = `${chatId(channelId)}:${languageCode}`;
      let chat = chats.get(key);
      if (!chat) {
        chat = new TelegramChat(Number(channelId), { languageCode });
        chats.set(key, chat);
      }
      return chat;
    };
    const telegramDriver: ChannelDriver = {
      channel: 'telegram',
      voiceNotes: true,
      addressOf(channelId) {
        return { address: { channel: 'telegram', user: chatId(channelId) } };
      },
      mark: () => telegram.calls.length,
      async deliver(channelId, input, at, locale) {
        const chat = chatOf(channelId, locale);
        const date = Math.floor(at.getTime() / 1000);
        let content: Record<string, unknown>;
        if (input.kind === 'text') content = { text: input.text };
        else if (input.kind === 'location')
          content = { location: { latitude: input.lat, longitude: input.lon } };
        else {
          const fileId = `voice-${randomUUID()}`;
          telegram.addFile(fileId, VOICE_NOTE, `voice/${fileId}.oga`);
          content = {
            voice: {
              file_id: fileId,
              file_unique_id: fileId.slice(0, 20),
              duration: 4,
              mime_type: 'audio/ogg',
              file_size: VOICE_NOTE.length,
            },
          };
        }
        const status = await deliverUpdate(
          `${product().url}/webhooks/telegram`,
          chat.message({ ...content, date }),
          telegramSecret,
        );
        if (status !== 200) throw new Error(`the Telegram webhook answered ${status}`);
      },
      received(channelId, since) {
        return telegram.calls
          .slice(since)
          .filter((c) => /^send(Message|Photo|Audio|Voice|Document)$/.test(c.method))
          .filter((c) => String(c.body.chat_id) === channelId)
          .map(renderTelegram);
      },
    };

    const sms: ChannelDriver = {
      channel: 'twilio-sms',
      voiceNotes: false,
      addressOf(channelId) {
        const phone = normalizePhone(phoneOf('sms', channelId));
        return {
          address: { channel: 'twilio-sms', user: channelId },
          ...(phone ? { identity: { phone } } : {}),
        };
      },
      mark: () => twilio.sent.length,
      async deliver(channelId, input) {
        const from = phoneOf('sms', channelId);
        // SMS carries only text: a pin becomes its typed coordinates, a voice note what was said.
        const body =
          input.kind === 'text'
            ? input.text
            : input.kind === 'voice'
              ? input.transcript
              : `${input.lat}, ${input.lon}`;
        const params = incomingSms({ accountSid: twilio.accountSid, from, to: smsNumber, body });
        const publicBase = product().publicUrl.replace(/\/+$/, '');
        const { body: form, headers } = signedWebhook(
          twilio.authToken,
          `${publicBase}/webhooks/twilio-sms`,
          params,
        );
        const res = await fetch(`${product().url}/webhooks/twilio-sms`, {
          method: 'POST',
          headers,
          body: form,
        });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`the Twilio SMS webhook answered ${res.status}`);
      },
      received(channelId, since) {
        return twilio.sent
          .slice(since)
          .filter((m: FakeSms) => m.to === channelId)
          .map((m) => m.body);
      },
    };

    /** Per citizen address: the thread's root message id and subject, as the citizen's mail client keeps them. */
    const threads = new Map<string, { root: string; subject: string }>();
    const emailOf = (channelId: string) => {
      const address = channelId.trim().toLowerCase();
      if (!EMAIL.safeParse(address).success)
        throw new Error(`citizen channel_id "${channelId}" is not an e-mail address, as email needs`);
      return address;
    };
    const mailTo = (address: string, since: number): SinkMessage[] =>
      sink.messages.slice(since).filter((m) => m.envelope.to.map((t) => t.toLowerCase()).includes(address));
    const email: ChannelDriver = {
      channel: 'email',
      voiceNotes: false,
      addressOf(channelId) {
        const address = emailOf(channelId);
        return { address: { channel: 'email', user: address }, identity: { email: address } };
      },
      mark: () => sink.messages.length,
      async deliver(channelId, input, at) {
        const from = emailOf(channelId);
        const port = product().smtpPort;
        if (port === null) throw new Error('the e-mail adapter is not listening for SMTP');
        mta ??= smtpClient(port);
        const text =
          input.kind === 'text'
            ? input.text
            : input.kind === 'voice'
              ? input.transcript
              : `${input.lat}, ${input.lon}`;
        const local = from.split('@')[0]!.replace(/[^\w.-]/g, '') || 'vecino';
        const thread = threads.get(from);
        const messageId = `<${local}-${randomUUID()}@mail.converse.test>`;
        // The last message of ours in this thread is what the citizen answers (threads end with each script).
        const last = thread ? mailTo(from, 0).at(-1)?.mail.messageId : undefined;
        // A new thread's subject is the start of what the citizen writes (the adapter then does not repeat it).
        const subject = thread
          ? `Re: ${thread.subject}`
          : (/^[^\n]{0,60}(?=\s|$)/.exec(text.trim())?.[0] ?? '').trim() || text.trim().slice(0, 60);
        const raw = await compose({
          from: { name: 'Ciudadana Prueba', address: from },
          to: inbox,
          subject,
          messageId,
          date: at,
          ...(thread && last ? { inReplyTo: last, references: [thread.root, last] } : {}),
          text,
        });
        if (!thread) threads.set(from, { root: messageId, subject });
        const r = await mta.send(raw, { from, to: [inbox] });
        if (r.code !== 250) throw new Error(`the e-mail listener answered ${r.code} ${r.response}`);
      },
      received(channelId, since) {
        return mailTo(emailOf(channelId), since).map((m) => (m.mail.text ?? '').trimEnd());
      },
    };

    return {
      env,
      drivers: new Map<string, ChannelDriver>([
        ['whatsapp', whatsapp],
        ['telegram', telegramDriver],
        ['sms', sms],
        ['email', email],
      ]),
      attach(e) {
        endpoints = e;
      },
      reset() {
        graph.calls.splice(0);
        graph.sent.splice(0);
        telegram.calls.splice(0);
        twilio.sent.splice(0);
        twilio.requests.splice(0);
        sink.messages.splice(0);
        sink.attempts = 0;
        whisper.calls.splice(0);
        whisper.transcriptions.splice(0);
        expected = 0;
        threads.clear();
      },
      willTranscribe(transcript) {
        whisper.transcribe(transcript);
        expected++;
      },
      async settleTranscripts() {
        // Each voice note takes the next scripted transcript; one the product did not ask for (the note was not
        // transcribed) is taken here, so it can never answer a later note.
        while (whisper.transcriptions.length < expected) {
          const res = await fetch(`${whisper.baseUrl}/audio/transcriptions`, {
            method: 'POST',
            headers: { 'content-type': 'multipart/form-data; boundary=converse' },
            body: '--converse--\r\n',
          });
          await res.arrayBuffer();
        }
      },
      hangUp() {
        // The product's SMTP listener waits for open connections when it stops.
        mta?.close();
        mta = undefined;
      },
      async close() {
        mta?.close();
        await Promise.allSettled(started.map((s) => s.close()));
      },
    };
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.close()));
    throw err;
  }
}
