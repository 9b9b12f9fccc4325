// Property tests of the image parameter parser and policy over random queries: never a crash,
// only a transform (or nothing) or a ProxyError 400/403; the canonical string is stable and safe.

import assert from "node:assert/strict";
import fc from "fast-check";
import { ProxyError } from "../errors.ts";
import {
  canonicalTransform,
  IMAGE_PARAM_NAMES,
  parseImageParams,
  readImageQuery,
} from "./params.ts";
import { compileImagePolicy } from "./policy.ts";
import { signImageQuery } from "./signing.ts";
import type { ImageOptimizationConfig } from "../config/types.ts";
import type { ImageTransform } from "./types.ts";

const NAMES = [...IMAGE_PARAM_NAMES.keys()];
const OTHER_NAMES = ["preset", "sig", "kid", "exp", "token", "versionId", "X-Signature", "W", ""];

/** Values that are valid for some parameter, so random queries reach deep into the parser. */
const VALUE_POOL = [
  "0",
  "1",
  "-1",
  "2",
  "4",
  "90",
  "100",
  "101",
  "16384",
  "16385",
  "65535",
  "50p",
  "50%",
  "12.5p",
  "1.5",
  "1.333",
  "true",
  "false",
  "jpg",
  "jpeg",
  "webp",
  "avif",
  "auto",
  "cover",
  "pad",
  "ne",
  "smart",
  "h",
  "hv",
  "vh",
  "fff",
  "%23ff000080",
  "",
  "thumb",
  "%00",
  "%22",
  "%FF",
  "+",
];

const value = fc.oneof(
  fc.constantFrom(...VALUE_POOL),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.integer({ min: -100_000, max: 100_000 }).map(String),
  fc.double({ noNaN: false }).map(String),
);

const name = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 2, arbitrary: fc.constantFrom(...OTHER_NAMES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);

/** A query of "name=value" pieces, each sometimes percent-encoded, sometimes without "=". */
const noisyQuery = fc.array(
  fc.tuple(name, value, fc.constantFrom("plain", "encoded", "bare")),
  { maxLength: 10 },
).map((pieces) =>
  pieces.map(([n, v, style]) =>
    style === "bare"
      ? n
      : style === "encoded"
      ? `${encodeURIComponent(n)}=${encodeURIComponent(v)}`
      : `${n}=${v}`
  ).join("&")
);

const int = (min: number, max: number) => fc.integer({ min, max }).map(String);
const decimal = (min: number, max: number) =>
  fc.integer({ min: min * 100, max: max * 100 }).map((n) => String(n / 100));
const oneOf = (...values: string[]) => fc.constantFrom(...values);
const bool = oneOf("1", "0", "true", "false", "TRUE");
const size = fc.oneof(
  int(1, 16384),
  decimal(0.01, 1000).map((n) => `${n}p`),
  decimal(0.01, 1000).map((n) => `${n}%25`),
);

