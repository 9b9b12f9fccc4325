// Owns S3Origin: the signed S3 GetObject/HeadObject client for one bucket's endpoint and credentials.

import type { S3Config } from "../config/types.ts";
import { ProxyError } from "../errors.ts";
import type { DeadlineSweeper } from "./deadlines.ts";
import { listObjectsQuery, type ListPage, parseListObjectsXml } from "./list_objects.ts";
import type { ListRequest, Origin, OriginRequest, ProbeResult } from "./origin.ts";
import { parseS3ErrorXml, readErrorBody, s3ErrorToProxyError } from "./s3_errors.ts";
import { SignatureCache } from "./signature_cache.ts";
import { canonicalQueryString, encodeS3Key, SigV4Signer } from "./sigv4.ts";

export interface S3OriginOptions {
  /** The gateway bucket name (for messages and logs). */
  bucketName: string;
  s3: S3Config;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Shared timeout watcher; one per app. */
  deadlines: DeadlineSweeper;
}

/** Marks an abort caused by our own timer, to tell a timeout from a client going away. */
const TIMEOUT_REASON = new DOMException("origin timeout", "TimeoutError");

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
  readonly #fetch: typeof fetch;
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

  constructor(options: S3OriginOptions) {
    this.#bucketName = options.bucketName;
    this.#s3 = options.s3;
    this.#fetch = options.fetch ?? fetch;
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
  }

  async fetch(request: OriginRequest): Promise<Response> {
    const path = this.#pathBase + encodeS3Key(request.key);
    const response = await this.#send(request.method, path, request);
    if ((response.status >= 200 && response.status < 300) || response.status === 304) {
      return response;
    }
    const xml = request.method === "HEAD" ? "" : await readErrorBody(response);
    throw s3ErrorToProxyError(response.status, parseS3ErrorXml(xml), {
      bucketName: this.#bucketName,
      s3Bucket: this.#s3.bucket,
      key: request.key,
    }, response.headers);
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
      return {
        healthy: false,
        latencyMs: performance.now() - started,
        detail: error instanceof ProxyError ? error.message : String(error),
      };
    }
  }

  /** ListObjectsV2: one signed GET of the bucket with list-type=2 (see list_objects.ts). */
  async list(request: ListRequest): Promise<ListPage> {
    const response = await this.#send("GET", this.#bucketPath, {
      query: listObjectsQuery(request),
      headers: undefined,
      signal: request.signal,
      timeoutMs: request.timeoutMs,
    });
    if (response.status < 200 || response.status >= 300) {
      throw s3ErrorToProxyError(response.status, parseS3ErrorXml(await readErrorBody(response)), {
        bucketName: this.#bucketName,
        s3Bucket: this.#s3.bucket,
        key: request.prefix + "*",
      }, response.headers);
    }
    const xml = await this.#readListBody(response, request);
    try {
      return parseListObjectsXml(xml);
    } catch (error) {
      throw new ProxyError("upstream_error", {
        message: `${
          error instanceof Error ? error.message : String(error)
        } (bucket "${this.#bucketName}")`,
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

  async #send(
    method: string,
    path: string,
    request: Pick<OriginRequest, "query" | "headers" | "signal" | "timeoutMs">,
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

    // One controller, aborted by the shared sweeper on timeout or when the client has gone; it
    // is released once headers arrive so a long body is never cut by the timeout. After that, a
    // client that leaves cancels the body stream, which closes the upstream connection.
    const controller = new AbortController();
    const clientSignal = request.signal;
    if (clientSignal.aborted) controller.abort(clientSignal.reason);
    const watched = this.#deadlines.watch(
      controller,
      request.timeoutMs,
      clientSignal,
      TIMEOUT_REASON,
    );
    try {
      return await this.#fetch(url, {
        method,
        headers,
        signal: controller.signal,
        redirect: "manual",
      });
    } catch (error) {
      if (controller.signal.reason === TIMEOUT_REASON) {
        throw new ProxyError("origin_timeout", {
          message: `S3 did not answer within ${
            request.timeoutMs / 1000
          } s for bucket "${this.#bucketName}"; raise buckets[].s3.timeout or check the endpoint.`,
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
    } finally {
      this.#deadlines.release(watched);
    }
  }
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
