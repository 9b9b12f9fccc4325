// Owns S3Origin: the signed S3 GetObject/HeadObject client for one bucket's endpoint and credentials.

import type { S3Config } from "../config/types.ts";
import { errorMessage, ProxyError } from "../errors.ts";
import { backoffMs } from "./backoff.ts";
import {
  CircuitBreaker,
  type CircuitOutcome,
  type CircuitPermit,
  type CircuitSnapshot,
  type CircuitTransition,
} from "./circuit_breaker.ts";
import type { DeadlineSweeper } from "./deadlines.ts";
import { watchBody } from "./idle_body.ts";
import { listObjectsQuery, type ListPage, parseListObjectsXml } from "./list_objects.ts";
import {
  bufferedBody,
  type ListRequest,
  markBuffered,
  type Origin,
  type OriginRequest,
  type ProbeResult,
} from "./origin.ts";
import type { OriginObserver, S3Operation } from "../observe/metrics.ts";
import { parseS3ErrorXml, readErrorBody, s3ErrorToProxyError } from "./s3_errors.ts";
import { SignatureCache } from "./signature_cache.ts";
import {
  BUFFERED_BODY_MAX_BYTES,
  Http1Client,
  NATIVE_PIPE_MIN_BYTES,
  type OriginFetch,
} from "./http1_client.ts";
import { denoTracingEnabled } from "../observe/tracing.ts";
import { DROPPED_RESPONSE_HEADER_SET } from "../http/headers.ts";
import { canonicalQueryString, encodeS3Key, SigV4Signer } from "./sigv4.ts";

export interface S3OriginOptions {
  /** The gateway bucket name (for messages and logs). */
  bucketName: string;
  s3: S3Config;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Shared timeout watcher; one per app. */
  deadlines: DeadlineSweeper;
  /** Opens (and the caller closes) a TCP connection: the connect_timeout check; tests inject one. */
  connect?: Connector;
  /** Told when the circuit breaker changes state (for the log). */
  onCircuitTransition?: (transition: CircuitTransition) => void;
  /** The backoff jitter's source; tests inject one. */
  random?: () => number;
  /** Told about every attempt, retry and failure (the metrics); none when metrics are off. */
  observer?: OriginObserver | undefined;
}

export type Connector = (
  hostname: string,
  port: number,
  signal: AbortSignal,
) => Promise<{ close(): void }>;

const denoConnect: Connector = (hostname, port, signal) => Deno.connect({ hostname, port, signal });

/** Marks an abort caused by our own timer, to tell a timeout from a client going away. */
const TIMEOUT_REASON = new DOMException("origin timeout", "TimeoutError");
/** The connect_timeout check found the endpoint not accepting connections. */
const CONNECT_REASON = new DOMException("origin not accepting connections", "TimeoutError");

/**
 * The client every S3Origin shares (one pool of connections per endpoint), made on first use.
 * fetch instead when Deno's tracing is on (its fetch spans carry the trace to S3) or a proxy is
 * configured in the environment (fetch honours HTTP(S)_PROXY; the HTTP/1.1 client does not).
 */
let sharedClient: OriginFetch | undefined;
function defaultOriginFetch(): OriginFetch {
  if (sharedClient !== undefined) return sharedClient;
  sharedClient = denoTracingEnabled() || proxyConfigured()
    ? fetch
    : new Http1Client(fetch, DROPPED_RESPONSE_HEADER_SET).fetch;
  return sharedClient;
}

function proxyConfigured(): boolean {
  try {
    for (const name of ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"]) {
      if (Deno.env.get(name) || Deno.env.get(name.toLowerCase())) return true;
    }
    return false;
  } catch {
    return false; // no env permission: nothing configured that we could honour
  }
}

