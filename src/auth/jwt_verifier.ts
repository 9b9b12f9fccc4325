// Owns JWT signature and registered-claim verification: keys (secret, PEM, keys[], JWKS), JWKS refresh, the verified-token cache.

import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";
import {
  compactVerify,
  createLocalJWKSet,
  type CryptoKey,
  importJWK,
  importSPKI,
  importX509,
  type JWK,
} from "jose";
import { JWT_ALGORITHMS, type JwtAlgorithm, type JwtConfig } from "../config/types.ts";
import { ProxyError } from "../errors.ts";

/**
 * Why the HMAC path does not go through jose: jose 6 is WebCrypto-only, so even a Uint8Array secret
 * becomes a crypto.subtle.importKey + crypto.subtle.verify per token (~60-80 µs here; subtle.verify
 * alone ~40 µs). node:crypto's createHmac is synchronous and ~5-15 µs (DESIGN §3 made the same call
 * for SigV4). Asymmetric signatures (RS/PS/ES/EdDSA) are verified by jose's compactVerify, JWKS keys
 * are resolved by jose's createLocalJWKSet, PEMs are read by importSPKI/importX509. The registered
 * claims (exp, nbf, iat, iss, aud) are checked here, once, for every algorithm, so HS and RS tokens
 * obey exactly the same rules.
 */

export interface JwtVerifierOptions {
  /** Used for the JWKS endpoint; tests inject one. Default: the global fetch. */
  fetch?: typeof fetch;
  /** Clock in epoch milliseconds (exp/nbf, the cache, the unknown-kid cooldown). Default Date.now. */
  now?: () => number;
  /** Least time between two JWKS fetches triggered by an unknown `kid`. Default 30,000 ms. */
  jwksCooldownMs?: number;
  /** Bound on one JWKS fetch, headers and body (a request waiting on a refetch waits at most this). Default 3,000 ms. */
  jwksTimeoutMs?: number;
  /** Verified-token cache bound. Default 10,000; 0 disables the cache. */
  cacheMaxEntries?: number;
  /** How config errors name this block ("jwt", "buckets[2].auth.jwt"). Default "jwt". */
  configPath?: string;
}

export interface VerifiedToken {
  /** Every claim of the payload, deep-frozen (cached tokens share it). */
  claims: Readonly<Record<string, unknown>>;
  /** `exp` in epoch ms, when the token has one. */
  expiresAtMs: number | undefined;
}

export interface JwksStatus {
  /** Usable keys in the current set (0 before the first successful fetch). */
  keys: number;
  /** Bumped each time the key set changes; the token cache is emptied then. */
  version: number;
  lastSuccessAtMs: number | undefined;
  lastAttemptAtMs: number | undefined;
  /** Why the last fetch failed (status, parse error, timeout), or undefined after a success. */
  lastError: string | undefined;
}

/** Tokens longer than this are refused before any parsing (a JWT is rarely over 2 KiB). */
export const MAX_TOKEN_LENGTH = 16_384;
/** Tokens longer than this are verified but not cached (bounds the cache at ~40 MB). */
const MAX_CACHED_TOKEN_LENGTH = 4_096;
/** A JWKS document larger than this is garbage (real ones are a few KiB). */
const MAX_JWKS_BYTES = 1 << 20;

const HMAC_HASH = { HS256: "sha256", HS384: "sha384", HS512: "sha512" } as const;
type HmacAlgorithm = keyof typeof HMAC_HASH;
const ASYMMETRIC: readonly JwtAlgorithm[] = JWT_ALGORITHMS.filter((alg) => !alg.startsWith("HS"));
const KNOWN_ALGS: ReadonlySet<string> = new Set(JWT_ALGORITHMS);
const RSA_ALGS: readonly JwtAlgorithm[] = ASYMMETRIC.filter((a) => /^(RS|PS)/.test(a));
const EC_CURVE_ALG: Record<string, JwtAlgorithm> = {
  "P-256": "ES256",
  "P-384": "ES384",
  "P-521": "ES512",
};

