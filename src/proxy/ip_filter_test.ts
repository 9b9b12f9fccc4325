// Unit tests of a bucket's ip_filter: blocklist over allowlist, IPv4-mapped clients, the message.

import assert from "node:assert/strict";
import { ProxyError } from "../errors.ts";
import { compileIpFilter, IpFilter } from "./ip_filter.ts";

function refusal(run: () => unknown): ProxyError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ProxyError);
    return error;
  }
  assert.fail("expected a refusal");
}

Deno.test("IpFilter: blocklist wins, an empty allowlist allows, non-addresses fail closed", () => {
  const filter = new IpFilter({
    allowlist: ["198.51.100.0/24", "2001:db8::/32"],
    blocklist: ["198.51.100.66/32"],
  });
  assert.equal(filter.refusal("198.51.100.1"), undefined);
  assert.equal(filter.refusal("198.51.100.66"), "blocklist");
  assert.equal(filter.refusal("::ffff:198.51.100.66"), "blocklist");
  assert.equal(filter.refusal("203.0.113.1"), "allowlist");
  assert.equal(filter.refusal("2001:db8::5"), undefined);
  assert.equal(filter.refusal("unix"), "allowlist");
  const blockOnly = new IpFilter({ allowlist: [], blocklist: ["2001:db8:bad::/48"] });
  assert.equal(blockOnly.refusal("unix"), undefined);
  assert.equal(blockOnly.refusal("2001:db8:bad::1"), "blocklist");
  const error = refusal(() => filter.check("203.0.113.1", "office"));
  assert.equal(error.code, "ip_forbidden");
  assert.equal(error.status, 403);
  assert.match(
    error.message,
    /^The client address 203\.0\.113\.1 may not read bucket "office": it is not in the bucket's ip_filter\.allowlist\./,
  );
});

Deno.test("compileIpFilter() builds nothing for a filter that filters nothing", () => {
  assert.equal(compileIpFilter(undefined), undefined);
  assert.equal(compileIpFilter({ allowlist: [], blocklist: [] }), undefined);
  assert.ok(compileIpFilter({ allowlist: [], blocklist: ["192.0.2.0/24"] }) instanceof IpFilter);
});
