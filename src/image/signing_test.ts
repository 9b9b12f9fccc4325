// Tests image signatures: the signed string, signImageQuery(), and the verifier's answers for a
// valid, tampered, expired, unknown-key, rotated-key, incomplete and malformed signature.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { ProxyError } from "../errors.ts";
import { canonicalTransform, parseImageParams, readImageQuery } from "./params.ts";
import {
  IMAGE_SIGNING_SCHEME,
  ImageSignatureVerifier,
  imageSigningString,
  signImageQuery,
} from "./signing.ts";
import type { ImageSigningKey } from "../config/types.ts";

const OLD: ImageSigningKey = {
  id: "2025-q4",
  secret: "old image secret, accepted during rotation",
};
const NEW: ImageSigningKey = {
  id: "2026-q1",
  secret: "new image secret, the one signing uses now",
};
const NOW_MS = 1_767_225_600_000; // 2026-01-01T00:00:00Z

function verifier(requireExpiry = false, keys = [NEW, OLD]) {
  return new ImageSignatureVerifier({ keys, requireExpiry });
}

/** Verifies a query the way policy.ts does: read, canonicalize, verify. */
function check(path: string, query: string, v = verifier(), nowMs = NOW_MS): void {
  const q = readImageQuery(query);
  assert.ok(q !== undefined);
  v.verify(path, q.preset, q.transform ? canonicalTransform(q.transform) : "", q, nowMs);
}

function refused(run: () => void, message: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ProxyError, String(error));
    assert.equal(error.code, "invalid_image_signature");
    assert.equal(error.status, 403);
    assert.match(error.message, message);
    assert.ok(!error.message.includes(NEW.secret) && !error.message.includes(OLD.secret));
    return true;
  });
}

Deno.test("the signed string is the documented six lines; sig is HMAC-SHA256 base64url of it", () => {
  const text = imageSigningString("/img/my cat.jpg", undefined, "w=400&h=300", "1767225600", "k1");
  assert.equal(
    text,
    `${IMAGE_SIGNING_SCHEME}\n/img/my%20cat.jpg\n\nw=400&h=300\n1767225600\nk1`,
  );
  assert.equal(
    imageSigningString("/a/(x)!*'.jpg", "thumb", "", undefined, "k1"),
    `${IMAGE_SIGNING_SCHEME}\n/a/%28x%29%21%2A%27.jpg\nthumb\n\n\nk1`,
  );
  const query = signImageQuery({
    path: "/img/my cat.jpg",
    transform: parseImageParams("h=300&w=400&f=jpg"),
    key: NEW,
    expiresAt: 1_767_229_200,
  });
  const expected = createHmac("sha256", NEW.secret).update(
    imageSigningString("/img/my cat.jpg", undefined, "w=400&h=300&fmt=jpeg", "1767229200", NEW.id),
  ).digest("base64url");
  assert.equal(
    query,
    `w=400&h=300&fmt=jpeg&exp=1767229200&kid=2026-q1&sig=${expected}`,
  );
});

Deno.test("a signed query is accepted, in any parameter order and with aliases", () => {
  const query = signImageQuery({
    path: "/img/cat.jpg",
    transform: parseImageParams("w=400&h=300&fmt=jpeg"),
    key: NEW,
  });
  check("/img/cat.jpg", query);
  const sig = /sig=([^&]+)/.exec(query)![1];
  check("/img/cat.jpg", `f=jpg&h=300&token=whatever&w=400&sig=${sig}&kid=2026-q1`);
});

Deno.test("tampering with the path, a parameter, exp, kid or sig is refused", () => {
  const query = signImageQuery({
    path: "/img/cat.jpg",
    transform: parseImageParams("w=400"),
    key: NEW,
    expiresAt: NOW_MS / 1000 + 60,
  });
  const mismatch = /does not match the path and image parameters/;
  refused(() => check("/img/dog.jpg", query), mismatch);
  refused(() => check("/img/cat.jpg", query.replace("w=400", "w=401")), mismatch);
  refused(() => check("/img/cat.jpg", `${query}&h=10`), mismatch);
  refused(() => check("/img/cat.jpg", query.replace(/exp=(\d+)/, "exp=9999999999")), mismatch);
  refused(
    () => check("/img/cat.jpg", query.replace("kid=2026-q1", "kid=2025-q4")),
    mismatch,
  );
  const last = query.at(-1) === "A" ? "B" : "A";
  refused(() => check("/img/cat.jpg", query.slice(0, -1) + last), mismatch);
});