/** A key bound to exactly one algorithm: an RSA key can never be used as an HMAC secret. */
type StaticKey =
  | { kind: "hmac"; label: string; alg: HmacAlgorithm; hash: string; secret: Buffer }
  | { kind: "public"; label: string; alg: JwtAlgorithm; key: CryptoKey };

interface JwksEntry {
  kid: string | undefined;
  algs: ReadonlySet<string>;
}

interface JwksKeySet {
  resolve: ReturnType<typeof createLocalJWKSet>;
  entries: readonly JwksEntry[];
  kids: ReadonlySet<string>;
  fingerprint: string;
}

type Selected = StaticKey | { kind: "jwks" };

export class JwtVerifier {
  readonly #defaultKey: StaticKey | undefined;
  readonly #namedKeys: ReadonlyMap<string, StaticKey>;
  readonly #issuer: string | undefined;
  readonly #audience: string | undefined;
  readonly #leewayMs: number;
  readonly #now: () => number;
  readonly #cacheMax: number;
  // Oldest-first eviction (Map insertion order): a hit costs one get and one clock read, no reordering.
  readonly #cache = new Map<string, VerifiedToken>();
  // Concurrent first requests with the same new token share one verification.
  readonly #inflight = new Map<string, Promise<VerifiedToken>>();

  readonly #jwksUrl: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #cooldownMs: number;
  readonly #timeoutMs: number;
  readonly #refreshMs: number;
  #jwks: JwksKeySet | undefined;
  #version = 0;
  #fetching: Promise<boolean> | undefined;
  #abort: AbortController | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #lastAttemptAtMs: number | undefined;
  #lastSuccessAtMs: number | undefined;
  #lastError: string | undefined;

  private constructor(
    config: JwtConfig,
    keys: { defaultKey: StaticKey | undefined; named: Map<string, StaticKey> },
    options: JwtVerifierOptions,
  ) {
    this.#defaultKey = keys.defaultKey;
    this.#namedKeys = keys.named;
    this.#issuer = config.issuer || undefined;
    this.#audience = config.audience || undefined;
    this.#leewayMs = Math.max(0, config.leewaySeconds) * 1000;
    this.#now = options.now ?? Date.now;
    this.#cacheMax = options.cacheMaxEntries ?? 10_000;
    this.#jwksUrl = config.jwksUrl || undefined;
    this.#fetch = options.fetch ?? fetch;
    this.#cooldownMs = options.jwksCooldownMs ?? 30_000;
    this.#timeoutMs = options.jwksTimeoutMs ?? 3_000;
    this.#refreshMs = config.jwksRefreshIntervalSecs * 1000;
  }

  /**
   * Reads the PEM files and builds every key now (a bad key is a startup error naming it), then
   * fetches the JWKS once. A JWKS failure here is not fatal: the refresh timer and unknown-kid
   * refetches keep trying, and status() says why it failed.
   */
  static async create(config: JwtConfig, options: JwtVerifierOptions = {}): Promise<JwtVerifier> {
    const where = options.configPath ?? "jwt";
    const keys = await buildStaticKeys(config, where);
    if (keys.defaultKey === undefined && keys.named.size === 0 && !config.jwksUrl) {
      throw new Error(
        `${where}: no verification key; set secret (HS*), rsa_public_key_path (RS*/PS*), ` +
          `ecdsa_public_key_path (ES*/EdDSA), keys[] or jwks_url`,
      );
    }
    const verifier = new JwtVerifier(config, keys, options);
    if (verifier.#jwksUrl !== undefined) {
      const ok = await verifier.refreshJwks();
      verifier.#schedule(ok);
    }
    return verifier;
  }

  /** Bumped whenever the JWKS key set changes (the token cache is emptied at the same time). */
  get keySetVersion(): number {
    return this.#version;
  }

  get cacheSize(): number {
    return this.#cache.size;
  }

  status(): JwksStatus {
    return {
      keys: this.#jwks?.entries.length ?? 0,
      version: this.#version,
      lastSuccessAtMs: this.#lastSuccessAtMs,
      lastAttemptAtMs: this.#lastAttemptAtMs,
      lastError: this.#lastError,
    };
  }