/** A valid value for each parameter (crop is generated as a group of four). */
const VALID: Record<string, fc.Arbitrary<string>> = {
  w: size,
  h: size,
  q: int(1, 100),
  fmt: oneOf("jpeg", "jpg", "png", "webp", "avif", "gif", "auto", "JPG"),
  fit: oneOf("cover", "contain", "fill", "inside", "outside", "pad"),
  dpr: decimal(1, 4),
  g: oneOf(
    "center",
    "c",
    "ce",
    "centre",
    "n",
    "no",
    "north",
    "s",
    "e",
    "w",
    "ne",
    "nw",
    "se",
    "sw",
    "smart",
    "sm",
  ),
  r: oneOf("0", "90", "180", "270"),
  blur: decimal(0, 100),
  sharpen: decimal(0, 10),
  brightness: int(-100, 100),
  contrast: int(-100, 100),
  saturation: int(-100, 100),
  grayscale: bool,
  flip: oneOf("h", "v", "hv", "vh"),
  auto_rotate: bool,
  enlarge: bool,
  strip: bool,
  progressive: bool,
  bg: fc.stringMatching(/^(%23)?([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/),
};

const validEntry = fc.constantFrom(...Object.keys(VALID), "f").chain((n) =>
  VALID[n === "f" ? "fmt" : n]!.map((v) => [n, v] as const)
);

/** Valid image parameters (distinct, crop all or none) among unknown ones, in any order. */
const validQuery = fc.tuple(
  fc.uniqueArray(validEntry, {
    selector: ([n]) => IMAGE_PARAM_NAMES.get(n),
    maxLength: 8,
  }),
  fc.option(fc.tuple(int(0, 65535), int(0, 65535), int(1, 65535), int(1, 65535))),
  fc.array(fc.tuple(fc.constantFrom("token", "versionId", "X-Key-Id"), fc.string()), {
    maxLength: 2,
  }),
).chain(([entries, crop, others]) => {
  const all: string[] = entries.map(([n, v]) => `${n}=${v}`);
  if (crop !== null) {
    const [x, y, w, h] = crop;
    all.push(`cx=${x}`, `cy=${y}`, `cw=${w}`, `ch=${h}`);
  }
  for (const [n, v] of others) all.push(`${n}=${encodeURIComponent(v)}`);
  return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
}).map((pieces) => pieces.join("&"));

const query = fc.oneof({ weight: 3, arbitrary: validQuery }, { weight: 1, arbitrary: noisyQuery });

const anyQuery = fc.oneof(
  query,
  fc.string({ maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 80 }),
);

/** The canonical string only ever has these characters: no NUL, no quote, no ":" or space. */
const SAFE = /^[a-z0-9_=&.#-]*$/;

function expectedError(error: unknown): boolean {
  return error instanceof ProxyError &&
    ((error.code === "invalid_image_params" && error.status === 400) ||
      (error.code === "invalid_image_signature" && error.status === 403)) &&
    error.source === "client" && error.message.length > 0;
}

Deno.test("the generators reach valid transforms, not only errors", () => {
  let valid = 0;
  let nonEmpty = 0;
  for (const raw of fc.sample(query, 2000)) {
    try {
      const t = parseImageParams(raw);
      if (t !== undefined) valid++;
      if (t !== undefined && canonicalTransform(t) !== "") nonEmpty++;
    } catch {
      // counted as not valid
    }
  }
  // Guards against a generator change that silently only tests the error paths.
  assert.ok(valid > 200 && nonEmpty > 100, `valid ${valid}, non-empty ${nonEmpty} of 2000`);
});

Deno.test("property: any query gives a transform, nothing, or a 400/403 ProxyError", () => {
  fc.assert(
    fc.property(anyQuery, (raw) => {
      let transform: ImageTransform | undefined;
      try {
        transform = parseImageParams(raw);
      } catch (error) {
        assert.ok(expectedError(error), `${raw}: ${error}`);
        return;
      }
      if (transform === undefined) return;
      const text = canonicalTransform(transform);
      assert.match(text, SAFE);
      // The canonical string is itself a query that means the same thing.
      const again = parseImageParams(text);
      assert.equal(canonicalTransform(again ?? {}), text);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("property: the order of parameters never changes the canonical string", () => {
  fc.assert(
    fc.property(query, fc.integer(), (raw, seed) => {
      let first: string;
      try {
        first = canonicalTransform(parseImageParams(raw) ?? {});
      } catch {
        return;
      }
      const pieces = raw.split("&");
      // A deterministic shuffle of the same pieces.
      let s = seed;
      for (let i = pieces.length - 1; i > 0; i--) {
        s = (s * 1_103_515_245 + 12_345) & 0x7fffffff;
        const j = s % (i + 1);
        [pieces[i], pieces[j]] = [pieces[j]!, pieces[i]!];
      }
      assert.equal(canonicalTransform(parseImageParams(pieces.join("&")) ?? {}), first);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("property: readImageQuery never throws anything but ProxyError", () => {
  fc.assert(
    fc.property(anyQuery, (raw) => {
      try {
        readImageQuery(raw);
      } catch (error) {
        assert.ok(expectedError(error), `${raw}: ${error}`);
      }
    }),
    { numRuns: 2000 },
  );
});

const SECRET = "property-test-secret-0123456789abcdefghij";
const GLOBAL: ImageOptimizationConfig = {
  enabled: true,
  maxWidth: 2000,
  maxHeight: 1000,
  defaultQuality: 80,
  autoFormat: false,
  maxSourcePixels: 71_000_000,
  maxSourceBytes: 10 * 1024 * 1024,
  processingTimeoutMs: 10_000,
  engine: "auto",
  concurrency: 2,
  queueSize: 32,
  presets: { thumb: { w: "200", h: "200", fit: "cover", fmt: "auto" }, big: { w: "50p" } },
  presetsOnly: false,
  signing: undefined,
};

Deno.test("property: policies (plain, presets-only, signed) answer only a transform or 400/403", () => {
  const policies = [
    compileImagePolicy(GLOBAL)!,
    compileImagePolicy(GLOBAL, { presetsOnly: true })!,
    compileImagePolicy({
      ...GLOBAL,
      signing: { keys: [{ id: "k1", secret: SECRET }], requireExpiry: false },
    })!,
  ];
  fc.assert(
    fc.property(anyQuery, fc.nat(2), (raw, which) => {
      const policy = policies[which]!;
      try {
        const t = policy.request("/img/a.jpg", raw, 1_700_000_000_000);
        if (t === undefined) return;
        assert.match(canonicalTransform(t), SAFE);
        for (const size of [t.width, t.height]) {
          if (size !== undefined && "px" in size) {
            assert.ok(size.px * (t.dpr ?? 1) <= 2000.5, JSON.stringify(t));
          }
        }
      } catch (error) {
        assert.ok(expectedError(error), `${raw}: ${error}`);
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("property: a signed query is accepted as issued and refused once any byte changes", () => {
  const signing = { keys: [{ id: "k1", secret: SECRET }], requireExpiry: false };
  const policy = compileImagePolicy({ ...GLOBAL, signing })!;
  fc.assert(
    fc.property(query, fc.nat(), fc.nat(), (raw, at, delta) => {
      let transform: ImageTransform | undefined;
      try {
        transform = parseImageParams(raw);
      } catch {
        return;
      }
      // A transform of no-op values only has an empty canonical string: its signed URL carries
      // no image parameter, and the plain object is served (asserted below).
      if (transform === undefined) return;
      const signed = signImageQuery({
        path: "/img/a b.jpg",
        transform,
        key: signing.keys[0]!,
      });
      let accepted: ImageTransform | undefined;
      try {
        accepted = policy.request("/img/a b.jpg", signed, 0);
      } catch (error) {
        // Signed but over a bound: the only refusal a genuine signature can get.
        assert.ok(error instanceof ProxyError && error.code === "invalid_image_params", `${error}`);
        return;
      }
      if (canonicalTransform(transform) === "") {
        assert.equal(accepted, undefined);
        return;
      }
      assert.ok(accepted !== undefined, signed);
      // Change one character of the signed query: never accepted as the same variant.
      const i = at % signed.length;
      const replacement = String.fromCharCode(97 + (delta % 26));
      if (signed[i] === replacement) return;
      const tampered = signed.slice(0, i) + replacement + signed.slice(i + 1);
      try {
        const t = policy.request("/img/a b.jpg", tampered, 0);
        // Only possible if the change hit a name and left no image parameter (plain object),
        // or made the change invisible (an unknown parameter); never a different variant.
        if (t !== undefined) assert.equal(canonicalTransform(t), canonicalTransform(accepted));
      } catch (error) {
        assert.ok(expectedError(error), `${tampered}: ${error}`);
      }
    }),
    { numRuns: 1000 },
  );
});
