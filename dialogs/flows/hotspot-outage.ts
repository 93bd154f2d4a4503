/**
 * Report a public-wifi outage: which hotspot (name, nickname or typo through the NLU; nearest to a shared pin,
 * confirmed by name; or a list for a colonia) → symptom → a `wifi_publico` case joined to the hotspot's one open
 * incident. When staff resolve the incident every reporter is told (see `runtime/staff.ts`).
 */
import type { Hotspot } from '../../integrations/contract.ts';
import type { TurnContext } from '../contract.ts';
import { defineForm } from '../runtime/form.ts';
import { findColonia, distanceM } from '../runtime/geo.ts';
import { normalize, yesNo } from '../runtime/understand.ts';

const SYMPTOMS = ['no_signal', 'no_internet', 'slow', 'other'] as const;
const SYMPTOM_WORDS: [(typeof SYMPTOMS)[number], RegExp][] = [
  [
    'no_signal',
    /\b(no (aparece|sale|se ve)|sin senal|no hay senal|no encuentro la red|no signal|can.?t see|doesn.?t show)\b/,
  ],
  [
    'no_internet',
    /\b(conecta pero|sin internet|no (carga|abre|navega|jala)|no hay internet|connects but|no internet)\b/,
  ],
  ['slow', /\b(lento|lenta|muy lento|se traba|slow|laggy)\b/],
];
/** A pin farther than this from every hotspot is not matched. */
const PIN_RADIUS_M = 1500;

const hotspot = (ctx: TurnContext): Hotspot | undefined =>
  ctx.catalog.hotspots.find((h) => h.id === ctx.slots.hotspot);

function nearest(ctx: TurnContext, lat: number, lon: number): { h: Hotspot; d: number }[] {
  return ctx.catalog.hotspots
    .map((h) => ({ h, d: distanceM(lat, lon, h.lat, h.lon) }))
    .sort((a, b) => a.d - b.d);
}

