// Owns what the request log records of a finished request, and a batch's pretty access lines (JSON lines: request_json.ts).

import { type AccessEntry, formatPrettyAccessLine } from "./access_log.ts";
import { readBatch, type RequestBatch } from "./request_batch.ts";

/** One finished request, as the access and audit logs record it. */
export interface RequestRecord {
  requestId: string;
  clientIp: string;
  method: string;
  /** The decoded path, never the query (queries can carry tokens and signatures). */
  path: string;
  bucket: string | undefined;
  status: number;
  /** Body bytes sent; null when unknown or when the client left early. */
  bytes: number | null;
  /** The X-Cache value, when the bucket uses the cache. */
  cache: string | undefined;
  /** How long the request took, in ms (rounded to µs when formatted). */
  durationMs: number;
  /** The error code of an error response. */
  code: string | undefined;
  interrupted: boolean;
  /** The JWT `sub`, when the request carried a verified token. */
  user: string | undefined;
  /** The decoded object key, when the request reached a bucket. */
  key: string | undefined;
  /** Read only when the audit log is on (else null). */
  userAgent: string | null;
  referer: string | null;
}

/** Which lines a batch is formatted into. */
export interface RequestLines {
  /** The access log's format, or undefined when it is off (logging.level above info). */
  access: "json" | "pretty" | undefined;
  audit: boolean;
}

/** The pretty access lines (for people, `logging.format: pretty`) of every request in `batch`. */
export function formatPrettyAccessLines(batch: RequestBatch): string {
  let text = "";
  let lastMs = -1;
  let ts = "";
  for (const { endedAtMs, record } of readBatch(batch)) {
    // Requests that ended in the same millisecond share one timestamp string.
    if (endedAtMs !== lastMs) {
      lastMs = endedAtMs;
      ts = new Date(endedAtMs).toISOString();
    }
    text += formatPrettyAccessLine(ts, accessEntry(record));
  }
  return text;
}

/** The access log's fields of a request, in the line's order. */
export function accessEntry(record: RequestRecord): AccessEntry {
  return {
    request_id: record.requestId,
    client_ip: record.clientIp,
    method: record.method,
    path: record.path,
    bucket: record.bucket,
    status: record.status,
    bytes: record.bytes,
    cache: record.cache,
    duration_ms: Math.round(record.durationMs * 1000) / 1000,
    code: record.code,
    interrupted: record.interrupted ? true : undefined,
  };
}
