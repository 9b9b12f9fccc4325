// Unit and property tests of the client address behind trusted proxies (X-Forwarded-For walking).

import assert from "node:assert/strict";
import fc from "fast-check";
import { IpRangeSet, parseIp } from "../net/ip.ts";
import { parseForwardedEntry, resolveClientIp } from "./client_ip.ts";

const TRUSTED = new IpRangeSet(["10.0.0.0/8", "192.0.2.128/25", "fd00::/8"]);

function resolve(peer: string, forwardedFor?: string | string[]): string {
  const headers = new Headers();
  for (const line of [forwardedFor ?? []].flat()) headers.append("x-forwarded-for", line);
  return resolveClientIp(peer, headers, TRUSTED);
}

Deno.test("parseForwardedEntry() reads plain, bracketed and port-suffixed addresses", () => {
  const cases: [string, string | undefined][] = [
    ["198.51.100.7", "198.51.100.7"],
    ["  198.51.100.7 ", "198.51.100.7"],
    ["198.51.100.7:5678", "198.51.100.7"],
    ["2001:db8::7", "2001:db8::7"],
    ["[2001:db8::7]", "2001:db8::7"],
    ["[2001:db8::7]:443", "2001:db8::7"],
    ["::ffff:198.51.100.7", "198.51.100.7"],
    ["[::ffff:198.51.100.7]:80", "198.51.100.7"],
    ["unknown", undefined],
    ["_hidden", undefined],
    ["example.com", undefined],
    ["198.51.100.7:http", undefined],
    ["198.51.100.7:123456", undefined],
    ["[198.51.100.7]", undefined],
    ["[2001:db8::7", undefined],
    ["[2001:db8::7]x", undefined],
    ['"198.51.100.7"', undefined],
    ["", undefined],
  ];
  for (const [entry, expected] of cases) {
    assert.equal(parseForwardedEntry(entry)?.text, expected, entry);
  }
});

Deno.test("resolveClientIp() walks X-Forwarded-For from the right past trusted proxies", () => {
  // An untrusted peer is the client; its header is not read.
  assert.equal(resolve("198.51.100.7", "203.0.113.1"), "198.51.100.7");
  assert.equal(resolve("192.0.2.1", "203.0.113.1"), "192.0.2.1");
  // A trusted peer without the header is the client.
  assert.equal(resolve("10.0.0.1"), "10.0.0.1");
  assert.equal(resolve("10.0.0.1", ""), "10.0.0.1");
  // The right-most untrusted entry is the client; left of it is never believed.
  assert.equal(resolve("10.0.0.1", "203.0.113.1"), "203.0.113.1");
  assert.equal(resolve("10.0.0.1", "1.1.1.1, 203.0.113.1, 10.9.9.9, 192.0.2.200"), "203.0.113.1");
  assert.equal(resolve("10.0.0.1", ["1.1.1.1, 203.0.113.1", "10.9.9.9"]), "203.0.113.1");
  // All trusted: the left-most is a machine of the trusted network itself.
  assert.equal(resolve("10.0.0.1", "10.2.2.2, 10.3.3.3"), "10.2.2.2");
  // Not an address: the trusted hop that wrote it is the last one vouched for.
  assert.equal(resolve("10.0.0.1", "203.0.113.1, unknown"), "10.0.0.1");
  assert.equal(resolve("10.0.0.1", "203.0.113.1, garbage, 10.5.5.5"), "10.5.5.5");
  // Empty list elements name nobody.
  assert.equal(resolve("10.0.0.1", ",203.0.113.1,, 10.5.5.5,"), "203.0.113.1");
  assert.equal(resolve("10.0.0.1", " , ,"), "10.0.0.1");
  // IPv6 and IPv4-mapped peers and entries; answers are canonical.
  assert.equal(resolve("fd00::1", "2001:DB8::0:7"), "2001:db8::7");
  assert.equal(resolve("::ffff:10.0.0.1", "[2001:db8::7]:443"), "2001:db8::7");
  assert.equal(resolve("fd00::1", "::ffff:203.0.113.1"), "203.0.113.1");
  assert.equal(resolve("::ffff:198.51.100.7", "203.0.113.1"), "198.51.100.7");
  // A peer that is not an address (a Unix socket) is returned as it is.
  assert.equal(resolve("unix", "203.0.113.1"), "unix");
});

