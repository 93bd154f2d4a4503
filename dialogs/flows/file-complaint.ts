/** File a complaint: category → description → location (when the category needs one) → confirmation → case. */
import type { Category } from '../../integrations/contract.ts';
import type { TurnContext } from '../contract.ts';
import { defineForm, SKIP_CHOICE } from '../runtime/form.ts';
import { findColonia } from '../runtime/geo.ts';
import { findCategory, normalize } from '../runtime/understand.ts';

const MIN_DESCRIPTION = 10;

/** Location as stored in the slot. */
interface LocationSlot {
  address: string | null;
  colonia: string | null;
  lat: number | null;
  lon: number | null;
}

/** Categories a citizen can pick here; sensitive ones have their own restricted flow. */
const offered = (ctx: TurnContext) => ctx.catalog.categories.filter((c) => !c.sensitive);

/** The category label in the conversation's language (English falls back to the Spanish name). */
export function categoryLabel(ctx: TurnContext, c: Category): string {
  return ctx.locale === 'en' ? (c.name_en ?? c.name) : c.name;
}

const photos = (ctx: TurnContext): string[] =>
  Array.isArray(ctx.slots.photo) ? ctx.slots.photo.filter((p): p is string => typeof p === 'string') : [];

const category = (ctx: TurnContext): Category | undefined =>
  ctx.catalog.categories.find((c) => c.id === ctx.slots.category);

function slaText(ctx: TurnContext, hours: number): string {
  return hours < 48
    ? ctx.t('file-complaint-sla-hours', { count: hours })
    : ctx.t('file-complaint-sla-days', { count: Math.round(hours / 24) });
}

function locationText(ctx: TurnContext, loc: LocationSlot | undefined): string {
  if (!loc) return '—';
  if (loc.address)
    return loc.colonia && !normalize(loc.address).includes(normalize(loc.colonia))
      ? `${loc.address}, ${loc.colonia}`
      : loc.address;
  return ctx.t('file-complaint-location-pin', {
    lat: loc.lat?.toFixed(5) ?? '',
    lon: loc.lon?.toFixed(5) ?? '',
  });
}

export const fileComplaint = defineForm({
  id: 'file-complaint',
  cancelledKey: 'file-complaint-cancelled-text',
  confirmInvalidKey: 'file-complaint-confirmation-invalid',
  mediaSlot: 'photo',
  mediaReceivedKey: 'file-complaint-photo-received',
  prefill(ctx, understanding) {
    const id = understanding.entities.category;
    if (id && offered(ctx).some((c) => c.id === id)) ctx.slots.category = id;
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
          const n = Number(input.text.trim());
          found =
            Number.isInteger(n) && n >= 1 && n <= list.length ? list[n - 1] : findCategory(input.text, list);
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
        text: ctx.t('file-complaint-ask-description', { category: categoryLabel(ctx, category(ctx)!) }),
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
      when: (ctx) => category(ctx)?.requires_location ?? false,
      ask: (ctx) => ({ kind: 'text', text: ctx.t('file-complaint-ask-location') }),
      parse(input, ctx) {
        if (input.kind === 'location') {
          return {
            ok: true,
            value: { address: input.label ?? null, colonia: null, lat: input.lat, lon: input.lon },
          };
        }
        if (input.kind !== 'text') return { ok: false, error: 'file-complaint-location-invalid' };
        const text = input.text.trim();
        const colonia = findColonia(text, ctx.catalog.colonias);
        if (!colonia && (text.length < 6 || !/[a-zA-ZÀ-ÿ]{3}/.test(text))) {
          return { ok: false, error: 'file-complaint-location-invalid' };
        }
        const value: LocationSlot = {
          address: text,
          colonia: colonia?.name ?? null,
          lat: colonia?.lat ?? null,
          lon: colonia?.lon ?? null,
        };
        return { ok: true, value };
      },
    },
    {
      name: 'photo',
      optional: { skippedValue: [] },
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
    return {
      kind: 'choices',
      text: ctx.t('file-complaint-ask-confirmation', {
        category: categoryLabel(ctx, category(ctx)!),
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
    const cat = category(ctx)!;
    const loc = ctx.slots.location as LocationSlot | undefined;
    const created = await ctx.createCase({
      category: cat.id,
      description: String(ctx.slots.description),
      address: loc?.address ?? null,
      colonia: loc?.colonia ?? null,
      lat: loc?.lat ?? null,
      lon: loc?.lon ?? null,
      department: cat.department,
      queue: cat.queue,
      sensitive: cat.sensitive,
      visibility: cat.routing === 'restricted' ? 'restricted' : 'public',
      slaDueAt: new Date(ctx.now.getTime() + cat.sla_hours * 3_600_000),
      attachmentIds: photos(ctx),
    });
    ctx.say({
      kind: 'text',
      text: ctx.t('file-complaint-created-text', {
        folio: created.folio,
        department: created.department,
        sla: slaText(ctx, cat.sla_hours),
      }),
    });
    return { status: 'complete', output: { folio: created.folio } };
  },
});
