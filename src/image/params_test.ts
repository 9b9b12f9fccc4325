// Tests the image parameter parser: every parameter's accepted values and its 400, aliases,
// duplicates, crop all-or-none, ignored parameters, and the canonical string.

import assert from "node:assert/strict";
import { ProxyError } from "../errors.ts";
import {
  canonicalTransform,
  MAX_DIMENSION,
  PARAM_RANGES,
  parseImageEntries,
  parseImageParams,
  readImageQuery,
} from "./params.ts";
import type { ImageTransform } from "./types.ts";

function parse(query: string): ImageTransform | undefined {
  return parseImageParams(query);
}

/** The 400 a query gets: asserts its code, status and named parameter; returns the message. */
function rejected(query: string, parameter: string): string {
  try {
    parseImageParams(query);
  } catch (error) {
    assert.ok(error instanceof ProxyError, String(error));
    assert.equal(error.code, "invalid_image_params");
    assert.equal(error.status, 400);
    assert.equal(error.source, "client");
    assert.equal(error.details?.parameter, parameter, error.message);
    return error.message;
  }
  assert.fail(`expected ?${query} to be rejected`);
}

function canonical(query: string): string {
  const t = parse(query);
  assert.ok(t !== undefined, `?${query} is an image request`);
  return canonicalTransform(t);
}

Deno.test("no image parameter: undefined, whatever else the query holds", () => {
  for (
    const query of [
      "",
      "?",
      "token=abc",
      "versionId=3&X-Expires=1&X-Key-Id=k&X-Signature=s",
      "W=100",
      "width=100",
      "&&&",
      "=5",
    ]
  ) {
    assert.equal(parse(query), undefined, query);
  }
});

Deno.test("w and h: pixels or a percentage of the source", () => {
  assert.deepEqual(parse("w=400&h=300"), { width: { px: 400 }, height: { px: 300 } });
  assert.deepEqual(parse("w=50p"), { width: { percent: 50 } });
  assert.deepEqual(parse("h=50%25"), { height: { percent: 50 } });
  assert.deepEqual(parse("w=12.5p"), { width: { percent: 12.5 } });
  assert.deepEqual(parse("w=1"), { width: { px: 1 } });
  assert.deepEqual(parse(`w=${MAX_DIMENSION}`), { width: { px: MAX_DIMENSION } });
  assert.deepEqual(parse("w=1000p"), { width: { percent: 1000 } });
  assert.deepEqual(parse("w=0400"), { width: { px: 400 } });
  for (
    const bad of [
      "0",
      "-5",
      "16385",
      "abc",
      "",
      "1.5",
      "0p",
      "1000.01p",
      "50pp",
      "p",
      "1e3",
      " 400",
    ]
  ) {
    const message = rejected(`w=${encodeURIComponent(bad)}`, "w");
    assert.ok(message.includes(PARAM_RANGES.w), message);
  }
  assert.equal(
    rejected("h=abc", "h"),
    `Invalid image parameter h=abc: expected ${PARAM_RANGES.h}.`,
  );
});

Deno.test("q: 1-100", () => {
  assert.deepEqual(parse("q=1"), { quality: 1 });
  assert.deepEqual(parse("q=100"), { quality: 100 });
  for (const bad of ["0", "101", "50.5", "high", ""]) {
    assert.equal(
      rejected(`q=${bad}`, "q"),
      `Invalid image parameter ${
        bad === "" ? "q" : `q=${bad}`
      }: expected a whole number from 1 to 100.`,
    );
  }
});

Deno.test("fmt and its alias f: jpeg (jpg), png, webp, avif, gif, auto", () => {
  assert.deepEqual(parse("fmt=jpeg"), { format: "jpeg" });
  assert.deepEqual(parse("fmt=jpg"), { format: "jpeg" });
  assert.deepEqual(parse("f=JPG"), { format: "jpeg" });
  for (const format of ["png", "webp", "avif", "gif", "auto"]) {
    assert.deepEqual(parse(`f=${format}`), { format });
  }
  assert.match(rejected("fmt=bmp", "fmt"), /fmt=bmp: expected one of jpeg, jpg, png, webp/);
  assert.match(rejected("f=tiff", "f"), /Invalid image parameter f=tiff/);
  assert.match(
    rejected("f=webp&fmt=webp", "fmt"),
    /expected only one of f and fmt \(f is an alias of fmt\)/,
  );
});

