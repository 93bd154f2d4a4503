/**
 * File a complaint: category → description → location (when the category needs one) → join a nearby open case?
 * → optional photo → confirmation → case(s). What the first message already said is not asked again; a message
 * that reports two problems files two cases sharing the location.
 */
import type { CaseRecord, Category } from '../../integrations/contract.ts';
import type { TurnContext } from '../contract.ts';
import { defineForm, SKIP_CHOICE } from '../runtime/form.ts';
import { findColonia } from '../runtime/geo.ts';
import { findCategory, normalize, yesNo } from '../runtime/understand.ts';

const MIN_DESCRIPTION = 10;
/** Open cases of the same category within this distance are offered to join instead of filing a new one. */
export const DUPLICATE_RADIUS_M = 250;

/** Location as stored in the slot. */
interface LocationSlot {
  address: string | null;
  colonia: string | null;
  lat: number | null;
  lon: number | null;
  /** `pin` for a shared position; `colonia` when the coordinates are the colonia's centroid. */
  source: 'pin' | 'colonia' | null;
}

// Words that say "I want to report" rather than what is wrong; what remains is the description.
const FILLER = new Set(
  'quiero quisiera deseo necesito ocupo voy a reportar reporto levantar poner hacer un una unos unas queja reporte denuncia de del sobre por favor porfa hola buenas buenos dias tardes noches oye q que onda hi hello i want to report a an the about please there is'.split(
    ' ',
  ),
);

/** Whether the opening message already describes the problem (not just "quiero reportar un bache"). */
function describesProblem(text: string, hasAddress: boolean): boolean {
  const meaningful = normalize(text)
    .split(' ')
    .filter((w) => w.length > 0 && !FILLER.has(w));
  return text.length >= MIN_DESCRIPTION && (meaningful.length >= 5 || (hasAddress && meaningful.length >= 3));
}

/** Categories a citizen can pick here; sensitive ones and wifi outages have their own flows. */
const offered = (ctx: TurnContext) =>
  ctx.catalog.categories.filter((c) => !c.sensitive && c.id !== 'wifi_publico');

/** The category label in the conversation's language (English falls back to the Spanish name). */
export function categoryLabel(ctx: TurnContext, c: Category): string {
  return ctx.locale === 'en' ? (c.name_en ?? c.name) : c.name;
}

const category = (ctx: TurnContext): Category | undefined =>
  ctx.catalog.categories.find((c) => c.id === ctx.slots.category);
const extraCategories = (ctx: TurnContext): Category[] =>
  (Array.isArray(ctx.slots.extraCategories) ? (ctx.slots.extraCategories as string[]) : [])
    .map((id) => ctx.catalog.categories.find((c) => c.id === id))
    .filter((c): c is Category => c !== undefined);
const allCategories = (ctx: TurnContext): Category[] => [category(ctx)!, ...extraCategories(ctx)];
const needsLocation = (ctx: TurnContext) => allCategories(ctx).some((c) => c?.requires_location);
const photos = (ctx: TurnContext): string[] =>
  Array.isArray(ctx.slots.photo) ? ctx.slots.photo.filter((p): p is string => typeof p === 'string') : [];

function slaText(ctx: TurnContext, hours: number): string {
  return hours < 48
    ? ctx.t('file-complaint-sla-hours', { count: hours })
    : ctx.t('file-complaint-sla-days', { count: Math.round(hours / 24) });
}

function locationText(ctx: TurnContext, loc: LocationSlot | undefined): string {
  if (!loc) return '—';
  if (loc.address) {
    return loc.colonia && !normalize(loc.address).includes(normalize(loc.colonia))
      ? `${loc.address}, ${loc.colonia}`
      : loc.address;
  }
  return ctx.t('file-complaint-location-pin', {
    lat: loc.lat?.toFixed(5) ?? '',
    lon: loc.lon?.toFixed(5) ?? '',
  });
}

// Words that make a text a place a crew can find ("calle", "esquina", "frente a la escuela"…).
const PLACE_WORDS =
  /\b(calle|c|av|avenida|blvd|boulevard|bulevar|carretera|camino|callejon|privada|priv|andador|cerrada|prolongacion|esq|esquina|entre|frente|junto|atras|cerca de|a un lado|enfrente|parque|plaza|mercado|escuela|iglesia|kinder|primaria|secundaria|hospital|clinica|centro de salud|tienda|oxxo|glorieta|puente|modulo|cancha|panteon|street|st|avenue|ave|road|rd|corner|next to|in front of|near the)\b/;

/** Whether a text names a place: a street word or landmark, or a number beside a name ("Hidalgo 20"). */
function looksLikePlace(text: string): boolean {
  const t = normalize(text);
  if (t.length < 6 || !/[a-z]{3}/.test(t)) return false;
  return PLACE_WORDS.test(t) || /[a-z]{3,}\.?\s*#?\d{1,5}\b|\b\d{1,5}\s+[a-z]{3,}/.test(t);
}

