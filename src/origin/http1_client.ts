// Owns the gateway's own HTTP/1.1 client for S3: pooled keep-alive connections, small bodies read
// whole, larger ones streamed, and the largest handed to fetch so Deno pipes them natively.
//
// Why not fetch for everything: on a 1 KiB GET, Deno's fetch (a Request, Headers and webidl
// conversions, a body resource and stream per response) costs more CPU than the whole rest of a
// minimal proxy; this client needs about half of what fetch does per small request (bench/load.sh,
// "1 KiB misses"). Why fetch for bodies over NATIVE_PIPE_MIN_BYTES: Deno.serve pipes a fetch body
// in native code, while any stream read in JavaScript (this client's) costs ~2x the CPU per MiB.

import { LargeBodies } from "./large_bodies.ts";
import { markBuffered, markOwned } from "./origin.ts";

/** Bodies up to this length (with a Content-Length) are read whole before the Response is returned. */
export const BUFFERED_BODY_MAX_BYTES = 64 * 1024;
/**
 * Bodies longer than this are requested again through fetch and piped by Deno natively (at once
 * for a URL that lately answered so: see LargeBodies).
 */
export const NATIVE_PIPE_MIN_BYTES = 16 * 1024 * 1024;

/** What one request needs: the S3 origin signs before calling. */
export interface Http1RequestInit {
  method: string;
  headers: Readonly<Record<string, string>>;
  signal: AbortSignal;
  /**
   * Called when the head has arrived and a small body is about to be read whole: the caller's
   * deadline turns from time-to-first-byte into idle_timeout, and a failure from here on is a
   * broken body, not an unreachable S3. fetch ignores it (S3Origin then reads the body itself).
   */
  onSmallBody?: () => void;
  /**
   * Headers the Response gets besides S3's, set at construction (owned Responses only; fetch
   * ignores them and the gateway adds them itself).
   */
  answerHeaders?: Readonly<Record<string, string>> | undefined;
}

/** The fetch-shaped signature S3Origin calls (global fetch fits it too). */
export type OriginFetch = (url: string, init: Http1RequestInit & { redirect: "manual" }) => Promise<
  Response
>;

/** A response head larger than this is not S3's. */
const HEAD_MAX_BYTES = 64 * 1024;
/** First size of a connection's read buffer (a response head and a small body fit). */
const READ_BUFFER_BYTES = 16 * 1024;
/** Largest chunk a streamed body reads at once. */
const STREAM_CHUNK_BYTES = 64 * 1024;
/** An idle connection is reused for this long unless the server's Keep-Alive says less. */
const DEFAULT_REUSE_MS = 4_000;
/** Idle connections kept per origin; more are closed. */
const MAX_IDLE_PER_ORIGIN = 256;
/** How often idle connections past their reuse time are closed. */
const SWEEP_EVERY_MS = 2_000;
/** Characters that would split a request head. */
const UNSAFE_HEADER_VALUE = /[\r\n\0]/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;
const KEEP_ALIVE_TIMEOUT = /timeout=(\d+)/i;

const encoder = new TextEncoder();

/** Where and how to connect for one origin (`http://host:port`), parsed once. */
interface Endpoint {
  hostname: string;
  port: number;
  tls: boolean;
  /** The Host header, as fetch would send it (and as the request was signed). */
  host: string;
  idle: Connection[];
}

