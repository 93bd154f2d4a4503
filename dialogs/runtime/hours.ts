/**
 * Service hours of the human desk: "mon-fri 08:00-20:00; sat 09:00-14:00" (days mon…sun, ranges or lists,
 * several intervals per day allowed), evaluated in the service time zone, with holidays closed.
 */
import type { ServiceHours } from '../contract.ts';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

/** Parse the `SERVICE_HOURS` text; throws an Error naming the bad part. */
export function parseServiceHours(text: string): ServiceHours {
  const days: Record<number, { from: number; to: number }[]> = {};
  for (const part of text
    .split(';')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([a-z]{3})(?:-([a-z]{3}))?((?:,[a-z]{3})*)\s+(.+)$/i.exec(part);
    if (!m) throw new Error(`cannot read "${part}" (expected e.g. "mon-fri 08:00-20:00")`);
    const idx = (d: string) => {
      const i = DAYS.indexOf(d.toLowerCase() as (typeof DAYS)[number]);
      if (i < 0) throw new Error(`unknown day "${d}" in "${part}"`);
      return i + 1;
    };
    const list: number[] = [];
    const first = idx(m[1]!);
    if (m[2]) for (let d = first; d <= idx(m[2]); d++) list.push(d);
    else list.push(first);
    for (const extra of (m[3] ?? '').split(',').filter(Boolean)) list.push(idx(extra));
    for (const range of m[4]!.split(',').map((r) => r.trim())) {
      const r = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(range);
      if (!r) throw new Error(`cannot read hours "${range}" in "${part}"`);
      const from = Number(r[1]) * 60 + Number(r[2]);
      const to = Number(r[3]) * 60 + Number(r[4]);
      if (to <= from || to > 24 * 60) throw new Error(`empty or invalid interval "${range}"`);
      for (const d of list) (days[d] ??= []).push({ from, to });
    }
  }
  return { days, text };
}

function local(now: Date, timeZone: string): { date: string; weekday: number; minutes: number } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(now)
      .map((p) => [p.type, p.value]),
  );
  const weekday = DAYS.indexOf(String(parts.weekday).toLowerCase().slice(0, 3) as (typeof DAYS)[number]) + 1;
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    weekday,
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

/** Whether the desk is open at `now`. */
export function isOpen(
  hours: ServiceHours,
  holidays: readonly string[],
  timeZone: string,
  now: Date,
): boolean {
  const l = local(now, timeZone);
  if (holidays.includes(l.date)) return false;
  return (hours.days[l.weekday] ?? []).some((i) => l.minutes >= i.from && l.minutes < i.to);
}

/** The next opening time after `now` (searching two weeks ahead), or null when never open. */
export function nextOpening(
  hours: ServiceHours,
  holidays: readonly string[],
  timeZone: string,
  now: Date,
): Date | null {
  // Walk in 15-minute steps: simple, time-zone safe, and cheap at this size.
  const step = 15 * 60_000;
  let t = Math.ceil(now.getTime() / step) * step;
  for (let i = 0; i < (14 * 24 * 60) / 15; i++, t += step) {
    if (isOpen(hours, holidays, timeZone, new Date(t))) return new Date(t);
  }
  return null;
}

const DAY_NAMES: Record<'es' | 'en', string[]> = {
  es: ['lunes', 'martes', 'miércoles', 'jueves', 'viernes', 'sábado', 'domingo'],
  en: ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'],
};

const hhmm = (m: number) => `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}`;

/** Opening hours in words: "lunes a viernes de 8:00 a 20:00; sábado de 9:00 a 14:00". */
export function describeHours(hours: ServiceHours, language: 'es' | 'en'): string {
  const names = DAY_NAMES[language];
  const key = (d: number) => (hours.days[d] ?? []).map((i) => `${i.from}-${i.to}`).join(',');
  const groups: { from: number; to: number; key: string }[] = [];
  for (let d = 1; d <= 7; d++) {
    const k = key(d);
    if (!k) continue;
    const last = groups.at(-1);
    if (last && last.key === k && last.to === d - 1) last.to = d;
    else groups.push({ from: d, to: d, key: k });
  }
  const [to, from, and] = language === 'es' ? [' a ', 'de ', ' y '] : [' to ', '', ' and '];
  return groups
    .map((g) => {
      const days = g.from === g.to ? names[g.from - 1]! : `${names[g.from - 1]!}${to}${names[g.to - 1]!}`;
      const times = (hours.days[g.from] ?? [])
        .map((i) => `${from}${hhmm(i.from)}${language === 'es' ? ' a ' : '–'}${hhmm(i.to)}`)
        .join(and);
      return `${days} ${times}`;
    })
    .join('; ');
}