export const hotspotOutage = defineForm({
  id: 'hotspot-outage',
  cancelledKey: 'main-menu-cancelled-text',
  prefill(ctx, understanding) {
    if (understanding.entities.hotspot) ctx.slots.hotspot = understanding.entities.hotspot;
    else if (understanding.entities.colonia) ctx.slots._colonia = understanding.entities.colonia;
    const symptom = SYMPTOM_WORDS.find(([, re]) => re.test(normalize(ctx.text ?? '')))?.[0];
    if (symptom) ctx.slots.symptom = symptom;
  },
  slots: [
    {
      name: 'hotspot',
      ask(ctx) {
        const colonia = typeof ctx.slots._colonia === 'string' ? ctx.slots._colonia : undefined;
        const near = Array.isArray(ctx.slots._near) ? (ctx.slots._near as string[]) : undefined;
        const list = near
          ? near
              .map((id) => ctx.catalog.hotspots.find((h) => h.id === id))
              .filter((h): h is Hotspot => h !== undefined)
          : colonia
            ? ctx.catalog.hotspots.filter((h) => h.colonia === colonia)
            : [];
        if (list.length > 0) {
          return {
            kind: 'choices',
            text: near
              ? ctx.t('hotspot-outage-ask-hotspot-near')
              : ctx.t('hotspot-outage-ask-hotspot-list', { colonia: colonia ?? '' }),
            choices: list.slice(0, 10).map((h) => ({ id: `hotspot:${h.id}`, label: h.name })),
          };
        }
        return { kind: 'text', text: ctx.t('hotspot-outage-ask-hotspot') };
      },
      parse(input, ctx) {
        if (input.kind === 'choice' && input.choiceId.startsWith('hotspot:')) {
          const id = input.choiceId.slice(8);
          return ctx.catalog.hotspots.some((h) => h.id === id)
            ? { ok: true, value: id }
            : { ok: false, error: 'hotspot-outage-hotspot-invalid' };
        }
        if (input.kind === 'location') {
          const [best, ...rest] = nearest(ctx, input.lat, input.lon);
          if (!best || best.d > PIN_RADIUS_M) return { ok: false, error: 'hotspot-outage-pin-far' };
          // Hotspots can be 200 m apart: confirm the name before filing.
          ctx.slots._confirmHotspot = true;
          ctx.slots._near = [best.h.id, ...rest.slice(0, 3).map((r) => r.h.id)];
          return { ok: true, value: best.h.id };
        }
        if (input.kind !== 'text') return { ok: false, error: 'hotspot-outage-hotspot-invalid' };
        const entity = ctx.understanding?.entities.hotspot;
        if (entity) return { ok: true, value: entity };
        const colonia =
          ctx.understanding?.entities.colonia ?? findColonia(input.text, ctx.catalog.colonias)?.name;
        if (colonia && ctx.catalog.hotspots.some((h) => h.colonia === colonia)) {
          ctx.slots._colonia = colonia;
          return { ok: false, error: 'hotspot-outage-pick-from-list' };
        }
        return { ok: false, error: 'hotspot-outage-hotspot-invalid' };
      },
    },
    {
      name: 'hotspotConfirmed',
      when: (ctx) => ctx.slots._confirmHotspot === true,
      ask: (ctx) => ({
        kind: 'choices',
        text: ctx.t('hotspot-outage-ask-confirm-hotspot', { name: hotspot(ctx)?.name ?? '' }),
        choices: [
          { id: 'hotspot-confirm:yes', label: ctx.t('hotspot-outage-confirm-yes') },
          { id: 'hotspot-confirm:no', label: ctx.t('hotspot-outage-confirm-no') },
        ],
      }),
      parse(input, ctx) {
        const answer =
          input.kind === 'choice'
            ? input.choiceId === 'hotspot-confirm:yes'
            : input.kind === 'text'
              ? yesNo(input.text)
              : undefined;
        if (answer === undefined) return { ok: false, error: 'hotspot-outage-confirm-invalid' };
        if (!answer) {
          // Offer the other hotspots near the pin instead.
          ctx.slots._near = (ctx.slots._near as string[]).filter((id) => id !== ctx.slots.hotspot);
          ctx.slots.hotspot = undefined;
          ctx.slots._confirmHotspot = false;
          return { ok: true, value: undefined };
        }
        return { ok: true, value: true };
      },
    },
    {
      name: 'symptom',
      ask: (ctx) => ({
        kind: 'choices',
        text: ctx.t('hotspot-outage-ask-symptom', { name: hotspot(ctx)?.name ?? '' }),
        choices: SYMPTOMS.map((s) => ({
          id: `symptom:${s}`,
          label: ctx.t(`hotspot-outage-symptom-${s.replace('_', '-')}`),
        })),
      }),
      parse(input) {
        if (input.kind === 'choice' && input.choiceId.startsWith('symptom:')) {
          const s = input.choiceId.slice(8);
          return (SYMPTOMS as readonly string[]).includes(s)
            ? { ok: true, value: s }
            : { ok: false, error: 'hotspot-outage-symptom-invalid' };
        }
        if (input.kind === 'text') {
          const found = SYMPTOM_WORDS.find(([, re]) => re.test(normalize(input.text)))?.[0];
          return { ok: true, value: found ?? 'other' };
        }
        return { ok: false, error: 'hotspot-outage-symptom-invalid' };
      },
    },
  ],
  async complete(ctx) {
    const h = hotspot(ctx)!;
    const category = ctx.catalog.categories.find((c) => c.id === 'wifi_publico');
    const { incident, opened } = await ctx.joinIncident(h.id);
    const symptom = String(ctx.slots.symptom);
    const created = await ctx.createCase({
      category: 'wifi_publico',
      description: `${ctx.t(`hotspot-outage-symptom-${symptom.replace('_', '-')}`)} — ${h.name}${ctx.text ? ` (${ctx.text.slice(0, 200)})` : ''}`,
      address: h.name,
      colonia: h.colonia,
      lat: h.lat,
      lon: h.lon,
      geoSource: 'hotspot',
      department: category?.department ?? 'Wifi',
      queue: category?.queue ?? 'general',
      sensitive: false,
      visibility: 'public',
      slaDueAt: new Date(ctx.now.getTime() + (category?.sla_hours ?? 48) * 3_600_000),
      hotspotId: h.id,
      incidentId: incident.id,
    });
    ctx.say({
      kind: 'text',
      text: opened
        ? ctx.t('hotspot-outage-created-new', { folio: created.folio, name: h.name })
        : ctx.t('hotspot-outage-created-known', {
            folio: created.folio,
            name: h.name,
            count: incident.reports + 1,
          }),
    });
    return { status: 'complete', output: { folio: created.folio, incident: incident.id } };
  },
});
