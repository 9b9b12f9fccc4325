// Owns the finished requests the request log's tests use: a plain sample and the fast-check arbitrary.

import fc from "fast-check";
import type { RequestRecord } from "./request_lines.ts";

/** Strings as they reach the log: ASCII mostly, but paths and headers can carry anything. */
const text = fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), fc.string({ unit: "binary" }));
const optional = fc.option(text, { nil: undefined });
const nullable = fc.option(text, { nil: null });

export const requestRecord: fc.Arbitrary<RequestRecord> = fc.record({
  requestId: text,
  clientIp: text,
  method: text,
  path: text,
  bucket: optional,
  status: fc.integer({ min: 100, max: 599 }),
  bytes: fc.option(fc.nat({ max: 2 ** 40 }), { nil: null }),
  cache: optional,
  durationMs: fc.double({ min: 0, max: 1e7, noNaN: true }),
  code: optional,
  interrupted: fc.boolean(),
  user: optional,
  key: optional,
  // Now and then longer than the 1024 characters the audit line keeps.
  userAgent: fc.option(fc.oneof(text, fc.string({ minLength: 1000, maxLength: 1100 })), {
    nil: null,
  }),
  referer: nullable,
});

/** A public cache hit of /b/k, with `overrides`. */
export function sampleRequest(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    requestId: "r",
    clientIp: "127.0.0.1",
    method: "GET",
    path: "/b/k",
    bucket: "b",
    status: 200,
    bytes: 1,
    cache: "HIT",
    durationMs: 0.1,
    code: undefined,
    interrupted: false,
    user: undefined,
    key: "k",
    userAgent: null,
    referer: null,
    ...overrides,
  };
}
