// Owns IP address and CIDR parsing and matching: the one module that imports ipaddr.js.

import ipaddr from "ipaddr.js";

/**
 * A parsed address. IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, what a dual-stack socket
 * reports for an IPv4 client) become IPv4, so one IPv4 rule covers a client however it arrived.
 */
export type IpAddress =
  | { readonly kind: "ipv4"; readonly value: number; readonly text: string }
  | { readonly kind: "ipv6"; readonly address: ipaddr.IPv6; readonly text: string };

/** Four dotted decimal parts with no leading zeros: "010.0.0.1" (octal to some parsers) is refused. */
const IPV4 = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
/** Hex groups of 1-4 digits, "::" and an optional dotted IPv4 tail; no zone id ("%eth0"). */
const IPV6_SHAPE = /^[0-9A-Fa-f:]+(?:\d{1,3}(?:\.\d{1,3}){3})?$/;

function ipv4Value(text: string): number | undefined {
  const match = IPV4.exec(text);
  if (match === null) return undefined;
  let value = 0;
  for (let index = 1; index <= 4; index++) {
    const part = Number(match[index]);
    if (part > 255) return undefined;
    value = value * 256 + part;
  }
  return value;
}

function fromIpv6(address: ipaddr.IPv6): IpAddress {
  if (address.isIPv4MappedAddress()) {
    const [a = 0, b = 0, c = 0, d = 0] = address.toIPv4Address().octets;
    return {
      kind: "ipv4",
      value: ((a * 256 + b) * 256 + c) * 256 + d,
      text: `${a}.${b}.${c}.${d}`,
    };
  }
  return { kind: "ipv6", address, text: address.toRFC5952String() };
}

function parseIpv6(text: string): ipaddr.IPv6 | undefined {
  if (!IPV6_SHAPE.test(text)) return undefined;
  // ipaddr.js also takes groups of 5+ hex digits and octal/hex IPv4 tails; neither is an address
  // a proxy writes, and an odd spelling of an address must not slip past a rule.
  const groups = text.split(":");
  const tail = groups.at(-1) ?? "";
  if (tail.includes(".") && ipv4Value(tail) === undefined) return undefined;
  if (groups.some((group) => !group.includes(".") && group.length > 4)) return undefined;
  if (!ipaddr.IPv6.isValid(text)) return undefined;
  return ipaddr.IPv6.parse(text);
}

/**
 * Parses one address in its plain textual form ("192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1");
 * undefined for anything else (ports, brackets, zone ids, octal or hex IPv4, host names).
 */
export function parseIp(text: string): IpAddress | undefined {
  if (text.includes(":")) {
    const address = parseIpv6(text);
    return address === undefined ? undefined : fromIpv6(address);
  }
  const value = ipv4Value(text);
  return value === undefined ? undefined : { kind: "ipv4", value, text };
}

/** A range with the address bits past the prefix cleared. */
export type IpRange =
  | { readonly kind: "ipv4"; readonly network: number; readonly prefix: number }
  | { readonly kind: "ipv6"; readonly network: ipaddr.IPv6; readonly prefix: number };

