/**
 * The dispatcher keeps a conversation's replies in order without stranding any: a reply whose lease was refused
 * (an earlier one was still on its way) goes out as soon as the earlier one is done, even when that happened
 * between the refusal and the reply joining the waiting list (a race the benchmark found under load).
 */
import { describe, expect, it } from 'vitest';
import type { ChannelAdapter, Outbound } from '../../channels/contract.ts';
import { OutboxDispatcher } from '../../dialogs/runtime/outbox.ts';
import type { CaseStore, ConversationRecord, OutboxStore } from '../../integrations/contract.ts';
import { createMemoryStores } from '../../integrations/storage/memory.ts';
import { commitReplies } from '../helpers/turns.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function gate(): { wait: Promise<void>; open: () => void } {
  let open = () => {};
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

const CAPABILITIES: ChannelAdapter['capabilities'] = {
  delivery: 'push',
  choices: { max: 3, style: 'buttons' },
  media: [],
  maxText: 4096,
  typing: false,
  templates: false,
  speech: false,
};

/** Writes one bot reply per call, as a turn of `user`'s conversation would; returns its outbox id. */
function replies(store: CaseStore): (user: string, text: string) => Promise<string> {
  const conversations = new Map<string, ConversationRecord>();
  return async (user, text) => {
    const conv =
      conversations.get(user) ??
      (await store.resolveConversation({
        channel: 'test',
        address: { channel: 'test', user },
        locale: 'es-MX',
        now: new Date(),
      }));
    const commit = await store.transaction((tx) => commitReplies(tx, conv, [text]));
    conversations.set(user, { ...conv, stateVersion: commit.stateVersion });
    return commit.outboxIds[0]!;
  };
}

/** A channel that records the texts it sends; the one named `slowText` waits for `slow` first. */
function recordingChannel(
  slowText: string,
  slow: Promise<void>,
): { adapter: ChannelAdapter; sent: string[] } {
  const sent: string[] = [];
  const adapter: ChannelAdapter = {
    name: 'test',
    capabilities: CAPABILITIES,
    async send(_address, outbound: Outbound) {
      const text = outbound.kind === 'text' ? outbound.text : '';
      if (text === slowText) await slow;
      sent.push(text);
      return { externalId: `x-${sent.length}` };
    },
  };
  return { adapter, sent };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, ms = 5_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 10)))
    if (check()) return true;
  return check();
}

describe('outbox dispatcher ordering', () => {
  it('sends a reply refused while the previous one was in flight, even if that one finished first', async () => {
    const { store, outbox } = createMemoryStores();
    const write = replies(store);
    const a = await write('u1', 'first');
    const b = await write('u1', 'second');
    const firstSend = gate();
    const { adapter, sent } = recordingChannel('first', firstSend.wait);
    // The second reply's lease answers only after the first reply is completely done.
    const refusedLease = gate();
    const held: OutboxStore = {
      ...outbox,
      lease: async (opts) => {
        const got = await outbox.lease(opts);
        if (opts.ids?.includes(b)) await refusedLease.wait;
        return got;
      },
    };
    const dispatcher = new OutboxDispatcher({
      store: held,
      channels: new Map([['test', adapter]]),
      now: () => new Date(),
      log: silent,
    });

    const first = dispatcher.dispatch([a]);
    await sleep(20); // the first reply is leased and on its way
    const second = dispatcher.dispatch([b]);
    await sleep(20); // the second lease was refused (the first is still sending)
    firstSend.open();
    await first;
    expect(sent).toEqual(['first']);
    refusedLease.open();
    await second;
    // No other delivery and no sweep will come: the dispatcher must try again by itself.
    expect(await until(() => sent.length === 2)).toBe(true);
    expect(sent).toEqual(['first', 'second']);
    await dispatcher.drain();
  });
});

describe('outbox dispatcher under load', () => {
  it('keeps a reply waiting behind a slow one however many other deliveries wake it meanwhile', async () => {
    const { store, outbox } = createMemoryStores();
    const write = replies(store);
    const slow = gate();
    const { adapter, sent } = recordingChannel('slow', slow.wait);
    const dispatcher = new OutboxDispatcher({
      store: outbox,
      channels: new Map([['test', adapter]]),
      now: () => new Date(),
      log: silent,
    });
    const first = dispatcher.dispatch([await write('u1', 'slow')]);
    await sleep(10);
    void dispatcher.dispatch([await write('u1', 'behind')]);
    await sleep(10);
    // Fifty other citizens' replies go out meanwhile; each delivery wakes the waiting reply, which is refused again.
    for (let i = 0; i < 50; i++) await dispatcher.dispatch([await write(`other-${i}`, `other ${i}`)]);
    expect(sent).not.toContain('behind');
    slow.open();
    await first;
    expect(await until(() => sent.includes('behind'))).toBe(true);
    expect(sent.indexOf('behind')).toBeGreaterThan(sent.indexOf('slow'));
    await dispatcher.drain();
  });
});
