/**
 * Central degradation: adapt any {@link Outbound} to what a channel can show, driven by its declared
 * capabilities, so flows never check which channel they are on.
 */
import type { Capabilities, Outbound } from '../contract.ts';

/** Split text into pieces of at most `max` characters, preferring paragraph, line, then word boundaries. */
export function splitText(text: string, max: number): string[] {
  const parts: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const window = rest.slice(0, max);
    let cut = Math.max(window.lastIndexOf('\n\n'), window.lastIndexOf('\n'));
    if (cut < max / 2) cut = window.lastIndexOf(' ');
    if (cut < max / 2) cut = max;
    parts.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  if (rest.length > 0) parts.push(rest);
  return parts;
}

/** Render choices as numbered text options ("1. …"). The runtime maps a numeric reply back to the choice. */
export function numbered(text: string, labels: readonly string[]): string {
  return `${text}\n${labels.map((l, i) => `${i + 1}. ${l}`).join('\n')}`;
}

/** Adapt one outbound message to a channel; may yield several messages (long text) or none (typing). */
export function degrade(outbound: Outbound, caps: Capabilities): Outbound[] {
  const texts = (text: string): Outbound[] =>
    splitText(text, caps.maxText).map((t) => ({ kind: 'text', text: t }));
  switch (outbound.kind) {
    case 'text':
      return texts(outbound.text);
    case 'choices': {
      if (caps.choices.style === 'buttons' && outbound.choices.length <= caps.choices.max) {
        const parts = splitText(outbound.text, caps.maxText);
        const last = parts.pop() ?? outbound.text;
        return [...parts.map((t): Outbound => ({ kind: 'text', text: t })), { ...outbound, text: last }];
      }
      return texts(
        numbered(
          outbound.text,
          outbound.choices.map((c) => c.label),
        ),
      );
    }
    case 'media': {
      const kind = outbound.mime.split('/')[0];
      const supported = caps.media.some((m) => m === kind || (m === 'document' && kind === 'application'));
      return supported ? [outbound] : texts([outbound.caption, outbound.url].filter(Boolean).join('\n'));
    }
    case 'template':
      return caps.templates ? [outbound] : texts(outbound.fallbackText);
    case 'speech':
      return caps.speech ? [outbound] : texts(outbound.text);
    case 'typing':
      return caps.typing ? [outbound] : [];
  }
}
