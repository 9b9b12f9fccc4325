// Owns the format negotiation tests: AVIF, then WebP, then the source, by Accept and its q-values.

import assert from "node:assert/strict";
import fc from "fast-check";
import { chooseFormat, explicitQuality, negotiateFromAccept } from "./negotiate.ts";

const CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
const SAFARI_16 =
  "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5";
const OLD_FIREFOX = "image/webp,*/*";

Deno.test("negotiateFromAccept(): browsers' Accept headers", () => {
  assert.equal(negotiateFromAccept(CHROME).format, "avif");
  assert.equal(negotiateFromAccept(SAFARI_16).format, "avif");
  assert.equal(negotiateFromAccept(OLD_FIREFOX).format, "webp");
  assert.equal(negotiateFromAccept("*/*").format, "source", "wildcards never mean AVIF/WebP");
  assert.equal(negotiateFromAccept("image/*").format, "source");
  assert.equal(negotiateFromAccept(null).format, "source");
  assert.equal(negotiateFromAccept("").format, "source");
  for (const accept of [CHROME, "*/*", null]) {
    assert.equal(negotiateFromAccept(accept).negotiated, true);
  }
});

Deno.test("negotiateFromAccept(): q-values are honoured, q=0 means not acceptable", () => {
  assert.equal(negotiateFromAccept("image/avif;q=0, image/webp").format, "webp");
  assert.equal(negotiateFromAccept("image/avif;q=0,image/webp;q=0").format, "source");
  assert.equal(negotiateFromAccept("image/avif;q=0.5, image/webp;q=0.9").format, "webp");
  assert.equal(negotiateFromAccept("image/avif;q=0.9, image/webp;q=0.9").format, "avif");
  assert.equal(negotiateFromAccept("IMAGE/AVIF ; Q=0.2").format, "avif");
  assert.equal(
    negotiateFromAccept("image/avif;q=2").format,
    "source",
    "a malformed q is not acceptable",
  );
  assert.equal(negotiateFromAccept("image/avif;q=abc, image/webp").format, "webp");
  assert.equal(negotiateFromAccept("image/avifx, image/webpy").format, "source");
});

Deno.test("explicitQuality(): parameters other than q are ignored", () => {
  assert.equal(explicitQuality("image/webp;level=1;q=0.3", "image/webp"), 0.3);
  assert.equal(explicitQuality("text/html", "image/webp"), undefined);
  assert.equal(explicitQuality("image/webp;q=0.1, image/webp;q=0.7", "image/webp"), 0.7);
});

Deno.test("chooseFormat(): fmt, fmt=auto and auto_format", () => {
  assert.deepEqual(chooseFormat({ format: "png" }, true, CHROME), {
    format: "png",
    negotiated: false,
  });
  assert.deepEqual(chooseFormat({ format: "auto" }, false, CHROME), {
    format: "avif",
    negotiated: true,
  });
  assert.deepEqual(chooseFormat({ width: { px: 10 } }, true, OLD_FIREFOX), {
    format: "webp",
    negotiated: true,
  });
  assert.deepEqual(chooseFormat({ width: { px: 10 } }, false, CHROME), {
    format: "source",
    negotiated: false,
  });
});

Deno.test("negotiateFromAccept() never throws and always answers one of avif, webp, source", () => {
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (accept) => {
    const choice = negotiateFromAccept(accept);
    assert.ok(["avif", "webp", "source"].includes(choice.format));
    assert.equal(choice.negotiated, true);
  }));
});