/** The canonical text of a range: "10.0.0.0/8", "2001:db8::/32". */
export function formatRange(range: IpRange): string {
  if (range.kind === "ipv6") return `${range.network.toRFC5952String()}/${range.prefix}`;
  const value = range.network;
  const octets = [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
  return `${octets.join(".")}/${range.prefix}`;
}

const EXAMPLES =
  'an IPv4 range like "10.0.0.0/8", an IPv6 range like "2001:db8::/32", or one address like "192.0.2.1"';

/** 2^(32 - prefix) without 32-bit shifts (which wrap at 32). */
function ipv4Mask(prefix: number): number {
  return prefix === 0 ? 0 : 0x1_0000_0000 - 2 ** (32 - prefix);
}

/**
 * Parses a CIDR range ("10.0.0.0/8", "2001:db8::/32") or one address ("192.0.2.1" = /32,
 * "2001:db8::1" = /128). A range written as IPv4-mapped IPv6 ("::ffff:10.0.0.0/104") becomes the
 * IPv4 range it covers, since clients are matched as IPv4. Returns the range, or why the text is
 * not one (with the fix).
 */
export function parseRange(text: string): { range: IpRange } | { problem: string } {
  const shown = JSON.stringify(text);
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const prefixText = slash === -1 ? undefined : text.slice(slash + 1);
  const v6 = addressText.includes(":");
  const address = v6 ? parseIpv6(addressText) : undefined;
  const v4 = v6 ? undefined : ipv4Value(addressText);
  if (address === undefined && v4 === undefined) {
    return { problem: `${shown} is not an IP address or CIDR range; write ${EXAMPLES}` };
  }
  const bits = v6 ? 128 : 32;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!/^(0|[1-9]\d{0,2})$/.test(prefixText) || Number(prefixText) > bits) {
      return {
        problem: `${shown} has an invalid prefix length; an ${
          v6 ? "IPv6" : "IPv4"
        } prefix is a whole number from 0 to ${bits} after the "/", like ${
          v6 ? '"2001:db8::/32"' : '"10.0.0.0/8"'
        }`,
      };
    }
    prefix = Number(prefixText);
  }
  let range: IpRange;
  if (address !== undefined) {
    if (address.isIPv4MappedAddress()) {
      if (prefix < 96) {
        return {
          problem:
            `${shown} is an IPv4-mapped range shorter than /96, which covers more than IPv4 addresses; IPv4 clients are matched as IPv4, so write the IPv4 range (like "10.0.0.0/8") or an IPv6 range outside ::ffff:0:0/96`,
        };
      }
      const [a = 0, b = 0, c = 0, d = 0] = address.toIPv4Address().octets;
      const value = ((a * 256 + b) * 256 + c) * 256 + d;
      range = { kind: "ipv4", network: value, prefix: prefix - 96 };
    } else {
      const network = ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${prefix}`);
      range = { kind: "ipv6", network, prefix };
    }
  } else {
    range = { kind: "ipv4", network: v4!, prefix };
  }
  const hostBitsSet = range.kind === "ipv4"
    ? (range.network - (range.network % 2 ** (32 - range.prefix))) !== range.network
    : range.network.toRFC5952String() !== address!.toRFC5952String();
  if (hostBitsSet) {
    const network = range.kind === "ipv4"
      ? { ...range, network: range.network - (range.network % 2 ** (32 - range.prefix)) }
      : range;
    const single = `${addressText}/${bits}`;
    return {
      problem: `${shown} has address bits set past its /${prefix} prefix; the range it names is ${
        JSON.stringify(formatRange(network))
      } (write that, or ${JSON.stringify(single)} for the one address)`,
    };
  }
  return { range };
}

/** Whether `address` lies in `range` (an IPv4 address never lies in an IPv6 range, nor back). */
export function rangeContains(range: IpRange, address: IpAddress): boolean {
  if (range.kind === "ipv4") {
    if (address.kind !== "ipv4") return false;
    const mask = ipv4Mask(range.prefix);
    // Masking with numbers above 2^31: `&` works on int32, so go through unsigned (>>> 0).
    return ((address.value & mask) >>> 0) === range.network;
  }
  return address.kind === "ipv6" && address.address.match(range.network, range.prefix);
}

/**
 * A set of ranges compiled once per config generation. `has` is a linear scan: lists are short
 * (a handful of proxies or networks), where a scan beats any index.
 */
export class IpRangeSet {
  readonly #ipv4: { network: number; mask: number }[] = [];
  readonly #ipv6: IpRange[] = [];

  /** `cidrs` are validated (config load checked them); an invalid one throws. */
  constructor(cidrs: readonly string[]) {
    for (const text of cidrs) {
      const parsed = parseRange(text);
      if ("problem" in parsed) throw new Error(parsed.problem);
      const range = parsed.range;
      if (range.kind === "ipv4") {
        this.#ipv4.push({ network: range.network, mask: ipv4Mask(range.prefix) });
      } else this.#ipv6.push(range);
    }
  }

  get size(): number {
    return this.#ipv4.length + this.#ipv6.length;
  }

  has(address: IpAddress): boolean {
    if (address.kind === "ipv4") {
      const value = address.value;
      for (const { network, mask } of this.#ipv4) {
        if (((value & mask) >>> 0) === network) return true;
      }
      return false;
    }
    for (const range of this.#ipv6) {
      if (rangeContains(range, address)) return true;
    }
    return false;
  }
}