/** One TCP (or TLS) connection and the bytes read from it but not consumed yet. */
class Connection {
  buf = new Uint8Array(READ_BUFFER_BYTES);
  start = 0;
  end = 0;
  reuseUntil = 0;
  closed = false;
  constructor(readonly conn: Deno.Conn, readonly endpoint: Endpoint) {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed by the peer's reset
    }
  }

  /** Reads more bytes after `end`; false at end of stream. Grows the buffer up to `limit`. */
  async fill(limit: number): Promise<boolean> {
    if (this.start > 0 && this.start === this.end) this.start = this.end = 0;
    if (this.end === this.buf.byteLength) {
      const used = this.end - this.start;
      if (this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        if (this.buf.byteLength >= limit) {
          throw new Error(`S3 sent a response head larger than ${limit} bytes`);
        }
        const grown = new Uint8Array(Math.min(limit, this.buf.byteLength * 2));
        grown.set(this.buf.subarray(0, this.end));
        this.buf = grown;
      }
      this.start = 0;
      this.end = used;
    }
    const read = await this.conn.read(this.buf.subarray(this.end));
    if (read === null) return false;
    this.end += read;
    return true;
  }

  /** The index just past the next CRLF in the unread bytes, or -1. */
  lineEnd(): number {
    const buf = this.buf;
    for (let i = this.start + 1; i < this.end; i++) {
      if (buf[i] === 10 && buf[i - 1] === 13) return i + 1;
    }
    return -1;
  }
}

/** The parts of a response head the client acts on. */
interface ResponseHead {
  status: number;
  statusText: string;
  headers: [string, string][];
  /** -1 when the head declares none. */
  contentLength: number;
  chunked: boolean;
  keepAlive: boolean;
  reuseMs: number;
}

/** Why a connection ended early, in words for the error message. */
class ConnectionClosed extends Error {}

/**
 * An HTTP/1.1 client with one pool of keep-alive connections per origin. It speaks only what S3
 * needs (GET and HEAD without request bodies, Content-Length or chunked responses); each call
 * behaves as fetch does for S3Origin: it rejects with the signal's reason when aborted, and a
 * body errors if the signal aborts while it streams.
 */
export class Http1Client {
  readonly #endpoints = new Map<string, Endpoint>();
  readonly #nativeFetch: typeof fetch;
  readonly #largeBodies = new LargeBodies();
  #sweeper: ReturnType<typeof setInterval> | undefined;

  readonly #dropHeaders: ReadonlySet<string> | undefined;

  /**
   * `dropHeaders`: response headers left out while parsing (besides the hop-by-hop ones, always
   * left out). A client given them makes owned Responses (see markOwned): the gateway sends those
   * as they are, without stripping their headers again.
   */
  constructor(nativeFetch: typeof fetch = fetch, dropHeaders?: ReadonlySet<string>) {
    this.#nativeFetch = nativeFetch;
    this.#dropHeaders = dropHeaders;
  }

  /** fetch-shaped: `url` is absolute (http or https), the headers are the signed ones. */
  readonly fetch: OriginFetch = (url, init) => this.#request(url, init);

