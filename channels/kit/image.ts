/**
 * Image sanitising for uploads: decode (rejecting anything that is not an image), apply the EXIF orientation, and
 * re-encode without metadata. Re-encoding drops EXIF/XMP/IPTC (GPS position, device serials) by construction.
 */
import { ChannelError } from '../contract.ts';

const FORMATS = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif' } as const;
/** The largest upload we accept. */
export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;

/** A sanitised image. */
export interface CleanImage {
  readonly bytes: Buffer;
  readonly mime: string;
}

// Decoding a large photo takes ~100–200 MB: at most two at a time per process, the rest wait their turn.
let running = 0;
const waiting: (() => void)[] = [];
async function withSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Decode, strip metadata and re-encode an image (two at a time per process). */
export function sanitizeImage(input: Buffer): Promise<CleanImage> {
  return withSlot(() => sanitize(input));
}

async function sanitize(input: Buffer): Promise<CleanImage> {
  // Loaded on first use: libvips costs memory that a server without uploads should not pay.
  const { default: sharp } = await import('sharp');
  if (input.length === 0) throw new ChannelError('CHANNEL_UPLOAD_INVALID', 'The upload is empty');
  if (input.length > MAX_IMAGE_BYTES)
    throw new ChannelError('CHANNEL_UPLOAD_TOO_LARGE', 'The upload is larger than 10 MB');
  let format: string | undefined;
  try {
    // A pixel limit guards against decompression bombs (small files that decode to huge bitmaps).
    const meta = await sharp(input, { limitInputPixels: 50_000_000 }).metadata();
    format = meta.format;
  } catch (cause) {
    throw new ChannelError('CHANNEL_UPLOAD_INVALID', 'The upload is not a readable image', { cause });
  }
  if (!format || !(format in FORMATS)) {
    throw new ChannelError('CHANNEL_UPLOAD_INVALID', `Unsupported image format: ${format ?? 'unknown'}`);
  }
  try {
    const pipeline = sharp(input, { limitInputPixels: 50_000_000, animated: format === 'gif' }).rotate();
    const out =
      format === 'png'
        ? await pipeline.png().toBuffer()
        : format === 'webp'
          ? await pipeline.webp().toBuffer()
          : format === 'gif'
            ? await pipeline.gif().toBuffer()
            : await pipeline.jpeg({ quality: 85, mozjpeg: true }).toBuffer();
    return { bytes: out, mime: FORMATS[format as keyof typeof FORMATS] };
  } catch (cause) {
    throw new ChannelError('CHANNEL_UPLOAD_INVALID', 'The image could not be processed', { cause });
  }
}
