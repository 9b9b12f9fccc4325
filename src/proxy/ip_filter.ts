// Owns the `guard` stage's IP filter: a bucket's ip_filter allowlist and blocklist against the client.

import type { IpFilterConfig } from "../config/types.ts";
import { ProxyError } from "../errors.ts";
import { IpRangeSet, parseIp } from "../net/ip.ts";

/** A bucket's ip_filter, compiled once per config generation. */
export class IpFilter {
  readonly #allow: IpRangeSet;
  readonly #block: IpRangeSet;

  constructor(config: IpFilterConfig) {
    this.#allow = new IpRangeSet(config.allowlist);
    this.#block = new IpRangeSet(config.blocklist);
  }

  /**
   * Why `clientIp` may not read the bucket, or undefined when it may. The blocklist wins over the
   * allowlist; an empty allowlist allows every address not blocked. A client address that is not
   * an IP (a Unix socket peer) matches no range: it is refused when there is an allowlist.
   */
  refusal(clientIp: string): "blocklist" | "allowlist" | undefined {
    const address = parseIp(clientIp);
    if (address !== undefined && this.#block.has(address)) return "blocklist";
    if (this.#allow.size === 0) return undefined;
    return address !== undefined && this.#allow.has(address) ? undefined : "allowlist";
  }

  /** Throws `ip_forbidden` (403) naming the client address when it may not read `bucket`. */
  check(clientIp: string, bucket: string): void {
    const refusal = this.refusal(clientIp);
    if (refusal === undefined) return;
    const why = refusal === "blocklist"
      ? "it is in the bucket's ip_filter.blocklist"
      : "it is not in the bucket's ip_filter.allowlist";
    throw new ProxyError("ip_forbidden", {
      message:
        `The client address ${clientIp} may not read bucket "${bucket}": ${why}. Ask the gateway's operator to allow your network.`,
      source: "client",
    });
  }
}

/** The runtime filter, or undefined (no work per request) when the bucket filters nothing. */
export function compileIpFilter(config: IpFilterConfig | undefined): IpFilter | undefined {
  if (config === undefined) return undefined;
  if (config.allowlist.length === 0 && config.blocklist.length === 0) return undefined;
  return new IpFilter(config);
}