  /** Closes every idle connection and stops the sweeper (busy ones close when their body ends). */
  close(): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const endpoint of this.#endpoints.values()) {
      for (const connection of endpoint.idle) connection.close();
      endpoint.idle.length = 0;
    }
  }

  async #request(url: string, init: Http1RequestInit): Promise<Response> {
    const signal = init.signal;
    signal.throwIfAborted();
    if (wholeGet(init) && this.#largeBodies.has(url)) {
      return this.#fetchLarge(url, init);
    }
    const pathStart = url.indexOf("/", url.indexOf("//") + 2);
    const origin = pathStart === -1 ? url : url.slice(0, pathStart);
    const target = pathStart === -1 ? "/" : url.slice(pathStart);
    const endpoint = this.#endpoints.get(origin) ?? this.#endpoint(origin);
    const head = requestHead(init.method, target, endpoint.host, init.headers);
    // A pooled connection the server has just closed fails before any byte of an answer: the
    // request (GET or HEAD, nothing sent yet) is safe to send again on a new connection.
    for (let attempt = 0;; attempt++) {
      const pooled = attempt === 0 ? this.#takeIdle(endpoint) : undefined;
      const connection = pooled ?? await this.#connect(endpoint, signal);
      const onAbort = () => connection.close();
      signal.addEventListener("abort", onAbort, { once: true });
      let parsed: ResponseHead | undefined;
      try {
        await writeAll(connection.conn, head);
        parsed = await readHead(connection, init.method, this.#dropHeaders);
      } catch (error) {
        connection.close();
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) throw signal.reason;
        if (pooled !== undefined && connection.end === 0) continue;
        throw error instanceof ConnectionClosed || !(error instanceof Error)
          ? error
          : new TypeError(`${error.message} (${origin})`, { cause: error });
      }
      return this.#respond(url, init, connection, parsed, onAbort);
    }
  }

  /** The Response for a parsed head: no body, a body read whole, a stream, or fetch's. */
  async #respond(
    url: string,
    init: Http1RequestInit,
    connection: Connection,
    head: ResponseHead,
    onAbort: () => void,
  ): Promise<Response> {
    const signal = init.signal;
    // Responses are sent as they are only when their heads were stripped here (see constructor).
    const owned = this.#dropHeaders !== undefined;
    const responseInit = {
      status: head.status,
      statusText: head.statusText,
      headers: owned ? answerHeaderInit(head.headers, init.answerHeaders) : head.headers,
    };
    const bodiless = init.method === "HEAD" || head.status === 204 || head.status === 304;
    if (bodiless || head.contentLength === 0) {
      signal.removeEventListener("abort", onAbort);
      this.#release(connection, head);
      return bodiless
        ? responseOf(null, responseInit, owned)
        : markBuffered(responseOf(EMPTY, responseInit, owned), EMPTY);
    }
    if (head.contentLength > NATIVE_PIPE_MIN_BYTES) {
      signal.removeEventListener("abort", onAbort);
      connection.close();
      if (head.status === 200 && wholeGet(init)) this.#largeBodies.remember(url);
      return await this.#nativeFetch(url, { ...init, redirect: "manual" });
    }
    if (head.contentLength !== -1 && head.contentLength <= BUFFERED_BODY_MAX_BYTES) {
      let body: Uint8Array<ArrayBuffer>;
      try {
        init.onSmallBody?.();
        body = await readWhole(connection, head.contentLength);
      } catch (error) {
        connection.close();
        if (signal.aborted) throw signal.reason;
        throw error;
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
      this.#release(connection, head);
      return markBuffered(responseOf(body, responseInit, owned), body);
    }
    const body = streamBody(connection, head, signal, (reusable) => {
      signal.removeEventListener("abort", onAbort);
      if (reusable) this.#release(connection, head);
      else connection.close();
    });
    return responseOf(body, responseInit, owned);
  }

  /** A GET of a URL that lately answered with a large body: straight to fetch (see LargeBodies). */
  async #fetchLarge(url: string, init: Http1RequestInit): Promise<Response> {
    const response = await this.#nativeFetch(url, { ...init, redirect: "manual" });
    // Replaced by a smaller object, gone, or not modified: the own client asks again next time.
    const length = Number(response.headers.get("content-length"));
    if (response.status !== 200 || !(length > NATIVE_PIPE_MIN_BYTES)) this.#largeBodies.forget(url);
    return response;
  }

  #endpoint(origin: string): Endpoint {
    const parsed = new URL(origin);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new TypeError(`Unsupported scheme in ${origin}: only http and https reach S3`);
    }
    const tls = parsed.protocol === "https:";
    const endpoint: Endpoint = {
      hostname: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: parsed.port === "" ? (tls ? 443 : 80) : Number(parsed.port),
      tls,
      host: parsed.host,
      idle: [],
    };
    this.#endpoints.set(origin, endpoint);
    return endpoint;
  }

  #takeIdle(endpoint: Endpoint): Connection | undefined {
    const now = performance.now();
    for (;;) {
      const connection = endpoint.idle.pop();
      if (connection === undefined) return undefined;
      if (connection.reuseUntil > now) return connection;
      connection.close();
    }
  }

  /** A new connection; an abort while connecting rejects at once (the socket closes when it opens). */
  #connect(endpoint: Endpoint, signal: AbortSignal): Promise<Connection> {
    const opening: Promise<Deno.Conn> = endpoint.tls
      ? Deno.connectTls({ hostname: endpoint.hostname, port: endpoint.port })
      : Deno.connect({ hostname: endpoint.hostname, port: endpoint.port });
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        reject(signal.reason);
        opening.then((conn) => conn.close(), () => {});
      };
      signal.addEventListener("abort", onAbort, { once: true });
      opening.then((conn) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) return;
        if (!endpoint.tls) (conn as Deno.TcpConn).setNoDelay(true);
        resolve(new Connection(conn, endpoint));
      }, (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      });
    });
  }

  /** Back to the pool after a complete exchange, unless either side wants the connection closed. */
  #release(connection: Connection, head: ResponseHead): void {
    // Bytes past the response would be a second, unrequested answer: never reuse such a stream.
    if (!head.keepAlive || connection.closed || connection.start !== connection.end) {
      connection.close();
      return;
    }
    const idle = connection.endpoint.idle;
    if (idle.length >= MAX_IDLE_PER_ORIGIN) {
      connection.close();
      return;
    }
    connection.start = connection.end = 0;
    connection.reuseUntil = performance.now() + head.reuseMs;
    idle.push(connection);
    if (this.#sweeper === undefined) {
      const sweeper = setInterval(() => this.#sweep(), SWEEP_EVERY_MS);
      Deno.unrefTimer(sweeper);
      this.#sweeper = sweeper;
    }
  }

  #sweep(): void {
    const now = performance.now();
    for (const endpoint of this.#endpoints.values()) {
      const idle = endpoint.idle;
      // Oldest first: once one is still reusable, the rest (returned later) are too.
      let expired = 0;
      while (expired < idle.length && idle[expired]!.reuseUntil <= now) {
        idle[expired]!.close();
        expired++;
      }
      if (expired > 0) idle.splice(0, expired);
    }
  }
}

