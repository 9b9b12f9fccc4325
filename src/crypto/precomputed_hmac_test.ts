// Tests PrecomputedHmacSha256 against node:crypto's createHmac for short, block-sized and long keys.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import fc from "fast-check";
import { PrecomputedHmacSha256 } from "./precomputed_hmac.ts";

Deno.test("PrecomputedHmacSha256 matches createHmac (property)", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 150 }),
      fc.string({ unit: "grapheme", maxLength: 300 }),
      (key, message) => {
        const mac = new PrecomputedHmacSha256(key);
        assert.equal(mac.hex(message), createHmac("sha256", key).update(message).digest("hex"));
        assert.equal(
          mac.base64url(message),
          createHmac("sha256", key).update(message).digest("base64url"),
        );
        // Reusable: the padded states are copied, never consumed.
        assert.equal(mac.hex(message), createHmac("sha256", key).update(message).digest("hex"));
      },
    ),
    { numRuns: 300 },
  );
});
