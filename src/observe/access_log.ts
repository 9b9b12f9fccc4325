// Owns the access log line's fields, and its pretty form (the JSON form is written as bytes: request_json.ts).

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

/**
 * The pretty access line of one request (with its "\n"): what `logger.info("request", entry)`
 * writes with `logging.format: pretty` at time `ts`. (JSON lines: request_json.ts.)
 */
export function formatPrettyAccessLine(ts: string, entry: AccessEntry): string {
  return formatPretty(ts, "info", "request", { ...entry }) + "\n";
}