Deno.test("resolveClientIp() answers from the right end of a long header", () => {
  const long = `${"1.1.1.1, ".repeat(100_000)}203.0.113.1, 10.1.1.1`;
  assert.equal(resolve("10.0.0.1", long), "203.0.113.1");
});

// ---- properties ----------------------------------------------------------------------------

/** Addresses drawn from trusted and untrusted, IPv4 and IPv6 networks, so chains mix both. */
const trustedV4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)).map(([b, c, d]) =>
  `10.${b}.${c}.${d}`
);
const trustedV6 = fc.array(fc.nat(0xffff), { minLength: 7, maxLength: 7 }).map((groups) =>
  `fd${(groups[0]! & 0xff).toString(16).padStart(2, "0")}:${
    groups.slice(1).map((g) => g.toString(16)).join(":")
  }:1`
);
const anyV4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((octets) =>
  octets.join(".")
);
const anyV6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((groups) =>
  groups.map((g) => g.toString(16)).join(":")
);
const address = fc.oneof(trustedV4, trustedV6, anyV4, anyV6);
const untrusted = fc.oneof(anyV4, anyV6).filter((text) => !TRUSTED.has(parseIp(text)!));
const trusted = fc.oneof(trustedV4, trustedV6);

/** How a proxy may write an address into the header. */
function written(text: string, style: number): string {
  const v6 = text.includes(":");
  if (style === 1) return v6 ? `[${text}]` : text;
  if (style === 2) return v6 ? `[${text}]:443` : `${text}:5678`;
  if (style === 3) return v6 ? text.toUpperCase() : `::ffff:${text}`;
  return text;
}
const entry = fc.tuple(address, fc.nat(3)).map(([text, style]) => written(text, style));
/** Whatever a client may put in front: addresses, trusted ones too, and junk. */
const spoofed = fc.array(
  fc.oneof(entry, fc.constantFrom("unknown", "", "x", "[::1", "1.2.3.4:99999"), fc.string()),
  { maxLength: 6 },
).map((items) => items.map((item) => item.replaceAll(",", "")));
const canonical = (text: string) => parseForwardedEntry(text)!.text;

Deno.test("property: a client's spoofed prefix never changes who the client is", () => {
  fc.assert(
    fc.property(
      spoofed,
      untrusted,
      fc.nat(3),
      fc.array(fc.tuple(trusted, fc.nat(3)), { maxLength: 4 }),
      trusted,
      (prefix, client, style, hops, peer) => {
        // The first trusted proxy appended the client's address; each later one, its sender's.
        const chain = [...prefix, written(client, style), ...hops.map(([h, s]) => written(h, s))];
        assert.equal(resolve(peer, chain.join(", ")), canonical(client));
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("property: the answer is the peer or an entry with only trusted entries right of it", () => {
  fc.assert(
    fc.property(
      fc.oneof(trusted, untrusted),
      fc.array(fc.oneof(entry, fc.constantFrom("unknown", "junk")), { maxLength: 8 }),
      (peer, entries) => {
        const result = resolve(peer, entries.join(","));
        const peerAddress = parseIp(peer)!;
        if (!TRUSTED.has(peerAddress)) {
          assert.equal(result, peerAddress.text);
          return;
        }
        // Walk the model: find where the answer sits.
        const parsed = entries.map((text) => parseForwardedEntry(text));
        let index = parsed.length;
        let current = peerAddress.text;
        while (index > 0) {
          const next = parsed[index - 1];
          if (next === undefined) break;
          current = next.text;
          index--;
          if (!TRUSTED.has(next)) break;
        }
        assert.equal(result, current);
        // Everything right of the answer is a valid, trusted address.
        for (const right of parsed.slice(index + 1)) {
          assert.ok(right !== undefined && TRUSTED.has(right));
        }
        // The answer is untrusted, or no valid entry is left of it to continue with.
        const answer = parseIp(result)!;
        if (TRUSTED.has(answer)) assert.ok(index === 0 || parsed[index - 1] === undefined);
      },
    ),
    { numRuns: 500 },
  );
});
