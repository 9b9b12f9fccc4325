// Tests ByteBuffer's writers against what JavaScript itself writes (String(), TextEncoder).

import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteBuffer } from "./byte_buffer.ts";

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("ByteBuffer.putNumber() writes what String() writes", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.nat(), fc.maxSafeNat(), fc.double({ noNaN: true }), fc.integer()),
      (value) => {
        const buffer = new ByteBuffer(1);
        buffer.putNumber(value);
        assert.equal(decode(buffer.view()), Number.isFinite(value) ? String(value) : "null");
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("ByteBuffer.putThousandths() writes what String() writes of the value rounded to thousandths", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.double({ min: 0, max: 1e13, noNaN: true }),
        fc.integer({ min: 0, max: 999_999 }).map((thousandths) => thousandths / 1000),
        fc.double({ noNaN: true }),
        fc.constantFrom(0, 0.0004, 0.0005, 0.9995, 999_999_999_999.999, 1e12, 1e15, -0.0004),
      ),
      (value) => {
        const buffer = new ByteBuffer(1);
        buffer.putThousandths(value);
        const rounded = Math.round(value * 1000) / 1000;
        assert.equal(decode(buffer.view()), Number.isFinite(rounded) ? String(rounded) : "null");
      },
    ),
    { numRuns: 5000 },
  );
});

Deno.test("ByteBuffer.putText() and putBuffer() append UTF-8 and another buffer's bytes, growing as needed", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), fc.string(), (first, second) => {
      const buffer = new ByteBuffer(1);
      buffer.putText(first);
      const other = new ByteBuffer(1);
      other.putText(second);
      buffer.putBuffer(other);
      assert.deepEqual(buffer.view(), new TextEncoder().encode(first + second));
    }),
  );
});
