// Unit and property tests of IP and CIDR parsing and matching against a BigInt reference model.

import assert from "node:assert/strict";
import fc from "fast-check";
import { formatRange, type IpAddress, IpRangeSet, parseIp, parseRange } from "./ip.ts";

Deno.test("parseIp() takes plain IPv4 and IPv6 and maps IPv4-mapped IPv6 to IPv4", () => {
  const cases: [string, string | undefined][] = [
    ["192.0.2.1", "192.0.2.1"],
    ["0.0.0.0", "0.0.0.0"],
    ["255.255.255.255", "255.255.255.255"],
    ["2001:DB8::1", "2001:db8::1"],
    ["2001:db8:0:0:0:0:0:1", "2001:db8::1"],
    ["::", "::"],
    ["::1", "::1"],
    ["::ffff:192.0.2.1", "192.0.2.1"],
    ["::FFFF:c000:0201", "192.0.2.1"],
    ["64:ff9b::192.0.2.1", "64:ff9b::c000:201"],
    // Refused: what no proxy writes for an address, and what some parsers read differently.
    ["010.0.0.1", undefined],
    ["0x7f.0.0.1", undefined],
    ["127.1", undefined],
    ["2130706433", undefined],
    ["256.0.0.1", undefined],
    ["1.2.3.4 ", undefined],
    ["1.2.3.4:80", undefined],
    ["[::1]", undefined],
    ["fe80::1%eth0", undefined],
    ["12345::1", undefined],
    ["::ffff:0x7f.0.0.1", undefined],
    ["::ffff:010.0.0.1", undefined],
    ["1:2:3:4:5:6:7:8:9", undefined],
    ["1::2::3", undefined],
    ["localhost", undefined],
    ["", undefined],
    ["unknown", undefined],
  ];
  for (const [text, expected] of cases) assert.equal(parseIp(text)?.text, expected, text);
});