  /** The cached verification of `token`, if still before its `exp`. Synchronous fast path. */
  cached(token: string): VerifiedToken | undefined {
    const hit = this.#cache.get(token);
    if (hit === undefined) return undefined;
    // The cache never extends a token by the leeway: past `exp`, it is verified afresh.
    if (hit.expiresAtMs === undefined || this.#now() < hit.expiresAtMs) return hit;
    this.#cache.delete(token);
    return undefined;
  }

  /**
   * Verifies the signature and the registered claims. Throws ProxyError `token_invalid` (401 with
   * `WWW-Authenticate: Bearer error="invalid_token"`) otherwise. Failures are not cached: a forger
   * can vary the token at will, so a failure cache would only hold garbage.
   */
  verify(token: string): Promise<VerifiedToken> {
    const hit = this.cached(token);
    if (hit !== undefined) return Promise.resolve(hit);
    const pending = this.#inflight.get(token);
    if (pending !== undefined) return pending;
    const promise = this.#verifyUncached(token).then(
      ([verified, version]) => {
        this.#inflight.delete(token);
        // A key rotation after the key was chosen empties the cache; don't refill it with a result
        // obtained from the old set.
        if (version === this.#version) this.#remember(token, verified);
        return verified;
      },
      (error: unknown) => {
        this.#inflight.delete(token);
        throw error;
      },
    );
    this.#inflight.set(token, promise);
    return promise;
  }

  /** Fetches the JWKS now (joining a fetch in flight). Resolves true when a usable set arrived. */
  refreshJwks(): Promise<boolean> {
    if (this.#jwksUrl === undefined || this.#closed) return Promise.resolve(false);
    this.#fetching ??= this.#fetchJwks(this.#jwksUrl).finally(() => {
      this.#fetching = undefined;
    });
    return this.#fetching;
  }

  /** Stops the refresh timer and aborts a JWKS fetch in flight. Verification still works after. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort?.abort();
    await this.#fetching;
  }

  #remember(token: string, verified: VerifiedToken): void {
    if (this.#cacheMax <= 0 || token.length > MAX_CACHED_TOKEN_LENGTH) return;
    // Inside the leeway after `exp`: valid, but not for the cache (which never extends a token).
    if (verified.expiresAtMs !== undefined && this.#now() >= verified.expiresAtMs) return;
    if (this.#cache.size >= this.#cacheMax) {
      const oldest = this.#cache.keys().next();
      if (!oldest.done) this.#cache.delete(oldest.value);
    }
    this.#cache.set(token, verified);
  }

  // A success waits the full interval; a failure retries sooner (after the cooldown, at least 1 s,
  // so a tiny cooldown cannot turn an outage into a fetch loop).
  #schedule(lastOk: boolean): void {
    if (this.#closed || !(this.#refreshMs > 0)) return;
    const retryMs = Math.min(this.#refreshMs, Math.max(this.#cooldownMs, 1_000));
    const delay = lastOk ? this.#refreshMs : retryMs;
    const timer = setTimeout(() => {
      this.#timer = undefined;
      this.refreshJwks().then((ok) => this.#schedule(ok));
    }, delay);
    // The refresh must never keep a process alive on its own (CLI one-shots, tests).
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  async #fetchJwks(url: string): Promise<boolean> {
    this.#lastAttemptAtMs = this.#now();
    const abort = new AbortController();
    this.#abort = abort;
    const timer = setTimeout(() => abort.abort(), this.#timeoutMs);
    try {
      const response = await this.#fetch(url, {
        headers: { accept: "application/jwk-set+json, application/json" },
        signal: abort.signal,
      });
      if (!response.ok) {
        await response.body?.cancel().catch(() => {});
        throw new Error(`the JWKS endpoint answered HTTP ${response.status}`);
      }
      const text = await readLimited(response, MAX_JWKS_BYTES);
      let document: unknown;
      try {
        document = JSON.parse(text);
      } catch {
        throw new Error("the JWKS endpoint answered something that is not JSON");
      }
      const keySet = await buildJwksKeySet(document);
      if (this.#closed) return false;
      if (keySet.fingerprint !== this.#jwks?.fingerprint) {
        this.#jwks = keySet;
        this.#version++;
        // Rotation: a token accepted under the old set must be judged again under the new one.
        this.#cache.clear();
      }
      this.#lastSuccessAtMs = this.#now();
      this.#lastError = undefined;
      return true;
    } catch (error) {
      // The last good key set stays in place; the endpoint being down is not a reason to fail closed
      // for tokens signed by keys we already trust.
      this.#lastError = abort.signal.aborted
        ? (this.#closed
          ? "closed"
          : `the JWKS endpoint did not answer within ${this.#timeoutMs} ms`)
        : (error as Error).message;
      return false;
    } finally {
      clearTimeout(timer);
      if (this.#abort === abort) this.#abort = undefined;
    }
  }

  /** The verification and the key-set version its key was chosen under. */
  async #verifyUncached(token: string): Promise<[VerifiedToken, number]> {
    if (token.length > MAX_TOKEN_LENGTH) {
      throw invalid(
        "The token is too long",
        `The token is longer than ${MAX_TOKEN_LENGTH} characters; send the JWT exactly as issued.`,
      );
    }
    const firstDot = token.indexOf(".");
    const secondDot = firstDot === -1 ? -1 : token.indexOf(".", firstDot + 1);
    if (secondDot === -1 || token.indexOf(".", secondDot + 1) !== -1) throw malformed();
    const headerPart = token.slice(0, firstDot);
    const payloadPart = token.slice(firstDot + 1, secondDot);
    const signaturePart = token.slice(secondDot + 1);
    if (
      !isBase64Url(headerPart) || !isBase64Url(payloadPart) || !isBase64Url(signaturePart)
    ) throw malformed();

