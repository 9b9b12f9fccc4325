// Tests JwtVerifier: every algorithm, key selection, alg confusion, exp/nbf/iss/aud, the cache, JWKS refresh and outages.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import fc from "fast-check";
import {
  type CryptoKey,
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  type JWK,
  SignJWT,
} from "jose";
import { JWT_ALGORITHMS, type JwtAlgorithm, type JwtConfig } from "../config/types.ts";
import { ProxyError } from "../errors.ts";
import { deadUrl } from "../../tests/support/fake_upstream.ts";
import { testJwtConfig } from "../../tests/support/jwt_config.ts";
import { JwtVerifier, type JwtVerifierOptions } from "./jwt_verifier.ts";

// ---------------------------------------------------------------------------------------------
// Fixtures: one key per algorithm, made here, public halves written as PEM files.

const tmp = await Deno.makeTempDir({ prefix: "jwt_verifier_test_" });
globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));

interface Material {
  alg: JwtAlgorithm;
  secret?: string;
  privateKey?: CryptoKey;
  publicKey?: CryptoKey;
  pemPath?: string;
}

const isHs = (alg: string) => alg.startsWith("HS");
const isRsa = (alg: string) => /^(RS|PS)/.test(alg);

async function makeMaterial(alg: JwtAlgorithm, tag = "main"): Promise<Material> {
  if (isHs(alg)) {
    return { alg, secret: `${tag}-${alg}-${crypto.randomUUID()}-${crypto.randomUUID()}` };
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const pemPath = `${tmp}/${tag}-${alg}.pem`;
  await Deno.writeTextFile(pemPath, await exportSPKI(publicKey));
  return { alg, privateKey, publicKey, pemPath };
}

const MAIN = new Map<JwtAlgorithm, Material>();
const OTHER = new Map<JwtAlgorithm, Material>();
for (const alg of JWT_ALGORITHMS) {
  MAIN.set(alg, await makeMaterial(alg));
  OTHER.set(alg, await makeMaterial(alg, "other"));
}
const mat = (alg: JwtAlgorithm) => MAIN.get(alg)!;

const NOW_S = 1_750_000_000;

/** The shared test JwtConfig without its secret: each test names the key material it verifies with. */
function baseConfig(overrides: Partial<JwtConfig> = {}): JwtConfig {
  return testJwtConfig({ secret: undefined, ...overrides });
}

/** The top-level (kid-less) key config for a material. */
function configFor(m: Material, overrides: Partial<JwtConfig> = {}): JwtConfig {
  return baseConfig({
    algorithm: m.alg,
    secret: m.secret,
    rsaPublicKeyPath: isRsa(m.alg) ? m.pemPath : undefined,
    ecdsaPublicKeyPath: !isHs(m.alg) && !isRsa(m.alg) ? m.pemPath : undefined,
    ...overrides,
  });
}

function sign(
  m: Material,
  claims: Record<string, unknown> = { sub: "alice" },
  header: Record<string, unknown> = {},
): Promise<string> {
  const key = m.secret !== undefined ? new TextEncoder().encode(m.secret) : m.privateKey!;
  return new SignJWT(claims).setProtectedHeader({ ...header, alg: m.alg }).sign(key);
}

const b64 = (value: unknown) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** A raw HMAC-signed token with any header/payload (jose refuses to make some of these). */
function rawHs(header: unknown, payload: unknown, secret: string, hash = "sha256"): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(hash, secret).update(input).digest("base64url")}`;
}

function clock(startMs = NOW_S * 1000) {
  const c = { ms: startMs, now: () => c.ms };
  return c;
}

async function create(config: JwtConfig, options: JwtVerifierOptions = {}): Promise<JwtVerifier> {
  return await JwtVerifier.create(config, { now: clock().now, ...options });
}

async function assertInvalid(promise: Promise<unknown>, description?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ProxyError, `expected ProxyError, got ${error}`);
    assert.equal(error.code, "token_invalid");
    assert.equal(error.status, 401);
    assert.equal(error.source, "client");
    const header = error.headers?.["www-authenticate"] ?? "";
    assert.match(
      header,
      /^Bearer error="invalid_token", error_description="[\x20-\x21\x23-\x5b\x5d-\x7e]+"$/,
    );
    if (description !== undefined) assert.match(header, description);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------

Deno.test("every algorithm verifies its own tokens via the top-level key", async () => {
  for (const alg of JWT_ALGORITHMS) {
    const m = mat(alg);
    const verifier = await create(configFor(m));
    const token = await sign(m, { sub: `user-${alg}`, exp: NOW_S + 600, nested: { a: [1] } });
    const verified = await verifier.verify(token);
    assert.equal(verified.claims.sub, `user-${alg}`, alg);
    assert.equal(verified.expiresAtMs, (NOW_S + 600) * 1000);
    assert.ok(Object.isFrozen(verified.claims) && Object.isFrozen(verified.claims.nested));
    // The key of the same algorithm made by someone else is not accepted.
    await assertInvalid(verifier.verify(await sign(OTHER.get(alg)!)), /signature/);
    await verifier.close();
  }
});

Deno.test("keys[]: selection by kid, each key bound to its algorithm", async () => {
  const keys = JWT_ALGORITHMS.map((alg) => {
    const m = mat(alg);
    return { id: `k-${alg}`, algorithm: alg, secret: m.secret, path: m.pemPath };
  });
  const verifier = await create(baseConfig({ keys }));
  for (const alg of JWT_ALGORITHMS) {
    const verified = await verifier.verify(await sign(mat(alg), { sub: alg }, { kid: `k-${alg}` }));
    assert.equal(verified.claims.sub, alg);
  }
  // A valid ES256 signature presented under the RS256 key's kid: the alg does not fit that key.
  await assertInvalid(
    verifier.verify(await sign(mat("ES256"), {}, { kid: "k-RS256" })),
    /algorithm does not fit/,
  );
  // HS384 secret used for an HS256 token under the HS384 kid.
  await assertInvalid(
    verifier.verify(rawHs({ alg: "HS256", kid: "k-HS384" }, {}, mat("HS384").secret!)),
    /algorithm does not fit/,
  );
  await assertInvalid(verifier.verify(await sign(mat("ES256"), {}, { kid: "nope" })), /key id/);
  // No kid: the one named key of the token's algorithm is used.
  assert.equal((await verifier.verify(await sign(mat("ES256")))).claims.sub, "alice");
  await verifier.close();

  // No kid and two keys of that algorithm: ambiguous, the issuer must set kid.
  const two = await create(baseConfig({
    keys: [
      { id: "a", algorithm: "ES256", secret: undefined, path: mat("ES256").pemPath },
      { id: "b", algorithm: "ES256", secret: undefined, path: OTHER.get("ES256")!.pemPath },
    ],
  }));
  await assertInvalid(two.verify(await sign(mat("ES256"))), /no key id/);
  await two.close();

  // One named key of the token's alg: a kid-less token uses it.
  const single = await create(baseConfig({ keys: [keys[0]!] }));
  assert.equal((await single.verify(await sign(mat("HS256")))).claims.sub, "alice");
  await single.close();
});

Deno.test("a kid that matches nothing falls back to the single top-level key", async () => {
  const verifier = await create(configFor(mat("ES256")));
  const verified = await verifier.verify(
    await sign(mat("ES256"), { sub: "alice" }, { kid: "issuer-key-1" }),
  );
  assert.equal(verified.claims.sub, "alice");
  await verifier.close();
});

Deno.test("alg confusion: an RS/EC public key is never an HMAC secret", async () => {
  for (const alg of ["RS256", "PS256", "ES256", "EdDSA"] as const) {
    const m = mat(alg);
    const pem = await Deno.readTextFile(m.pemPath!);
    const keyConfig = { id: "pub", algorithm: alg, secret: undefined, path: m.pemPath };
    const verifier = await create(configFor(m, { keys: [keyConfig] }));
    for (const hash of ["HS256", "HS384", "HS512"] as const) {
      const h = { HS256: "sha256", HS384: "sha384", HS512: "sha512" }[hash];
      // The classic attack: HMAC over the token with the public PEM text as the secret.
      await assertInvalid(verifier.verify(rawHs({ alg: hash }, { sub: "mallory" }, pem, h)));
      await assertInvalid(
        verifier.verify(rawHs({ alg: hash, kid: "pub" }, { sub: "mallory" }, pem, h)),
        /algorithm does not fit/,
      );
    }
    await verifier.close();
  }
});

Deno.test('alg "none" and unknown algorithms are rejected', async () => {
  const verifier = await create(configFor(mat("HS256")));
  const payload = b64({ sub: "mallory" });
  const cases = [
    `${b64({ alg: "none" })}.${payload}.`,
    `${b64({ alg: "none" })}.${payload}.AAAA`,
    `${b64({ alg: "None" })}.${payload}.AAAA`,
    `${b64({ alg: "NONE", typ: "JWT" })}.${payload}.AAAA`,
    `${b64({ alg: "HS256 " })}.${payload}.AAAA`,
    `${b64({ alg: "ES256K" })}.${payload}.AAAA`,
    `${b64({ typ: "JWT" })}.${payload}.AAAA`,
    `${b64({ alg: 256 })}.${payload}.AAAA`,
  ];
  for (const token of cases) await assertInvalid(verifier.verify(token));
  await assertInvalid(verifier.verify(`${b64({ alg: "none" })}.${payload}.AAAA`), /algorithm/);
  await verifier.close();
});

Deno.test("malformed tokens, crit extensions and non-object payloads are rejected", async () => {
  const secret = mat("HS256").secret!;
  const verifier = await create(configFor(mat("HS256")));
  const good = await sign(mat("HS256"));
  const [h, p, s] = good.split(".");
  const cases = [
    "",
    "abc",
    "a.b",
    `${good}.x`,
    `${h}.${p}.${s}=`,
    `${h}.${p}.${s}+`,
    `${h}..${s}`,
    `.${p}.${s}`,
    `${h}.${p}.`,
    `${b64("not json")}.${p}.${s}`,
    `${b64([1, 2])}.${p}.${s}`,
    `${b64("null")}.${p}.${s}`,
    "x".repeat(20_000),
    rawHs({ alg: "HS256", crit: ["exp"] }, { sub: "a" }, secret),
    rawHs({ alg: "HS256", kid: 7 }, { sub: "a" }, secret),
    rawHs({ alg: "HS256" }, [1, 2], secret),
    rawHs({ alg: "HS256" }, "a string", secret),
    rawHs({ alg: "HS256" }, { exp: "9999999999" }, secret),
    rawHs({ alg: "HS256" }, { nbf: null }, secret),
    rawHs({ alg: "HS256" }, { iat: "yesterday" }, secret),
  ];
  for (const token of cases) await assertInvalid(verifier.verify(token));
  // The raw path itself is sound: the same construction with a sane payload verifies.
  assert.equal(
    (await verifier.verify(rawHs({ alg: "HS256" }, { sub: "a" }, secret))).claims.sub,
    "a",
  );
  await verifier.close();
});

Deno.test("exp and nbf exactly at and around the leeway", async () => {
  const m = mat("HS256");
  const T = NOW_S;
  for (const leeway of [0, 60]) {
    const c = clock();
    const verifier = await create(configFor(m, { leewaySeconds: leeway }), {
      now: c.now,
      cacheMaxEntries: 0,
    });
    const expiring = await sign(m, { exp: T });
    c.ms = (T + leeway) * 1000 - 1;
    await verifier.verify(expiring);
    c.ms = (T + leeway) * 1000;
    await assertInvalid(verifier.verify(expiring), /expired/);
    c.ms = (T + leeway) * 1000 + 1;
    await assertInvalid(verifier.verify(expiring), /expired/);

    const early = await sign(m, { nbf: T });
    c.ms = (T - leeway) * 1000;
    await verifier.verify(early);
    c.ms = (T - leeway) * 1000 - 1;
    await assertInvalid(verifier.verify(early), /not valid yet/);
    await verifier.close();
  }
  // Tokens without exp/nbf are valid (they are optional, as in RFC 7519).
  const verifier = await create(configFor(m));
  assert.equal((await verifier.verify(await sign(m, {}))).expiresAtMs, undefined);
  await verifier.close();
});

Deno.test("iss and aud are checked when configured", async () => {
  const m = mat("ES256");
  const verifier = await create(
    configFor(m, { issuer: "https://idp.example", audience: "gateway" }),
  );
  const ok = [
    { iss: "https://idp.example", aud: "gateway" },
    { iss: "https://idp.example", aud: ["other", "gateway"] },
  ];
  for (const claims of ok) await verifier.verify(await sign(m, claims));
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ aud: "gateway" }, /issuer/],
    [{ iss: "https://evil.example", aud: "gateway" }, /issuer/],
    [{ iss: "https://idp.example/", aud: "gateway" }, /issuer/],
    [{ iss: "https://idp.example" }, /audience/],
    [{ iss: "https://idp.example", aud: "gateway2" }, /audience/],
    [{ iss: "https://idp.example", aud: ["a", "b"] }, /audience/],
    [{ iss: "https://idp.example", aud: { gateway: true } }, /audience/],
  ];
  for (const [claims, description] of bad) {
    await assertInvalid(verifier.verify(await sign(m, claims)), description);
  }
  await verifier.close();
  // Not configured: any iss/aud passes ("" counts as not configured).
  const open = await create(configFor(m, { issuer: "", audience: "" }));
  await open.verify(await sign(m, { iss: "anyone", aud: "anything" }));
  await open.close();
});

Deno.test("cache: a hit returns the same verification, never past exp, bounded, failures not cached", async () => {
  const m = mat("HS256");
  const c = clock();
  const verifier = await create(configFor(m, { leewaySeconds: 60 }), {
    now: c.now,
    cacheMaxEntries: 3,
  });
  const token = await sign(m, { sub: "a", exp: NOW_S + 10 });
  const first = await verifier.verify(token);
  assert.equal(verifier.cacheSize, 1);
  assert.equal(await verifier.verify(token), first, "a hit is the cached object");
  assert.equal(verifier.cached(token), first);
  // At exp the cache stops answering, although the leeway still accepts a fresh verification.
  c.ms = (NOW_S + 10) * 1000;
  assert.equal(verifier.cached(token), undefined);
  const again = await verifier.verify(token);
  assert.notEqual(again, first);
  assert.equal(verifier.cached(token), undefined, "inside the leeway a token is not cached");
  c.ms = (NOW_S + 70) * 1000;
  await assertInvalid(verifier.verify(token), /expired/);

  // With no leeway, a cached token is refused from the very millisecond of exp.
  const strictClock = clock();
  const strict = await create(configFor(m, { leewaySeconds: 0 }), { now: strictClock.now });
  const short = await sign(m, { exp: NOW_S + 1 });
  await strict.verify(short);
  strictClock.ms = (NOW_S + 1) * 1000 - 1;
  assert.ok(strict.cached(short));
  strictClock.ms = (NOW_S + 1) * 1000;
  await assertInvalid(strict.verify(short), /expired/);
  await strict.close();

  // Bounded: oldest out first.
  c.ms = NOW_S * 1000;
  const tokens = await Promise.all([1, 2, 3, 4].map((n) => sign(m, { n })));
  for (const t of tokens) await verifier.verify(t);
  assert.equal(verifier.cacheSize, 3);
  assert.equal(verifier.cached(tokens[0]!), undefined);
  assert.ok(verifier.cached(tokens[3]!));

  // Failures are not cached.
  const forged = await sign(OTHER.get("HS256")!);
  await assertInvalid(verifier.verify(forged));
  assert.equal(verifier.cached(forged), undefined);
  await verifier.close();
});

Deno.test("concurrent first verifications of one token share the work", async () => {
  const m = mat("ES256");
  const verifier = await create(configFor(m));
  const token = await sign(m);
  const results = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(token)));
  for (const r of results) assert.equal(r, results[0]);
  await verifier.close();
});

Deno.test("config errors name the key and the path", async () => {
  const missing = `${tmp}/does-not-exist.pem`;
  const rsaPem = mat("RS256").pemPath!;
  const ecPem = mat("ES256").pemPath!;
  const privatePem = `${tmp}/private.pem`;
  await Deno.writeTextFile(privatePem, await exportPKCS8(mat("ES256").privateKey!));
  const garbagePem = `${tmp}/garbage.pem`;
  await Deno.writeTextFile(garbagePem, "hello");
  const weak = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 1024,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const weakPem = `${tmp}/weak.pem`;
  await Deno.writeTextFile(weakPem, await exportSPKI(weak.publicKey));

  const key = (algorithm: JwtAlgorithm, secret?: string, path?: string) => ({
    id: "k1",
    algorithm,
    secret,
    path,
  });
  const cases: Array<[JwtConfig, RegExp]> = [
    [
      baseConfig({ algorithm: "RS256", rsaPublicKeyPath: missing }),
      /jwt\.rsa_public_key_path.*does-not-exist\.pem/,
    ],
    [
      baseConfig({ keys: [key("ES256", undefined, missing)] }),
      /keys\[0\] \("k1"\).*does-not-exist\.pem/,
    ],
    [baseConfig({ algorithm: "ES256", ecdsaPublicKeyPath: rsaPem }), /not a usable ES256/],
    [baseConfig({ algorithm: "RS256", rsaPublicKeyPath: ecPem }), /not a usable RS256/],
    [baseConfig({ algorithm: "ES384", ecdsaPublicKeyPath: ecPem }), /not a usable ES384/],
    [baseConfig({ algorithm: "ES256", ecdsaPublicKeyPath: privatePem }), /private key/],
    [baseConfig({ algorithm: "ES256", ecdsaPublicKeyPath: garbagePem }), /garbage\.pem/],
    [baseConfig({ algorithm: "RS256", rsaPublicKeyPath: weakPem }), /1024 bits/],
    [baseConfig({ algorithm: "RS256", secret: "s", rsaPublicKeyPath: rsaPem }), /secret is for HS/],
    [baseConfig({ algorithm: "HS256", secret: "s", rsaPublicKeyPath: rsaPem }), /HMAC/],
    [baseConfig({ algorithm: "ES256", rsaPublicKeyPath: rsaPem }), /ecdsa_public_key_path/],
    [baseConfig({ keys: [key("HS256", undefined, rsaPem)] }), /give secret, not path/],
    [baseConfig({ keys: [key("RS256", "s", undefined)] }), /give path, not secret/],
    [baseConfig({ keys: [key("HS256", "s"), key("HS256", "t")] }), /duplicate id/],
    [baseConfig({ algorithm: "none" as JwtAlgorithm, secret: "s" }), /not one of/],
    [baseConfig({}), /no verification key/],
  ];
  for (const [config, message] of cases) {
    await assert.rejects(JwtVerifier.create(config, { configPath: "jwt" }), (error: Error) => {
      assert.match(error.message, message);
      assert.ok(!error.message.includes("BEGIN"), "never echoes key material");
      return true;
    });
  }
  await assert.rejects(
    JwtVerifier.create(baseConfig({ algorithm: "RS256", rsaPublicKeyPath: missing }), {
      configPath: "buckets[1].auth.jwt",
    }),
    /^Error: buckets\[1\]\.auth\.jwt\.rsa_public_key_path/,
  );
});

Deno.test({
  name: "X.509 certificates are accepted as key files",
  ignore: !(await hasOpenssl()),
  async fn() {
    const m = mat("ES256");
    const keyPath = `${tmp}/cert-key.pem`;
    const certPath = `${tmp}/cert.pem`;
    await Deno.writeTextFile(keyPath, await exportPKCS8(m.privateKey!));
    const out = await new Deno.Command("openssl", {
      args: ["req", "-x509", "-key", keyPath, "-subj", "/CN=test", "-days", "1", "-out", certPath],
      stdout: "null",
      stderr: "null",
    }).output();
    assert.ok(out.success);
    const verifier = await create(baseConfig({ algorithm: "ES256", ecdsaPublicKeyPath: certPath }));
    assert.equal((await verifier.verify(await sign(m))).claims.sub, "alice");
    await verifier.close();
  },
});

async function hasOpenssl(): Promise<boolean> {
  try {
    return (await new Deno.Command("openssl", { args: ["version"], stdout: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// JWKS, served by a real HTTP server on 127.0.0.1:0

class JwksServer {
  hits = 0;
  status = 200;
  body = '{"keys":[]}';
  delayMs = 0;
  readonly url: string;
  readonly #server: Deno.HttpServer;
  readonly #waiting = new Set<() => void>();

  constructor() {
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
      this.hits++;
      if (this.delayMs > 0) {
        await new Promise<void>((resolve) => {
          const release = () => {
            clearTimeout(timer);
            this.#waiting.delete(release);
            resolve();
          };
          const timer = setTimeout(release, this.delayMs);
          this.#waiting.add(release);
        });
      }
      return new Response(this.body, {
        status: this.status,
        headers: { "content-type": "application/json" },
      });
    });
    this.url = `http://127.0.0.1:${(this.#server.addr as Deno.NetAddr).port}/.well-known/jwks.json`;
  }

  setKeys(keys: JWK[]): void {
    this.body = JSON.stringify({ keys });
  }

  async close(): Promise<void> {
    for (const release of [...this.#waiting]) release();
    await this.#server.shutdown();
  }
}

async function jwk(m: Material, kid: string | undefined, withAlg = true): Promise<JWK> {
  const exported = await exportJWK(m.publicKey!);
  return { ...exported, ...(kid === undefined ? {} : { kid }), ...(withAlg ? { alg: m.alg } : {}) };
}

/**
 * Runs `fn` with a JwksServer (serving `keys`, answering `status`) and a verifier of its URL made
 * with `options` on a test clock; then closes the verifier and the server, pass or fail.
 */
async function withJwks(
  serve: { keys?: JWK[]; status?: number },
  options: JwtVerifierOptions,
  fn: (server: JwksServer, verifier: JwtVerifier, c: ReturnType<typeof clock>) => Promise<void>,
): Promise<void> {
  const server = new JwksServer();
  if (serve.keys !== undefined) server.setKeys(serve.keys);
  if (serve.status !== undefined) server.status = serve.status;
  const c = clock();
  const verifier = await create(baseConfig({ jwksUrl: server.url }), { now: c.now, ...options });
  try {
    await fn(server, verifier, c);
  } finally {
    await verifier.close();
    await server.close();
  }
}

Deno.test("JWKS: kid selection for every asymmetric algorithm, JWKs with and without alg", async () => {
  const asymmetric = JWT_ALGORITHMS.filter((alg) => !isHs(alg));
  const keys: JWK[] = [];
  for (const alg of asymmetric) keys.push(await jwk(mat(alg), `kid-${alg}`, alg !== "RS384"));
  // Junk a JWKS may contain: an HMAC secret, a private key, an encryption key, a broken key.
  keys.push({ kty: "oct", k: b64("sneaky-secret"), kid: "oct" });
  keys.push({ ...(await exportJWK(mat("ES256").privateKey!)), kid: "private" });
  keys.push({ ...(await jwk(mat("ES384"), "enc")), use: "enc" });
  keys.push({ kty: "EC", crv: "P-256", x: "AAAA", y: "AAAA", kid: "broken" });
  await withJwks({ keys }, {}, async (server, verifier) => {
    assert.equal(verifier.status().keys, asymmetric.length);
    for (const alg of asymmetric) {
      const verified = await verifier.verify(
        await sign(mat(alg), { sub: alg }, { kid: `kid-${alg}` }),
      );
      assert.equal(verified.claims.sub, alg);
    }
    // A JWKS never supplies an HMAC secret, whatever the kid.
    await assertInvalid(verifier.verify(rawHs({ alg: "HS256", kid: "oct" }, {}, "sneaky-secret")));
    // PS256 under the RS256 key's kid: that JWK says alg RS256.
    await assertInvalid(
      verifier.verify(await sign(mat("PS256"), {}, { kid: "kid-RS256" })),
      /algorithm does not fit/,
    );
    // RS384's JWK has no alg, so any RSA algorithm fits it; a PS512 signature by another key fails.
    await assertInvalid(
      verifier.verify(await sign(mat("PS512"), {}, { kid: "kid-RS384" })),
      /signature/,
    );
    // No kid and a dozen keys: ambiguous for ES256? Exactly one EC P-256 key fits, so it is used.
    assert.equal((await verifier.verify(await sign(mat("ES256")))).claims.sub, "alice");
    // For RSA, 6 keys fit: the issuer must set kid.
    await assertInvalid(verifier.verify(await sign(mat("RS256"))), /no key id/);
    assert.equal(server.hits, 1);
  });
});

Deno.test("JWKS rotation: new key added, old key removed, cache flushed", async () => {
  const a = mat("ES256");
  const b = OTHER.get("ES256")!;
  await withJwks(
    { keys: [await jwk(a, "a")] },
    { jwksCooldownMs: 30_000 },
    async (server, verifier, c) => {
      const tokenA = await sign(a, { sub: "a" }, { kid: "a" });
      const tokenB = await sign(b, { sub: "b" }, { kid: "b" });
      await verifier.verify(tokenA);
      assert.equal(verifier.cacheSize, 1);
      const v1 = verifier.keySetVersion;

      // The same set again: nothing changes, the cache stays.
      assert.equal(await verifier.refreshJwks(), true);
      assert.equal(verifier.keySetVersion, v1);
      assert.equal(verifier.cacheSize, 1);

      // Rotation step 1: b is added. An unknown kid refetches (once the cooldown has passed).
      server.setKeys([await jwk(a, "a"), await jwk(b, "b")]);
      c.ms += 30_000;
      assert.equal((await verifier.verify(tokenB)).claims.sub, "b");
      assert.equal(verifier.keySetVersion, v1 + 1);
      assert.equal(server.hits, 3);
      assert.ok(verifier.cached(tokenB));
      assert.equal(verifier.cached(tokenA), undefined, "the rotation emptied the cache");
      await verifier.verify(tokenA);

      // Rotation step 2: a is removed; a token signed by a is no longer accepted, even if cached before.
      server.setKeys([await jwk(b, "b")]);
      assert.equal(await verifier.refreshJwks(), true);
      assert.equal(verifier.keySetVersion, v1 + 2);
      assert.equal(verifier.cacheSize, 0);
      await assertInvalid(verifier.verify(tokenA), /key id/);
      await verifier.verify(tokenB);
    },
  );
});

Deno.test("JWKS outage: 500, garbage and connection refused keep the last good set", async () => {
  const a = mat("EdDSA");
  // Until it is set, requests go where the verifier sends them: to the server.
  let target: string | undefined;
  const refused = `${deadUrl()}/jwks.json`;
  const fetchVia: typeof fetch = (input, init) => fetch(target ?? input, init);
  await withJwks({ keys: [await jwk(a, "a")] }, { fetch: fetchVia }, async (server, verifier) => {
    const token = await sign(a, {}, { kid: "a" });
    await verifier.verify(token);
    const version = verifier.keySetVersion;
    const answers: Array<[number, string, RegExp]> = [
      [500, "oops", /HTTP 500/],
      [200, "<html>not json</html>", /not JSON/],
      [200, '{"keys":"nope"}', /no "keys" array/],
      [200, '{"keys":[]}', /no usable/],
      [200, '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}', /no usable/],
      [200, "null", /no "keys" array/],
    ];
    for (const [status, body, error] of answers) {
      server.status = status;
      server.body = body;
      assert.equal(await verifier.refreshJwks(), false);
      assert.match(verifier.status().lastError ?? "", error);
      assert.equal(verifier.keySetVersion, version);
      assert.equal(verifier.status().keys, 1);
      assert.equal(
        (await verifier.verify(await sign(a, { n: status }, { kid: "a" }))).claims.n,
        status,
      );
    }
    target = refused;
    assert.equal(await verifier.refreshJwks(), false);
    assert.ok(verifier.status().lastError);
    await verifier.verify(await sign(a, { n: "refused" }, { kid: "a" }));
    assert.equal(verifier.keySetVersion, version);
  });
});

Deno.test("JWKS: a failure at start is not fatal; the verifier recovers", async () => {
  await withJwks({ status: 503 }, { jwksCooldownMs: 1_000 }, async (server, verifier, c) => {
    assert.equal(verifier.status().keys, 0);
    assert.match(verifier.status().lastError ?? "", /503/);
    const a = mat("ES384");
    const token = await sign(a, {}, { kid: "a" });
    await assertInvalid(verifier.verify(token), /not available/);
    server.status = 200;
    server.setKeys([await jwk(a, "a")]);
    c.ms += 1_000;
    await verifier.verify(token);
    assert.equal(server.hits, 2);
  });
});

Deno.test("JWKS: an unknown kid refetches at most once per cooldown", async () => {
  const a = mat("ES256");
  await withJwks(
    { keys: [await jwk(a, "a")] },
    { jwksCooldownMs: 30_000 },
    async (server, verifier, c) => {
      assert.equal(server.hits, 1);
      const unknown = (n: number) => sign(OTHER.get("ES256")!, { n }, { kid: `ghost-${n}` });
      // Inside the cooldown of the start-up fetch: no refetch.
      c.ms += 1_000;
      await assertInvalid(verifier.verify(await unknown(1)), /key id/);
      assert.equal(server.hits, 1);
      // After it: exactly one refetch, shared by a burst of concurrent unknown kids.
      c.ms += 29_000;
      const burst = await Promise.all([2, 3, 4, 5, 6].map(unknown));
      await Promise.all(burst.map((t) => assertInvalid(verifier.verify(t), /key id/)));
      assert.equal(server.hits, 2);
      // And then the cooldown again.
      c.ms += 29_999;
      await assertInvalid(verifier.verify(await unknown(7)), /key id/);
      assert.equal(server.hits, 2);
      c.ms += 1;
      await assertInvalid(verifier.verify(await unknown(8)), /key id/);
      assert.equal(server.hits, 3);
      // Known kids never fetch.
      for (let n = 0; n < 5; n++) await verifier.verify(await sign(a, { n }, { kid: "a" }));
      assert.equal(server.hits, 3);
    },
  );
});

Deno.test("JWKS: a slow endpoint does not hang verification past the fetch bound", async () => {
  const a = mat("ES256");
  await withJwks(
    { keys: [await jwk(a, "a")] },
    { jwksCooldownMs: 10, jwksTimeoutMs: 150 },
    async (server, verifier, c) => {
      server.delayMs = 10_000;
      c.ms += 10;
      const started = performance.now();
      await assertInvalid(verifier.verify(await sign(a, {}, { kid: "unknown" })), /key id/);
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 1_500, `took ${elapsed} ms`);
      assert.match(verifier.status().lastError ?? "", /did not answer within 150 ms/);
      // The known key still works meanwhile.
      await verifier.verify(await sign(a, {}, { kid: "a" }));
    },
  );
});

