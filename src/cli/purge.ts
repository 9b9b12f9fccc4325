// Owns the `purge` subcommand: purge by key, prefix, bucket or all, through a running gateway or on the tiers directly.

import type { PurgeSelector } from "../cache/tier.ts";
import type { Config } from "../config/types.ts";
import { adminRequest, describeAdminError } from "./admin_client.ts";
import {
  adminToken,
  type CacheCommand,
  fallBackToTiers,
  gatewayBase,
  loadCommandConfig,
  openDirectTiers,
} from "./cache_command.ts";
import type { CommandIO } from "./validate_config.ts";

export interface PurgeOptions {
  config: string;
  bucket?: string | undefined;
  key?: string | undefined;
  prefix?: string | undefined;
  all?: boolean | undefined;
  /** A running gateway's base URL; default the config's server address and port. */
  url?: string | undefined;
  /** Admin bearer token; default $YATAGARASU_ADMIN_TOKEN. */
  token?: string | undefined;
  /** Skip the gateway and purge the configured disk/Redis tiers directly. */
  direct?: boolean | undefined;
}

const PURGE: CacheCommand = {
  name: "purge",
  done: "purged",
  fallback: "purging the configured tiers directly",
};

/** The selector the flags ask for, or a usage error. */
export function purgeSelector(options: PurgeOptions): PurgeSelector | { error: string } {
  const { bucket, key, prefix, all } = options;
  if (key !== undefined && prefix !== undefined) {
    return { error: "give either --key or --prefix, not both" };
  }
  if (all) {
    if (bucket !== undefined || key !== undefined || prefix !== undefined) {
      return { error: "--all purges everything; drop --bucket, --key and --prefix, or drop --all" };
    }
    return { kind: "all" };
  }
  if (bucket === undefined || bucket === "") {
    return {
      error: key !== undefined || prefix !== undefined
        ? "--key and --prefix need --bucket (the gateway bucket name from buckets[].name)"
        : "say what to purge: --bucket B [--key K | --prefix P], or --all",
    };
  }
  if (key !== undefined) {
    if (key === "") return { error: "--key is empty; give the object key, like images/a.png" };
    return { kind: "object", bucket, key };
  }
  if (prefix !== undefined) return { kind: "prefix", bucket, prefix };
  return { kind: "bucket", bucket };
}

/** The admin API path of a selector (keys and prefixes percent-encoded per segment). */
export function purgePath(selector: PurgeSelector): string {
  switch (selector.kind) {
    case "all":
      return "/admin/cache/purge";
    case "bucket":
      return `/admin/cache/purge/${encodeURIComponent(selector.bucket)}`;
    case "prefix":
      return `/admin/cache/purge/${encodeURIComponent(selector.bucket)}?prefix=${
        encodeURIComponent(selector.prefix)
      }`;
    case "object":
      return `/admin/cache/purge/${encodeURIComponent(selector.bucket)}/${
        selector.key.split("/").map(encodeURIComponent).join("/")
      }`;
  }
}

function describe(selector: PurgeSelector): string {
  switch (selector.kind) {
    case "all":
      return "everything";
    case "bucket":
      return `bucket "${selector.bucket}"`;
    case "prefix":
      return `keys of bucket "${selector.bucket}" starting with "${selector.prefix}"`;
    case "object":
      return `"${selector.key}" in bucket "${selector.bucket}"`;
  }
}

/** Exit 0 purged, 1 the purge failed (gateway or tier error), 2 usage or config error. */
export async function runPurge(options: PurgeOptions, io: CommandIO): Promise<number> {
  const selector = purgeSelector(options);
  if ("error" in selector) {
    io.stderr(`purge: ${selector.error}`);
    return 2;
  }
  const config = await loadCommandConfig(
    PURGE,
    options.config,
    selector.kind === "all" ? undefined : selector.bucket,
    io,
  );
  if (config === undefined) return 2;
  const token = adminToken(options.token);
  if (!options.direct) {
    const base = gatewayBase(PURGE, config, options.url, io);
    if (base === undefined) return 2;
    try {
      const answer = await adminRequest(base, "POST", purgePath(selector), { token });
      if (answer.status !== 200) {
        io.stderr(`purge: ${describeAdminError(answer)}`);
        return 1;
      }
      io.stdout(
        `purged ${describe(selector)}: ${
          answer.body.entries_deleted ?? 0
        } entries, through the gateway at ${base}`,
      );
      return 0;
    } catch (error) {
      if (!fallBackToTiers(PURGE, error, options.url, io)) return 1;
    }
  }
  return await purgeDirectly(config, selector, io);
}

/** Purges the disk and Redis tiers of `config` (memory lives in gateway processes) and announces it. */
async function purgeDirectly(config: Config, selector: PurgeSelector, io: CommandIO) {
  const direct = await openDirectTiers(PURGE, config, io);
  if (direct === undefined) return 1;
  const { cache, layers } = direct;
  try {
    const deleted = await cache.purge(selector);
    io.stdout(
      `purged ${describe(selector)}: ${deleted} entries, directly in ${layers.join(" and ")}` +
        (config.cache?.redis ? " (running gateways were told through Redis)" : ""),
    );
    return 0;
  } catch (error) {
    io.stderr(`purge: ${error instanceof Error ? error.message : error}`);
    return 1;
  } finally {
    await cache.close();
  }
}