    const header = parseJsonObject(headerPart);
    if (header === undefined) throw malformed();
    const alg = header.alg;
    if (typeof alg !== "string" || !KNOWN_ALGS.has(alg)) {
      throw invalid(
        "The token algorithm is not accepted",
        `The token's "alg" is ${
          alg === "none" ? '"none" (unsigned)' : "not a supported algorithm"
        }; unsigned tokens are never accepted. Get a token signed with ${
          JWT_ALGORITHMS.join(", ")
        }.`,
      );
    }
    // RFC 7515 §4.1.11: a `crit` extension we don't implement must make the token invalid.
    if (header.crit !== undefined) {
      throw invalid(
        "The token uses unsupported extensions",
        'The token\'s header lists "crit" extensions, which this gateway does not implement.',
      );
    }
    const kid = header.kid;
    if (kid !== undefined && typeof kid !== "string") throw malformed();

    // Header-supplied key material (jwk, jku, x5u, x5c) is never looked at: keys come from config only.
    const selected = await this.#selectKey(alg as JwtAlgorithm, kid);
    const version = this.#version;
    const jwks = this.#jwks;
    if (selected.kind === "hmac") {
      if (selected.alg !== alg) throw algMismatch(alg, selected);
      const mac = createHmac(selected.hash, selected.secret)
        .update(token.slice(0, secondDot))
        .digest("base64url");
      if (
        mac.length !== signaturePart.length ||
        !timingSafeEqual(Buffer.from(mac), Buffer.from(signaturePart))
      ) throw badSignature();
    } else if (selected.kind === "public") {
      if (selected.alg !== alg) throw algMismatch(alg, selected);
      await verifyAsymmetric(token, selected.key, alg);
    } else {
      if (jwks === undefined) throw keysUnavailable();
      await verifyAsymmetric(token, jwks.resolve, alg);
    }

    // The payload is parsed only once its signature is known good.
    const claims = parseJsonObject(payloadPart);
    if (claims === undefined) {
      throw invalid(
        "The token payload is not a JSON object",
        "The token's payload is not a JSON object; send the JWT exactly as issued.",
      );
    }
    return [this.#checkRegisteredClaims(claims), version];
  }