Deno.test("JWKS: the refresh timer rotates keys by itself and close() stops it", async () => {
  const server = new JwksServer();
  const a = mat("ES256");
  const b = OTHER.get("ES256")!;
  server.setKeys([await jwk(a, "a")]);
  const verifier = await JwtVerifier.create(
    baseConfig({ jwksUrl: server.url, jwksRefreshIntervalSecs: 0.03 }),
  );
  try {
    const version = verifier.keySetVersion;
    server.setKeys([await jwk(b, "b")]);
    const deadline = Date.now() + 3_000;
    while (verifier.keySetVersion === version && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(verifier.keySetVersion, version + 1);
    await verifier.verify(await sign(b, {}, { kid: "b" }));
  } finally {
    await verifier.close();
  }
  const hits = server.hits;
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(server.hits, hits, "no fetch after close()");
  await server.close();
});

Deno.test("close() aborts a JWKS fetch in flight", async () => {
  const slow = new JwksServer();
  slow.setKeys([await jwk(mat("ES256"), "a")]);
  const c = clock();
  const running = await create(baseConfig({ jwksUrl: slow.url }), {
    now: c.now,
    jwksCooldownMs: 0,
    jwksTimeoutMs: 60_000,
  });
  slow.delayMs = 10_000;
  const refresh = running.refreshJwks();
  await new Promise((resolve) => setTimeout(resolve, 20));
  await running.close();
  assert.equal(await refresh, false);
  assert.equal(running.status().lastError, "closed");
  await slow.close();
});

// ---------------------------------------------------------------------------------------------
// Property tests: nothing but real, untampered tokens from the configured keys is ever accepted.

const PROPERTY_ALGS: JwtAlgorithm[] = [
  "HS256",
  "HS512",
  "RS256",
  "PS384",
  "ES256",
  "ES512",
  "EdDSA",
];

async function propertyVerifier(): Promise<JwtVerifier> {
  const keys = PROPERTY_ALGS.map((alg) => ({
    id: `k-${alg}`,
    algorithm: alg,
    secret: mat(alg).secret,
    path: mat(alg).pemPath,
  }));
  return await create(configFor(mat("HS256"), { keys }), { cacheMaxEntries: 0 });
}

async function assertNeverAccepted(verifier: JwtVerifier, token: string): Promise<void> {
  try {
    await verifier.verify(token);
  } catch (error) {
    assert.ok(error instanceof ProxyError && error.code === "token_invalid", String(error));
    return;
  }
  assert.fail(`accepted: ${token}`);
}

Deno.test("property: random strings are never accepted and never throw anything but token_invalid", async () => {
  const verifier = await propertyVerifier();
  const part = fc.stringMatching(/^[A-Za-z0-9_-]{0,60}$/);
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.string({ unit: "binary", maxLength: 200 }),
        fc.tuple(part, part, part).map((p) => p.join(".")),
        fc.tuple(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }), part).map(
          ([h, p, s]) => `${b64(h)}.${b64(p)}.${s}`,
        ),
        fc.tuple(fc.constantFrom(...JWT_ALGORITHMS, "none"), fc.option(fc.string()), part).map(
          ([alg, kid, s]) => `${b64({ alg, kid })}.${b64({ sub: "x" })}.${s}`,
        ),
      ),
      (token) => assertNeverAccepted(verifier, token),
    ),
    { numRuns: 1_000 },
  );
  await verifier.close();
});

Deno.test("property: a one-character edit of a real token is never accepted", async () => {
  const verifier = await propertyVerifier();
  const real: string[] = [];
  for (const alg of PROPERTY_ALGS) {
    const token = await sign(mat(alg), { sub: "alice", role: "viewer" }, { kid: `k-${alg}` });
    await verifier.verify(token);
    real.push(token);
  }
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...real),
      fc.nat(),
      fc.constantFrom(...alphabet),
      async (token, position, replacement) => {
        const at = position % token.length;
        if (token[at] === replacement) return;
        const edited = token.slice(0, at) + replacement + token.slice(at + 1);
        await assertNeverAccepted(verifier, edited);
      },
    ),
    { numRuns: 600 },
  );
  await verifier.close();
});

Deno.test("property: tokens signed with another key (same alg, same kid) are never accepted", async () => {
  const verifier = await propertyVerifier();
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...PROPERTY_ALGS),
      fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
      fc.boolean(),
      async (alg, claims, withKid) => {
        const header = withKid ? { kid: `k-${alg}` } : {};
        await assertNeverAccepted(verifier, await sign(OTHER.get(alg)!, claims, header));
      },
    ),
    { numRuns: 200 },
  );
  await verifier.close();
});
