// Owns the reference model of the JSON access and audit lines, for tests: plain string serializers (each checked against JSON.stringify) that request_json.ts's byte writer must match exactly.

import type { AccessEntry } from "./access_log.ts";
import { cacheStatus, MAX_USER_AGENT, safeReferer } from "./audit_log.ts";
import { readBatch, type RequestBatch } from "./request_batch.ts";
import { accessEntry } from "./request_lines.ts";

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

/** The JSON access line of one request (with its "\n"), as the logger writes `msg: "request"`. */
export function formatJsonAccessLine(ts: string, entry: AccessEntry): string {
  return `{"ts":"${ts}","level":"info","msg":"request",${serializeAccessEntry(entry)}}\n`;
}

/** One request as the audit log records it. */
export interface AuditEntry {
  requestId: string;
  clientIp: string;
  /** The JWT `sub`, when the request carried a verified token. */
  user: string | undefined;
  bucket: string | undefined;
  /** The decoded object key, when the request reached a bucket. */
  key: string | undefined;
  method: string;
  /** The decoded path, never the query (queries can carry tokens and signatures). */
  path: string;
  status: number;
  /** Body bytes sent; null when unknown or when the client left early. */
  bytes: number | null;
  durationMs: number;
  /** The X-Cache value (HIT, MISS, BYPASS, STALE), when the bucket uses the cache. */
  cache: string | undefined;
  userAgent: string | null;
  referer: string | null;
}

function quoteOrNull(value: string | null | undefined): string {
  return value === null || value === undefined ? "null" : safeQuote(value);
}

/**
 * The audit line (with its "\n"), in the original's field names and order. Built by hand: it
 * runs once per request, where JSON.stringify of an object costs several µs.
 */
export function serializeAuditEntry(timestamp: string, entry: AuditEntry): string {
  const userAgent = entry.userAgent !== null && entry.userAgent.length > MAX_USER_AGENT
    ? entry.userAgent.slice(0, MAX_USER_AGENT)
    : entry.userAgent;
  return `{"timestamp":"${timestamp}","correlation_id":${safeQuote(entry.requestId)},` +
    `"client_ip":${safeQuote(entry.clientIp)},"user":${quoteOrNull(entry.user)},` +
    `"bucket":${quoteOrNull(entry.bucket)},"object_key":${quoteOrNull(entry.key)},` +
    `"http_method":${safeQuote(entry.method)},"request_path":${safeQuote(entry.path)},` +
    `"response_status":${entry.status},"response_size_bytes":${
      entry.bytes === null ? "null" : entry.bytes
    },"duration_ms":${entry.durationMs},"cache_status":${cacheStatus(entry.cache)},` +
    `"user_agent":${quoteOrNull(userAgent)},` +
    `"referer":${entry.referer === null ? "null" : quote(safeReferer(entry.referer))}}\n`;
}

/** The JSON access and audit lines of every request in `batch`, built with the serializers above. */
export function referenceJsonLines(
  batch: RequestBatch,
  lines: { access: boolean; audit: boolean },
): { access: string; audit: string } {
  let access = "";
  let audit = "";
  for (const { endedAtMs, record } of readBatch(batch)) {
    const ts = new Date(endedAtMs).toISOString();
    const entry = accessEntry(record);
    if (lines.access) access += formatJsonAccessLine(ts, entry);
    if (lines.audit) {
      audit += serializeAuditEntry(ts, {
        requestId: record.requestId,
        clientIp: record.clientIp,
        user: record.user,
        bucket: record.bucket,
        key: record.key,
        method: record.method,
        path: record.path,
        status: record.status,
        bytes: record.bytes,
        durationMs: entry.duration_ms,
        cache: record.cache,
        userAgent: record.userAgent,
        referer: record.referer,
      });
    }
  }
  return { access, audit };
}