/**
 * How a 2xx object body of this length travels, and so how it is kept from hanging on an S3
 * that goes quiet mid-body (idle_timeout):
 * - up to 64 KiB (most requests): read whole under the idle deadline before anything is sent.
 *   They arrive in one or two reads, so this costs about what piping them does, and a stall or a
 *   truncation is an ordinary failed attempt: retried, and answered 504/502 if it persists.
 * - over 64 KiB up to 16 MiB, and of unknown length: watched chunk by chunk (watchBody), which
 *   passes each chunk through a JavaScript stream that re-arms the deadline.
 * - over 16 MiB: piped natively by the runtime from S3's socket to the client's, unwatched (the
 *   HTTP/1.1 client hands such a request to fetch for this, see http1_client.ts). The
 *   JavaScript hop would cost about 2.5 times the CPU per MiB and let chunk garbage pile up in the
 *   heap (large downloads must stream at constant memory), and an abort does not reach a native
 *   pipe, so nothing cheaper can cut it: a stall there lasts until S3 or TCP closes the
 *   connection. A truncated one still errors the client's stream, and the cache never stores it
 *   (it checks the length).
 */
function bodyHandling(headers: Headers): "buffer" | "watch" | "pipe" {
  const declared = headers.get("content-length");
  // Number("") is 0: a chunked body (no Content-Length) must not pass for an empty one.
  const length = declared === null ? NaN : Number(declared);
  if (!Number.isSafeInteger(length) || length < 0) return "watch";
  if (length <= BUFFERED_BODY_MAX_BYTES) return "buffer";
  return length <= NATIVE_PIPE_MIN_BYTES ? "watch" : "pipe";
}

/** S3 sent nothing for idle_timeout in the middle of a body. */
const IDLE_REASON = new DOMException("origin idle mid-body", "TimeoutError");

/** S3 statuses worth another attempt: its own and its front ends' transient failures (SlowDown is 503). */
const RETRYABLE_STATUSES = new Set([500, 502, 503, 504]);

/** A page of 1000 keys of 1 KiB each is ~1.5 MiB of XML; far beyond that is not a listing. */
const MAX_LIST_BODY_BYTES = 16 * 1024 * 1024;

/**
 * Builds the upstream URL and the canonical URI from the same string, so the signed path is the
 * path sent: path-style `/{bucket}/{key}` when an endpoint is configured (MinIO, R2, s3rver),
 * virtual-hosted `{bucket}.s3.{region}.amazonaws.com/{key}` on AWS.
 */
export class S3Origin implements Origin {
  readonly #bucketName: string;
  readonly #s3: S3Config;
  readonly #fetch: OriginFetch;
  readonly #signer: SigV4Signer;
  readonly #signatures = new SignatureCache();
  readonly #deadlines: DeadlineSweeper;
  /** "http://127.0.0.1:9000" or "https://bucket.s3.region.amazonaws.com". */
  readonly #origin: string;
  /** Host header as fetch will send it (with the port when it is not the scheme default). */
  readonly #host: string;
  /** "/bucket/" (path-style) or "/" (virtual-hosted): what precedes the encoded key. */
  readonly #pathBase: string;
  /** "/bucket" (path-style) or "/" (virtual-hosted): the bucket itself (HeadBucket, listing). */
  readonly #bucketPath: string;
  /** Where the connect_timeout check connects: the endpoint's host and port. */
  readonly #connectHost: string;
  readonly #connectPort: number;
  readonly #connect: Connector;
  readonly #breaker: CircuitBreaker | undefined;
  readonly #random: () => number;
  readonly #observer: OriginObserver | undefined;

