// Owns the JSON access and audit lines of a request batch written as bytes, straight from the batch's UTF-8 fields: the log thread's hot loop, with no string built per field.

import { cacheStatus, safeReferer } from "./audit_log.ts";
import { ByteBuffer } from "./byte_buffer.ts";
import { NULL, NUMBERS, type RequestBatch, STRINGS, UNDEFINED } from "./request_batch.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function ascii(text: string): Uint8Array {
  return encoder.encode(text);
}

// The fixed parts of the lines, in the original's field order (_json_line_reference.ts spells it out).
const ACCESS_START = ascii('{"ts":"');
const ACCESS_REQUEST_ID = ascii('","level":"info","msg":"request","request_id":');
const ACCESS_CLIENT_IP = ascii(',"client_ip":');
const ACCESS_METHOD = ascii(',"method":');
const ACCESS_PATH = ascii(',"path":');
const ACCESS_BUCKET = ascii(',"bucket":');
const ACCESS_STATUS = ascii(',"status":');
const ACCESS_BYTES = ascii(',"bytes":');
const ACCESS_CACHE = ascii(',"cache":');
const ACCESS_DURATION = ascii(',"duration_ms":');
const ACCESS_CODE = ascii(',"code":');
const ACCESS_INTERRUPTED = ascii(',"interrupted":true');
const LINE_END = ascii("}\n");
const AUDIT_START = ascii('{"timestamp":"');
const AUDIT_CORRELATION_ID = ascii('","correlation_id":');
const AUDIT_CLIENT_IP = ascii(',"client_ip":');
const AUDIT_USER = ascii(',"user":');
const AUDIT_BUCKET = ascii(',"bucket":');
const AUDIT_OBJECT_KEY = ascii(',"object_key":');
const AUDIT_METHOD = ascii(',"http_method":');
const AUDIT_PATH = ascii(',"request_path":');
const AUDIT_STATUS = ascii(',"response_status":');
const AUDIT_SIZE = ascii(',"response_size_bytes":');
const AUDIT_DURATION = ascii(',"duration_ms":');
const AUDIT_CACHE = ascii(',"cache_status":');
const AUDIT_USER_AGENT = ascii(',"user_agent":');
const AUDIT_REFERER = ascii(',"referer":');
const NULL_BYTES = ascii("null");

/** The usual X-Cache values as bytes, and the audit's cache_status of each. */
const AUDIT_CACHE_STATES = ["HIT", "MISS", "BYPASS", "STALE"].map((value) => ({
  xCache: ascii(value),
  status: ascii(cacheStatus(value)),
}));

/** cache_status for the X-Cache value in text[start, end): compared as bytes, not decoded. */
function auditCacheStatus(text: Uint8Array, start: number, end: number): Uint8Array {
  for (const { xCache, status } of AUDIT_CACHE_STATES) {
    if (xCache.length !== end - start) continue;
    let same = true;
    for (let i = 0; i < xCache.length && same; i++) same = text[start + i] === xCache[i];
    if (same) return status;
  }
  return ascii(cacheStatus(decoder.decode(text.subarray(start, end))));
}

/** Which JSON lines to write. */
export interface JsonLines {
  access: boolean;
  audit: boolean;
}

/**
 * Appends the JSON access and/or audit line of every request in `batch` to `access` and
 * `audit`: byte for byte what the reference serializers in _json_line_reference.ts write
 * for the same request (request_lines_test checks this on random requests).
 */
