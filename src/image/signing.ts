// Owns signed image URLs: the string an image signature covers, signing image parameters
// (sign-url) and verifying a request's sig / kid / exp (HMAC-SHA256, key ids, constant time).

import { timingSafeEqual } from "node:crypto";
import { ProxyError } from "../errors.ts";
import { PrecomputedHmacSha256 } from "../crypto/precomputed_hmac.ts";
import { encodeUrlPath, formatDuration, isoSeconds, quote } from "../auth/signed_url.ts";
import type { ImageSigningConfig, ImageSigningKey } from "../config/types.ts";
import { canonicalTransform, IMAGE_SIGNATURE_PARAMS, PRESET_PARAM } from "./params.ts";
import type { ImageTransform } from "./types.ts";

/**
 * First line of every signed string: names this scheme, so an image signature can never be
 * replayed as a signed URL (auth/signed_url.ts, "YATAGARASU-HMAC-SHA256") or the other way round,
 * even where both use the same secret.
 */
export const IMAGE_SIGNING_SCHEME = "YATAGARASU-IMAGE-HMAC-SHA256";

/*
 * The query parameters (IMAGE_SIGNATURE_PARAMS in params.ts):
 *   sig  base64url without padding (43 characters) of HMAC-SHA256(UTF-8 secret, signed string)
 *   kid  the `id` of one of the signing keys (several are accepted during a rotation)
 *   exp  optional (required with `require_expiry`): Unix time in whole seconds, plain decimal
 *        without leading zeros; the URL works while now < exp
 *
 * The signed string is six fields joined by "\n":
 *
 *   YATAGARASU-IMAGE-HMAC-SHA256
 *   <path>      the decoded request path (bucket prefix included), each segment RFC 3986-encoded
 *               (every byte outside A-Z a-z 0-9 - . _ ~ as %XX, upper-case hex), "/" kept
 *   <preset>    the `preset` parameter's name, or "" without one
 *   <params>    canonicalTransform() of the free-form image parameters ("" without any): fixed
 *               order, aliases resolved, no-op values dropped, so `?h=300&w=400&f=jpg` and
 *               `?w=400&h=300&fmt=jpeg` carry the same signature
 *   <exp>       exp as sent, or "" without one
 *   <kid>       kid
 *
 * No field can run into another: the path is percent-encoded, preset names and key ids are
 * checked against the config (letters, digits, "._~-"), params use [a-z0-9_=&.] only and exp is
 * checked to be digits before anything is computed. Other query parameters (tokens, X-Signature)
 * are not covered: the signature is about which variant may be made, not who may read.
 *
 * Example: /img/cat.jpg?w=400&h=300, key "k1", no expiry:
 *   YATAGARASU-IMAGE-HMAC-SHA256\n/img/cat.jpg\n\nw=400&h=300\n\nk1
 */
export function imageSigningString(
  path: string,
  preset: string | undefined,
  params: string,
  expires: string | undefined,
  keyId: string,
): string {
  return `${IMAGE_SIGNING_SCHEME}\n${encodeUrlPath(path)}\n${preset ?? ""}\n${params}\n${
    expires ?? ""
  }\n${keyId}`;
}

export interface SignImageOptions {
  /** The decoded path, bucket prefix included ("/img/my cat.jpg"). */
  path: string;
  /** The free-form image parameters (undefined or {} for a preset alone). */
  transform?: ImageTransform | undefined;
  /** A preset name, when the URL uses one. */
  preset?: string | undefined;
  key: ImageSigningKey;
  /** Unix time in whole seconds from which the URL is refused; undefined = no expiry. */
  expiresAt?: number | undefined;
}

/**
 * The query (without "?") of a signed image URL: the canonical image parameters, then `preset`,
 * `exp`, `kid` and `sig`. Every piece is made of URL-safe characters. Throws TypeError for an
 * expiry that is not whole seconds, an empty key id or secret, or a path not starting with "/".
 */
export function signImageQuery(options: SignImageOptions): string {
  const { path, key, preset, expiresAt } = options;
  if (!path.startsWith("/")) {
    throw new TypeError(`The path to sign must start with "/", got ${JSON.stringify(path)}.`);
  }
  if (key.id === "") throw new TypeError("The image signing key has an empty id.");
  if (key.secret === "") {
    throw new TypeError(`The image signing key "${key.id}" has an empty secret.`);
  }
  if (expiresAt !== undefined && (!Number.isSafeInteger(expiresAt) || expiresAt < 0)) {
    throw new TypeError(`expiresAt must be a Unix time in whole seconds, got ${expiresAt}.`);
  }
  if (preset !== undefined && !/^[A-Za-z0-9_-]+$/.test(preset)) {
    throw new TypeError(`The preset name ${JSON.stringify(preset)} is not a configured name.`);
  }
  const params = options.transform === undefined ? "" : canonicalTransform(options.transform);
  const expires = expiresAt === undefined ? undefined : String(expiresAt);
  const signature = new PrecomputedHmacSha256(UTF8.encode(key.secret)).base64url(
    imageSigningString(path, preset, params, expires, key.id),
  );
  const pieces: string[] = [];
  if (params !== "") pieces.push(params);
  if (preset !== undefined) pieces.push(`${PRESET_PARAM}=${preset}`);
  if (expires !== undefined) pieces.push(`${IMAGE_SIGNATURE_PARAMS.expires}=${expires}`);
  pieces.push(`${IMAGE_SIGNATURE_PARAMS.keyId}=${encodeURIComponent(key.id)}`);
  pieces.push(`${IMAGE_SIGNATURE_PARAMS.signature}=${signature}`);
  return pieces.join("&");
}

