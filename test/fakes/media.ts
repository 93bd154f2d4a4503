/** An in-memory `MediaStore` for adapter tests (the product's store writes files under the data folder). */
import { createHash, randomUUID } from 'node:crypto';
import type { MediaStore, StoredMedia } from '../../integrations/contract.ts';

/** A media store keeping bytes in a Map; `items` lets tests inspect what adapters saved. */
export function memoryMedia(): MediaStore & {
  readonly items: Map<string, { media: StoredMedia; bytes: Buffer }>;
} {
  const items = new Map<string, { media: StoredMedia; bytes: Buffer }>();
  return {
    items,
    async save({ bytes, mime }) {
      const media = {
        id: randomUUID(),
        mime,
        bytes: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      };
      items.set(media.id, { media, bytes });
      return media;
    },
    async get(id) {
      return items.get(id)?.media ?? null;
    },
    async read(id) {
      return items.get(id) ?? null;
    },
  };
}
