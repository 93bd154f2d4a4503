/** Media on disk under the data folder, indexed in the `attachments` table. */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import type { MediaStore, StoredMedia } from '../contract.ts';
import type { Database } from './db.ts';

const EXT: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'audio/ogg': 'ogg',
  'audio/mpeg': 'mp3',
  'audio/mp4': 'm4a',
  'audio/amr': 'amr',
  'audio/wav': 'wav',
  'application/pdf': 'pdf',
};

/** Build the media store writing files into `dir`. */
export function createFileMediaStore(database: Database, dir: string): MediaStore {
  let ready: Promise<unknown> | undefined;
  return {
    async save({ bytes, mime }) {
      ready ??= mkdir(dir, { recursive: true });
      await ready;
      const id = randomUUID();
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const path = join(dir, `${id}.${EXT[mime] ?? 'bin'}`);
      await writeFile(path, bytes, { mode: 0o600 });
      await database.db.execute(
        sql`insert into attachments (id, path, mime, bytes, sha256) values (${id}::uuid, ${path}, ${mime}, ${bytes.length}, ${sha256})`,
      );
      return { id, mime, bytes: bytes.length, sha256 };
    },
    async get(id) {
      return (await find(id))?.media ?? null;
    },
    async read(id) {
      const found = await find(id);
      if (!found) return null;
      try {
        return { media: found.media, bytes: await readFile(found.path) };
      } catch {
        return null; // indexed but gone from disk (restored backup without the media folder)
      }
    },
  };

  async function find(id: string): Promise<{ media: StoredMedia; path: string } | null> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
    const r = await database.raw.query(
      'select id, path, mime, bytes, sha256 from attachments where id = $1::uuid',
      [id],
    );
    const row = r.rows[0];
    return row
      ? {
          media: {
            id: String(row.id),
            mime: String(row.mime),
            bytes: Number(row.bytes),
            sha256: String(row.sha256),
          },
          path: String(row.path),
        }
      : null;
  }
}
