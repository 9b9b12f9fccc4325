// Owns what the request log records of a finished request, and the formatting of a batch of them into access and audit lines.

import { type AccessEntry, formatAccessLine } from "./access_log.ts";
import { serializeAuditEntry } from "./audit_log.ts";
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

/** A formatted batch: the text of each log (lines ending in "\n") and how many requests it held. */
export interface FormattedBatch {
  access: string;
  audit: string;
  records: number;
}

/** Formats every request of `batch` into its access and audit lines. */
export function formatBatch(batch: RequestBatch, lines: RequestLines): FormattedBatch {
  let access = "";
  let audit = "";
  let lastMs = -1;
  let ts = "";
  for (const { endedAtMs, record } of readBatch(batch)) {
    // Requests that ended in the same millisecond share one timestamp string.
    if (endedAtMs !== lastMs) {
      lastMs = endedAtMs;
      ts = new Date(endedAtMs).toISOString();
    }
    const durationMs = Math.round(record.durationMs * 1000) / 1000;
    if (lines.access !== undefined) {
      const entry: AccessEntry = {
        request_id: record.requestId,
        client_ip: record.clientIp,
        method: record.method,
        path: record.path,
        bucket: record.bucket,
        status: record.status,
        bytes: record.bytes,
        cache: record.cache,
        duration_ms: durationMs,
        code: record.code,
        interrupted: record.interrupted ? true : undefined,
      };
      access += formatAccessLine(ts, lines.access, entry);
    }
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
        durationMs,
        cache: record.cache,
        userAgent: record.userAgent,
        referer: record.referer,
      });
    }
  }
  return { access, audit, records: batch.records };
}
