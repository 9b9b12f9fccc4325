// Owns the byte layout of a cache entry outside memory (disk files, Redis values): a framed header and the body.

import type { CachedObject } from "./cached_object.ts";

/** "YGC1": identifies the layout, so a file or value from anything else is refused, not misread. */
const MAGIC = [0x59, 0x47, 0x43, 0x31] as const;
/** Magic (4) + header length (u32 big-endian). */
export const FRAME_PREFIX_BYTES = 8;

/** Everything but the body: what an index rebuilt from disk needs without reading bodies. */
export interface EntryHeader {
  /** The cache key (see key.ts), so an index can be rebuilt and purges matched from the file alone. */
  key: string;
  headers: Array<[string, string]>;
  etag: string | undefined;
  lastModifiedMs: number | undefined;
  storedAt: number;
  expiresAt: number;
  bodyBytes: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** One buffer: MAGIC, u32 header length, header JSON (UTF-8), body. */
export function encodeEntry(key: string, value: CachedObject): Uint8Array<ArrayBuffer> {
  const header: EntryHeader = {
    key,
    headers: [...value.headers],
    etag: value.etag,
    lastModifiedMs: value.lastModifiedMs,
    storedAt: value.storedAt,
    expiresAt: value.expiresAt,
    bodyBytes: value.body.byteLength,
  };
  const json = encoder.encode(JSON.stringify(header));
  const out = new Uint8Array(FRAME_PREFIX_BYTES + json.byteLength + value.body.byteLength);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, json.byteLength);
  out.set(json, FRAME_PREFIX_BYTES);
  out.set(value.body, FRAME_PREFIX_BYTES + json.byteLength);
  return out;
}

/**
 * The header's length from the first FRAME_PREFIX_BYTES, or undefined when they are not a frame.
 * Lets a reader fetch exactly the header and skip the body.
 */
export function headerLength(prefix: Uint8Array): number | undefined {
  if (prefix.byteLength < FRAME_PREFIX_BYTES) return undefined;
  for (let i = 0; i < MAGIC.length; i++) if (prefix[i] !== MAGIC[i]) return undefined;
  return new DataView(prefix.buffer, prefix.byteOffset, FRAME_PREFIX_BYTES).getUint32(4);
}

/** Parses the header JSON bytes; undefined when they are not a well-formed header. */
export function decodeHeader(json: Uint8Array): EntryHeader | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(json));
  } catch {
    return undefined;
  }
  return isEntryHeader(parsed) ? parsed : undefined;
}

/**
 * The entry in `bytes`, or undefined when they are not a complete, consistent frame (a torn write,
 * a foreign value): a damaged entry is a miss, never a corrupted response.
 */
export function decodeEntry(
  bytes: Uint8Array,
): { key: string; value: CachedObject } | undefined {
  const length = headerLength(bytes);
  if (length === undefined || FRAME_PREFIX_BYTES + length > bytes.byteLength) return undefined;
  const header = decodeHeader(bytes.subarray(FRAME_PREFIX_BYTES, FRAME_PREFIX_BYTES + length));
  if (header === undefined) return undefined;
  const bodyStart = FRAME_PREFIX_BYTES + length;
  if (bytes.byteLength - bodyStart !== header.bodyBytes) return undefined;
  // A copy: the cached body must not keep a larger read buffer alive or alias it.
  const body = new Uint8Array(header.bodyBytes);
  body.set(bytes.subarray(bodyStart));
  return { key: header.key, value: fromHeader(header, body) };
}

/** The CachedObject of a decoded header and its body. */
export function fromHeader(header: EntryHeader, body: Uint8Array<ArrayBuffer>): CachedObject {
  return {
    headers: new Headers(header.headers),
    body,
    etag: header.etag,
    lastModifiedMs: header.lastModifiedMs,
    storedAt: header.storedAt,
    expiresAt: header.expiresAt,
  };
}

function isEntryHeader(value: unknown): value is EntryHeader {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.key === "string" &&
    Array.isArray(v.headers) &&
    v.headers.every((pair) =>
      Array.isArray(pair) && pair.length === 2 && typeof pair[0] === "string" &&
      typeof pair[1] === "string"
    ) &&
    (v.etag === undefined || typeof v.etag === "string") &&
    (v.lastModifiedMs === undefined || Number.isFinite(v.lastModifiedMs)) &&
    Number.isFinite(v.storedAt) && Number.isFinite(v.expiresAt) &&
    Number.isSafeInteger(v.bodyBytes) && (v.bodyBytes as number) >= 0;
}
