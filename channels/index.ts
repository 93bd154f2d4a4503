/**
 * The channel registry. Open a PR to add another channel: add its literal to `ChannelName` in `contract.ts`,
 * write `channels/<name>.ts`, and add one line here.
 *
 * Only channels that exist are listed; the `satisfies` keeps every key a real `ChannelName` and every value a
 * definition of that same name.
 */
import type { ChannelName } from './contract.ts';
import { botframework } from './botframework.ts';
import { email } from './email.ts';
import { telegram } from './telegram.ts';
import { twilioSms } from './twilio-sms.ts';
import { webchat } from './webchat.ts';
import { whatsapp } from './whatsapp.ts';
import { whatsappWeb } from './whatsapp-web.ts';

export const channels = {
  botframework,
  email,
  telegram,
  'twilio-sms': twilioSms,
  webchat,
  whatsapp,
  'whatsapp-web': whatsappWeb,
} satisfies { [K in ChannelName]?: { name: K } };

export { webchat, webchatConfig, outboundDto } from './webchat.ts';
export type { ChatMessageDto, WebchatAdapter, WebchatConfig, ClientMessage, SendAck } from './webchat.ts';
export { inboundId, degrade, withDegradation, defineChannel } from './kit/index.ts';
export type { ChannelLogger } from './kit/index.ts';