export function writeJsonLines(
  batch: RequestBatch,
  lines: JsonLines,
  access: ByteBuffer,
  audit: ByteBuffer,
): void {
  const { numbers, lengths, text } = batch;
  // Start of each string field of the current request, and its end (-1: undefined, -2: null).
  const starts = new Int32Array(STRINGS);
  const ends = new Int32Array(STRINGS);
  let position = 0;
  let lastMs = -1;
  const duration = new ByteBuffer(32);
  let ts: Uint8Array = NULL_BYTES;
  const field = (out: ByteBuffer, which: number) =>
    out.putJsonString(text, starts[which]!, ends[which]!);
  const fieldOrNull = (out: ByteBuffer, which: number) => {
    if (ends[which]! < 0) out.put(NULL_BYTES);
    else out.putJsonString(text, starts[which]!, ends[which]!);
  };
  for (let index = 0; index < batch.records; index++) {
    const slot = index * STRINGS;
    for (let field = 0; field < STRINGS; field++) {
      const length = lengths[slot + field]!;
      starts[field] = position;
      if (length < 0) ends[field] = length;
      else {
        position += length;
        ends[field] = position;
      }
    }
    const at = index * NUMBERS;
    const endedAtMs = numbers[at]!;
    // Requests that ended in the same millisecond share one timestamp.
    if (endedAtMs !== lastMs) {
      lastMs = endedAtMs;
      ts = encoder.encode(new Date(endedAtMs).toISOString());
    }
    const status = numbers[at + 1]!;
    const bytes = numbers[at + 2]!;
    // Formatted once for both lines.
    duration.length = 0;
    duration.putThousandths(numbers[at + 3]!);
    if (lines.access) {
      access.put(ACCESS_START);
      access.put(ts);
      access.put(ACCESS_REQUEST_ID);
      field(access, 0);
      access.put(ACCESS_CLIENT_IP);
      field(access, 1);
      access.put(ACCESS_METHOD);
      field(access, 2);
      access.put(ACCESS_PATH);
      field(access, 3);
      if (ends[4] !== UNDEFINED) {
        access.put(ACCESS_BUCKET);
        field(access, 4);
      }
      access.put(ACCESS_STATUS);
      access.putNumber(status);
      access.put(ACCESS_BYTES);
      if (bytes === -1) access.put(NULL_BYTES);
      else access.putNumber(bytes);
      if (ends[5] !== UNDEFINED) {
        access.put(ACCESS_CACHE);
        field(access, 5);
      }
      access.put(ACCESS_DURATION);
      access.putBuffer(duration);
      if (ends[6] !== UNDEFINED) {
        access.put(ACCESS_CODE);
        field(access, 6);
      }
      if (numbers[at + 4] === 1) access.put(ACCESS_INTERRUPTED);
      access.put(LINE_END);
    }
    if (lines.audit) {
      audit.put(AUDIT_START);
      audit.put(ts);
      audit.put(AUDIT_CORRELATION_ID);
      field(audit, 0);
      audit.put(AUDIT_CLIENT_IP);
      field(audit, 1);
      audit.put(AUDIT_USER);
      fieldOrNull(audit, 7);
      audit.put(AUDIT_BUCKET);
      fieldOrNull(audit, 4);
      audit.put(AUDIT_OBJECT_KEY);
      fieldOrNull(audit, 8);
      audit.put(AUDIT_METHOD);
      field(audit, 2);
      audit.put(AUDIT_PATH);
      field(audit, 3);
      audit.put(AUDIT_STATUS);
      audit.putNumber(status);
      audit.put(AUDIT_SIZE);
      if (bytes === -1) audit.put(NULL_BYTES);
      else audit.putNumber(bytes);
      audit.put(AUDIT_DURATION);
      audit.putBuffer(duration);
      audit.put(AUDIT_CACHE);
      if (ends[5] === UNDEFINED || ends[5] === NULL) audit.put(NULL_BYTES);
      else audit.put(auditCacheStatus(text, starts[5]!, ends[5]!));
      audit.put(AUDIT_USER_AGENT);
      fieldOrNull(audit, 9);
      audit.put(AUDIT_REFERER);
      if (ends[10]! < 0) audit.put(NULL_BYTES);
      else {
        // Rare (browsers only) and rewritten (no query, no user info): the string path.
        const referer = decoder.decode(text.subarray(starts[10], ends[10]));
        audit.put(encoder.encode(JSON.stringify(safeReferer(referer))));
      }
      audit.put(LINE_END);
    }
  }
}
