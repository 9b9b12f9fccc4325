// Micro-benchmarks of JWT authentication (src/auth/): cache hits, first verifications, token extraction, claims.
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import type { JwtConfig } from "../src/config/types.ts";
import { JwtVerifier } from "../src/auth/jwt_verifier.ts";
import { extractToken } from "../src/auth/token_sources.ts";
import { compileClaimRules, evaluateClaims } from "../src/auth/claims.ts";
import { signHs256, TEST_JWT_SECRET, testJwtConfig } from "../tests/support/jwt_config.ts";

// Targets (issue "Authentication and authorization"): cache hit ≤ 1.5 µs, first HS256 ≤ 40 µs,
// first ES256 ≤ 700 µs. The original published 1.78 µs for an HS256 validation (Rust, no cache).
const NOW_S = Math.floor(Date.now() / 1000);

/** HS256 with TEST_JWT_SECRET, iss and aud checked: what the benchmarks verify against. */
function config(overrides: Partial<JwtConfig> = {}): JwtConfig {
  return testJwtConfig({ issuer: "https://idp.example", audience: "gateway", ...overrides });
}

const claimsFor = (n: number) => ({
  sub: `user-${n}`,
  iss: "https://idp.example",
  aud: "gateway",
  exp: NOW_S + 3600,
  iat: NOW_S,
  role: "viewer",
  realm: { roles: ["reader", "staff"] },
});

// HS256: a cached verifier and a cache-less one (each iteration is then a first verification).
const hsTokens: string[] = [];
for (let n = 0; n < 1000; n++) {
  hsTokens.push(
    await signHs256(claimsFor(n), TEST_JWT_SECRET, { header: { typ: "JWT" } }),
  );
}
const hsCached = await JwtVerifier.create(config());
const hsFirst = await JwtVerifier.create(config(), { cacheMaxEntries: 0 });
const hot = hsTokens[0]!;
await hsCached.verify(hot);

Deno.bench({
  name: "verify() cache hit (Map lookup + clock read)",
  group: "cache hit",
  baseline: true,
  async fn() {
    await hsCached.verify(hot);
  },
});

Deno.bench({
  name: "cached() synchronous hit",
  group: "cache hit",
  fn() {
    hsCached.cached(hot);
  },
});

let i = 0;
Deno.bench({
  name: "first verification HS256 (node:crypto HMAC, iss+aud+exp)",
  group: "first verification",
  baseline: true,
  async fn() {
    await hsFirst.verify(hsTokens[i++ % hsTokens.length]!);
  },
});

// ES256 through jose (WebCrypto ECDSA), key read from a PEM file.
const { publicKey, privateKey } = await generateKeyPair("ES256");
const pemPath = await Deno.makeTempFile({ suffix: ".pem" });
await Deno.writeTextFile(pemPath, await exportSPKI(publicKey));
const esFirst = await JwtVerifier.create(
  config({ algorithm: "ES256", secret: undefined, ecdsaPublicKeyPath: pemPath }),
  { cacheMaxEntries: 0 },
);
await Deno.remove(pemPath);
const esTokens: string[] = [];
for (let n = 0; n < 200; n++) {
  esTokens.push(
    await new SignJWT(claimsFor(n)).setProtectedHeader({ alg: "ES256" }).sign(privateKey),
  );
}
let j = 0;
Deno.bench({
  name: "first verification ES256 (jose compactVerify)",
  group: "first verification",
  async fn() {
    await esFirst.verify(esTokens[j++ % esTokens.length]!);
  },
});

const request = new Request("http://gw/private/a.txt", {
  headers: { authorization: `Bearer ${hot}`, accept: "*/*", "user-agent": "bench" },
});
const sources = config().tokenSources;
Deno.bench({
  name: "extractToken() bearer",
  group: "per request",
  fn() {
    extractToken(request, "", sources);
  },
});

const rules = compileClaimRules([
  { claim: "role", operator: "in", value: ["viewer", "editor"] },
  { claim: "realm.roles", operator: "contains", value: "staff" },
  { claim: "sub", operator: "regex", value: "user-\\d+" },
]);
const verifiedClaims = (await hsCached.verify(hot)).claims;
Deno.bench({
  name: "evaluateClaims() 3 rules (in, dotted contains, regex)",
  group: "per request",
  fn() {
    evaluateClaims(verifiedClaims, rules);
  },
});