  constructor(options: S3OriginOptions) {
    this.#bucketName = options.bucketName;
    this.#s3 = options.s3;
    this.#fetch = options.fetch ?? defaultOriginFetch();
    this.#deadlines = options.deadlines;
    this.#signer = new SigV4Signer({
      credentials: {
        accessKeyId: options.s3.accessKey,
        secretAccessKey: options.s3.secretKey,
        sessionToken: options.s3.sessionToken,
      },
      region: options.s3.region,
    });
    if (options.s3.endpoint !== undefined) {
      const url = new URL(options.s3.endpoint);
      this.#origin = url.origin;
      this.#host = url.host; // URL drops default ports, as fetch does in the Host header
      this.#pathBase = `/${encodeS3Key(options.s3.bucket)}/`;
    } else {
      this.#host = `${options.s3.bucket}.s3.${options.s3.region}.amazonaws.com`;
      this.#origin = `https://${this.#host}`;
      this.#pathBase = "/";
    }
    this.#bucketPath = this.#pathBase === "/" ? "/" : this.#pathBase.slice(0, -1);
    const originUrl = new URL(this.#origin);
    // URL keeps IPv6 literals bracketed; Deno.connect wants the bare address.
    this.#connectHost = originUrl.hostname.replace(/^\[(.*)\]$/, "$1");
    this.#connectPort = originUrl.port !== ""
      ? Number(originUrl.port)
      : originUrl.protocol === "https:"
      ? 443
      : 80;
    this.#connect = options.connect ?? denoConnect;
    this.#random = options.random ?? Math.random;
    this.#observer = options.observer;
    this.#breaker = options.s3.circuitBreaker === undefined
      ? undefined
      : new CircuitBreaker(options.s3.circuitBreaker, options.onCircuitTransition);
  }

  circuit(): CircuitSnapshot | undefined {
    return this.#breaker?.snapshot(performance.now());
  }

  /** Closes the breaker (if any): a probe found S3 healthy again (replica sets). */
  resetCircuit(): void {
    this.#breaker?.reset(performance.now());
  }

  fetch(request: OriginRequest): Promise<Response> {
    const path = this.#pathBase + encodeS3Key(request.key);
    return this.#attempts(request, async (timeoutMs, permit) => {
      const response = await this.#send(request.method, path, { ...request, timeoutMs }, {
        // Bodies stream to the client: watched for idle gaps, and a broken one counts against S3.
        onBodyFailed: permit === undefined
          ? undefined
          : () => this.#breaker!.record(permit, "failure", performance.now()),
      });
      if ((response.status >= 200 && response.status < 300) || response.status === 304) {
        return response;
      }
      const xml = request.method === "HEAD" ? "" : await readErrorBody(response);
      throw s3ErrorToProxyError(response.status, parseS3ErrorXml(xml), {
        bucketName: this.#bucketName,
        s3Bucket: this.#s3.bucket,
        key: request.key,
      }, response.headers);
    });
  }

  async probe(signal: AbortSignal): Promise<ProbeResult> {
    const started = performance.now();
    try {
      // HeadBucket: the cheapest signed call that proves endpoint, bucket and credentials.
      const response = await this.#send("HEAD", this.#bucketPath, {
        query: undefined,
        headers: undefined,
        signal,
        timeoutMs: this.#s3.timeout * 1000,
        operation: "PROBE",
      });
      await response.body?.cancel();
      const latencyMs = performance.now() - started;
      if (response.ok) return { healthy: true, latencyMs };
      const s3Code = response.headers.get("x-amz-error-code") ?? "";
      return {
        healthy: false,
        latencyMs,
        detail: `HEAD bucket "${this.#s3.bucket}" answered ${response.status}${
          s3Code ? " " + s3Code : ""
        }${probeHint(response.status)}`,
      };
    } catch (error) {
      this.#observer?.failed(error instanceof ProxyError ? error.code : "internal");
      return {
        healthy: false,
        latencyMs: performance.now() - started,
        detail: error instanceof ProxyError ? error.message : String(error),
      };
    }
  }

  /** ListObjectsV2: one signed GET of the bucket with list-type=2 (see list_objects.ts). */
  async list(request: ListRequest): Promise<ListPage> {
    // A page is read whole before anyone sees it, so a body that breaks is retried too.
    const xml = await this.#attempts(request, async (timeoutMs) => {
      const response = await this.#send("GET", this.#bucketPath, {
        query: listObjectsQuery(request),
        headers: undefined,
        signal: request.signal,
        timeoutMs,
        operation: "LIST",
      });
      if (response.status < 200 || response.status >= 300) {
        throw s3ErrorToProxyError(
          response.status,
          parseS3ErrorXml(await readErrorBody(response)),
          { bucketName: this.#bucketName, s3Bucket: this.#s3.bucket, key: request.prefix + "*" },
          response.headers,
        );
      }
      return await this.#readListBody(response, { signal: request.signal, timeoutMs });
    });
    try {
      return parseListObjectsXml(xml);
    } catch (error) {
      throw new ProxyError("upstream_error", {
        message: `${errorMessage(error)} (bucket "${this.#bucketName}")`,
        source: "origin",
        cause: error,
      });
    }
  }

  /**
   * Reads a listing body. #send's deadline covers only the headers (object bodies may stream for
   * long), but a listing is small and read whole, so its body gets its own deadline and stops
   * when the caller aborts (a cancelled prewarm task must not wait on a stalled origin).
   */
  async #readListBody(
    response: Response,
    request: Pick<ListRequest, "signal" | "timeoutMs">,
  ): Promise<string> {
    if (response.body === null) return "";
    const reader = response.body.getReader();
    // The first reason to stop wins; a cancelled read then resolves as done.
    let failure: unknown;
    const stop = (reason: unknown) => {
      failure ??= reason;
      reader.cancel().catch(() => {});
    };
    const timer = setTimeout(() =>
      stop(
        new ProxyError("origin_timeout", {
          message: `S3 did not send the listing of bucket "${this.#bucketName}" within ${
            request.timeoutMs / 1000
          } s; raise buckets[].s3.timeout or check the endpoint.`,
          source: "origin",
        }),
      ), request.timeoutMs);
    const onAbort = () => stop(request.signal.reason);
    if (request.signal.aborted) onAbort();
    else request.signal.addEventListener("abort", onAbort, { once: true });
    const decoder = new TextDecoder();
    let text = "";
    let size = 0;
    try {
      while (failure === undefined) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > MAX_LIST_BODY_BYTES) {
          stop(
            new ProxyError("upstream_error", {
              message: `The S3 listing of bucket "${this.#bucketName}" is larger than ${
                MAX_LIST_BODY_BYTES / 1024 / 1024
              } MiB; that is not a ListObjectsV2 page.`,
              source: "origin",
            }),
          );
          break;
        }
        text += decoder.decode(value, { stream: true });
      }
    } catch (error) {
      failure ??= new ProxyError("origin_unavailable", {
        message: `The S3 listing of bucket "${this.#bucketName}" broke off: ${
          describeNetworkError(error)
        }.`,
        source: "origin",
        cause: error,
      });
    } finally {
      clearTimeout(timer);
      request.signal.removeEventListener("abort", onAbort);
    }
    if (failure !== undefined) throw failure;
    return text + decoder.decode();
  }

  /**
   * One signed request. With `watch`, a body is returned wrapped: S3 may not go quiet for more
   * than idle_timeout between chunks, and `watch.onBodyFailed` hears when it breaks.
   */
  async #send(
    method: string,
    path: string,
    request: Pick<OriginRequest, "query" | "headers" | "signal" | "timeoutMs" | "answerHeaders"> & {
      /** What the metrics call this call (default: the object read by `method`). */
      operation?: S3Operation;
    },
    watch?: { onBodyFailed: (() => void) | undefined },
  ): Promise<Response> {
    const query = request.query === undefined || request.query.length === 0
      ? ""
      : canonicalQueryString(request.query);
    const now = Date.now();
    let headers: Record<string, string>;
    if (request.headers === undefined) {
      // Plain reads of hot objects reuse a recent signature (see SignatureCache for why).
      const cacheKey = method + " " + path + "?" + query;
      const cached = this.#signatures.get(cacheKey, now);
      if (cached !== undefined) headers = cached;
      else {
        headers = this.#signer.sign(
          { method, host: this.#host, canonicalUri: path, query: request.query },
          now,
        );
        this.#signatures.set(cacheKey, headers, now);
      }
    } else {
      const signed = this.#signer.sign({
        method,
        host: this.#host,
        canonicalUri: path,
        query: request.query,
        headers: request.headers,
      }, now);
      headers = { ...request.headers, ...signed };
    }
    const url = query === "" ? this.#origin + path : `${this.#origin}${path}?${query}`;

    // One controller, aborted by the shared sweeper on timeout, when the connect check fails,
    // when the client has gone, or (for a streamed body) when S3 goes quiet mid-body.
    const controller = new AbortController();
    const clientSignal = request.signal;
    if (clientSignal.aborted) controller.abort(clientSignal.reason);
    const connectMs = this.#s3.connectTimeout * 1000;
    const attempt = { waiting: true };
    const watched = this.#deadlines.watch(
      controller,
      request.timeoutMs,
      clientSignal,
      TIMEOUT_REASON,
      connectMs < request.timeoutMs
        ? { afterMs: connectMs, run: () => this.#checkConnect(controller, connectMs, attempt) }
        : undefined,
    );
    let response: Response;
    const observer = this.#observer;
    const sentAt = observer === undefined ? 0 : performance.now();
    observer?.sent(request.operation ?? (method === "HEAD" ? "HEAD" : "GET"));
    const idleMs = this.#s3.idleTimeout * 1000;
    let readingSmallBody = false;
    try {
      response = await this.#fetch(url, {
        method,
        headers,
        signal: controller.signal,
        redirect: "manual",
        answerHeaders: request.answerHeaders,
        onSmallBody: () => {
          readingSmallBody = true;
          attempt.waiting = false;
          this.#deadlines.arm(watched, idleMs, IDLE_REASON);
        },
      });
    } catch (error) {
      attempt.waiting = false;
      this.#deadlines.release(watched);
      if (readingSmallBody) {
        throw this.#bodyFailure(error, controller.signal.reason, clientSignal, path);
      }
      const reason = controller.signal.reason;
      if (reason === TIMEOUT_REASON) {
        throw new ProxyError("origin_timeout", {
          message: `S3 did not answer within ${
            request.timeoutMs / 1000
          } s for bucket "${this.#bucketName}"; raise buckets[].s3.timeout or check the endpoint.`,
          source: "origin",
          cause: error,
        });
      }
      if (reason === CONNECT_REASON) {
        const seconds = this.#s3.connectTimeout;
        throw new ProxyError("origin_unavailable", {
          message: `S3 at ${this.#origin} sent no answer for bucket "${this.#bucketName}" ` +
            `within ${seconds} s and accepted no new connection within ${seconds} s ` +
            "(buckets[].s3.connect_timeout); check the endpoint and the network.",
          source: "origin",
          cause: error,
        });
      }
      if (clientSignal.aborted) throw error;
      throw new ProxyError("origin_unavailable", {
        message: `Cannot reach S3 at ${this.#origin} for bucket "${this.#bucketName}": ${
          describeNetworkError(error)
        }.`,
        source: "origin",
        cause: error,
      });
    }
    attempt.waiting = false;
    observer?.firstByte((performance.now() - sentAt) / 1000);
    // A body the HTTP/1.1 client read whole is complete: checked first, because reading
    // `response.body` would wrap its bytes in a stream (several µs per request).
    if (bufferedBody(response) !== undefined) {
      this.#deadlines.release(watched);
      return response;
    }
    // Without body watching (listings, probes, bodiless answers) the deadline ends here, so a
    // long body is never cut by the headers timeout; a client that leaves then cancels the body.
    if (watch === undefined || response.body === null || method === "HEAD") {
      this.#deadlines.release(watched);
      return response;
    }
    // Error bodies are watched too (they are read before answering), but only an object body's
    // failure is news to the breaker: the error status itself is counted by #attempts.
    const ok = response.status >= 200 && response.status < 300;
    const handling = ok ? bodyHandling(response.headers) : "watch";
    if (handling === "pipe") {
      this.#deadlines.release(watched);
      return response;
    }
    if (handling === "buffer") {
      this.#deadlines.arm(watched, idleMs, IDLE_REASON);
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = await response.bytes();
      } catch (error) {
        this.#deadlines.release(watched);
        throw this.#bodyFailure(error, controller.signal.reason, clientSignal, path);
      }
      this.#deadlines.release(watched);
      return markBuffered(response, bytes);
    }
    const body = watchBody(response.body, {
      deadlines: this.#deadlines,
      handle: watched,
      idleMs,
      idleReason: IDLE_REASON,
      onEnd: (end) => {
        // A client that left is no fault of S3's.
        if (ok && end === "failed" && !clientSignal.aborted) watch.onBodyFailed?.();
      },
    });
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }

  /** Why a small body read before answering broke: idle S3 (504), or a cut connection (502). */
  #bodyFailure(error: unknown, reason: unknown, clientSignal: AbortSignal, path: string): unknown {
    if (clientSignal.aborted) return error;
    if (reason === IDLE_REASON || reason === TIMEOUT_REASON) {
      return new ProxyError("origin_timeout", {
        message: `S3 sent part of ${path} for bucket "${this.#bucketName}" and then nothing for ` +
          `${this.#s3.idleTimeout} s (buckets[].s3.idle_timeout); check the endpoint.`,
        source: "origin",
        cause: error,
      });
    }
    return new ProxyError("origin_unavailable", {
      message: `S3 broke off the body of ${path} for bucket "${this.#bucketName}": ${
        describeNetworkError(error)
      }.`,
      source: "origin",
      cause: error,
    });
  }

  /**
   * connect_timeout: fetch opens and reuses connections out of sight, so a connect cannot be
   * timed by itself. Instead, an attempt without headers after connect_timeout makes a fresh TCP
   * connection to the endpoint; if that fails or takes longer than connect_timeout, S3 is
   * unreachable (down, blackholed, overloaded backlog) and the attempt is aborted as a connection
   * failure, which is retried, long before `timeout`. If it connects, S3 is up but slow: the
   * attempt goes on until `timeout`.
   */
  #checkConnect(
    controller: AbortController,
    connectMs: number,
    attempt: { waiting: boolean },
  ): void {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), connectMs);
    const signal = AbortSignal.any([controller.signal, timeout.signal]);
    this.#connect(this.#connectHost, this.#connectPort, signal).then(
      (connection) => connection.close(),
      () => {
        // Headers may have come meanwhile (the body must go on), or the attempt ended anyway.
        if (attempt.waiting && !controller.signal.aborted) controller.abort(CONNECT_REASON);
      },
    ).finally(() => clearTimeout(timer));
  }

  /**
   * Runs `attempt` until it succeeds or may not be repeated (see `verdict`): retries wait a
   * bounded exponential backoff with jitter, stop when the client has gone, and never run past
   * `request.deadline`. The circuit breaker (when configured) admits every attempt and hears
   * every outcome; while it is open no attempt is made.
   */
  async #attempts<T>(
    request: { signal: AbortSignal; timeoutMs: number; deadline?: number | undefined },
    attempt: (timeoutMs: number, permit: CircuitPermit | undefined) => Promise<T>,
  ): Promise<T> {
    const retry = this.#s3.retry;
    const deadline = request.deadline ?? Infinity;
    const breaker = this.#breaker;
    let failure: unknown;
    for (let count = 1;; count++) {
      let permit: CircuitPermit | undefined;
      if (breaker !== undefined) {
        const admitted = breaker.admit(performance.now());
        // A request that already failed reports its own failure, not the breaker it tripped.
        if (typeof admitted === "number") throw failure ?? this.#circuitOpen(admitted);
        permit = admitted;
      }
      const timeoutMs = Math.max(1, Math.min(request.timeoutMs, deadline - Date.now()));
      try {
        const result = await attempt(timeoutMs, permit);
        if (permit !== undefined) breaker!.record(permit, "success", performance.now());
        if (count > 1) this.#observer?.retrySucceeded();
        return result;
      } catch (error) {
        const { outcome, retryable } = verdict(error, request.signal);
        if (permit !== undefined) breaker!.record(permit, outcome, performance.now());
        const observer = this.#observer;
        // A client that left is not an S3 failure.
        if (observer !== undefined && !request.signal.aborted) {
          observer.failed(error instanceof ProxyError ? error.code : "internal");
        }
        if (!retryable || count >= retry.maxAttempts) {
          if (retryable && retry.maxAttempts > 1) observer?.retriesExhausted();
          throw afterAttempts(error, count);
        }
        const waitMs = backoffMs(count, retry, this.#random);
        // No time for another attempt: the client gets this one's error now, not a 504 later.
        if (Date.now() + waitMs >= deadline) {
          observer?.retriesExhausted();
          throw afterAttempts(error, count);
        }
        if (!await sleep(waitMs, request.signal)) throw error;
        observer?.retried();
        failure = afterAttempts(error, count);
      }
    }
  }

  #circuitOpen(retryAfterMs: number): ProxyError {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    const config = this.#s3.circuitBreaker!;
    const snapshot = this.#breaker!.snapshot(performance.now());
    return new ProxyError("circuit_open", {
      message: snapshot.state === "open"
        ? `S3 failed ${config.failureThreshold} times in a row for bucket "${this.#bucketName}", ` +
          `so the gateway sends it no requests for ${seconds} more s ` +
          "(buckets[].s3.circuit_breaker); retry then."
        : `S3 for bucket "${this.#bucketName}" is being probed after failures ` +
          `(${config.halfOpenMaxRequests} requests at a time); retry in ${seconds} s.`,
      // The gateway's own decision: transitions are logged once, not every refused request.
      source: "internal",
      headers: { "retry-after": String(seconds) },
    });
  }
}

