// Owns the schema of address ranges: `server.trusted_proxies` and `buckets[].ip_filter`.

import { z } from "zod";
import { formatRange, parseRange } from "../net/ip.ts";
import type { IpFilterConfig } from "./types.ts";
import { expecting, list, reportDuplicates } from "./schema_support.ts";

const RANGE_EXAMPLE = 'like "10.0.0.0/8", "2001:db8::/32" or "192.0.2.1"';

/**
 * A list of CIDR ranges (or single addresses), checked one by one and for duplicates, and turned
 * into canonical CIDRs ("192.0.2.1" -> "192.0.2.1/32", "2001:DB8::/32" -> "2001:db8::/32").
 */
function rangeList(options: { trusted: boolean }) {
  const item = z.string({ error: expecting(`a CIDR range ${RANGE_EXAMPLE}`, { text: true }) })
    .superRefine((value, ctx) => {
      const parsed = parseRange(value.trim());
      if ("problem" in parsed) {
        ctx.addIssue({ code: "custom", message: parsed.problem, input: value });
      } else if (options.trusted && parsed.range.prefix === 0) {
        ctx.addIssue({
          code: "custom",
          message: `${
            JSON.stringify(value)
          } trusts every address, so any client could pick its own address with X-Forwarded-For; list only the addresses of your proxies and load balancers`,
          input: value,
        });
      }
    });
  return list(item, {
    expected: `a list of CIDR ranges ${RANGE_EXAMPLE}`,
    fallback: () => [],
  }).superRefine((values, ctx) => {
    reportDuplicates(values, ctx, (value) => {
      const parsed = parseRange(value.trim());
      return "problem" in parsed ? undefined : formatRange(parsed.range);
    }, ", the same range");
  }).transform((values) =>
    values.map((value) => {
      const parsed = parseRange(value.trim());
      return "range" in parsed ? formatRange(parsed.range) : value;
    })
  );
}

/** `server.trusted_proxies`: the proxies whose X-Forwarded-For is believed. */
export const trustedProxiesSchema = rangeList({ trusted: true });

export const IP_FILTER_SHAPE = {
  allowlist: rangeList({ trusted: false }),
  blocklist: rangeList({ trusted: false }),
};

export const ipFilterSchema = z.strictObject(IP_FILTER_SHAPE, {
  error: expecting("a mapping with allowlist and blocklist (lists of CIDR ranges)"),
}).transform((raw): IpFilterConfig => ({ allowlist: raw.allowlist, blocklist: raw.blocklist }));