/** Place a typed address: colonia from the NLU entity or the gazetteer, coordinates from its centroid. */
function placeAddress(ctx: TurnContext, text: string, entityColonia?: string): LocationSlot | undefined {
  const colonia =
    ctx.catalog.colonias.find((c) => c.name === entityColonia) ?? findColonia(text, ctx.catalog.colonias);
  if (!colonia && !looksLikePlace(text)) return undefined;
  return {
    address: text,
    colonia: colonia?.name ?? null,
    lat: colonia?.lat ?? null,
    lon: colonia?.lon ?? null,
    source: colonia ? 'colonia' : null,
  };
}

export const fileComplaint = defineForm({
  id: 'file-complaint',
  cancelledKey: 'file-complaint-cancelled-text',
  confirmInvalidKey: 'file-complaint-confirmation-invalid',
  mediaSlot: 'photo',
  mediaReceivedKey: 'file-complaint-photo-received',
  prefill(ctx, understanding) {
    const ids =
      understanding.entities.categories ??
      (understanding.entities.category ? [understanding.entities.category] : []);
    const known = ids.filter((id) => offered(ctx).some((c) => c.id === id));
    if (known[0]) {
      ctx.slots.category = known[0];
      if (known.length > 1) {
        ctx.slots.extraCategories = known.slice(1);
        // Say at once that both problems were understood: they become two reports sharing the place.
        const labels = known
          .map((id) => ctx.catalog.categories.find((c) => c.id === id))
          .filter((c): c is Category => c !== undefined);
        ctx.say({
          kind: 'text',
          text: ctx.t('file-complaint-two-problems', {
            list: labels.map((c) => categoryLabel(ctx, c)).join(' + '),
          }),
        });
      }
      ctx.memory.category = known[0];
      // The opening message already describes the problem when it says more than the category.
      const text = ctx.text?.trim() ?? '';
      if (describesProblem(text, Boolean(understanding.entities.address))) ctx.slots.description = text;
    }
    const e = understanding.entities;
    if (e.address || e.colonia) {
      const address = [e.address, e.colonia ? `col. ${e.colonia}` : undefined].filter(Boolean).join(', ');
      const placed = placeAddress(ctx, address, e.colonia);
      if (placed && e.address) ctx.slots.location = placed;
    }
  },
  slots: [
    {
      name: 'category',
      ask: (ctx) => ({
        kind: 'choices',
        text: ctx.t('file-complaint-ask-category'),
        choices: offered(ctx).map((c) => ({ id: `category:${c.id}`, label: categoryLabel(ctx, c) })),
      }),
      parse(input, ctx) {
        const list = offered(ctx);
        let found: Category | undefined;
        if (input.kind === 'choice') found = list.find((c) => `category:${c.id}` === input.choiceId);
        else if (input.kind === 'text') {
          const entity = ctx.understanding?.entities.category;
          found = list.find((c) => c.id === entity) ?? findCategory(input.text, list);
          found ??= list.find((c) => normalize(categoryLabel(ctx, c)) === normalize(input.text));
        }
        return found
          ? { ok: true, value: found.id }
          : { ok: false, error: 'file-complaint-category-invalid' };
      },
    },
    {
      name: 'description',
      ask: (ctx) => ({
        kind: 'text',
        text: ctx.t('file-complaint-ask-description', {
          category: allCategories(ctx)
            .map((c) => categoryLabel(ctx, c))
            .join(' + '),
        }),
      }),
      parse(input) {
        const text =
          input.kind === 'text' ? input.text.trim() : input.kind === 'choice' ? (input.text ?? '') : '';
        return text.length >= MIN_DESCRIPTION
          ? { ok: true, value: text }
          : { ok: false, error: 'file-complaint-description-invalid', params: { min: MIN_DESCRIPTION } };
      },
    },
    {
      name: 'location',
      when: needsLocation,
      ask: (ctx) => ({ kind: 'text', text: ctx.t('file-complaint-ask-location') }),
      parse(input, ctx) {
        if (input.kind === 'location') {
          const pin: LocationSlot = {
            address: input.label ?? null,
            colonia: null,
            lat: input.lat,
            lon: input.lon,
            source: 'pin',
          };
          return { ok: true, value: pin };
        }
        if (input.kind !== 'text') return { ok: false, error: 'file-complaint-location-invalid' };
        const placed = placeAddress(ctx, input.text.trim(), ctx.understanding?.entities.colonia);
        return placed ? { ok: true, value: placed } : { ok: false, error: 'file-complaint-location-invalid' };
      },
    },
    {
      // Duplicate detection: an open case of the same category nearby is offered to join instead.
      name: 'join',
      async prepare(ctx) {
        const loc = ctx.slots.location as LocationSlot | undefined;
        if (!loc || ctx.slots._duplicateChecked === JSON.stringify(loc) || extraCategories(ctx).length > 0)
          return;
        ctx.slots._duplicateChecked = JSON.stringify(loc);
        // Only a shared pin is a position; a colonia centroid would make every case in the colonia "nearby".
        const precise = loc.source === 'pin';
        const [found] = await ctx.findOpenCasesNear({
          category: String(ctx.slots.category),
          lat: precise ? loc.lat : null,
          lon: precise ? loc.lon : null,
          address: loc.address,
        });
        ctx.slots._duplicate = found
          ? { id: found.id, folio: found.folio, address: found.address ?? found.colonia ?? '' }
          : null;
        if (!found) delete ctx.slots.join;
      },
      when: (ctx) => Boolean(ctx.slots._duplicate),
      ask: (ctx) => {
        const d = ctx.slots._duplicate as { folio: string; address: string };
        return {
          kind: 'choices',
          text: ctx.t('file-complaint-ask-join', {
            folio: d.folio,
            address: d.address,
            category: categoryLabel(ctx, category(ctx)!),
          }),
          choices: [
            { id: 'join:yes', label: ctx.t('file-complaint-join-yes') },
            { id: 'join:no', label: ctx.t('file-complaint-join-no') },
          ],
        };
      },
      parse(input) {
        const answer =
          input.kind === 'choice'
            ? input.choiceId === 'join:yes'
            : input.kind === 'text'
              ? yesNo(input.text)
              : undefined;
        return answer === undefined
          ? { ok: false, error: 'file-complaint-join-invalid' }
          : { ok: true, value: answer };
      },
    },
    {
      name: 'photo',
      optional: { skippedValue: [] },
      when: (ctx) => ctx.slots.join !== true,
      ask: (ctx) => ({
        kind: 'choices',
        text: ctx.t('file-complaint-ask-photo'),
        choices: [{ id: SKIP_CHOICE, label: ctx.t('file-complaint-photo-skip') }],
      }),
      parse(input) {
        return input.kind === 'media' && input.mediaIds.length > 0
          ? { ok: true, value: input.mediaIds }
          : { ok: false, error: 'file-complaint-photo-invalid' };
      },
    },
  ],
  confirm(ctx) {
    if (ctx.slots.join === true) return null;
    return {
      kind: 'choices',
      text: ctx.t('file-complaint-ask-confirmation', {
        category: allCategories(ctx)
          .map((c) => categoryLabel(ctx, c))
          .join(' + '),
        description: String(ctx.slots.description),
        location: locationText(ctx, ctx.slots.location as LocationSlot | undefined),
        photos: photos(ctx).length,
      }),
      choices: [
        { id: 'yes', label: ctx.t('file-complaint-confirmation-yes') },
        { id: 'no', label: ctx.t('file-complaint-confirmation-no') },
      ],
    };
  },
  async complete(ctx) {
    if (ctx.slots.join === true) {
      const d = ctx.slots._duplicate as { id: string; folio: string };
      await ctx.followCase(d.id);
      ctx.memory.folio = d.folio;
      ctx.say({ kind: 'text', text: ctx.t('file-complaint-joined-text', { folio: d.folio }) });
      return { status: 'complete', output: { joined: d.folio } };
    }
    const loc = ctx.slots.location as LocationSlot | undefined;
    const created: CaseRecord[] = [];
    for (const [i, cat] of allCategories(ctx).entries()) {
      created.push(
        await ctx.createCase({
          category: cat.id,
          description: String(ctx.slots.description),
          address: loc?.address ?? null,
          colonia: loc?.colonia ?? null,
          lat: loc?.lat ?? null,
          lon: loc?.lon ?? null,
          geoSource: loc?.source ?? null,
          department: cat.department,
          queue: cat.queue,
          sensitive: cat.sensitive,
          visibility: cat.routing === 'restricted' ? 'restricted' : 'public',
          slaDueAt: new Date(ctx.now.getTime() + cat.sla_hours * 3_600_000),
          attachmentIds: i === 0 ? photos(ctx) : [],
        }),
      );
    }
    for (const [i, c] of created.entries()) {
      const cat = allCategories(ctx)[i]!;
      ctx.say({
        kind: 'text',
        text: ctx.t(
          created.length > 1 ? 'file-complaint-created-one-of-many' : 'file-complaint-created-text',
          {
            folio: c.folio,
            category: categoryLabel(ctx, cat),
            department: c.department,
            sla: slaText(ctx, cat.sla_hours),
          },
        ),
      });
    }
    if (created.length > 1)
      ctx.say({
        kind: 'text',
        text: ctx.t('file-complaint-created-how-to-check', { folio: created[0]!.folio }),
      });
    return { status: 'complete', output: { folios: created.map((c) => c.folio) } };
  },
});