const EMPTY = new Uint8Array(0);

/**
 * S3's headers plus the gateway's, as the init of the Response: a record, which Deno checks
 * without the per-pair conversion a list of pairs costs (about 1 µs per miss). A repeated name
 * is joined with ", " as Headers would; `__proto__` (which a record cannot hold) keeps the pairs.
 */
export function answerHeaderInit(
  pairs: [string, string][],
  extra: Readonly<Record<string, string>> | undefined,
): Record<string, string> | [string, string][] {
  const record: Record<string, string> = {};
  for (const [name, value] of pairs) {
    if (name === "__proto__") {
      return extra === undefined ? pairs : [...pairs, ...Object.entries(extra)];
    }
    record[name] = Object.hasOwn(record, name) ? record[name] + ", " + value : value;
  }
  if (extra !== undefined) Object.assign(record, extra);
  return record;
}

/** new Response, with a head Deno refuses (an invalid header or status) reported as S3's fault. */
function responseOf(body: BodyInit | null, init: ResponseInit, owned: boolean): Response {
  try {
    const response = new Response(body, init);
    return owned ? markOwned(response) : response;
  } catch (error) {
    throw new TypeError(`S3 sent a response Deno cannot represent: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** The request head as bytes: request line, Host, then the given headers. */
export function requestHead(
  method: string,
  target: string,
  host: string,
  headers: Readonly<Record<string, string>>,
): Uint8Array {
  let text = method + " " + target + " HTTP/1.1\r\nhost: " + host + "\r\n";
  for (const name in headers) {
    if (name === "host") continue;
    const value = headers[name]!;
    if (UNSAFE_HEADER_VALUE.test(value)) {
      throw new TypeError(`Header ${name} holds a line break or NUL and cannot be sent to S3`);
    }
    text += name + ": " + value + "\r\n";
  }
  return encoder.encode(text + "\r\n");
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) written += await conn.write(bytes.subarray(written));
}

/** Reads and parses one response head (interim 1xx answers are skipped). */
async function readHead(
  connection: Connection,
  method: string,
  dropHeaders: ReadonlySet<string> | undefined,
): Promise<ResponseHead> {
  for (;;) {
    // Heads are a few hundred bytes: scanning again from the start after each read is cheap.
    let headEnd = findHeadEnd(connection);
    while (headEnd === -1) {
      if (!(await connection.fill(HEAD_MAX_BYTES))) {
        throw new ConnectionClosed(
          connection.end === 0
            ? "S3 closed the connection without answering"
            : "S3 closed the connection in the middle of the response head",
        );
      }
      headEnd = findHeadEnd(connection);
    }
    const head = parseHead(
      latin1(connection.buf, connection.start, headEnd - 4),
      method,
      dropHeaders,
    );
    connection.start = headEnd;
    if (head.status >= 100 && head.status < 200) continue;
    return head;
  }
}

/** The index just past the blank line ending a head, or -1. */
function findHeadEnd(connection: Connection): number {
  const buf = connection.buf;
  for (let i = connection.start + 3; i < connection.end; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) return i + 1;
  }
  return -1;
}

const ASCII_DECODER = new TextDecoder();

/**
 * Bytes to a string one char per byte (header values are bytes, as fetch's Headers keep them).
 * A head of ASCII only, as S3 sends, is decoded natively: String.fromCharCode.apply first copies
 * every byte into an arguments array, about 1.1 µs and 3 KiB of garbage for a 400-byte head,
 * where the scan and TextDecoder take about 0.27 µs (deno bench, session 8).
 */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  let high = 0;
  for (let i = start; i < end; i++) high |= buf[i]!;
  // UTF-8 and Latin-1 agree on ASCII; any other byte takes the byte-per-char path below.
  if (high < 0x80) return ASCII_DECODER.decode(buf.subarray(start, end));
  let text = "";
  for (let i = start; i < end; i += 4096) {
    text += String.fromCharCode.apply(
      null,
      buf.subarray(i, Math.min(end, i + 4096)) as unknown as number[],
    );
  }
  return text;
}

/** Parses a response head (without its final blank line). Throws on anything malformed. */
export function parseHead(
  text: string,
  method: string,
  dropHeaders?: ReadonlySet<string>,
): ResponseHead {
  const lines = text.split("\r\n");
  const statusLine = STATUS_LINE.exec(lines[0]!);
  if (statusLine === null) {
    throw new TypeError(
      `S3 sent an invalid status line: ${JSON.stringify(lines[0]!.slice(0, 80))}`,
    );
  }
  const head: ResponseHead = {
    status: Number(statusLine[2]),
    statusText: statusLine[3] ?? "",
    headers: [],
    contentLength: -1,
    chunked: false,
    keepAlive: true,
    reuseMs: DEFAULT_REUSE_MS,
  };
  let connectionTokens: string[] | undefined;
  let closeAsked = false;
  let keepAliveAsked = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0 || line.charCodeAt(0) === 32 || line.charCodeAt(0) === 9) {
      throw new TypeError(`S3 sent an invalid header line: ${JSON.stringify(line.slice(0, 80))}`);
    }
    const name = line.slice(0, colon).toLowerCase();
    const value = trimOws(line, colon + 1);
    switch (name) {
      case "content-length": {
        const length = /^\d+$/.test(value) ? Number(value) : NaN;
        if (
          !Number.isSafeInteger(length) ||
          (head.contentLength !== -1 && head.contentLength !== length)
        ) {
          throw new TypeError(`S3 sent an invalid Content-Length: ${JSON.stringify(value)}`);
        }
        head.contentLength = length;
        break;
      }
      case "transfer-encoding":
        // Nothing else is asked for (no TE, no Accept-Encoding): a body in another coding
        // could not be passed on as the object's bytes.
        if (!/^\s*chunked\s*$/i.test(value)) {
          throw new TypeError(
            `S3 sent Transfer-Encoding ${JSON.stringify(value)}, which is not chunked`,
          );
        }
        head.chunked = true;
        continue; // the body reaches the client decoded: the framing header stays behind
      case "connection":
        for (const token of value.split(",")) {
          const option = token.trim().toLowerCase();
          if (option === "close") closeAsked = true;
          else if (option === "keep-alive") keepAliveAsked = true;
          // Any other name listed here is a hop-by-hop header of this connection (RFC 9110 §7.6.1).
          else if (option !== "") (connectionTokens ??= []).push(option);
        }
        continue;
      case "keep-alive": {
        const timeout = KEEP_ALIVE_TIMEOUT.exec(value);
        // A second short of the server's own limit: it may close just as a request is sent.
        if (timeout !== null) {
          head.reuseMs = Math.min(DEFAULT_REUSE_MS, Number(timeout[1]) * 1000 - 1000);
        }
        continue;
      }
    }
    if (dropHeaders?.has(name)) continue;
    head.headers.push([name, value]);
  }
  if (connectionTokens !== undefined) {
    const named = connectionTokens;
    head.headers = head.headers.filter(([name]) => !named.includes(name));
  }
  // HTTP/1.0 closes after each answer unless it says keep-alive.
  head.keepAlive = !closeAsked && (statusLine[1] === "1" || keepAliveAsked);
  // RFC 9112 §6.3: chunked wins over Content-Length (which then must not reach the client); a
  // HEAD answer's length describes a GET's body.
  if (head.chunked && head.contentLength !== -1) {
    head.contentLength = -1;
    head.headers = head.headers.filter(([name]) => name !== "content-length");
  }
  if (method === "HEAD") head.chunked = false;
  return head;
}

/**
 * line[from..] without leading and trailing spaces and tabs (RFC 9110 OWS). Not trim(): it also
 * strips U+00A0, which is the byte 0xA0 here (the last byte of UTF-8 "à", for one).
 */
function trimOws(line: string, from: number): string {
  let start = from;
  let end = line.length;
  while (start < end && (line.charCodeAt(start) === 32 || line.charCodeAt(start) === 9)) start++;
  while (end > start && (line.charCodeAt(end - 1) === 32 || line.charCodeAt(end - 1) === 9)) end--;
  return line.slice(start, end);
}

/** A GET for a whole body (no Range): what LargeBodies remembers and answers for. */
function wholeGet(init: Http1RequestInit): boolean {
  return init.method === "GET" && init.headers.range === undefined;
}

/** A body of known length, read whole. */
async function readWhole(connection: Connection, length: number): Promise<Uint8Array<ArrayBuffer>> {
  const body = new Uint8Array(length);
  const buffered = Math.min(connection.end - connection.start, length);
  body.set(connection.buf.subarray(connection.start, connection.start + buffered));
  connection.start += buffered;
  let received = buffered;
  while (received < length) {
    const read = await connection.conn.read(body.subarray(received));
    if (read === null) {
      throw new ConnectionClosed(
        `S3 closed the connection after ${received} of ${length} body bytes`,
      );
    }
    received += read;
  }
  return body;
}

/**
 * A body streamed as it arrives: Content-Length, chunked, or until the server closes. `done` hears
 * once whether the connection may be reused (only after a complete, exactly framed body).
 */
/**
 * Closes the socket of a streamed body that was neither read to its end nor cancelled once its
 * stream is garbage (a code path that drops a Response would otherwise hold the socket forever).
 */
const abandonedBodies = new FinalizationRegistry<Connection>((connection) => connection.close());

function streamBody(
  connection: Connection,
  head: ResponseHead,
  signal: AbortSignal,
  done: (reusable: boolean) => void,
): ReadableStream<Uint8Array> {
  let finished = false;
  const finish = (reusable: boolean) => {
    if (finished) return;
    finished = true;
    abandonedBodies.unregister(connection);
    done(reusable);
  };
  const next = head.chunked
    ? chunkedReader(connection)
    : head.contentLength === -1
    ? untilCloseReader(connection)
    : lengthReader(connection, head.contentLength);
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Uint8Array | null;
      try {
        chunk = await next();
      } catch (error) {
        finish(false);
        controller.error(signal.aborted ? signal.reason : error);
        return;
      }
      if (chunk === null) {
        // A body read until the server closed has no connection left to reuse.
        finish(head.keepAlive && (head.chunked || head.contentLength !== -1));
        controller.close();
        return;
      }
      controller.enqueue(chunk);
    },
    cancel() {
      finish(false);
    },
  }, { highWaterMark: 0 });
  abandonedBodies.register(stream, connection, connection);
  return stream;
}

/** Unread bytes of the connection buffer as a chunk of their own (the buffer is reused). */
function takeBuffered(connection: Connection, max: number): Uint8Array {
  const count = Math.min(connection.end - connection.start, max);
  const chunk = connection.buf.slice(connection.start, connection.start + count);
  connection.start += count;
  return chunk;
}

/** Reads up to `max` bytes straight from the socket into a new chunk; null at end of stream. */
async function readFresh(connection: Connection, max: number): Promise<Uint8Array | null> {
  const chunk = new Uint8Array(Math.min(max, STREAM_CHUNK_BYTES));
  const read = await connection.conn.read(chunk);
  if (read === null) return null;
  return read === chunk.byteLength ? chunk : chunk.subarray(0, read);
}

function lengthReader(connection: Connection, length: number): () => Promise<Uint8Array | null> {
  let remaining = length;
  return async () => {
    if (remaining === 0) return null;
    let chunk: Uint8Array | null;
    if (connection.end > connection.start) chunk = takeBuffered(connection, remaining);
    else {
      chunk = await readFresh(connection, remaining);
      if (chunk === null) {
        throw new ConnectionClosed(
          `S3 closed the connection after ${length - remaining} of ${length} body bytes`,
        );
      }
    }
    remaining -= chunk.byteLength;
    return chunk;
  };
}

function untilCloseReader(connection: Connection): () => Promise<Uint8Array | null> {
  return async () => {
    if (connection.end > connection.start) return takeBuffered(connection, STREAM_CHUNK_BYTES);
    return await readFresh(connection, STREAM_CHUNK_BYTES);
  };
}

/** RFC 9112 §7.1 chunked decoding; trailers are read and dropped. */
function chunkedReader(connection: Connection): () => Promise<Uint8Array | null> {
  let remaining = 0; // bytes left in the current chunk
  let ended = false;
  const line = async (): Promise<string> => {
    let end = connection.lineEnd();
    while (end === -1) {
      if (connection.end - connection.start > 8192) {
        throw new TypeError("S3 sent a chunk-size line longer than 8 KiB");
      }
      if (!(await connection.fill(HEAD_MAX_BYTES))) {
        throw new ConnectionClosed("S3 closed the connection in the middle of a chunked body");
      }
      end = connection.lineEnd();
    }
    const text = latin1(connection.buf, connection.start, end - 2);
    connection.start = end;
    return text;
  };
  return async () => {
    if (ended) return null;
    if (remaining === 0) {
      const sizeLine = (await line()).split(";")[0]!.trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(sizeLine)) {
        throw new TypeError(
          `S3 sent an invalid chunk size: ${JSON.stringify(sizeLine.slice(0, 20))}`,
        );
      }
      remaining = parseInt(sizeLine, 16);
      if (remaining === 0) {
        while ((await line()) !== "");
        ended = true;
        return null;
      }
    }
    let chunk: Uint8Array | null;
    if (connection.end > connection.start) chunk = takeBuffered(connection, remaining);
    else {
      chunk = await readFresh(connection, remaining);
      if (chunk === null) {
        throw new ConnectionClosed("S3 closed the connection in the middle of a chunked body");
      }
    }
    remaining -= chunk.byteLength;
    if (remaining === 0 && (await line()) !== "") {
      throw new TypeError("S3 sent a chunk longer than its declared size");
    }
    return chunk;
  };
}
