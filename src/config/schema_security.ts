// Owns the schema of `server.security_limits` (request URI, header and body size limits).

import { z } from "zod";
import type { SecurityLimitsConfig } from "./types.ts";
import { expecting, section } from "./schema_support.ts";

/** The original's defaults (§1.19), kept so its configs mean the same here. */
export const SECURITY_LIMITS_DEFAULTS: Readonly<SecurityLimitsConfig> = Object.freeze({
  maxUriLength: 8192,
  maxHeaderSize: 65_536,
  maxBodySize: 10_485_760,
});

/** Upper bound of the URI and header limits: far above what Deno's HTTP layer admits anyway. */
const MAX_HEAD_LIMIT = 1_048_576;
/** Upper bound of max_body_size (1 GiB): the only body read is an admin JSON request. */
const MAX_BODY_LIMIT = 1_073_741_824;

function boundedInt(expected: string, min: number, max: number, fallback: number) {
  const error = expecting(`${expected} from ${min} to ${max}`);
  return z.int({ error }).min(min, { error }).max(max, { error }).default(fallback);
}

export const SECURITY_LIMITS_SHAPE = {
  // Below 256 characters ordinary keys would be refused; S3 keys alone may be 1024 bytes.
  max_uri_length: boundedInt(
    "a whole number of characters",
    256,
    MAX_HEAD_LIMIT,
    SECURITY_LIMITS_DEFAULTS.maxUriLength,
  ),
  // Below 1 KiB a browser's ordinary headers would be refused.
  max_header_size: boundedInt(
    "a whole number of bytes",
    1024,
    MAX_HEAD_LIMIT,
    SECURITY_LIMITS_DEFAULTS.maxHeaderSize,
  ),
  max_body_size: boundedInt(
    "a whole number of bytes",
    0,
    MAX_BODY_LIMIT,
    SECURITY_LIMITS_DEFAULTS.maxBodySize,
  ),
};

export const securityLimitsSchema = section(
  z.strictObject(SECURITY_LIMITS_SHAPE, {
    error: expecting(
      "a mapping like {max_uri_length: 8192, max_header_size: 65536, max_body_size: 10485760}",
    ),
  }).transform((raw): SecurityLimitsConfig => ({
    maxUriLength: raw.max_uri_length,
    maxHeaderSize: raw.max_header_size,
    maxBodySize: raw.max_body_size,
  })),
);
