// Owns the test images: real files in every format the image path handles, made by sharp at test time.

import { importSharp } from "../../src/image/engine.ts";
import type { Metadata } from "sharp";

export type TestImageKind =
  | "jpeg"
  | "png"
  | "png-alpha"
  | "png16"
  | "webp"
  | "avif"
  | "gif"
  | "gif-animated"
  | "exif6"
  | "truncated"
  | "bomb";

/**
 * A picture with detail (a diagonal gradient with noise), so encoders and resizers do real work
 * and a crop or a rotation changes what is where.
 */
async function picture(width: number, height: number, channels: 3 | 4 = 3) {
  const sharp = await importSharp();
  const raw = new Uint8Array(width * height * channels);
  let seed = 12345;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const noise = seed % 32;
      const i = (y * width + x) * channels;
      raw[i] = (x * 255 / width + noise) & 255;
      raw[i + 1] = (y * 255 / height + noise) & 255;
      raw[i + 2] = ((x + y) * 128 / (width + height) + noise) & 255;
      if (channels === 4) raw[i + 3] = x < width / 2 ? 255 : 96;
    }
  }
  return sharp(raw, { raw: { width, height, channels } });
}

/** One test image of `kind`, `width` x `height` as stored (exif6 displays rotated: height x width). */
export async function makeImage(
  kind: TestImageKind,
  width = 300,
  height = 200,
): Promise<Uint8Array<ArrayBuffer>> {
  const own = (data: Uint8Array): Uint8Array<ArrayBuffer> => {
    const bytes = new Uint8Array(data.byteLength);
    bytes.set(data);
    return bytes;
  };
  switch (kind) {
    case "jpeg":
      return own(await (await picture(width, height)).jpeg({ quality: 90 }).toBuffer());
    case "png":
      return own(await (await picture(width, height)).png().toBuffer());
    case "png-alpha":
      return own(await (await picture(width, height, 4)).png().toBuffer());
    case "png16":
      return own(
        await (await picture(width, height)).toColourspace("rgb16").png().toBuffer(),
      );
    case "webp":
      return own(await (await picture(width, height)).webp({ quality: 90 }).toBuffer());
    case "avif":
      return own(await (await picture(width, height)).avif({ quality: 60, effort: 0 }).toBuffer());
    case "gif":
      return own(await (await picture(width, height)).gif().toBuffer());
    case "gif-animated": {
      // Three frames stacked vertically, written as an animation of `height`-pixel pages.
      const frames = await (await picture(width, height * 3)).raw().toBuffer();
      const sharp = await importSharp();
      return own(
        await sharp(frames, { raw: { width, height: height * 3, channels: 3, pageHeight: height } })
          .gif({ loop: 0, delay: [100, 100, 100] })
          .toBuffer(),
      );
    }
    case "exif6":
      // Stored landscape, EXIF Orientation 6: viewers show it rotated 90° clockwise (portrait).
      return own(
        await (await picture(width, height)).jpeg({ quality: 90 }).withMetadata({ orientation: 6 })
          .toBuffer(),
      );
    case "truncated": {
      const whole = await makeImage("jpeg", width, height);
      return whole.slice(0, Math.floor(whole.byteLength / 2));
    }
    case "bomb":
      return decompressionBomb(width, height);
  }
}

/**
 * A tiny PNG (~100 bytes) whose header declares `width` x `height` pixels: a decoder that trusts
 * it would allocate width * height * 3 bytes. The pixel data is a few zero rows, so a decoder
 * that does start finds a short stream.
 */
export function decompressionBomb(width = 100_000, height = 100_000): Uint8Array<ArrayBuffer> {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, no filter, no interlace
  // A stored (uncompressed) deflate block of 16 zero bytes inside a zlib stream.
  const idat = new Uint8Array([0x78, 0x01, 0x01, 0x10, 0x00, 0xef, 0xff, ...new Array(16).fill(0)]);
  return new Uint8Array([
    ...signature,
    ...chunk("IHDR", ihdr),
    ...chunk("IDAT", idat),
    ...chunk("IEND", new Uint8Array()),
  ]);
}

function chunk(type: string, data: Uint8Array): number[] {
  const typeBytes = new TextEncoder().encode(type);
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, data.byteLength);
  const crc = new Uint8Array(4);
  new DataView(crc.buffer).setUint32(0, crc32(new Uint8Array([...typeBytes, ...data])));
  return [...length, ...typeBytes, ...data, ...crc];
}

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** What the image in `bytes` is, as sharp reads it (never compare bytes: encoders change). */
export async function inspect(bytes: Uint8Array): Promise<Metadata> {
  const sharp = await importSharp();
  return await sharp(bytes).metadata();
}

/** The mean colour of a region (0-255 per channel), to check where content ended up. */
export async function meanColour(
  bytes: Uint8Array,
  region?: { left: number; top: number; width: number; height: number },
): Promise<{ r: number; g: number; b: number }> {
  const sharp = await importSharp();
  // stats() reads its input, not the pipeline's output: extract first, then measure.
  const part = region === undefined ? bytes : await sharp(bytes).extract(region).png().toBuffer();
  const stats = await sharp(part).stats();
  const [r, g, b] = stats.channels;
  return { r: r!.mean, g: g!.mean, b: b!.mean };
}
