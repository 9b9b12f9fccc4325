// Owns the schema of the `metrics` block: the Prometheus listener, separate from the proxy port.

import { z } from "zod";
import type { MetricsConfig, ServerConfig } from "./types.ts";
import { expecting } from "./schema_support.ts";
import { addressProblem } from "./schema_server.ts";

export const METRICS_DEFAULTS = { address: "0.0.0.0", port: 9090 } as const;

const PORT = expecting("an integer from 0 to 65535");

export const METRICS_SHAPE = {
  enabled: z.boolean({ error: expecting("true or false") }).default(true),
  address: z.string({ error: expecting("a host name or IP address", { text: true }) })
    .superRefine((value, ctx) => {
      const problem = addressProblem(value)?.replace("server.address", "metrics.address");
      if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
    })
    .default(METRICS_DEFAULTS.address),
  port: z.int({ error: PORT }).min(0, { error: PORT }).max(65535, { error: PORT })
    .default(METRICS_DEFAULTS.port),
};

/**
 * `metrics:` written (even empty) means a metrics listener with the defaults unless
 * `enabled: false`; the block left out means none. Resolves to undefined when disabled.
 */
export const metricsSchema = z.strictObject(METRICS_SHAPE, {
  error: expecting('a mapping like {enabled: true, address: "0.0.0.0", port: 9090}'),
}).transform((raw): MetricsConfig | undefined =>
  raw.enabled ? { address: raw.address, port: raw.port } : undefined
);

/** Hosts that listen on every interface, so they collide with any other host on the same port. */
const WILDCARDS = new Set(["0.0.0.0", "::", "[::]"]);

/**
 * Why the metrics listener cannot share its port with the proxy's, if it would: two listeners on
 * one port (a wildcard address overlaps every other) make the second fail to start.
 */
export function metricsPortProblem(
  metrics: MetricsConfig,
  server: Pick<ServerConfig, "address" | "port">,
): string | undefined {
  if (metrics.port === 0 || metrics.port !== server.port) return undefined;
  const overlap = metrics.address === server.address || WILDCARDS.has(metrics.address) ||
    WILDCARDS.has(server.address);
  if (!overlap) return undefined;
  return `metrics.port ${metrics.port} is also server.port (on ${
    JSON.stringify(server.address)
  }): the metrics listener needs a port of its own; use another port, like ${METRICS_DEFAULTS.port}`;
}
