// Owns the schema of the process-wide sections: `server` (listening, timeouts) and `logging`.

import { z } from "zod";
import type { LoggingConfig, ServerConfig } from "./types.ts";
import { LOG_LEVELS, LOG_WRITERS } from "./types.ts";
import { expecting, oneOf, seconds, section } from "./schema_support.ts";
import { securityLimitsSchema } from "./schema_security.ts";
import { trustedProxiesSchema } from "./schema_network.ts";
import { serverRateLimitSchema } from "./schema_rate_limit.ts";

/** Why `server.address` is wrong, if it is. */
export function addressProblem(address: string): string | undefined {
  if (address.trim() === "") return 'expected a host name or IP address, got an empty string ""';
  if (address.includes("://")) {
    return `${JSON.stringify(address)} is a URL; server.address is only the host (like "0.0.0.0")`;
  }
  // host:port (one colon) is what the original's example wrongly used; IPv6 has several colons.
  const hostPort = /^([^:]+):(\d+)$/.exec(address);
  if (hostPort) {
    return `${JSON.stringify(address)} includes a port; write address: ${
      JSON.stringify(hostPort[1])
    } and port: ${hostPort[2]}`;
  }
  if (/\s/.test(address)) return `${JSON.stringify(address)} must not contain spaces`;
  return undefined;
}

/** Upper bound of `max_concurrent_requests`: far beyond what one process can hold open. */
const MAX_CONCURRENT = 1_000_000;

export const SERVER_SHAPE = {
  address: z.string({ error: expecting("a host name or IP address", { text: true }) })
    .superRefine((value, ctx) => {
      const problem = addressProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
    })
    .default("0.0.0.0"),
  port: z.int({ error: expecting("an integer from 0 to 65535") })
    .min(0, { error: expecting("an integer from 0 to 65535") })
    .max(65535, { error: expecting("an integer from 0 to 65535") })
    .default(8080),
  request_timeout: seconds({ min: "positive", default: 30 }),
  shutdown_timeout: seconds({ min: "zero", default: 30 }),
  security_limits: securityLimitsSchema,
  trusted_proxies: trustedProxiesSchema,
  max_concurrent_requests: z.int({ error: expecting(`a whole number from 1 to ${MAX_CONCURRENT}`) })
    .min(1, { error: expecting(`a whole number from 1 to ${MAX_CONCURRENT}`) })
    .max(MAX_CONCURRENT, { error: expecting(`a whole number from 1 to ${MAX_CONCURRENT}`) })
    .default(1000),
  rate_limit: serverRateLimitSchema,
};

export const serverSchema = section(
  z.strictObject(SERVER_SHAPE, { error: expecting("a mapping of server settings") })
    .transform((raw): ServerConfig => {
      const server: ServerConfig = {
        address: raw.address,
        port: raw.port,
        requestTimeout: raw.request_timeout,
        shutdownTimeout: raw.shutdown_timeout,
        securityLimits: raw.security_limits,
        maxConcurrentRequests: raw.max_concurrent_requests,
      };
      if (raw.trusted_proxies.length > 0) server.trustedProxies = raw.trusted_proxies;
      if (raw.rate_limit !== undefined) server.rateLimit = raw.rate_limit;
      return server;
    }),
);

// ---- logging --------------------------------------------------------------------------------

export const LOGGING_SHAPE = {
  level: z.enum(LOG_LEVELS, { error: expecting(oneOf(LOG_LEVELS)) }).default("info"),
  format: z.enum(["json", "pretty"], { error: expecting(oneOf(["json", "pretty"])) })
    .default("json"),
  writer: z.enum(LOG_WRITERS, { error: expecting(oneOf(LOG_WRITERS)) }).default("auto"),
};

export const loggingSchema = section(
  z.strictObject(LOGGING_SHAPE, { error: expecting("a mapping of logging settings") })
    .transform((raw): LoggingConfig => ({
      level: raw.level,
      format: raw.format,
      writer: raw.writer,
    })),
);