/**
 * What one failed attempt means: the breaker's outcome (S3 failing: 5xx, timeouts, connection
 * errors; S3 answering: other statuses; neither: the client left, 429) and whether it is worth
 * another attempt (connection errors, timeouts, 500/502/503/504; never 4xx).
 */
function verdict(
  error: unknown,
  clientSignal: AbortSignal,
): { outcome: CircuitOutcome; retryable: boolean } {
  if (clientSignal.aborted) return { outcome: "neutral", retryable: false };
  if (!(error instanceof ProxyError)) return { outcome: "failure", retryable: false };
  const status = error.details?.s3_status;
  if (typeof status === "number") {
    if (status >= 500) return { outcome: "failure", retryable: RETRYABLE_STATUSES.has(status) };
    return { outcome: status === 429 ? "neutral" : "success", retryable: false };
  }
  if (error.code === "origin_timeout" || error.code === "origin_unavailable") {
    return { outcome: "failure", retryable: true };
  }
  return { outcome: "failure", retryable: false };
}

/** The error of the last attempt, saying how many were made when there were several. */
function afterAttempts(error: unknown, count: number): unknown {
  if (count === 1 || !(error instanceof ProxyError)) return error;
  return new ProxyError(error.code, {
    message: `${error.message} (${count} attempts)`,
    source: error.source,
    headers: error.headers,
    details: { ...error.details, attempts: count },
    cause: error.cause,
  });
}

/** Waits `ms`; false (at once) if `signal` aborts first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (slept: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(slept);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function probeHint(status: number): string {
  if (status === 403) return " (check the credentials)";
  if (status === 404) return " (the bucket does not exist at this endpoint)";
  if (status === 301) return " (the bucket is in another region)";
  return "";
}

function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}