Deno.test("fit: cover, contain, fill, inside, outside, pad", () => {
  for (const fit of ["cover", "contain", "fill", "inside", "outside", "pad"]) {
    assert.deepEqual(parse(`fit=${fit}`), { fit });
  }
  assert.deepEqual(parse("fit=COVER"), { fit: "cover" });
  assert.match(rejected("fit=crop", "fit"), /expected one of cover, contain, fill, inside/);
});

Deno.test("dpr: 1-4 with two decimals at most", () => {
  assert.deepEqual(parse("dpr=2"), { dpr: 2 });
  assert.deepEqual(parse("dpr=1.5"), { dpr: 1.5 });
  assert.deepEqual(parse("dpr=4.00"), { dpr: 4 });
  assert.deepEqual(parse("dpr=1"), { dpr: 1 });
  for (const bad of ["0.5", "4.01", "5", "2x", "1.333", "-1"]) {
    assert.match(rejected(`dpr=${bad}`, "dpr"), /expected a number from 1 to 4/);
  }
});

Deno.test("g: gravity names and their short forms", () => {
  const table: Record<string, string> = {
    center: "center",
    centre: "center",
    c: "center",
    ce: "center",
    n: "north",
    no: "north",
    north: "north",
    s: "south",
    e: "east",
    w: "west",
    ne: "northeast",
    nw: "northwest",
    se: "southeast",
    sw: "southwest",
    southwest: "southwest",
    smart: "smart",
    sm: "smart",
    SMART: "smart",
  };
  for (const [value, gravity] of Object.entries(table)) {
    assert.deepEqual(parse(`g=${value}`), { gravity }, value);
  }
  assert.match(rejected("g=top", "g"), /expected one of center \(c, ce, centre\), north/);
});

Deno.test("r: 0, 90, 180, 270", () => {
  for (const r of [0, 90, 180, 270]) assert.deepEqual(parse(`r=${r}`), { rotate: r });
  for (const bad of ["45", "360", "-90", "90.0", "x"]) {
    assert.equal(
      rejected(`r=${bad}`, "r"),
      `Invalid image parameter r=${bad}: expected one of 0, 90, 180, 270.`,
    );
  }
});

Deno.test("blur 0-100 and sharpen 0-10 (sigmas, two decimals)", () => {
  assert.deepEqual(parse("blur=2.5&sharpen=1"), { blur: 2.5, sharpen: 1 });
  assert.deepEqual(parse("blur=100&sharpen=10"), { blur: 100, sharpen: 10 });
  assert.deepEqual(parse("blur=0"), { blur: 0 });
  assert.match(rejected("blur=100.5", "blur"), /expected a number from 0 to 100/);
  assert.match(rejected("blur=-1", "blur"), /expected a number from 0 to 100/);
  assert.match(rejected("sharpen=11", "sharpen"), /expected a number from 0 to 10 /);
});

Deno.test("brightness, contrast and saturation: whole numbers -100..100", () => {
  assert.deepEqual(parse("brightness=-100&contrast=100&saturation=-5"), {
    brightness: -100,
    contrast: 100,
    saturation: -5,
  });
  assert.deepEqual(parse("brightness=-0"), { brightness: 0 });
  assert.ok(!Object.is(parse("brightness=-0")?.brightness, -0), "-0 is read as 0");
  for (const name of ["brightness", "contrast", "saturation"]) {
    for (const bad of ["101", "-101", "1.5", "x"]) {
      assert.match(
        rejected(`${name}=${bad}`, name),
        /expected a whole number from -100 to 100 \(0 = unchanged\)/,
      );
    }
  }
});

