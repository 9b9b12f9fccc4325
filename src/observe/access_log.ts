// Owns the access log line: one per request, in a fixed shape, serialized without the generic logger path.

import { formatPretty } from "./log.ts";

/** One request as the access log records it (undefined fields are left out of the line). */
export interface AccessEntry {
  request_id: string;
  client_ip: string;
  method: string;
  /** Decoded path without the query string (queries can carry tokens). */
  path: string;
  bucket: string | undefined;
  status: number;
  /** Body bytes sent; null when unknown or when the client left early. */
  bytes: number | null;
  /** The X-Cache value, when the bucket uses the cache. */
  cache: string | undefined;
  duration_ms: number;
  /** The error code of an error response. */
  code: string | undefined;
  interrupted: true | undefined;
}

const quote = JSON.stringify;

/** Characters that JSON never escapes (printable ASCII but `"` and `\\`). */
const PLAIN_JSON = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * Quotes a value that is almost always plain (request ids, IPs, methods, X-Cache values) without
 * JSON.stringify's cost, falling back to it for anything that needs escaping.
 */
export function safeQuote(value: string): string {
  return value.length <= 128 && PLAIN_JSON.test(value) ? `"${value}"` : quote(value);
}

/**
 * The entry's fields as `"name":value` pairs, in the order of AccessEntry: what
 * JSON.stringify(entry) would write between its braces, built by hand because this runs once
 * per request and the generic path (spread, redaction, stringify of an object) costs several µs.
 */
export function serializeAccessEntry(entry: AccessEntry): string {
  let out =
    `"request_id":${safeQuote(entry.request_id)},"client_ip":${safeQuote(entry.client_ip)},` +
    `"method":${safeQuote(entry.method)},"path":${safeQuote(entry.path)}`;
  if (entry.bucket !== undefined) out += `,"bucket":${safeQuote(entry.bucket)}`;
  out += `,"status":${entry.status},"bytes":${entry.bytes === null ? "null" : entry.bytes}`;
  if (entry.cache !== undefined) out += `,"cache":${safeQuote(entry.cache)}`;
  out += `,"duration_ms":${entry.duration_ms}`;
  if (entry.code !== undefined) out += `,"code":${quote(entry.code)}`;
  if (entry.interrupted) out += `,"interrupted":true`;
  return out;
}

/**
 * The access line of one request (with its "\n"), `msg: "request"` at level info, in the
 * logger's format: what `logger.info("request", entry)` would write at time `ts`.
 */
export function formatAccessLine(
  ts: string,
  format: "json" | "pretty",
  entry: AccessEntry,
): string {
  return format === "json"
    ? `{"ts":"${ts}","level":"info","msg":"request",${serializeAccessEntry(entry)}}\n`
    : formatPretty(ts, "info", "request", { ...entry }) + "\n";
}
