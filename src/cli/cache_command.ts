// Owns what `purge` and `warm` share: loading the config, finding the gateway, and opening the tiers directly.

import { openCache } from "../cache/open_cache.ts";
import type { TieredCache } from "../cache/tiered_cache.ts";
import { formatIssue, loadConfigFile } from "../config/load.ts";
import type { CacheLayerName, Config } from "../config/types.ts";
import { GatewayUnreachable } from "./admin_client.ts";
import { localGatewayUrl } from "./gateway_url.ts";
import type { CommandIO } from "./validate_config.ts";

/** The subcommand's name and what it does, for messages ("purge", "purged"). */
export interface CacheCommand {
  name: "purge" | "warm";
  /** "purged", "warmed": in "nothing was purged". */
  done: string;
  /** What it does when no gateway answers, as a clause ("purging the configured tiers directly"). */
  fallback: string;
}

/**
 * The valid config at `path` with `bucket` (when given) among its buckets, or undefined after
 * printing every problem (the caller exits 2).
 */
export async function loadCommandConfig(
  command: CacheCommand,
  path: string,
  bucket: string | undefined,
  io: CommandIO,
): Promise<Config | undefined> {
  const loaded = await loadConfigFile(path);
  if (!loaded.ok) {
    for (const error of loaded.errors) io.stderr(formatIssue(path, error));
    io.stderr(`${command.name}: ${path} is not valid; nothing was ${command.done}.`);
    return undefined;
  }
  const config = loaded.config;
  if (bucket !== undefined && !config.buckets.some((b) => b.name === bucket)) {
    io.stderr(
      `${command.name}: no bucket named "${bucket}" in ${path} (buckets[].name: ${
        config.buckets.map((b) => b.name).join(", ")
      })`,
    );
    return undefined;
  }
  return config;
}

/** The gateway's base URL: --url, else the config's address and port; undefined after a usage error. */
export function gatewayBase(
  command: CacheCommand,
  config: Config,
  url: string | undefined,
  io: CommandIO,
): string | undefined {
  if (url !== undefined) return url.replace(/\/+$/, "");
  const local = localGatewayUrl(config, "--url");
  if (local.ok) return local.url;
  io.stderr(`${command.name}: ${local.error}, or --direct to work on the tiers without a gateway`);
  return undefined;
}

/** The admin token: --token, else $YATAGARASU_ADMIN_TOKEN. */
export function adminToken(token: string | undefined): string | undefined {
  return token ?? Deno.env.get("YATAGARASU_ADMIN_TOKEN");
}

/**
 * The config's disk and Redis tiers, opened in this process (the memory tier lives inside gateway
 * processes, out of reach), with the Redis purge bus; undefined after saying there are none.
 */
export async function openDirectTiers(
  command: CacheCommand,
  config: Config,
  io: CommandIO,
): Promise<{ cache: TieredCache; layers: CacheLayerName[] } | undefined> {
  const cacheConfig = config.cache;
  const layers = cacheConfig?.layers.filter((layer) => layer !== "memory") ?? [];
  if (cacheConfig === undefined || layers.length === 0) {
    io.stderr(
      `${command.name}: no gateway answered and the config has no disk or Redis tier to work ` +
        "on directly (the memory tier lives inside a gateway process); start the gateway or " +
        "pass --url",
    );
    return undefined;
  }
  const cache = await openCache({ ...cacheConfig, layers }, {
    instanceId: `cli-${crypto.randomUUID()}`,
    log: (level, event, fields) => {
      if (level === "warn") io.stderr(`${command.name}: ${event} ${JSON.stringify(fields)}`);
    },
  });
  return { cache, layers };
}

/**
 * After a gateway request failed: true when the command should go on with the tiers directly
 * (no gateway answered at the default URL, which it says); false when it must stop (an explicit
 * --url that does not answer is a mistake to report, not to work around). Rethrows anything else.
 */
export function fallBackToTiers(
  command: CacheCommand,
  error: unknown,
  explicitUrl: string | undefined,
  io: CommandIO,
): boolean {
  if (!(error instanceof GatewayUnreachable)) throw error;
  if (explicitUrl !== undefined) {
    io.stderr(`${command.name}: ${error.message}`);
    return false;
  }
  io.stderr(`${command.name}: ${error.message}; ${command.fallback}`);
  return true;
}
