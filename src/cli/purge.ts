// Owns the `purge` subcommand: purge by key, prefix, bucket or all, through a running gateway or on the tiers directly.

import { openCache } from "../cache/open_cache.ts";
import type { PurgeSelector } from "../cache/tier.ts";
import { formatIssue, loadConfigFile } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import { adminRequest, describeAdminError, GatewayUnreachable } from "./admin_client.ts";
import { localGatewayUrl } from "./gateway_url.ts";
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
  const loaded = await loadConfigFile(options.config);
  if (!loaded.ok) {
    for (const error of loaded.errors) io.stderr(formatIssue(options.config, error));
    io.stderr(`purge: ${options.config} is not valid; nothing was purged.`);
    return 2;
  }
  const config = loaded.config;
  if (selector.kind !== "all" && !config.buckets.some((b) => b.name === selector.bucket)) {
    io.stderr(
      `purge: no bucket named "${selector.bucket}" in ${options.config} (buckets[].name: ${
        config.buckets.map((b) => b.name).join(", ")
      })`,
    );
    return 2;
  }
  const token = options.token ?? Deno.env.get("YATAGARASU_ADMIN_TOKEN");
  if (!options.direct) {
    const local = options.url === undefined ? localGatewayUrl(config, "--url") : undefined;
    if (local !== undefined && !local.ok) {
      io.stderr(`purge: ${local.error}, or --direct to purge the tiers without a gateway`);
      return 2;
    }
    const base = options.url?.replace(/\/+$/, "") ?? (local as { url: string }).url;
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
      if (!(error instanceof GatewayUnreachable)) throw error;
      // An explicit --url that does not answer is a mistake to report, not to work around.
      if (options.url !== undefined) {
        io.stderr(`purge: ${error.message}`);
        return 1;
      }
      io.stderr(`purge: ${error.message}; purging the configured tiers directly`);
    }
  }
  return await purgeDirectly(config, selector, io);
}

/** Purges the disk and Redis tiers of `config` (memory lives in gateway processes) and announces it. */
async function purgeDirectly(config: Config, selector: PurgeSelector, io: CommandIO) {
  const cacheConfig = config.cache;
  const layers = cacheConfig?.layers.filter((layer) => layer !== "memory") ?? [];
  if (cacheConfig === undefined || layers.length === 0) {
    io.stderr(
      "purge: no gateway answered and the config has no disk or Redis tier to purge directly " +
        "(the memory tier lives inside a gateway process); start the gateway or pass --url",
    );
    return 1;
  }
  const cache = await openCache({ ...cacheConfig, layers }, {
    instanceId: `cli-${crypto.randomUUID()}`,
    log: (level, event, fields) => {
      if (level === "warn") io.stderr(`purge: ${event} ${JSON.stringify(fields)}`);
    },
  });
  try {
    const deleted = await cache.purge(selector);
    io.stdout(
      `purged ${describe(selector)}: ${deleted} entries, directly in ${layers.join(" and ")}` +
        (cacheConfig.redis ? " (running gateways were told through Redis)" : ""),
    );
    return 0;
  } catch (error) {
    io.stderr(`purge: ${error instanceof Error ? error.message : error}`);
    return 1;
  } finally {
    await cache.close();
  }
}