  async #selectKey(alg: JwtAlgorithm, kid: string | undefined): Promise<Selected> {
    if (kid !== undefined) {
      const named = this.#namedKeys.get(kid);
      if (named !== undefined) return named;
      if (this.#jwksUrl !== undefined) {
        if (!this.#jwks?.kids.has(kid)) await this.#refetchForUnknownKid();
        if (this.#jwks?.kids.has(kid)) {
          if (!this.#jwks.entries.some((e) => e.kid === kid && e.algs.has(alg))) {
            throw invalid(
              "The token algorithm does not fit its key",
              `The JWKS key named by the token's "kid" does not accept ${alg}; get a token from the configured issuer.`,
            );
          }
          return { kind: "jwks" };
        }
      }
      // An issuer that always sets `kid`, verified with a single configured secret or PEM.
      if (this.#defaultKey !== undefined) return this.#defaultKey;
      if (this.#jwksUrl !== undefined && this.#jwks === undefined) throw keysUnavailable();
      throw invalid(
        "The token key id is unknown",
        'No configured key matches the token\'s "kid"; get a token from the configured issuer ' +
          "(or add its key to keys[] / the JWKS).",
      );
    }
    if (this.#defaultKey !== undefined) return this.#defaultKey;
    // Without a kid and without a default key, only an unambiguous single candidate is used.
    const candidates: Selected[] = [];
    for (const key of this.#namedKeys.values()) if (key.alg === alg) candidates.push(key);
    for (const entry of this.#jwks?.entries ?? []) {
      if (entry.algs.has(alg)) candidates.push({ kind: "jwks" });
    }
    if (candidates.length === 1) return candidates[0]!;
    if (candidates.length === 0 && this.#jwksUrl !== undefined && this.#jwks === undefined) {
      throw keysUnavailable();
    }
    throw invalid(
      "The token has no key id",
      candidates.length === 0
        ? `No configured key accepts ${alg}; get a token from the configured issuer.`
        : `The token has no "kid" header and ${candidates.length} configured keys accept ${alg}; ` +
          'the issuer must set "kid".',
    );
  }

  async #refetchForUnknownKid(): Promise<void> {
    if (this.#fetching !== undefined) {
      await this.#fetching;
      return;
    }
    const last = this.#lastAttemptAtMs;
    if (this.#closed || (last !== undefined && this.#now() - last < this.#cooldownMs)) return;
    await this.refreshJwks();
  }

  #checkRegisteredClaims(claims: Record<string, unknown>): VerifiedToken {
    const nowMs = this.#now();
    const { exp, nbf, iat } = claims;
    for (const [name, value] of [["exp", exp], ["nbf", nbf], ["iat", iat]] as const) {
      if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value))) {
        throw invalid(
          `The token ${name} claim is not a number`,
          `The token's "${name}" claim must be a number of seconds since 1970; send a standard JWT.`,
        );
      }
    }
    // RFC 7519 §4.1.4: valid only while now < exp; the leeway absorbs clock skew.
    if (typeof exp === "number" && nowMs >= exp * 1000 + this.#leewayMs) {
      throw invalid(
        "The token has expired",
        `The token expired at ${isoTime(exp)}; get a new token.`,
      );
    }
    // RFC 7519 §4.1.5: valid from nbf on (minus the leeway).
    if (typeof nbf === "number" && nowMs < nbf * 1000 - this.#leewayMs) {
      throw invalid(
        "The token is not valid yet",
        `The token is not valid before ${isoTime(nbf)}; retry then, or check the issuer's clock.`,
      );
    }
    if (this.#issuer !== undefined && claims.iss !== this.#issuer) {
      throw invalid(
        "The token issuer is not accepted",
        `The token's issuer ("iss") is not the accepted one; get a token from ${
          JSON.stringify(this.#issuer)
        }.`,
      );
    }
    const audience = this.#audience;
    if (audience !== undefined) {
      const aud = claims.aud;
      const ok = typeof aud === "string"
        ? aud === audience
        : Array.isArray(aud) && aud.includes(audience);
      if (!ok) {
        throw invalid(
          "The token audience is not accepted",
          `The token's audience ("aud") does not include ${
            JSON.stringify(audience)
          }; get a token issued for this service.`,
        );
      }
    }
    return {
      claims: deepFreeze(claims),
      expiresAtMs: typeof exp === "number" ? exp * 1000 : undefined,
    };
  }
}