/** The signature parameters of one request, as read by params.ts readImageQuery(). */
export interface ImageSignatureParams {
  signature: string | undefined;
  keyId: string | undefined;
  expires: string | undefined;
}

/** Checks image signatures against one signing config; the HMAC key states are built once. */
export class ImageSignatureVerifier {
  readonly #keys: ReadonlyMap<string, PrecomputedHmacSha256>;
  readonly #requireExpiry: boolean;
  readonly #keyList: string;

  constructor(config: ImageSigningConfig) {
    this.#keys = new Map(
      config.keys.map((key) => [key.id, new PrecomputedHmacSha256(UTF8.encode(key.secret))]),
    );
    this.#requireExpiry = config.requireExpiry;
    this.#keyList = config.keys.map((key) => key.id).join(", ");
  }

  /**
   * Returns when `sent` signs (path, preset, params) with an accepted key and has not expired;
   * throws ProxyError `invalid_image_signature` (403) otherwise, saying what is wrong. The
   * signature is checked before the expiry, so "expired" is only said of a genuine signature.
   * Messages never contain the expected signature or a secret.
   */
  verify(
    path: string,
    preset: string | undefined,
    params: string,
    sent: ImageSignatureParams,
    nowMs: number,
  ): void {
    const { signature, keyId, expires } = sent;
    const { signature: SIG, keyId: KID, expires: EXP } = IMAGE_SIGNATURE_PARAMS;
    if (signature === undefined && keyId === undefined) {
      throw invalid(
        `These image parameters must be signed: add ${KID} and ${SIG}${
          this.#requireExpiry ? ` and ${EXP}` : ""
        } (make a signed URL with \`yatagarasu sign-url --image ...\`), or use ?preset=<name> where presets are configured.`,
      );
    }
    if (signature === undefined || keyId === undefined) {
      throw invalid(
        `Incomplete image signature: ${
          signature === undefined ? SIG : KID
        } is missing; a signed image URL carries ${KID} and ${SIG} (and ${EXP} when it expires). Use the URL exactly as issued.`,
      );
    }
    if (expires === undefined && this.#requireExpiry) {
      throw invalid(
        `This bucket only accepts image signatures that expire, and this one has no ${EXP}; ask for a new URL (sign-url --expires).`,
      );
    }
    if (expires !== undefined && !CANONICAL_SECONDS.test(expires)) {
      throw invalid(
        `Malformed image signature: ${EXP} must be a Unix time in whole seconds, got ${
          quote(expires)
        }.`,
      );
    }
    const hmac = this.#keys.get(keyId);
    if (hmac === undefined) {
      throw invalid(
        `The image signature names the key id ${
          quote(keyId)
        }, which is not accepted here (unknown, or rotated out); ask for a new URL.`,
      );
    }
    if (!SIGNATURE_SHAPE.test(signature)) {
      throw invalid(
        `Malformed image signature: ${SIG} must be 43 base64url characters (an unpadded HMAC-SHA256).`,
      );
    }
    const expected = hmac.base64url(imageSigningString(path, preset, params, expires, keyId));
    // Both are 43 ASCII characters (the shape was checked): equal-length, constant-time compare.
    if (!timingSafeEqual(UTF8.encode(expected), UTF8.encode(signature))) {
      throw invalid(
        "The image signature does not match the path and image parameters (the URL was changed, or signed for another path); use the URL exactly as issued.",
      );
    }
    if (expires === undefined) return;
    const expiresAt = Number(expires);
    // Written so that a NaN clock fails closed.
    if (!(nowMs / 1000 < expiresAt)) {
      throw new ProxyError("invalid_image_signature", {
        message: `The signed image URL expired ${
          formatDuration(nowMs / 1000 - expiresAt)
        } ago (at ${isoSeconds(expiresAt)}); ask for a new URL.`,
        source: "client",
        details: { expired_at: isoSeconds(expiresAt) },
      });
    }
  }

  /** The accepted key ids, for messages ("k2, k1"). */
  get keyIds(): string {
    return this.#keyList;
  }
}

// ---- internals ------------------------------------------------------------------------------

const UTF8 = new TextEncoder();
const CANONICAL_SECONDS = /^(?:0|[1-9][0-9]{0,15})$/;
const SIGNATURE_SHAPE = /^[A-Za-z0-9_-]{43}$/;

function invalid(message: string): ProxyError {
  return new ProxyError("invalid_image_signature", { message, source: "client" });
}
