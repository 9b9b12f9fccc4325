// Owns the tables of config keys that are not supported yet (rejected) or accepted-but-ignored.

/**
 * Keys the original Yatagarasu (or DESIGN.md) defines for features this build does not have yet.
 * Rejecting them beats silently ignoring them (the original ignored unknown keys, so a config could
 * look protected while it was not). When a feature lands, delete its rows here and add its keys to
 * the schema below. `[]` in a path means "every element of this list". A row with `when` only
 * rejects values for which it returns true; `label` replaces the key name in the message.
 */
export const NOT_YET_SUPPORTED: readonly NotYetSupported[] = [
  { path: "server.coalescing", feature: "caching" },
  { path: "observability", feature: "operations" },
];

export interface NotYetSupported {
  path: string;
  feature: string;
  when?: (value: unknown) => boolean;
  label?: string;
  fix?: string;
}

/** Keys the original accepted that mean nothing on Deno: accepted with a warning saying why. */
export const IGNORED_KEYS: readonly { path: string; reason: string }[] = [
  {
    path: "server.threads",
    reason: "Deno serves every request on one event loop, so there are no worker threads to size",
  },
  {
    path: "buckets[].s3.connection_pool_size",
    reason: "fetch pools and reuses upstream connections itself",
  },
  {
    path: "audit_log.log_level",
    reason: "every request is audited: audit lines have no level, and logging.level does not " +
      "filter them",
  },
];
