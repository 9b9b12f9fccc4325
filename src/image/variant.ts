// Owns variant identity: the cache key of a transformed image and its ETag (derived from the source's, and reversible).

import { createHash } from "node:crypto";
import type { EngineInfo } from "./engine.ts";

/**
 * The cache key of a variant: the source's key, then NUL, then the canonical parameters and the
 * output format (a negotiated "avif"/"webp", a fixed format, or "source"). It starts with
 * `bucket\0key\0`, so purging the object (cache/key.ts isObjectKey, isPrefixKey, isBucketKey)
 * purges every variant of it too.
 */
export function variantCacheKey(sourceKey: string, canonical: string, format: string): string {
  return sourceKey + "\0img:" + canonical + "\0" + format;
}

/** Separates the source's opaque tag from the variant's hash; never produced by the hash itself. */
const SEPARATOR = "~";

/**
 * The variant's ETag: the source's tag with a hash of what made the variant appended
 * (`"abc"` -> `"abc~Hk3..."`; a weak source tag stays weak). The hash covers the canonical
 * parameters, the output format and the engine's build (its bytes are what the tag vouches
 * for), and the source's bytes when the source had no ETag. A new source ETag gives a new
 * variant ETag, and sourceEtagOf() recovers the source's tag to revalidate with S3.
 */
export function variantEtag(
  sourceEtag: string | undefined,
  canonical: string,
  format: string,
  engine: EngineInfo,
  sourceBytes: Uint8Array,
): string {
  const hash = createHash("sha256")
    .update(canonical).update("\0").update(format).update("\0")
    .update(`${engine.name}/${engine.sharp}/${engine.libvips}`);
  const parsed = sourceEtag === undefined ? undefined : splitEtag(sourceEtag);
  if (parsed === undefined) hash.update("\0").update(sourceBytes);
  const digest = hash.digest("base64url").slice(0, 22);
  if (parsed === undefined) return `"${SEPARATOR}${digest}"`;
  return `${parsed.weak ? "W/" : ""}"${parsed.opaque}${SEPARATOR}${digest}"`;
}

/** The source ETag a variant ETag was derived from; undefined when the source had none. */
export function sourceEtagOf(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  const parsed = splitEtag(etag);
  if (parsed === undefined) return undefined;
  const at = parsed.opaque.lastIndexOf(SEPARATOR);
  if (at <= 0) return undefined;
  return `${parsed.weak ? "W/" : ""}"${parsed.opaque.slice(0, at)}"`;
}

function splitEtag(etag: string): { weak: boolean; opaque: string } | undefined {
  const weak = etag.startsWith("W/");
  const quoted = weak ? etag.slice(2) : etag;
  if (quoted.length < 2 || !quoted.startsWith('"') || !quoted.endsWith('"')) return undefined;
  return { weak, opaque: quoted.slice(1, -1) };
}