Deno.test("rotation: every listed key verifies; a key rotated out is refused by id", () => {
  const byOld = signImageQuery({ path: "/p/x.png", transform: { quality: 50 }, key: OLD });
  check("/p/x.png", byOld);
  refused(
    () => check("/p/x.png", byOld, verifier(false, [NEW])),
    /names the key id "2025-q4", which is not accepted here \(unknown, or rotated out\)/,
  );
});

Deno.test("expiry: accepted before exp, refused from exp on; require_expiry refuses none", () => {
  const exp = NOW_MS / 1000 + 60;
  const query = signImageQuery({
    path: "/i/a.jpg",
    transform: { quality: 5 },
    key: NEW,
    expiresAt: exp,
  });
  check("/i/a.jpg", query, verifier(), NOW_MS + 59_999);
  refused(
    () => check("/i/a.jpg", query, verifier(), NOW_MS + 60_000),
    /expired 0s ago \(at 2026-01-01T00:01:00Z\); ask for a new URL/,
  );
  refused(
    () => check("/i/a.jpg", query, verifier(), NOW_MS + 3_600_000 + 60_000),
    /expired 1h ago/,
  );
  refused(() => check("/i/a.jpg", query, verifier(), Number.NaN), /expired/);
  const forever = signImageQuery({ path: "/i/a.jpg", transform: { quality: 5 }, key: NEW });
  check("/i/a.jpg", forever);
  refused(
    () => check("/i/a.jpg", forever, verifier(true)),
    /only accepts image signatures that expire, and this one has no exp/,
  );
  check("/i/a.jpg", query, verifier(true));
});

Deno.test("missing, incomplete and malformed signatures say what is wrong", () => {
  refused(() => check("/i/a.jpg", "w=1"), /must be signed: add kid and sig \(make a signed URL/);
  refused(() => check("/i/a.jpg", "w=1", verifier(true)), /add kid and sig and exp/);
  refused(() => check("/i/a.jpg", "w=1&kid=2026-q1"), /Incomplete image signature: sig is missing/);
  refused(() => check("/i/a.jpg", `w=1&sig=${"A".repeat(43)}`), /kid is missing/);
  refused(
    () => check("/i/a.jpg", `w=1&kid=2026-q1&sig=${"A".repeat(43)}&exp=0123`),
    /exp must be a Unix time in whole seconds, got "0123"/,
  );
  refused(
    () => check("/i/a.jpg", "w=1&kid=2026-q1&sig=short"),
    /sig must be 43 base64url characters/,
  );
  refused(
    () => check("/i/a.jpg", `w=1&kid=nope&sig=${"A".repeat(43)}`),
    /key id "nope", which is not accepted/,
  );
});

Deno.test("signImageQuery() refuses what no URL could carry", () => {
  assert.throws(() => signImageQuery({ path: "img/a", key: NEW }), /must start with "\/"/);
  assert.throws(() => signImageQuery({ path: "/a", key: { id: "", secret: "x" } }), /empty id/);
  assert.throws(() => signImageQuery({ path: "/a", key: { id: "k", secret: "" } }), /empty secret/);
  assert.throws(() => signImageQuery({ path: "/a", key: NEW, expiresAt: 1.5 }), /whole seconds/);
  assert.throws(() => signImageQuery({ path: "/a", key: NEW, preset: "a&b" }), /preset name/);
});

Deno.test("a preset signature covers the preset name", () => {
  const query = signImageQuery({ path: "/i/a.jpg", preset: "thumb", key: NEW });
  assert.match(query, /^preset=thumb&kid=2026-q1&sig=/);
  check("/i/a.jpg", query);
  refused(
    () => check("/i/a.jpg", query.replace("preset=thumb", "preset=hero")),
    /does not match/,
  );
});
