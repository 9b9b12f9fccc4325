// Owns the Origin interface: what the object path needs from any backend that holds the objects.

import type { CircuitSnapshot } from "./circuit_breaker.ts";
import type { ListPage } from "./list_objects.ts";

export type { ListedObject, ListPage } from "./list_objects.ts";

/** One read of one object, already routed and authorized. */
export interface OriginRequest {
  method: "GET" | "HEAD";
  /** The decoded object key. */
  key: string;
  /** Query parameters S3 understands for reads (versionId, response-*); others never get here. */
  query: ReadonlyArray<readonly [string, string]> | undefined;
  /** Range and precondition headers to forward (lower-case names). */
  headers: Readonly<Record<string, string>> | undefined;
  /** Aborts the upstream request when the client goes away. */
  signal: AbortSignal;
  /** Milliseconds one attempt may take to send response headers. */
  timeoutMs: number;
  /**
   * Epoch ms by which every attempt and backoff must be over (server.request_timeout); none when
   * undefined (prewarm reads, bounded by their per-attempt timeout and retry count).
   */
  deadline?: number | undefined;
  /**
   * Headers the gateway adds to the client's answer (X-Request-ID, X-Cache, Accept-Ranges). An
   * origin whose own client builds the Response (see markOwned) adds them at construction, so the
   * Response is never edited afterwards; other Responses get them in `respond`.
   */
  answerHeaders?: Readonly<Record<string, string>> | undefined;
}

/** The answer of a readiness probe of one backend. */
export interface ProbeResult {
  healthy: boolean;
  /** Why it is unhealthy, in words an operator can act on. */
  detail?: string;
  latencyMs: number;
}

/** One page of a listing (ListObjectsV2), for cache pre-warming. */
export interface ListRequest {
  /** Only keys that start with this; "" lists the whole bucket. */
  prefix: string;
  /** The previous page's `nextContinuationToken`; undefined for the first page. */
  continuationToken: string | undefined;
  /** At most this many keys (1..1000). */
  maxKeys: number;
  signal: AbortSignal;
  /** Milliseconds the origin may take to send response headers. */
  timeoutMs: number;
}

export interface Origin {
  /**
   * Fetches the object. Resolves with the upstream Response for 2xx and 304 (its body unread);
   * throws a ProxyError for everything else (S3 errors, network failures, timeouts).
   */
  fetch(request: OriginRequest): Promise<Response>;
  /** Checks that the backend is reachable with the configured credentials. */
  probe(signal: AbortSignal): Promise<ProbeResult>;
  /** Lists one page of keys; throws a ProxyError for S3 errors, network failures and timeouts. */
  list(request: ListRequest): Promise<ListPage>;
  /** The circuit breaker's state, or undefined when the backend has none. */
  circuit(): CircuitSnapshot | undefined;
  /** Stops the origin's own timers (replica probes); absent when it has none. */
  close?(): void;
}

/** Bodies an origin read whole before answering, by the Response that carried them. */
const BUFFERED = new WeakMap<Response, Uint8Array<ArrayBuffer>>();

/**
 * Marks `response` (its body already read into `bytes`) as buffered and returns it: readers take
 * the bytes with bufferedBody() or readableBody(), never `response.body` (it has been consumed).
 * Returning S3's own Response spares building a second one (a copy of every header) per miss.
 */
export function markBuffered(response: Response, bytes: Uint8Array<ArrayBuffer>): Response {
  BUFFERED.set(response, bytes);
  return response;
}

/** A new Response over bytes already in memory, marked as buffered (the cache stores it as is). */
export function bufferedResponse(bytes: Uint8Array<ArrayBuffer>, init: ResponseInit): Response {
  return markBuffered(new Response(bytes, init), bytes);
}

/** Responses made by the gateway's own HTTP/1.1 client (see markOwned). */
const OWNED = new WeakSet<Response>();

/**
 * Marks a Response nobody else holds, with its body untouched: `respond` may edit its headers in
 * place and send it as it is, sparing a second Response and a copy of every header per miss.
 */
export function markOwned(response: Response): Response {
  OWNED.add(response);
  return response;
}

/** Whether `response` was marked with markOwned. */
export function isOwned(response: Response): boolean {
  return OWNED.has(response);
}

/** The bytes of a buffered Response (see markBuffered), else undefined. */
export function bufferedBody(response: Response): Uint8Array<ArrayBuffer> | undefined {
  return BUFFERED.get(response);
}

/** The body of an origin's Response as a stream, whether it was buffered or not. */
export function readableBody(response: Response): ReadableStream<Uint8Array> | null {
  const bytes = BUFFERED.get(response);
  return bytes === undefined ? response.body : new Response(bytes).body;
}