Deno.test("booleans: 1, 0, true, false", () => {
  assert.deepEqual(
    parse("grayscale=1&enlarge=true&auto_rotate=0&strip=false&progressive=TRUE"),
    { grayscale: true, enlarge: true, autoRotate: false, strip: false, progressive: true },
  );
  for (const name of ["grayscale", "enlarge", "auto_rotate", "strip", "progressive"]) {
    for (const bad of ["yes", "2", "", "on"]) {
      assert.match(rejected(`${name}=${bad}`, name), /expected 1, 0, true or false\.$/);
    }
  }
});

Deno.test("flip: h, v, hv (vh is hv)", () => {
  assert.deepEqual(parse("flip=h"), { flip: "h" });
  assert.deepEqual(parse("flip=v"), { flip: "v" });
  assert.deepEqual(parse("flip=hv"), { flip: "hv" });
  assert.deepEqual(parse("flip=vh"), { flip: "hv" });
  assert.match(rejected("flip=x", "flip"), /expected one of h, v, hv/);
});

Deno.test("bg: hex colours with or without '#', normalized to #rrggbb[aa]", () => {
  assert.deepEqual(parse("bg=fff"), { background: "#ffffff" });
  assert.deepEqual(parse("bg=%23FF0000"), { background: "#ff0000" });
  assert.deepEqual(parse("bg=ff000080"), { background: "#ff000080" });
  assert.deepEqual(parse("bg=f008"), { background: "#ff000088" });
  assert.deepEqual(parse("bg=ff0000ff"), { background: "#ff0000" }, "opaque alpha dropped");
  for (const bad of ["red", "fffff", "#", "gggggg", "%23%23fff", "ff00000"]) {
    assert.match(rejected(`bg=${bad}`, "bg"), /expected a hex colour of 3, 4, 6 or 8 digits/);
  }
});

Deno.test("crop: cx, cy, cw, ch all together or none", () => {
  assert.deepEqual(parse("cx=10&cy=20&cw=300&ch=200"), {
    crop: { x: 10, y: 20, width: 300, height: 200 },
  });
  assert.deepEqual(parse("cx=0&cy=0&cw=1&ch=1&w=100"), {
    width: { px: 100 },
    crop: { x: 0, y: 0, width: 1, height: 1 },
  });
  assert.equal(
    rejected("cx=10&cy=20", "cx"),
    "Invalid image parameter cx: expected cx, cy, cw and ch together (a crop rectangle in source pixels: left, top, width, height); cw, ch are missing.",
  );
  assert.match(rejected("ch=5", "ch"), /cx, cy, cw are missing/);
  assert.match(rejected("cx=1&cy=1&cw=0&ch=1", "cw"), /from 1 to 65535/);
  assert.match(rejected("cx=-1&cy=1&cw=1&ch=1", "cx"), /from 0 to 65535/);
  assert.match(rejected("cx=1&cy=65536&cw=1&ch=1", "cy"), /from 0 to 65535/);
});

Deno.test("a repeated parameter is a 400 naming it", () => {
  assert.equal(
    rejected("w=100&w=200", "w"),
    "Invalid image parameter w=200: expected w only once (it is repeated).",
  );
  assert.match(rejected("fmt=png&f=png", "f"), /only one of fmt and f/);
  assert.match(rejected("w=1&h=1&h=1", "h"), /h only once/);
});

Deno.test("names and values are form-decoded; other parameters are ignored", () => {
  assert.deepEqual(parse("%77=100"), { width: { px: 100 } }, "%77 is w");
  assert.deepEqual(parse("token=x&w=100&versionId=3&width=7"), { width: { px: 100 } });
  assert.equal(rejected("w=1+00", "w").includes('w="1 00"'), true, "+ is a space");
});

Deno.test("messages quote unusual values and cut long ones short", () => {
  const message = rejected(`w=${"9".repeat(100)}`, "w");
  assert.ok(message.includes(`w=${"9".repeat(40)}...`), message);
  assert.ok(rejected("fit=%22%0A", "fit").includes('fit="\\"\\n"'));
});

