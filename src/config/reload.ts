// Owns what a config reload reports (ReloadOutcome) and which changes a running gateway cannot apply until it restarts.

import type { ConfigIssue } from "./issues.ts";
import type { Config } from "./types.ts";

/** The result of one reload, as logged and as POST /admin/reload answers it. */
export interface ReloadOutcome {
  ok: boolean;
  /** The generation serving new requests after this reload (unchanged when it failed). */
  generation: number;
  /** When the reload finished, ms since the epoch. */
  finishedAt: number;
  durationMs: number;
  /** Why the new config was rejected: validation issues (path, line) or a build error (path ""). */
  errors: ConfigIssue[];
  /** The new config's validation warnings. */
  warnings: ConfigIssue[];
  /** Changed keys that keep their running value until a restart (the rest was applied). */
  needsRestart: ConfigIssue[];
  /** Where the config came from (a file path), for messages. */
  source: string;
}

interface RestartOnlyKey {
  /** The key as written in YAML. */
  path: string;
  /** True when `next` changes the key in a way the running gateway cannot apply. */
  changed(running: Config, next: Config): boolean;
  /** Whether the values may be shown (never for blocks that can hold secrets). */
  show?: (config: Config) => unknown;
}

/** Deep equality of plain config data (built by the same loader, so key order is stable). */
function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * A cache tier key: the tiers are opened once per process (the cache survives reloads), so a
 * change needs a restart. Dropping the whole `cache` block is applied (buckets stop using it).
 */
function cacheKey(path: string, read: (cache: NonNullable<Config["cache"]>) => unknown) {
  return {
    path,
    changed: (running: Config, next: Config) =>
      running.cache !== undefined && next.cache !== undefined &&
      !same(read(running.cache), read(next.cache)),
  };
}

/** A scalar setting: changed when its value differs, shown with the value. */
function valueKey(path: string, read: (config: Config) => string | number): RestartOnlyKey {
  return { path, changed: (a, b) => read(a) !== read(b), show: read };
}

/** Top-level blocks other features may add to Config; read without depending on their types. */
function block(config: Config, name: string): unknown {
  return (config as unknown as Record<string, unknown>)[name];
}

/**
 * What a reload leaves alone. The listener (address, port) is bound once; the logger is built
 * before the config is applied; the cache tiers and the prewarm pace belong to the process; the
 * metrics listener is bound once; the audit log is opened once. Everything else — routes,
 * credentials, endpoints, replicas, breakers, limits, JWT keys, authorization, image settings,
 * per-bucket cache settings, server timeouts and limits — belongs to a generation and is applied.
 */
const RESTART_ONLY: readonly RestartOnlyKey[] = [
  valueKey("server.address", (c) => c.server.address),
  valueKey("server.port", (c) => c.server.port),
  valueKey("logging.level", (c) => c.logging.level),
  valueKey("logging.format", (c) => c.logging.format),
  valueKey("logging.writer", (c) => c.logging.writer ?? "auto"),
  {
    // Turning the cache on needs its tiers opened; turning it off is applied.
    path: "cache",
    changed: (a, b) => a.cache === undefined && b.cache !== undefined,
  },
  cacheKey("cache.cache_layers", (cache) => cache.layers),
  cacheKey("cache.memory.max_cache_size_mb", (cache) => cache.memory.maxCacheBytes),
  cacheKey("cache.disk", (cache) => cache.disk),
  cacheKey("cache.redis", (cache) => cache.redis),
  cacheKey("cache.warming", (cache) => cache.warming),
  { path: "metrics", changed: (a, b) => !same(block(a, "metrics"), block(b, "metrics")) },
  // The audit log's files and buffers are opened once per process (app.ts).
  { path: "audit_log", changed: (a, b) => !same(block(a, "auditLog"), block(b, "auditLog")) },
];

/**
 * The keys whose change `next` asks for but a running gateway keeps until it restarts, each as a
 * warning that says so (values shown only where they hold no secret).
 */
export function restartOnlyChanges(running: Config, next: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const key of RESTART_ONLY) {
    if (!key.changed(running, next)) continue;
    const values = key.show === undefined
      ? ""
      : ` (${JSON.stringify(key.show(running))} -> ${JSON.stringify(key.show(next))})`;
    issues.push({
      path: key.path,
      message: `changed${values}, but a running gateway keeps the old value; restart it to apply ` +
        "this change (the rest of the new config is in effect).",
    });
  }
  return issues;
}

/** What identifies a bucket's origin: a change means its cached objects came from elsewhere. */
export function originIdentity(bucket: Config["buckets"][number]): string {
  const s3 = bucket.s3;
  const replicas = s3.replicas?.map((r) => [r.bucket, r.region, r.endpoint ?? ""]);
  return JSON.stringify([s3.bucket, s3.region, s3.endpoint ?? "", replicas ?? []]);
}
