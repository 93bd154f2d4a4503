/**
 * Type tests (checked by `npm run typecheck`): switches over Inbound/Outbound kinds must be exhaustive, and the
 * channel registry only holds real channel names.
 */
import type { ChannelName, Inbound, Outbound } from '../../channels/contract.ts';
import { channels } from '../../channels/index.ts';

export function inboundLabel(i: Inbound): string {
  switch (i.kind) {
    case 'text':
      return i.text;
    case 'choice':
      return i.choiceId;
    case 'media':
      return String(i.media.length);
    case 'location':
      return `${i.lat},${i.lon}`;
    case 'call':
      return i.phase;
    case 'receipt':
      return i.status;
    case 'contact':
      return i.phone;
    default: {
      const never: never = i;
      return never;
    }
  }
}

export function outboundLabel(o: Outbound): string {
  switch (o.kind) {
    case 'text':
    case 'choices':
    case 'speech':
      return o.text;
    case 'media':
      return o.url;
    case 'template':
      return o.template;
    case 'typing':
      return '';
    default: {
      const never: never = o;
      return never;
    }
  }
}

// Every registry key is a ChannelName.
export const registryKeys: readonly ChannelName[] = Object.keys(channels) as (keyof typeof channels)[];
// @ts-expect-error -- not a channel name
export const notAChannel: ChannelName = 'carrier-pigeon';