async function verifyAsymmetric(
  token: string,
  key: CryptoKey | ReturnType<typeof createLocalJWKSet>,
  alg: string,
): Promise<void> {
  try {
    // `algorithms` pins the one alg already checked against the key: jose refuses any other.
    const options = { algorithms: [alg] };
    if (typeof key === "function") await compactVerify(token, key, options);
    else await compactVerify(token, key, options);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") throw badSignature();
    if (code === "ERR_JWKS_NO_MATCHING_KEY") {
      throw invalid(
        "No key accepts the token",
        `No JWKS key accepts this ${alg} token; get a token from the configured issuer.`,
      );
    }
    if (code === "ERR_JWKS_MULTIPLE_MATCHING_KEYS") {
      throw invalid(
        "The token has no key id",
        'Several JWKS keys could verify this token; the issuer must set "kid".',
      );
    }
    if (code === "ERR_JWS_INVALID") throw malformed();
    // Key/alg mismatches (e.g. an RSA key under 2048 bits) and anything unforeseen: still a 401.
    throw invalid(
      "The token cannot be verified",
      `The token cannot be verified with the configured ${alg} key; get a token from the configured issuer.`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Keys from config

async function buildStaticKeys(
  config: JwtConfig,
  where: string,
): Promise<{ defaultKey: StaticKey | undefined; named: Map<string, StaticKey> }> {
  const alg = config.algorithm;
  const secret = config.secret || undefined;
  const rsaPath = config.rsaPublicKeyPath || undefined;
  const ecPath = config.ecdsaPublicKeyPath || undefined;
  if (!KNOWN_ALGS.has(alg)) {
    throw new Error(`${where}.algorithm: "${alg}" is not one of ${JWT_ALGORITHMS.join(", ")}`);
  }
  let defaultKey: StaticKey | undefined;
  if (isHmac(alg)) {
    if (rsaPath !== undefined || ecPath !== undefined) {
      throw new Error(
        `${where}: algorithm ${alg} is HMAC and uses secret; rsa_public_key_path / ecdsa_public_key_path ` +
          "need an RS*/PS*/ES*/EdDSA algorithm",
      );
    }
    if (secret !== undefined) defaultKey = hmacKey(`${where}.secret`, alg, secret);
  } else {
    if (secret !== undefined) {
      throw new Error(
        `${where}: secret is for HS256/HS384/HS512 but algorithm is ${alg}; remove secret or change algorithm`,
      );
    }
    // RS*/PS* read rsa_public_key_path; ES* and EdDSA (Ed25519 is an elliptic-curve key) read
    // ecdsa_public_key_path. The other path being set is a mistake worth stopping on.
    const isRsa = RSA_ALGS.includes(alg);
    const wanted = isRsa ? "rsa_public_key_path" : "ecdsa_public_key_path";
    const other = isRsa ? "ecdsa_public_key_path" : "rsa_public_key_path";
    if ((isRsa ? ecPath : rsaPath) !== undefined) {
      throw new Error(`${where}: algorithm ${alg} reads its key from ${wanted}, not from ${other}`);
    }
    const path = isRsa ? rsaPath : ecPath;
    if (path !== undefined) defaultKey = await pemKey(`${where}.${wanted}`, alg, path);
  }

  const named = new Map<string, StaticKey>();
  for (const [index, key] of config.keys.entries()) {
    const label = `${where}.keys[${index}] ("${key.id}")`;
    if (!key.id) throw new Error(`${where}.keys[${index}]: id must be a non-empty string`);
    if (named.has(key.id)) throw new Error(`${label}: duplicate id; each key needs its own id`);
    if (!KNOWN_ALGS.has(key.algorithm)) {
      throw new Error(
        `${label}: algorithm "${key.algorithm}" is not one of ${JWT_ALGORITHMS.join(", ")}`,
      );
    }
    if (isHmac(key.algorithm)) {
      if (key.path) throw new Error(`${label}: ${key.algorithm} is HMAC; give secret, not path`);
      if (!key.secret) throw new Error(`${label}: ${key.algorithm} needs a non-empty secret`);
      named.set(key.id, hmacKey(label, key.algorithm, key.secret));
    } else {
      if (key.secret) {
        throw new Error(
          `${label}: ${key.algorithm} verifies with a public key; give path, not secret`,
        );
      }
      if (!key.path) {
        throw new Error(`${label}: ${key.algorithm} needs path (a PEM public key or certificate)`);
      }
      named.set(key.id, await pemKey(label, key.algorithm, key.path));
    }
  }
  return { defaultKey, named };
}

function isHmac(alg: string): alg is HmacAlgorithm {
  return Object.hasOwn(HMAC_HASH, alg);
}

function hmacKey(label: string, alg: HmacAlgorithm, secret: string): StaticKey {
  // The secret's UTF-8 bytes, as the original (and most issuers) use it.
  return { kind: "hmac", label, alg, hash: HMAC_HASH[alg], secret: Buffer.from(secret, "utf8") };
}

async function pemKey(label: string, alg: JwtAlgorithm, path: string): Promise<StaticKey> {
  let pem: string;
  try {
    pem = await Deno.readTextFile(path);
  } catch (error) {
    throw new Error(`${label}: cannot read the PEM file "${path}": ${(error as Error).message}`);
  }
  const kind = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
  let key: CryptoKey;
  try {
    if (kind === "PUBLIC KEY") key = await importSPKI(pem, alg);
    else if (kind === "CERTIFICATE") key = await importX509(pem, alg);
    else if (kind === "RSA PUBLIC KEY") {
      throw new Error(
        "it is a PKCS#1 RSA key; convert it to SPKI: openssl rsa -RSAPublicKey_in -in key.pem -pubout",
      );
    } else if (kind?.includes("PRIVATE KEY")) {
      throw new Error("it is a private key; give the public key: openssl pkey -in key.pem -pubout");
    } else throw new Error('it holds no "PUBLIC KEY" or "CERTIFICATE" PEM block');
  } catch (error) {
    const reason = (error as Error).message;
    throw new Error(
      `${label}: the PEM file "${path}" is not a usable ${alg} public key: ${reason}`,
    );
  }
  const modulus = (key.algorithm as { modulusLength?: number }).modulusLength;
  if (modulus !== undefined && modulus < 2048) {
    throw new Error(
      `${label}: the RSA key in "${path}" has ${modulus} bits; RS*/PS* need at least 2048`,
    );
  }
  return { kind: "public", label, alg, key };
}

// ---------------------------------------------------------------------------------------------
// JWKS

/**
 * Keeps the JWKs that can verify an asymmetric signature (never `oct`: a JWKS must not hand out
 * HMAC secrets; never private keys), each imported once here so a broken key is dropped now
 * instead of failing requests later. Throws when nothing usable is left (garbage answer).
 */
async function buildJwksKeySet(document: unknown): Promise<JwksKeySet> {
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error('the JWKS has no "keys" array');
  const usable: JWK[] = [];
  const entries: JwksEntry[] = [];
  for (const raw of keys) {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) continue;
    const jwk = raw as JWK;
    if (jwk.d !== undefined || (jwk.use !== undefined && jwk.use !== "sig")) continue;
    if (jwk.kid !== undefined && typeof jwk.kid !== "string") continue;
    const algs = jwkAlgorithms(jwk);
    if (algs.length === 0 || !hasSaneCoordinates(jwk)) continue;
    try {
      const key = await importJWK(jwk, algs[0]);
      if (!(typeof key === "object" && "type" in key && key.type === "public")) continue;
      const modulus = (key.algorithm as { modulusLength?: number }).modulusLength;
      if (modulus !== undefined && modulus < 2048) continue;
    } catch {
      continue;
    }
    usable.push(jwk);
    entries.push({ kid: jwk.kid, algs: new Set(algs) });
  }
  if (usable.length === 0) throw new Error("the JWKS holds no usable public signing key");
  const kids = new Set<string>();
  for (const entry of entries) if (entry.kid !== undefined) kids.add(entry.kid);
  return {
    resolve: createLocalJWKSet({ keys: usable }),
    entries,
    kids,
    fingerprint: JSON.stringify(usable),
  };
}

/** The algorithms a JWK may verify: its `alg` when set, else what its key type implies. */
function jwkAlgorithms(jwk: JWK): JwtAlgorithm[] {
  const { kty, alg, crv } = jwk;
  let implied: readonly JwtAlgorithm[];
  if (kty === "RSA") implied = RSA_ALGS;
  else if (kty === "EC") {
    implied = typeof crv === "string" && EC_CURVE_ALG[crv] ? [EC_CURVE_ALG[crv]] : [];
  } else if (kty === "OKP") implied = crv === "Ed25519" ? ["EdDSA"] : [];
  else implied = [];
  if (alg === undefined) return [...implied];
  return implied.includes(alg as JwtAlgorithm) ? [alg as JwtAlgorithm] : [];
}

const COORDINATE_BYTES: Record<string, number> = {
  "P-256": 32,
  "P-384": 48,
  "P-521": 66,
  Ed25519: 32,
};

// Deno's WebCrypto imports an EC JWK with truncated coordinates without complaint; such a key can
// only fail later, per request. Checking the sizes here drops it with the rest of the garbage.
function hasSaneCoordinates(jwk: JWK): boolean {
  if (jwk.kty === "RSA") return typeof jwk.n === "string" && typeof jwk.e === "string";
  const size = typeof jwk.crv === "string" ? COORDINATE_BYTES[jwk.crv] : undefined;
  if (size === undefined) return false;
  const length = (value: unknown) =>
    typeof value === "string" && isBase64Url(value) ? Buffer.from(value, "base64url").length : -1;
  return length(jwk.x) === size && (jwk.kty === "OKP" || length(jwk.y) === size);
}

async function readLimited(response: Response, limit: number): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw new Error(`the JWKS is larger than ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * Unpadded, canonical base64url. A length of 4n+1 cannot be base64 (Buffer would silently drop the
 * dangling character), and the unused low bits of the last character must be zero: otherwise
 * several strings decode to the same signature and an edited token would still verify.
 */
function isBase64Url(part: string): boolean {
  const rest = part.length % 4;
  if (rest === 1 || !BASE64URL.test(part)) return false;
  if (rest === 0) return true;
  const last = ALPHABET.indexOf(part[part.length - 1]!);
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0;
}

function parseJsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? value as Record<string, unknown>
      : undefined;
  } catch {
    return undefined;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function isoTime(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? String(seconds) : date.toISOString();
}

/**
 * A 401 token_invalid. `description` goes into WWW-Authenticate (RFC 6750 §3: printable ASCII
 * without `"` or `\`), so it is always one of the fixed strings in this file, never token data.
 */
function invalid(description: string, message: string): ProxyError {
  return new ProxyError("token_invalid", {
    message,
    source: "client",
    headers: {
      "www-authenticate": `Bearer error="invalid_token", error_description="${description}"`,
    },
  });
}

function malformed(): ProxyError {
  return invalid(
    "The token is malformed",
    "The token is not a well-formed JWT (header.payload.signature, base64url); send it exactly as issued.",
  );
}

function badSignature(): ProxyError {
  return invalid(
    "The token signature is invalid",
    "The token's signature does not verify with the configured key; it was altered or signed by another issuer.",
  );
}

function algMismatch(alg: string, key: StaticKey): ProxyError {
  return invalid(
    "The token algorithm does not fit its key",
    `The token is signed with ${alg} but its key accepts only ${key.alg}; get a token from the configured issuer.`,
  );
}

function keysUnavailable(): ProxyError {
  return invalid(
    "The signing keys are not available",
    "The gateway could not load the issuer's signing keys (JWKS) yet; retry shortly.",
  );
}