Deno.test("readImageQuery() splits preset and signature parameters from the transform", () => {
  assert.deepEqual(readImageQuery("preset=thumb&token=x"), {
    transform: undefined,
    preset: "thumb",
    params: [],
    signature: undefined,
    keyId: undefined,
    expires: undefined,
  });
  assert.deepEqual(readImageQuery("?w=1&sig=abc&kid=k1&exp=99&f=png"), {
    transform: { width: { px: 1 }, format: "png" },
    preset: undefined,
    params: ["w", "f"],
    signature: "abc",
    keyId: "k1",
    expires: "99",
  });
  assert.throws(
    () => readImageQuery("preset=a&preset=b"),
    (e: unknown) => e instanceof ProxyError && e.code === "invalid_image_params",
  );
  for (const name of ["sig", "kid", "exp"]) {
    assert.throws(
      () => readImageQuery(`w=1&${name}=a&${name}=b`),
      (e: unknown) =>
        e instanceof ProxyError && e.code === "invalid_image_params" && e.status === 400 &&
        e.message.includes(`${name} appears more than once`),
    );
  }
});

Deno.test("parseImageEntries() returns the first problem instead of throwing", () => {
  assert.deepEqual(parseImageEntries([["w", "0"], ["q", "0"]]), {
    ok: false,
    problem: { param: "w", value: "0", expected: PARAM_RANGES.w },
  });
  assert.deepEqual(parseImageEntries([["unknown", "x"]]), { ok: true, transform: {} });
});

// ---- canonical string -----------------------------------------------------------------------

Deno.test("canonical string: order and aliases do not matter", () => {
  const same = [
    "h=300&w=400&fmt=jpeg",
    "w=400&h=300&f=jpg",
    "fmt=JPEG&h=300&w=400",
    "token=abc&w=400&h=0300&f=jpeg&X-Signature=zz",
  ];
  for (const query of same) assert.equal(canonical(query), "w=400&h=300&fmt=jpeg", query);
  assert.equal(canonical("g=ne&flip=vh&bg=%23FFF"), "g=northeast&flip=hv&bg=ffffff");
  assert.equal(canonical("w=50%25"), canonical("w=50p"));
  assert.equal(canonical("w=50.50p&dpr=1.50"), "w=50.5p&dpr=1.5");
});

Deno.test("canonical string: values that ask for nothing are omitted", () => {
  assert.equal(
    canonical(
      "r=0&dpr=1&blur=0&sharpen=0&brightness=0&contrast=-0&saturation=0&grayscale=0&auto_rotate=1&enlarge=0&strip=1",
    ),
    "",
  );
  assert.equal(canonical("w=10&r=0&dpr=1.00"), canonical("w=10"));
  assert.equal(
    canonical(
      "strip=0&progressive=0&q=75&fmt=webp&bg=000&grayscale=1&saturation=-20&contrast=5&brightness=10&sharpen=1.5&blur=3&enlarge=1&auto_rotate=0&flip=h&r=90&ch=4&cw=3&cy=2&cx=1&g=smart&fit=pad&dpr=2&h=50p&w=100",
    ),
    "w=100&h=50p&dpr=2&fit=pad&g=smart&cx=1&cy=2&cw=3&ch=4&r=90&flip=h&auto_rotate=0&enlarge=1&blur=3&sharpen=1.5&brightness=10&contrast=5&saturation=-20&grayscale=1&bg=000000&q=75&fmt=webp&progressive=0&strip=0",
  );
});

Deno.test("canonical string: parses back to the same canonical string", () => {
  const query =
    "w=33.33p&h=7&dpr=3.25&fit=inside&g=sw&cx=5&cy=6&cw=7&ch=8&r=270&flip=v&blur=0.5&bg=12345678&q=1&fmt=auto&progressive=1";
  const first = canonical(query);
  assert.equal(canonical(first), first);
});
