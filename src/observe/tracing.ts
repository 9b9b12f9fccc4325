// Owns the tracing hooks: when Deno's built-in OpenTelemetry is on (OTEL_DENO=true), the request
// id, bucket and cache status go on Deno's server span and the object path's stages become its
// events. Decided once at start-up: with tracing off, nothing here runs per request.

import { type Span, trace } from "@opentelemetry/api";

/** What the object path sees of tracing: a mark that a stage starts (a span event). */
export interface StageTrace {
  addEvent(name: string): unknown;
}

/** The span attributes the gateway adds (Deno adds the HTTP ones). */
export const TRACE_ATTRIBUTES = {
  requestId: "yatagarasu.request_id",
  bucket: "yatagarasu.bucket",
  cache: "yatagarasu.cache",
  errorCode: "yatagarasu.error_code",
} as const;

/** The registry of the OpenTelemetry JS API (major version 1), where Deno registers itself. */
const OTEL_API_REGISTRY = Symbol.for("opentelemetry.js.api.1");

/**
 * True when Deno registered its tracer provider with the OpenTelemetry API: OTEL_DENO=true and
 * tracing not turned off (OTEL_DENO_TRACING=false, OTEL_SDK_DISABLED=true). Deno decides this
 * from the environment at start-up, so asking its registry follows every rule it applies.
 */
export function denoTracingEnabled(): boolean {
  const registry = (globalThis as Record<symbol, unknown>)[OTEL_API_REGISTRY];
  return typeof registry === "object" && registry !== null &&
    (registry as { trace?: unknown }).trace !== undefined;
}

/** What a request ended with, for the span's attributes. */
export interface TraceOutcome {
  bucket: string | undefined;
  /** The X-Cache value. */
  cache: string | null;
  /** The error code of an error response. */
  code: string | undefined;
}

/** A request's server span, as app.ts holds it (the npm package stays behind this module). */
export type RequestSpan = Span;

/**
 * Marks the `accept` stage on the request's server span (the active span while the handler
 * runs) and names the request id; undefined when there is no recording span. Call only when
 * denoTracingEnabled() said yes at start-up.
 */
export function beginRequestSpan(requestId: string): RequestSpan | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined || !span.isRecording()) return undefined;
  span.setAttribute(TRACE_ATTRIBUTES.requestId, requestId);
  span.addEvent("accept");
  return span;
}

/** Adds what the request ended with; call before the response is returned (Deno ends the span then). */
export function finishRequestSpan(span: RequestSpan, outcome: TraceOutcome): void {
  if (outcome.bucket !== undefined) span.setAttribute(TRACE_ATTRIBUTES.bucket, outcome.bucket);
  if (outcome.cache !== null) span.setAttribute(TRACE_ATTRIBUTES.cache, outcome.cache);
  if (outcome.code !== undefined) span.setAttribute(TRACE_ATTRIBUTES.errorCode, outcome.code);
}

/**
 * Said once at start-up when tracing is on and a credential may arrive in a query string: Deno's
 * own server span records `url.full` and `url.query` as received, and offers no hook to redact
 * them (a later setAttribute adds a second value instead of replacing the first).
 */
export const QUERY_IN_SPANS_WARNING =
  "tracing is on (OTEL_DENO=true): Deno's server spans record url.full and url.query as " +
  "received, so query-string tokens and signatures reach the trace backend; delete those " +
  "attributes in your collector (attributes processor) or send tokens in headers";