Deno.test("parseRange() canonicalises ranges and explains every refusal", () => {
  const good: [string, string][] = [
    ["10.0.0.0/8", "10.0.0.0/8"],
    ["192.0.2.1", "192.0.2.1/32"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["2001:DB8::/32", "2001:db8::/32"],
    ["2001:db8::1", "2001:db8::1/128"],
    ["::/0", "::/0"],
    ["::ffff:10.0.0.0/104", "10.0.0.0/8"],
    ["::ffff:192.0.2.1", "192.0.2.1/32"],
  ];
  for (const [text, canonical] of good) {
    const parsed = parseRange(text);
    assert.ok("range" in parsed, text);
    assert.equal(formatRange(parsed.range), canonical);
  }
  const bad: [string, RegExp][] = [
    [
      "10.1.0.0/8",
      /address bits set past its \/8 prefix; the range it names is "10\.0\.0\.0\/8".*"10\.1\.0\.0\/32"/,
    ],
    ["2001:db8::1/32", /the range it names is "2001:db8::\/32"/],
    ["10.0.0.0/33", /prefix is a whole number from 0 to 32/],
    ["2001:db8::/129", /prefix is a whole number from 0 to 128/],
    ["10.0.0.0/", /invalid prefix length/],
    ["10.0.0.0/08", /invalid prefix length/],
    ["10.0.0.0/-1", /invalid prefix length/],
    ["::ffff:0:0/80", /IPv4-mapped range shorter than \/96/],
    ["10.0.0.0/8/8", /invalid prefix length/],
    ["example.com", /not an IP address or CIDR range; write an IPv4 range like "10\.0\.0\.0\/8"/],
    ["", /not an IP address or CIDR range/],
  ];
  for (const [text, message] of bad) {
    const parsed = parseRange(text);
    assert.ok("problem" in parsed, text);
    assert.match(parsed.problem, message, text);
  }
});

Deno.test("IpRangeSet matches IPv4 against IPv4 ranges and IPv6 against IPv6 ranges", () => {
  const set = new IpRangeSet(["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "224.0.0.0/3"]);
  const has = (text: string) => set.has(parseIp(text)!);
  assert.ok(has("10.255.255.255"));
  assert.ok(has("192.0.2.7"));
  assert.ok(!has("192.0.2.8"));
  assert.ok(has("255.255.255.255"));
  assert.ok(has("::ffff:10.1.2.3"));
  assert.ok(has("2001:db8:ffff::1"));
  assert.ok(!has("2001:db9::1"));
  assert.ok(!has("9.0.0.1"));
  assert.ok(!has("223.255.255.255"));
  // An IPv6 range never covers an IPv4 client, even ::/0 (list 0.0.0.0/0 as well for that).
  assert.ok(!new IpRangeSet(["::/0"]).has(parseIp("192.0.2.1")!));
  assert.ok(new IpRangeSet(["0.0.0.0/0"]).has(parseIp("::ffff:192.0.2.1")!));
  assert.equal(new IpRangeSet([]).size, 0);
  assert.throws(() => new IpRangeSet(["nope"]), /not an IP address/);
});

// ---- properties against a BigInt model ---------------------------------------------------

/** An address as [bits, value] in the model: 32-bit IPv4, 128-bit IPv6. */
function modelValue(address: IpAddress): [number, bigint] {
  if (address.kind === "ipv4") return [32, BigInt(address.value)];
  const groups = address.text === "::" ? [] : expand(address.text);
  return [128, groups.reduce((sum, group) => (sum << 16n) + BigInt(parseInt(group, 16)), 0n)];
}

function expand(text: string): string[] {
  const [head = "", tail] = text.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  if (tail === undefined) return left;
  return [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
}

const ipv4Octets = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
const ipv4Text = ipv4Octets.map((octets) => octets.join("."));
const ipv6Groups = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 });
const ipv6Text = ipv6Groups.map((groups) => groups.map((group) => group.toString(16)).join(":"));

Deno.test("property: every printed IPv4/IPv6 address parses to itself", () => {
  fc.assert(fc.property(ipv4Octets, (octets) => {
    const parsed = parseIp(octets.join("."));
    assert.equal(parsed?.kind, "ipv4");
    assert.equal(parsed?.text, octets.join("."));
    // IPv4-mapped IPv6 names the same client.
    assert.equal(parseIp(`::ffff:${octets.join(".")}`)?.text, octets.join("."));
  }));
  fc.assert(fc.property(ipv6Groups, (groups) => {
    const text = groups.map((group) => group.toString(16).padStart(4, "0")).join(":");
    const parsed = parseIp(text.toUpperCase())!;
    assert.ok(parsed !== undefined);
    // Canonical text parses back to the same address.
    assert.deepEqual(modelValue(parseIp(parsed.text)!), modelValue(parsed));
    if (parsed.kind === "ipv6") {
      const value = groups.reduce((sum, group) => (sum << 16n) + BigInt(group), 0n);
      assert.equal(modelValue(parsed)[1], value);
    }
  }));
});

Deno.test("property: range membership agrees with the prefix comparison of the model", () => {
  const v4 = fc.record({
    network: ipv4Text,
    prefix: fc.nat(32),
    probe: ipv4Text,
  });
  const v6 = fc.record({
    network: ipv6Text,
    prefix: fc.nat(128),
    probe: ipv6Text,
  });
  fc.assert(fc.property(fc.oneof(v4, v6), fc.boolean(), ({ network, prefix, probe }, near) => {
    const base = parseIp(network)!;
    const [bits, baseValue] = modelValue(base);
    const clear = BigInt(bits - (base.kind === "ipv4" ? Math.min(prefix, 32) : prefix));
    const usedPrefix = base.kind === "ipv4" ? Math.min(prefix, 32) : prefix;
    const networkValue = (baseValue >> clear) << clear;
    // Half the probes share the network's prefix, so both answers are exercised.
    let probeAddress = parseIp(probe)!;
    if (near && probeAddress.kind === base.kind) {
      const [, probeValue] = modelValue(probeAddress);
      const mixed = networkValue | (probeValue & ((1n << clear) - 1n));
      probeAddress = parseIp(printModel(bits, mixed))!;
    }
    const rangeText = `${printModel(bits, networkValue)}/${usedPrefix}`;
    const parsed = parseRange(rangeText);
    if (!("range" in parsed)) {
      // Only IPv4-mapped IPv6 networks shorter than /96 are refused as written.
      assert.match(parsed.problem, /IPv4-mapped/);
      return;
    }
    const set = new IpRangeSet([rangeText]);
    const [probeBits, probeValue] = modelValue(probeAddress);
    const [rangeBits, rangeValue, rangePrefix] = modelRange(formatRange(parsed.range));
    const shift = BigInt(rangeBits - rangePrefix);
    const expected = probeBits === rangeBits && (probeValue >> shift) === (rangeValue >> shift);
    assert.equal(set.has(probeAddress), expected, `${rangeText} ∋ ${probeAddress.text}`);
  }));
});

function printModel(bits: number, value: bigint): string {
  if (bits === 32) {
    return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join(".");
  }
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) {
    groups.push(((value >> shift) & 0xffffn).toString(16));
  }
  return groups.join(":");
}

function modelRange(text: string): [number, bigint, number] {
  const [address = "", prefix = ""] = text.split("/");
  const [bits, value] = modelValue(parseIp(address)!);
  return [bits, value, Number(prefix)];
}
