// Owns PrecomputedHmacSha256: HMAC-SHA256 under one fixed key with the padded key hashed once.

import { createHash, type Hash } from "node:crypto";

/**
 * HMAC-SHA256 (RFC 2104) is H((K ^ opad) || H((K ^ ipad) || m)). The two hash states with the
 * padded key already absorbed are built once per key and copied per message: node's createHmac
 * (a stream object in Deno) costs ~15 µs a call, two Hash copies ~3.5 µs. Used on hot paths by
 * the SigV4 signer (one key per day) and signed URLs (one key per configured secret); both are
 * checked against createHmac in their tests.
 */
export class PrecomputedHmacSha256 {
  readonly #inner: Hash;
  readonly #outer: Hash;
  /** Scratch for the inner digest, decoded from hex in JS (cheaper than a Buffer per call). */
  readonly #innerDigest = new Uint8Array(32);

  constructor(key: Uint8Array) {
    // Keys longer than the 64-byte block are hashed first; shorter ones are zero-padded.
    const material = key.length > 64 ? createHash("sha256").update(key).digest() : key;
    const ipad = new Uint8Array(64).fill(0x36);
    const opad = new Uint8Array(64).fill(0x5c);
    for (let i = 0; i < material.length; i++) {
      ipad[i] = 0x36 ^ material[i]!;
      opad[i] = 0x5c ^ material[i]!;
    }
    this.#inner = createHash("sha256").update(ipad);
    this.#outer = createHash("sha256").update(opad);
  }

  /** The MAC of `message` (UTF-8) as lower-case hex. */
  hex(message: string): string {
    return this.#outerHash(message).digest("hex");
  }

  /** The MAC of `message` (UTF-8) as base64url without padding. */
  base64url(message: string): string {
    return this.#outerHash(message).digest("base64url");
  }

  #outerHash(message: string): Hash {
    const innerHex = this.#inner.copy().update(message, "utf8").digest("hex");
    const inner = this.#innerDigest;
    for (let i = 0; i < 32; i++) {
      inner[i] = (hexDigit(innerHex.charCodeAt(2 * i)) << 4) |
        hexDigit(innerHex.charCodeAt(2 * i + 1));
    }
    return this.#outer.copy().update(inner);
  }
}

function hexDigit(code: number): number {
  // digest("hex") yields 0-9 and a-f only.
  return code < 58 ? code - 48 : code - 87;
}
