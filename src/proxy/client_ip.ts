// Owns who the client is: the TCP peer, or the address a trusted proxy wrote into X-Forwarded-For.

import { type IpAddress, type IpRangeSet, parseIp } from "../net/ip.ts";

/**
 * One X-Forwarded-For entry as an address. Besides plain addresses, proxies write IPv6 in
 * brackets and some append the port ("[2001:db8::1]:443", "192.0.2.1:5678"): the port is dropped.
 * Anything else ("unknown", an obfuscated RFC 7239 id, a host name) is undefined.
 */
export function parseForwardedEntry(entry: string): IpAddress | undefined {
  const text = entry.trim();
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close === -1) return undefined;
    const rest = text.slice(close + 1);
    if (rest !== "" && !/^:\d{1,5}$/.test(rest)) return undefined;
    const inner = text.slice(1, close);
    return inner.includes(":") ? parseIp(inner) : undefined;
  }
  const colon = text.indexOf(":");
  if (colon !== -1 && colon === text.lastIndexOf(":") && text.includes(".")) {
    // One colon and a dot: IPv4 with a port (an IPv6 address has at least two colons).
    if (!/^\d{1,5}$/.test(text.slice(colon + 1))) return undefined;
    return parseIp(text.slice(0, colon));
  }
  return parseIp(text);
}

/**
 * The client's address when the TCP peer `peer` is a trusted proxy: X-Forwarded-For is walked
 * from the right (each proxy appends the address it received the request from), skipping
 * trusted proxies, and the first address that is not one is the client. Entries left of it were
 * written by the client or by proxies we do not know, so they are never believed, however many
 * there are. When every entry is trusted, the left-most is the client (a machine of the trusted
 * network itself). An entry that is not an address stops the walk: the trusted hop that wrote it
 * is the last address vouched for, so it is the answer. A peer that is not trusted is the client
 * and the header is not read at all; without a header the peer is the client.
 *
 * Addresses come back canonical (IPv6 per RFC 5952, IPv4-mapped IPv6 as IPv4); a peer that is
 * not an address (a Unix socket) comes back as it is.
 */
export function resolveClientIp(peer: string, headers: Headers, trusted: IpRangeSet): string {
  const peerAddress = parseIp(peer);
  if (peerAddress === undefined || !trusted.has(peerAddress)) return peerAddress?.text ?? peer;
  // Several X-Forwarded-For lines arrive joined with ", " in order (RFC 9110 §5.3).
  const header = headers.get("x-forwarded-for");
  if (header === null) return peerAddress.text;
  let current = peerAddress;
  let end = header.length;
  // From the right, without splitting the whole (client-controlled, possibly long) header.
  for (;;) {
    const start = end > 0 ? header.lastIndexOf(",", end - 1) : -1;
    const entry = header.slice(start + 1, end);
    // An empty element (",," or a trailing ","): list syntax allows it; it names nobody.
    if (entry.trim() !== "") {
      const address = parseForwardedEntry(entry);
      if (address === undefined) return current.text;
      if (!trusted.has(address)) return address.text;
      current = address;
    }
    if (start === -1) break;
    end = start;
  }
  return current.text;
}
