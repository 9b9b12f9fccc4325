// Owns the tests of Http1Client: real TCP servers check heads, framing, pooling, aborts, handoff.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  answerHeaderInit,
  BUFFERED_BODY_MAX_BYTES,
  Http1Client,
  type Http1RequestInit,
  latin1 as decodeHeadBytes,
  NATIVE_PIPE_MIN_BYTES,
  parseHead,
  requestHead,
} from "./http1_client.ts";
import { bufferedBody, isOwned } from "./origin.ts";

// ---------------------------------------------------------------------------------------------
// Helpers: bytes, timing, and a raw TCP server whose every response byte the test writes itself.
// ---------------------------------------------------------------------------------------------

type Bytes = string | Uint8Array;

/** Bytes to a string, one char per byte. */
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/** A string of chars 0-255 to bytes, one byte per char. */
function bytesOf(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function concat(...parts: Bytes[]): Uint8Array<ArrayBuffer> {
  const arrays = parts.map((part) => typeof part === "string" ? bytesOf(part) : part);
  const out = new Uint8Array(arrays.reduce((sum, part) => sum + part.byteLength, 0));
  let at = 0;
  for (const part of arrays) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** Deterministic, non-repeating-looking bytes. */
function pattern(length: number, seed = 0): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 131 + seed + (i >>> 9)) & 0xff;
  return bytes;
}

/** Cuts `bytes` at the given offsets (any order, duplicates and out-of-range ignored). */
function splitAt(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const cuts = [...new Set(offsets)].filter((at) => at > 0 && at < bytes.byteLength).sort((a, b) =>
    a - b
  );
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const at of cuts) {
    pieces.push(bytes.subarray(from, at));
    from = at;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

/** A chunked body: each chunk with the extension ext(i), then the last chunk and the trailer. */
function chunkedBody(chunks: Uint8Array[], ext = (_i: number) => "", trailer = ""): Uint8Array {
  const parts: Bytes[] = [];
  chunks.forEach((chunk, i) =>
    parts.push(chunk.byteLength.toString(16) + ext(i) + "\r\n", chunk, "\r\n")
  );
  parts.push("0\r\n" + trailer + "\r\n");
  return concat(...parts);
}

const tick = (ms = 1) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}

/** `promise`, or a rejection after `ms`: a bug makes a test fail, never hang. */
async function settle<T>(promise: Promise<T>, ms = 2_000, what = "operation"): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not settle in ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** One accepted connection, as the server sees it. */
class RawConn {
  /** Every request head read on this connection, through its blank line. */
  readonly heads: string[] = [];
  /** Resolves when the client closed (or reset) its side. */
  readonly eof = deferred();
  closed = false;
  #pending: Uint8Array = new Uint8Array(0);

  constructor(readonly conn: Deno.TcpConn) {
    conn.setNoDelay(true);
  }

  /** The next request head, or null once the client has closed the connection. */
  async readHead(): Promise<string | null> {
    for (;;) {
      const end = latin1(this.#pending).indexOf("\r\n\r\n");
      if (end !== -1) {
        const head = latin1(this.#pending.subarray(0, end + 4));
        this.#pending = this.#pending.slice(end + 4);
        this.heads.push(head);
        return head;
      }
      const chunk = new Uint8Array(16 * 1024);
      let read: number | null;
      try {
        read = await this.conn.read(chunk);
      } catch {
        read = null; // a reset, or this side closed: either way no more requests
      }
      if (read === null) {
        this.eof.resolve();
        if (this.#pending.byteLength > 0 && !this.closed) {
          throw new Error(`client closed mid-request: ${JSON.stringify(latin1(this.#pending))}`);
        }
        return null;
      }
      this.#pending = concat(this.#pending, chunk.subarray(0, read));
    }
  }

  async write(...parts: Bytes[]): Promise<void> {
    const bytes = concat(...parts);
    let written = 0;
    while (written < bytes.byteLength) written += await this.conn.write(bytes.subarray(written));
  }

  /** Writes the parts one at a time with a short pause between, so the client reads them apart. */
  async writeApart(parts: Bytes[], ms = 2): Promise<void> {
    for (let i = 0; i < parts.length; i++) {
      if (i > 0) await tick(ms);
      await this.write(parts[i]!);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // closed already
    }
  }
}

type Handler = (conn: RawConn, index: number) => Promise<void>;

interface RawServer {
  readonly url: string;
  readonly port: number;
  /** Accepted connections, in order. */
  readonly conns: RawConn[];
  /** What handlers threw (other than after the server closed their connection). */
  readonly errors: unknown[];
  close(): Promise<void>;
}

function rawServer(handle: Handler): RawServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: RawConn[] = [];
  const errors: unknown[] = [];
  const tasks: Promise<void>[] = [];
  const accepting = (async () => {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch {
        return; // the listener closed
      }
      const raw = new RawConn(conn);
      const index = conns.push(raw) - 1;
      tasks.push(
        handle(raw, index)
          .catch((error) => {
            if (!raw.closed) errors.push(error);
          })
          .finally(() => raw.close()),
      );
    }
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    port: listener.addr.port,
    conns,
    errors,
    async close() {
      listener.close();
      await accepting;
      for (const conn of conns) conn.close();
      await Promise.all(tasks);
    },
  };
}

/** A handler answering every request on each connection in turn, until the client closes it. */
function answering(
  reply: (head: string, n: number, connIndex: number) => Bytes | Bytes[],
): Handler {
  return async (conn, index) => {
    for (let n = 0;; n++) {
      const head = await conn.readHead();
      if (head === null) return;
      const answer = reply(head, n, index);
      if (Array.isArray(answer)) await conn.writeApart(answer);
      else await conn.write(answer);
    }
  };
}

/** Runs `body` with a raw server and a client, then closes both (and checks the handlers). */
async function withServer(
  handle: Handler,
  body: (server: RawServer, client: Http1Client) => Promise<void>,
  nativeFetch?: typeof fetch,
): Promise<void> {
  const server = rawServer(handle);
  const client = new Http1Client(nativeFetch);
  try {
    await body(server, client);
  } finally {
    client.close();
    await settle(server.close(), 2_000, "server close");
  }
  assert.deepEqual(server.errors, []);
}

function request(
  client: Http1Client,
  url: string,
  init: Partial<Http1RequestInit> = {},
): Promise<Response> {
  return settle(
    client.fetch(url, {
      method: "GET",
      headers: {},
      signal: new AbortController().signal,
      ...init,
      redirect: "manual",
    }),
    2_000,
    `${init.method ?? "GET"} ${url}`,
  );
}

async function bodyOf(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await settle(response.arrayBuffer(), 2_000, "body"));
}

function textOf(response: Response): Promise<string> {
  return settle(response.text(), 2_000, "body");
}

/** A validator for assert.rejects: an Error whose message matches. */
const failsWith = (message: RegExp, type: new (...args: never[]) => Error = Error) =>
(
  error: unknown,
): boolean => {
  assert.ok(error instanceof type, `expected a ${type.name}, got ${String(error)}`);
  assert.match(error.message, message);
  return true;
};

const OK = (body = "ok", extra = "") =>
  `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;

// ---------------------------------------------------------------------------------------------
// 1. The request head.
// ---------------------------------------------------------------------------------------------

Deno.test("requestHead() writes the request line, host, then the headers in order, then CRLFCRLF", () => {
  const head = requestHead("GET", "/bucket/a%20b?x-id=GetObject", "s3.example:9000", {
    "x-amz-date": "20240101T000000Z",
    host: "s3.example:9000",
    range: "bytes=0-99",
    authorization: "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host;range, Signature=00",
  });
  assert.equal(
    latin1(head),
    "GET /bucket/a%20b?x-id=GetObject HTTP/1.1\r\n" +
      "host: s3.example:9000\r\n" +
      "x-amz-date: 20240101T000000Z\r\n" +
      "range: bytes=0-99\r\n" +
      "authorization: AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host;range, Signature=00\r\n" +
      "\r\n",
  );
  assert.equal(latin1(requestHead("HEAD", "/", "h", {})), "HEAD / HTTP/1.1\r\nhost: h\r\n\r\n");
  // A tab or an empty value is fine; only what could split the head is refused.
  assert.equal(
    latin1(requestHead("GET", "/", "h", { a: "x\ty", b: "" })),
    "GET / HTTP/1.1\r\nhost: h\r\na: x\ty\r\nb: \r\n\r\n",
  );
});

Deno.test("requestHead() refuses a header value holding CR, LF or NUL", () => {
  for (const value of ["a\rb", "a\nb", "a\0b", "\r\n", "x\r\nx-injected: 1", "end\n"]) {
    assert.throws(
      () => requestHead("GET", "/", "h", { "x-amz-meta-a": value }),
      TypeError,
      JSON.stringify(value),
    );
  }
});

Deno.test("the server receives exactly requestHead's bytes; a path-less URL asks for /", async () => {
  await withServer(answering(() => OK()), async (server, client) => {
    const host = `127.0.0.1:${server.port}`;
    const headers = {
      host,
      "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
      "x-amz-date": "20240101T000000Z",
      authorization: "AWS4-HMAC-SHA256 Signature=ab",
    };
    const response = await request(client, `${server.url}/bucket/key%2Fx?list-type=2&prefix=a`, {
      headers,
    });
    assert.equal(await textOf(response), "ok");
    await (await request(client, server.url, { method: "HEAD" })).body?.cancel();
    assert.equal(server.conns.length, 1);
    assert.deepEqual(server.conns[0]!.heads, [
      "GET /bucket/key%2Fx?list-type=2&prefix=a HTTP/1.1\r\n" +
      `host: ${host}\r\n` +
      "x-amz-content-sha256: UNSIGNED-PAYLOAD\r\n" +
      "x-amz-date: 20240101T000000Z\r\n" +
      "authorization: AWS4-HMAC-SHA256 Signature=ab\r\n" +
      "\r\n",
      `HEAD / HTTP/1.1\r\nhost: ${host}\r\n\r\n`,
    ]);
    assert.equal(
      latin1(requestHead("GET", "/bucket/key%2Fx?list-type=2&prefix=a", host, headers)),
      server.conns[0]!.heads[0],
    );
  });
});

Deno.test("a header value that would split the head rejects with TypeError before connecting", async () => {
  await withServer(answering(() => OK()), async (server, client) => {
    await assert.rejects(
      request(client, `${server.url}/b/k`, { headers: { "x-amz-meta-a": "1\r\nx-b: 2" } }),
      TypeError,
    );
    assert.equal(server.conns.length, 0);
    await assert.rejects(request(client, "ftp://127.0.0.1/b/k"), failsWith(/scheme/, TypeError));
  });
});

// ---------------------------------------------------------------------------------------------
// 2. parseHead.
// ---------------------------------------------------------------------------------------------

Deno.test("parseHead() reads the status, lower-cases names, trims values, keeps duplicates", () => {
  const head = parseHead(
    "HTTP/1.1 206 Partial Content\r\n" +
      "Content-Type:  text/plain \r\n" +
      "X-Amz-Meta-A:\tone\r\n" +
      "x-amz-meta-a: two\r\n" +
      "Content-Length: 10\r\n" +
      'ETag: "abc"\r\n' +
      "Content-Range: bytes 0-9/100\r\n" +
      "Empty:",
    "GET",
  );
  assert.deepEqual(head, {
    status: 206,
    statusText: "Partial Content",
    headers: [
      ["content-type", "text/plain"],
      ["x-amz-meta-a", "one"],
      ["x-amz-meta-a", "two"],
      ["content-length", "10"],
      ["etag", '"abc"'],
      ["content-range", "bytes 0-9/100"],
      ["empty", ""],
    ],
    contentLength: 10,
    chunked: false,
    keepAlive: true,
    reuseMs: 4_000,
  });
  const bare = parseHead("HTTP/1.0 404", "GET");
  assert.equal(bare.status, 404);
  assert.equal(bare.statusText, "");
  assert.deepEqual(bare.headers, []);
  assert.equal(bare.contentLength, -1);
  assert.equal(
    parseHead("HTTP/1.1 500 Internal  Server Error", "GET").statusText,
    "Internal  Server Error",
  );
});

Deno.test("parseHead() refuses a bad status line, obs-fold and lines without a name", () => {
  for (
    const text of [
      "",
      "HTTP/2 200 OK",
      "HTTP/1.1 20 OK",
      "HTTP/1.1 2000 OK",
      "HTTP/1.1  200 OK",
      "http/1.1 200 OK",
      "ICY 200 OK",
      " HTTP/1.1 200 OK",
      "HTTP/1.1 200 OK\r\nx-a: one\r\n two", // obs-fold
      "HTTP/1.1 200 OK\r\nx-a: one\r\n\ttwo", // obs-fold with a tab
      "HTTP/1.1 200 OK\r\n x-a: one",
      "HTTP/1.1 200 OK\r\nno colon here",
      "HTTP/1.1 200 OK\r\n: no name",
      "HTTP/1.1 200 OK\r\n", // an empty line inside the head
    ]
  ) {
    assert.throws(() => parseHead(text, "GET"), TypeError, JSON.stringify(text));
  }
});

Deno.test("parseHead() Content-Length: equal duplicates pass, conflicting or non-numeric ones throw", () => {
  const twice = parseHead("HTTP/1.1 200 OK\r\ncontent-length: 5\r\nContent-Length:  5 ", "GET");
  assert.equal(twice.contentLength, 5);
  assert.equal(parseHead("HTTP/1.1 200 OK\r\ncontent-length: 0", "GET").contentLength, 0);
  assert.equal(
    parseHead(`HTTP/1.1 200 OK\r\ncontent-length: ${Number.MAX_SAFE_INTEGER}`, "GET").contentLength,
    Number.MAX_SAFE_INTEGER,
  );
  for (
    const value of [
      "abc",
      "-1",
      "+5",
      "1.5",
      "1e3",
      "0x10",
      "",
      "5, 5",
      "5 5",
      "99999999999999999999",
    ]
  ) {
    assert.throws(
      () => parseHead(`HTTP/1.1 200 OK\r\ncontent-length: ${value}`, "GET"),
      TypeError,
      JSON.stringify(value),
    );
  }
  assert.throws(
    () => parseHead("HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6", "GET"),
    TypeError,
  );
});

Deno.test("parseHead() framing: chunked, Connection and Keep-Alive act and are dropped", () => {
  const chunked = parseHead(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\ncontent-length: 10\r\nx-a: 1",
    "GET",
  );
  assert.equal(chunked.chunked, true);
  assert.equal(chunked.contentLength, -1, "chunked wins over Content-Length");
  assert.equal(chunked.keepAlive, true);
  // The decoded body reaches the client: a Content-Length beside chunked would be wrong for it.
  assert.deepEqual(chunked.headers.map(([name]) => name), ["x-a"]);
  // Nothing but chunked is asked for or decoded: another transfer coding is refused.
  for (const value of ["gzip, chunked", "chunked, gzip", "gzip"]) {
    assert.throws(
      () => parseHead(`HTTP/1.1 200 OK\r\ntransfer-encoding: ${value}`, "GET"),
      TypeError,
      value,
    );
  }
  // HTTP/1.0 closes after the answer unless it asks to keep the connection.
  assert.equal(parseHead("HTTP/1.0 200 OK\r\ncontent-length: 1", "GET").keepAlive, false);
  assert.equal(
    parseHead("HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 1", "GET").keepAlive,
    true,
  );
  // A HEAD answer describes a GET's body but has none.
  const head = parseHead("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked", "HEAD");
  assert.equal(head.chunked, false);
  assert.equal(parseHead("HTTP/1.1 200 OK\r\ncontent-length: 123", "HEAD").contentLength, 123);

  for (const value of ["close", "Close", "keep-alive, close", "close, upgrade", " CLOSE "]) {
    const parsed = parseHead(`HTTP/1.1 200 OK\r\nconnection: ${value}\r\nx-a: 1`, "GET");
    assert.equal(parsed.keepAlive, false, value);
    assert.deepEqual(parsed.headers, [["x-a", "1"]]);
  }
  for (const value of ["keep-alive", "closed", "upgrade"]) {
    const parsed = parseHead(`HTTP/1.1 200 OK\r\nconnection: ${value}`, "GET");
    assert.equal(parsed.keepAlive, true, value);
    assert.deepEqual(parsed.headers, []);
  }

  const reuse = (value: string) =>
    parseHead(`HTTP/1.1 200 OK\r\nkeep-alive: ${value}`, "GET").reuseMs;
  assert.equal(reuse("timeout=5"), 4_000);
  assert.equal(reuse("timeout=5, max=100"), 4_000);
  assert.equal(reuse("Timeout=3"), 2_000);
  assert.equal(reuse("timeout=60"), 4_000, "never longer than the default");
  assert.equal(reuse("max=100"), 4_000);
  assert.ok(reuse("timeout=1") <= 0, "a one-second server timeout means no reuse");
  assert.deepEqual(parseHead("HTTP/1.1 200 OK\r\nkeep-alive: timeout=5", "GET").headers, []);
});

const FRAMING_HEADERS = new Set([
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
]);
const tokenChars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const headerName = fc
  .string({ unit: fc.constantFrom(...tokenChars), minLength: 1, maxLength: 20 })
  .filter((name) => !FRAMING_HEADERS.has(name.toLowerCase()));
const ows = fc.string({ unit: fc.constantFrom(" ", "\t"), maxLength: 3 });
/** A header value as S3 (or a compatible server) may send it: visible chars and spaces inside. */
function headerValue(chars: string[]): fc.Arbitrary<string> {
  return fc
    .string({ unit: fc.constantFrom(...chars, " ", "\t"), maxLength: 40 })
    .map((value) => value.replace(/^[ \t]+/, "").replace(/[ \t]+$/, ""));
}
const visibleAscii = Array.from(
  { length: 0x7e - 0x21 + 1 },
  (_, i) => String.fromCharCode(0x21 + i),
);
const obsText = Array.from({ length: 0x80 }, (_, i) => String.fromCharCode(0x80 + i));

Deno.test("property: a head built from token names and visible-ASCII values parses back to the same pairs", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(headerName, headerValue(visibleAscii), ows, ows), { maxLength: 12 }),
      fc.integer({ min: 100, max: 999 }),
      (fields, status) => {
        const text = `HTTP/1.1 ${status} Reason` +
          fields.map(([name, value, before, after]) => `\r\n${name}:${before}${value}${after}`)
            .join("");
        const head = parseHead(text, "GET");
        assert.equal(head.status, status);
        assert.deepEqual(head.headers, fields.map(([name, value]) => [name.toLowerCase(), value]));
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("property: header values keep bytes 0x80-0xFF (obs-text) at either end, as fetch does", () => {
  // "voilà" in UTF-8 ends with the byte 0xA0, which String.prototype.trim() counts as whitespace.
  const utf8 = latin1(new TextEncoder().encode("attachment; filename=voilà"));
  assert.deepEqual(parseHead(`HTTP/1.1 200 OK\r\ncontent-disposition: ${utf8} `, "GET").headers, [
    ["content-disposition", utf8],
  ]);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(headerName, headerValue([...visibleAscii, ...obsText]), ows, ows), {
        maxLength: 8,
      }),
      (fields) => {
        const text = "HTTP/1.1 200 OK" +
          fields.map(([name, value, before, after]) => `\r\n${name}:${before}${value}${after}`)
            .join("");
        assert.deepEqual(
          parseHead(text, "GET").headers,
          fields.map(([name, value]) => [name.toLowerCase(), value]),
        );
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("property: parseHead() on any string returns a sane head or throws TypeError", () => {
  const fragment = fc.constantFrom(
    "HTTP/1.1 ",
    "HTTP/1.0 ",
    "200",
    "1",
    " OK",
    "\r\n",
    "\r",
    "\n",
    ":",
    " ",
    "\t",
    "content-length",
    "transfer-encoding",
    "chunked",
    "connection",
    "close",
    "keep-alive",
    "timeout=",
    "9",
    "-",
    ",",
    "\0",
    "\u00a0",
    "\u2028",
    "\ud800",
    "é",
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ unit: "binary" }),
        fc.array(fragment, { maxLength: 30 }).map((parts) => parts.join("")),
        fc.array(fragment, { maxLength: 30 }).map((parts) =>
          "HTTP/1.1 200 OK\r\n" + parts.join("")
        ),
      ),
      fc.constantFrom("GET", "HEAD"),
      (text, method) => {
        let head: ReturnType<typeof parseHead>;
        try {
          head = parseHead(text, method);
        } catch (error) {
          assert.ok(error instanceof TypeError, `threw ${String(error)}`);
          return;
        }
        assert.ok(head.status >= 100 && head.status <= 999);
        assert.ok(head.contentLength === -1 || Number.isSafeInteger(head.contentLength));
        assert.ok(head.contentLength >= -1);
        assert.ok(!(head.chunked && head.contentLength !== -1));
        for (const [name] of head.headers) {
          assert.equal(name, name.toLowerCase());
          assert.ok(!["transfer-encoding", "connection", "keep-alive"].includes(name), name);
        }
      },
    ),
    { numRuns: 3_000 },
  );
});

// ---------------------------------------------------------------------------------------------
// 3. Small bodies: read whole.
// ---------------------------------------------------------------------------------------------

Deno.test("a small body is read whole before the Response: buffered, exact, onSmallBody called once", async () => {
  const body = pattern(5_000, 3);
  const smallBody = deferred();
  await withServer(async (conn) => {
    await conn.readHead();
    await conn.write(
      "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: 5000\r\n\r\n",
      body.subarray(0, 100),
    );
    // The rest only once the client has said it reads the body whole.
    await settle(smallBody.promise, 2_000, "onSmallBody");
    await conn.writeApart([body.subarray(100, 2_000), body.subarray(2_000)]);
    await conn.readHead();
  }, async (server, client) => {
    let calls = 0;
    const response = await request(client, `${server.url}/b/k`, {
      onSmallBody: () => {
        calls++;
        smallBody.resolve();
      },
    });
    assert.equal(calls, 1);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/octet-stream");
    assert.equal(response.headers.get("content-length"), "5000");
    assert.deepEqual(bufferedBody(response), body);
    assert.deepEqual(await bodyOf(response), body);
  });
});

Deno.test("bodies up to BUFFERED_BODY_MAX_BYTES are buffered, one byte more is streamed; empty is buffered", async () => {
  const sizes = [BUFFERED_BODY_MAX_BYTES, BUFFERED_BODY_MAX_BYTES + 1, 0, 1];
  await withServer(
    answering((_, n) => {
      const body = pattern(sizes[n]!, n);
      return [`HTTP/1.1 404 Not Found\r\ncontent-length: ${body.byteLength}\r\n\r\n`, body];
    }),
    async (server, client) => {
      for (const [n, size] of sizes.entries()) {
        let calls = 0;
        const response = await request(client, `${server.url}/b/${n}`, {
          onSmallBody: () => calls++,
        });
        assert.equal(response.status, 404);
        assert.equal(response.statusText, "Not Found");
        const expected = pattern(size, n);
        if (size === 0 || size <= BUFFERED_BODY_MAX_BYTES) {
          assert.deepEqual(bufferedBody(response), expected, `size ${size}`);
          assert.equal(calls, size === 0 ? 0 : 1, `size ${size}`);
        } else {
          assert.equal(bufferedBody(response), undefined, `size ${size}`);
          assert.equal(calls, 0);
        }
        assert.deepEqual(await bodyOf(response), expected);
      }
      assert.equal(server.conns.length, 1, "every exchange reused the connection");
      assert.equal(server.conns[0]!.heads.length, sizes.length);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// 4-5. Keep-alive pooling and stale connections.
// ---------------------------------------------------------------------------------------------

Deno.test("keep-alive: sequential requests share one TCP connection", async () => {
  await withServer(answering((_, n) => OK(`answer ${n}`)), async (server, client) => {
    for (let n = 0; n < 3; n++) {
      assert.equal(await textOf(await request(client, `${server.url}/b/${n}`)), `answer ${n}`);
    }
    assert.equal(server.conns.length, 1);
    assert.deepEqual(server.conns[0]!.heads.map((head) => head.split(" ")[1]), [
      "/b/0",
      "/b/1",
      "/b/2",
    ]);
  });
});

Deno.test("connection: close (or a Keep-Alive timeout of 1 s) makes the next request open a new connection", async () => {
  for (
    const extra of [
      "connection: close\r\n",
      "Connection: keep-alive, Close\r\n",
      "keep-alive: timeout=1\r\n",
    ]
  ) {
    // The server keeps its side open: only the client may close it.
    await withServer(answering(() => OK("x", extra)), async (server, client) => {
      assert.equal(await textOf(await request(client, `${server.url}/1`)), "x");
      assert.equal(await textOf(await request(client, `${server.url}/2`)), "x");
      assert.equal(server.conns.length, 2, extra);
      await settle(server.conns[0]!.eof.promise, 1_000, "client closing the first connection");
      assert.equal(server.conns[0]!.heads.length, 1);
      assert.equal(server.conns[1]!.heads.length, 1);
    });
  }
});

Deno.test("keep-alive: timeout=5 still reuses; concurrent requests get their own connections, then share", async () => {
  const release = deferred();
  let waiting = 0;
  const twoWaiting = deferred();
  await withServer(async (conn) => {
    for (let n = 0;; n++) {
      const head = await conn.readHead();
      if (head === null) return;
      if (head.startsWith("GET /slow")) {
        if (++waiting === 2) twoWaiting.resolve();
        await release.promise;
      }
      await conn.write(OK(head.split(" ")[1]!, "keep-alive: timeout=5, max=100\r\n"));
    }
  }, async (server, client) => {
    const a = request(client, `${server.url}/slow/a`);
    const b = request(client, `${server.url}/slow/b`);
    await settle(twoWaiting.promise, 1_000, "both requests reaching the server");
    release.resolve();
    assert.equal(await textOf(await a), "/slow/a");
    assert.equal(await textOf(await b), "/slow/b");
    assert.equal(server.conns.length, 2);
    for (let n = 0; n < 4; n++) {
      assert.equal(await textOf(await request(client, `${server.url}/${n}`)), `/${n}`);
    }
    assert.equal(server.conns.length, 2, "the pooled connections served the rest");
  });
});

Deno.test("a pooled connection the server has closed is replaced transparently", async () => {
  const firstClosed = deferred();
  await withServer(async (conn, index) => {
    if (index === 0) {
      await conn.readHead();
      await conn.write(OK("first")); // no Connection: close
      conn.close();
      firstClosed.resolve();
      return;
    }
    await answering(() => OK("second"))(conn, index);
  }, async (server, client) => {
    assert.equal(await textOf(await request(client, `${server.url}/1`)), "first");
    await settle(firstClosed.promise);
    await tick(5); // let the FIN reach the client
    assert.equal(await textOf(await request(client, `${server.url}/2`)), "second");
    assert.equal(server.conns.length, 2);
    assert.equal(server.conns[1]!.heads.length, 1);
  });
});

Deno.test("a pooled connection closed just as the next request arrives is retried on a new one", async () => {
  await withServer(async (conn, index) => {
    if (index === 0) {
      await conn.readHead();
      await conn.write(OK("first"));
      await conn.readHead(); // the second request arrives, and the server closes without a word
      return;
    }
    await answering(() => OK("second"))(conn, index);
  }, async (server, client) => {
    assert.equal(await textOf(await request(client, `${server.url}/1`)), "first");
    assert.equal(await textOf(await request(client, `${server.url}/2`)), "second");
    assert.equal(server.conns.length, 2);
    assert.equal(server.conns[0]!.heads.length, 2);
  });
});

Deno.test("no retry: a new connection closed without an answer, or a pooled one closed mid-head, rejects", async () => {
  await withServer(async (conn) => {
    await conn.readHead();
  }, async (server, client) => {
    await assert.rejects(
      request(client, `${server.url}/b/k`),
      failsWith(/closed the connection without answering/),
    );
    assert.equal(server.conns.length, 1);
  });
  await withServer(async (conn) => {
    await conn.readHead();
    await conn.write(OK("first"));
    await conn.readHead();
    await conn.write("HTTP/1.1 200 OK\r\ncontent-le");
  }, async (server, client) => {
    assert.equal(await textOf(await request(client, `${server.url}/1`)), "first");
    await assert.rejects(
      request(client, `${server.url}/2`),
      failsWith(/in the middle of the response head/),
    );
    assert.equal(server.conns.length, 1, "bytes of an answer arrived: not safe to resend");
  });
});

Deno.test("bytes past the end of a response mean the connection is not reused", async () => {
  await withServer(answering(() => OK("ok") + "HTTP/1.1 200 OK\r\n"), async (server, client) => {
    assert.equal(await textOf(await request(client, `${server.url}/1`)), "ok");
    assert.equal(await textOf(await request(client, `${server.url}/2`)), "ok");
    assert.equal(server.conns.length, 2);
  });
});

// ---------------------------------------------------------------------------------------------
// 6. Medium bodies: streamed.
// ---------------------------------------------------------------------------------------------

Deno.test("a medium body is streamed as it arrives, exact, and the connection is reused after", async () => {
  const body = pattern(200 * 1024, 7);
  const responded = deferred();
  await withServer(async (conn) => {
    await conn.readHead();
    await conn.write(
      `HTTP/1.1 200 OK\r\ncontent-length: ${body.byteLength}\r\n\r\n`,
      body.subarray(0, 1_000),
    );
    await settle(responded.promise, 2_000, "the Response before the body's end");
    await conn.writeApart([
      body.subarray(1_000, 50_000),
      body.subarray(50_000, 120_000),
      body.subarray(120_000, 120_001),
      body.subarray(120_001),
    ], 5);
    await answering(() => OK("next"))(conn, 0);
  }, async (server, client) => {
    let calls = 0;
    const response = await request(client, `${server.url}/big`, { onSmallBody: () => calls++ });
    responded.resolve();
    assert.equal(bufferedBody(response), undefined);
    assert.equal(calls, 0);
    assert.equal(response.headers.get("content-length"), String(body.byteLength));
    assert.deepEqual(await bodyOf(response), body);
    assert.equal(await textOf(await request(client, `${server.url}/next`)), "next");
    assert.equal(server.conns.length, 1);
  });
});

Deno.test("a streamed body cancelled half way closes its connection; the next request opens another", async () => {
  const body = pattern(100_000);
  await withServer(async (conn, index) => {
    await conn.readHead();
    if (index === 0) {
      await conn.write(
        `HTTP/1.1 200 OK\r\ncontent-length: ${body.byteLength}\r\n\r\n`,
        body.subarray(0, 10),
      );
      await conn.readHead();
      return;
    }
    await conn.write(OK("fresh"));
    await conn.readHead();
  }, async (server, client) => {
    const response = await request(client, `${server.url}/big`);
    const reader = response.body!.getReader();
    assert.deepEqual((await settle(reader.read())).value, body.subarray(0, 10));
    await reader.cancel();
    await settle(server.conns[0]!.eof.promise, 1_000, "the cancelled connection closing");
    assert.equal(await textOf(await request(client, `${server.url}/2`)), "fresh");
    assert.equal(server.conns.length, 2);
  });
});

// ---------------------------------------------------------------------------------------------
// 7. Chunked bodies.
// ---------------------------------------------------------------------------------------------

Deno.test("a chunked body with extensions and trailers, cut at awkward places, decodes exactly", async () => {
  const chunks = [bytesOf("hello"), pattern(70_000, 1), bytesOf(" world"), pattern(1, 9)];
  const wire = concat(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\ncontent-type: text/plain\r\n\r\n",
    chunkedBody(
      chunks,
      (i) => [";name=value", ';a=1;b="x;y"', " ; odd", ""][i]!,
      "x-checksum: abc\r\nx-other: 1\r\n",
    ),
  );
  const text = latin1(wire);
  const at = (needle: string, offset: number) => {
    const index = text.indexOf(needle);
    assert.notEqual(index, -1, needle);
    return index + offset;
  };
  const cuts = [
    at("5;name", 1), // in the middle of a size line
    at("hello\r\n", 6), // between the CR and the LF after a chunk
    at("11170;", 2), // inside the hex size of the long chunk
    at(";a=1", 0),
    at(" world", 6), // after a chunk's data, before its CRLF
    at("0\r\nx-checksum", 1), // between the last chunk's size and its CRLF
    at("x-checksum", 5), // inside the trailer
    text.length - 1, // between the final CR and LF
  ];
  await withServer(
    answering((_, n) => n === 0 ? splitAt(wire, cuts) : OK("after")),
    async (server, client) => {
      const response = await request(client, `${server.url}/chunked`);
      assert.equal(bufferedBody(response), undefined);
      assert.equal(response.headers.get("transfer-encoding"), null);
      assert.equal(response.headers.get("content-type"), "text/plain");
      assert.equal(response.headers.get("x-checksum"), null, "trailers are dropped");
      assert.deepEqual(await bodyOf(response), concat(...chunks));
      assert.equal(await textOf(await request(client, `${server.url}/after`)), "after");
      assert.equal(server.conns.length, 1);
    },
  );
});

Deno.test("a chunked body written one byte at a time decodes exactly", async () => {
  const chunks = [bytesOf("ab"), bytesOf("c"), bytesOf("0123456789abcdefg")];
  const wire = concat(
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
    chunkedBody(chunks, () => ";e", "t: 1\r\n"),
  );
  const bytes = Array.from(wire, (byte) => Uint8Array.of(byte));
  await withServer(async (conn) => {
    await conn.readHead();
    for (const byte of bytes) {
      await conn.write(byte);
      await tick(0);
    }
    await answering(() => OK("after"))(conn, 0);
  }, async (server, client) => {
    assert.equal(await textOf(await request(client, `${server.url}/1`)), "abc0123456789abcdefg");
    assert.equal(await textOf(await request(client, `${server.url}/2`)), "after");
    assert.equal(server.conns.length, 1);
  });
});

Deno.test("property: any chunking, cut anywhere, decodes to the same bytes and leaves the connection reusable", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 70_000 })), {
        maxLength: 4,
      }),
      fc.array(fc.nat(), { maxLength: 5 }),
      fc.boolean(),
      async (sizes, cuts, extensions) => {
        const chunks = sizes.map((size, i) => pattern(size, i));
        const wire = concat(
          "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
          chunkedBody(
            chunks,
            extensions ? (i) => `;i=${i}` : undefined,
            extensions ? "t: x\r\n" : "",
          ),
        );
        const pieces = splitAt(wire, cuts.map((cut) => cut % wire.byteLength));
        await withServer(
          answering((_, n) => n === 0 ? pieces : OK("after")),
          async (server, client) => {
            const response = await request(client, `${server.url}/c`);
            assert.deepEqual(await bodyOf(response), concat(...chunks));
            assert.equal(await textOf(await request(client, `${server.url}/after`)), "after");
            assert.equal(server.conns.length, 1);
          },
        );
      },
    ),
    { numRuns: 25 },
  );
});

Deno.test("a malformed chunked body errors the body stream and closes the connection", async () => {
  const cases: [string, RegExp][] = [
    ["zz\r\nhello\r\n0\r\n\r\n", /invalid chunk size/],
    ["-5\r\nhello\r\n0\r\n\r\n", /invalid chunk size/],
    ["\r\n", /invalid chunk size/],
    ["3\r\nabcd\r\n0\r\n\r\n", /longer than its declared size/],
  ];
  for (const [body, message] of cases) {
    await withServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", body);
      await conn.readHead();
    }, async (server, client) => {
      const response = await request(client, `${server.url}/c`);
      await assert.rejects(settle(response.arrayBuffer()), failsWith(message, TypeError));
      await settle(server.conns[0]!.eof.promise, 1_000, "the client closing");
    });
  }
  // The server closing in the middle of a chunked body.
  await withServer(async (conn) => {
    await conn.readHead();
    await conn.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", "10\r\nabc");
  }, async (server, client) => {
    const response = await request(client, `${server.url}/c`);
    await assert.rejects(settle(response.arrayBuffer()), failsWith(/middle of a chunked body/));
  });
});

// ---------------------------------------------------------------------------------------------
// 8. Bodies read until the server closes.
// ---------------------------------------------------------------------------------------------

Deno.test("a body without Content-Length or chunked is read to EOF and its connection is not reused", async () => {
  const body = pattern(100_000, 5);
  await withServer(async (conn, index) => {
    await conn.readHead();
    if (index === 0) {
      await conn.write("HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\r\n");
      await conn.writeApart([
        body.subarray(0, 10),
        body.subarray(10, 70_000),
        body.subarray(70_000),
      ]);
      // Half-close: the body ends here, but a (wrongly) reused connection would still deliver the
      // next request, which this server would record before closing.
      await conn.conn.closeWrite();
      await conn.readHead();
      return;
    }
    await conn.write(OK("second"));
    await conn.readHead();
  }, async (server, client) => {
    const response = await request(client, `${server.url}/1`);
    assert.equal(bufferedBody(response), undefined);
    assert.deepEqual(await bodyOf(response), body);
    assert.equal(await textOf(await request(client, `${server.url}/2`)), "second");
    assert.equal(server.conns.length, 2);
    assert.equal(server.conns[0]!.heads.length, 1, "the connection that ended the body was reused");
  });
});

// ---------------------------------------------------------------------------------------------
// 9. Truncated bodies and heads.
// ---------------------------------------------------------------------------------------------

Deno.test("a small body cut short rejects the fetch, saying how many of how many bytes arrived", async () => {
  await withServer(async (conn) => {
    await conn.readHead();
    await conn.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n", pattern(30));
    await tick(2);
    await conn.write(pattern(10));
  }, async (server, client) => {
    await assert.rejects(
      request(client, `${server.url}/b/k`),
      failsWith(/after 40 of 100 body bytes/),
    );
  });
});

Deno.test("a medium body cut short errors the body stream, saying how many of how many bytes arrived", async () => {
  await withServer(async (conn) => {
    await conn.readHead();
    await conn.write("HTTP/1.1 200 OK\r\ncontent-length: 204800\r\n\r\n", pattern(50_000));
    await tick(2);
    await conn.write(pattern(52_400));
  }, async (server, client) => {
    const response = await request(client, `${server.url}/b/k`);
    await assert.rejects(
      settle(response.arrayBuffer()),
      failsWith(/after 102400 of 204800 body bytes/),
    );
  });
});

Deno.test("a head cut short, an invalid status line, or a head over 64 KiB rejects with the origin named", async () => {
  await withServer(async (conn) => {
    await conn.readHead();
    await conn.write("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n");
  }, async (server, client) => {
    await assert.rejects(
      request(client, `${server.url}/`),
      failsWith(/in the middle of the response head/),
    );
  });
  await withServer(async (conn) => {
    await conn.readHead();
    await conn.write("HTTP/1.1 OK\r\n\r\n");
    await conn.readHead();
  }, async (server, client) => {
    await assert.rejects(
      request(client, `${server.url}/`),
      failsWith(new RegExp(`invalid status line.*127\\.0\\.0\\.1:${server.port}`), TypeError),
    );
    await settle(server.conns[0]!.eof.promise, 1_000, "the client closing");
  });
  await withServer(async (conn) => {
    await conn.readHead();
    try {
      await conn.write(`HTTP/1.1 200 OK\r\nx-big: ${"a".repeat(70_000)}\r\n\r\n`);
    } catch {
      // the client may reset the connection before reading all of it
    }
    await conn.readHead();
  }, async (server, client) => {
    await assert.rejects(
      request(client, `${server.url}/`),
      failsWith(/larger than 65536 bytes/, TypeError),
    );
  });
  await withServer(
    answering(() => "HTTP/1.1 200 OK\r\nbad name: 1\r\ncontent-length: 0\r\n\r\n"),
    async (server, client) => {
      await assert.rejects(
        request(client, `${server.url}/`),
        failsWith(/cannot represent/, TypeError),
      );
    },
  );
});

// ---------------------------------------------------------------------------------------------
// 10. Aborts.
// ---------------------------------------------------------------------------------------------

Deno.test("abort before the head rejects promptly with the signal's reason and closes the connection", async () => {
  const received = deferred();
  await withServer(async (conn) => {
    await conn.readHead();
    received.resolve();
    await conn.readHead(); // never answers
  }, async (server, client) => {
    const controller = new AbortController();
    const pending = request(client, `${server.url}/b/k`, { signal: controller.signal });
    await settle(received.promise, 1_000, "the request reaching the server");
    const reason = new Error("deadline");
    const start = performance.now();
    controller.abort(reason);
    await assert.rejects(pending, (error) => error === reason);
    assert.ok(performance.now() - start < 200, "rejected promptly");
    await settle(server.conns[0]!.eof.promise, 1_000, "the client closing");
  });
});

Deno.test("an already-aborted signal rejects at once with its reason, without connecting", async () => {
  await withServer(answering(() => OK()), async (server, client) => {
    const reason = new DOMException("gone", "AbortError");
    await assert.rejects(
      request(client, `${server.url}/b/k`, { signal: AbortSignal.abort(reason) }),
      (error) => error === reason,
    );
    assert.equal(server.conns.length, 0);
  });
});

Deno.test("abort while a small body is read rejects with the signal's reason", async () => {
  const smallBody = deferred();
  await withServer(async (conn) => {
    await conn.readHead();
    await conn.write("HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n", pattern(10));
    await conn.readHead();
  }, async (server, client) => {
    const controller = new AbortController();
    const pending = request(client, `${server.url}/b/k`, {
      signal: controller.signal,
      onSmallBody: () => smallBody.resolve(),
    });
    await settle(smallBody.promise);
    await tick(5);
    const reason = new Error("idle");
    controller.abort(reason);
    await assert.rejects(pending, (error) => error === reason);
    await settle(server.conns[0]!.eof.promise, 1_000, "the client closing");
  });
});

Deno.test("abort while a medium body streams errors the body with the signal's reason", async () => {
  // A read pending on the socket when the signal aborts, and a read after it.
  for (const pendingRead of [true, false]) {
    await withServer(async (conn) => {
      await conn.readHead();
      await conn.write("HTTP/1.1 200 OK\r\ncontent-length: 204800\r\n\r\n");
      if (!pendingRead) await conn.write(pattern(30_000));
      await conn.readHead();
    }, async (server, client) => {
      const controller = new AbortController();
      const response = await request(client, `${server.url}/big`, { signal: controller.signal });
      const reader = response.body!.getReader();
      const reason = new Error(`stop ${pendingRead}`);
      if (pendingRead) {
        const read = reader.read();
        await tick(5);
        controller.abort(reason);
        await assert.rejects(settle(read), (error) => error === reason);
      } else {
        assert.ok(((await settle(reader.read())).value?.byteLength ?? 0) > 0);
        controller.abort(reason);
        await assert.rejects(
          settle((async () => {
            for (;;) if ((await reader.read()).done) throw new Error("the body ended normally");
          })()),
          (error) => error === reason,
        );
      }
      await settle(server.conns[0]!.eof.promise, 1_000, "the client closing");
    });
  }
});

Deno.test("aborting a signal after its exchange completed leaves the pooled connection alone", async () => {
  const medium = pattern(100_000);
  await withServer(
    answering((_, n) =>
      n === 1
        ? [`HTTP/1.1 200 OK\r\ncontent-length: ${medium.byteLength}\r\n\r\n`, medium]
        : OK(`n${n}`)
    ),
    async (server, client) => {
      const first = new AbortController();
      assert.equal(
        await textOf(await request(client, `${server.url}/0`, { signal: first.signal })),
        "n0",
      );
      first.abort();
      const second = new AbortController();
      const response = await request(client, `${server.url}/1`, { signal: second.signal });
      assert.deepEqual(await bodyOf(response), medium);
      second.abort();
      assert.equal(await textOf(await request(client, `${server.url}/2`)), "n2");
      assert.equal(server.conns.length, 1);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// 11. Bodiless answers.
// ---------------------------------------------------------------------------------------------

Deno.test("HEAD, 204 and 304 answers have no body whatever their Content-Length; the connection is reused", async () => {
  const answers = [
    'HTTP/1.1 200 OK\r\ncontent-length: 1000\r\netag: "e"\r\n\r\n',
    'HTTP/1.1 304 Not Modified\r\ncontent-length: 1000\r\netag: "e"\r\n\r\n',
    "HTTP/1.1 204 No Content\r\ncontent-length: 7\r\n\r\n",
    `HTTP/1.1 200 OK\r\ncontent-length: ${2 ** 30}\r\n\r\n`, // a HEAD of 1 GiB: not fetch's
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
    OK("done"),
  ];
  const methods = ["HEAD", "GET", "GET", "HEAD", "HEAD", "GET"];
  const nativeFetch: typeof fetch = () => Promise.reject(new Error("fetch must not be called"));
  await withServer(answering((_, n) => answers[n]!), async (server, client) => {
    for (let n = 0; n < 5; n++) {
      const response = await request(client, `${server.url}/${n}`, { method: methods[n]! });
      assert.equal(response.body, null, `answer ${n}`);
      assert.equal(bufferedBody(response), undefined);
    }
    const head = await request(client, `${server.url}/6`, { method: "GET" });
    assert.equal(await textOf(head), "done");
    assert.equal(server.conns.length, 1);
    assert.deepEqual(server.conns[0]!.heads.map((h) => h.split(" ")[0]), methods);
  }, nativeFetch);
  // And the headers survive.
  await withServer(answering(() => answers[1]!), async (server, client) => {
    const response = await request(client, `${server.url}/`);
    assert.equal(response.status, 304);
    assert.equal(response.headers.get("content-length"), "1000");
    assert.equal(response.headers.get("etag"), '"e"');
  });
});

// ---------------------------------------------------------------------------------------------
// 12. The native fetch handoff.
// ---------------------------------------------------------------------------------------------

Deno.test("a body over NATIVE_PIPE_MIN_BYTES closes the connection and is fetched natively", async () => {
  const calls: { url: string; init: RequestInit & Partial<Http1RequestInit> }[] = [];
  const nativeFetch: typeof fetch = (input, init) => {
    calls.push({ url: String(input), init: init as RequestInit & Partial<Http1RequestInit> });
    return Promise.resolve(new Response("native"));
  };
  await withServer(async (conn) => {
    await conn.readHead();
    await conn.write(
      `HTTP/1.1 200 OK\r\ncontent-length: ${NATIVE_PIPE_MIN_BYTES + 1}\r\n\r\n`,
      pattern(1_000),
    );
    await conn.readHead();
  }, async (server, client) => {
    const headers = {
      "x-amz-date": "20240101T000000Z",
      authorization: "AWS4 x",
      range: "bytes=0-",
    };
    const signal = new AbortController().signal;
    const url = `${server.url}/bucket/huge?versionId=1`;
    const response = await request(client, url, { method: "GET", headers, signal });
    assert.equal(await textOf(response), "native");
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.url, url);
    assert.equal(calls[0]!.init.method, "GET");
    assert.deepEqual(calls[0]!.init.headers, headers);
    assert.equal(calls[0]!.init.redirect, "manual");
    assert.equal(calls[0]!.init.signal, signal);
    await settle(server.conns[0]!.eof.promise, 1_000, "the client closing its connection");
  }, nativeFetch);
});

Deno.test("a body of exactly NATIVE_PIPE_MIN_BYTES is still streamed by the client", async () => {
  const nativeFetch: typeof fetch = () => Promise.reject(new Error("fetch must not be called"));
  await withServer(async (conn) => {
    await conn.readHead();
    await conn.write(`HTTP/1.1 200 OK\r\ncontent-length: ${NATIVE_PIPE_MIN_BYTES}\r\n\r\n`, "abc");
    await conn.readHead();
  }, async (server, client) => {
    const response = await request(client, `${server.url}/big`);
    assert.equal(bufferedBody(response), undefined);
    const reader = response.body!.getReader();
    assert.equal(latin1((await settle(reader.read())).value!), "abc");
    await reader.cancel();
    await settle(server.conns[0]!.eof.promise, 1_000, "the client closing");
  }, nativeFetch);
});

Deno.test("a URL that answered a GET with a large body goes to fetch at once while fetch says large", async () => {
  const large = String(NATIVE_PIPE_MIN_BYTES + 1);
  // What fetch answers, call by call: large twice, then the object was replaced by a small one.
  const lengths = [large, large, "5"];
  const calls: string[] = [];
  const nativeFetch: typeof fetch = (input) => {
    calls.push(String(input));
    const length = lengths[calls.length - 1]!;
    return Promise.resolve(new Response("native", { headers: { "content-length": length } }));
  };
  await withServer(
    // The first connection answers large, the next one small.
    answering((_, _n, connIndex) =>
      connIndex === 0
        ? `HTTP/1.1 200 OK\r\ncontent-length: ${large}\r\n\r\n${"x".repeat(1_000)}`
        : OK("small")
    ),
    async (server, client) => {
      const url = `${server.url}/bucket/huge`;
      // 1: the client reads the head, closes its connection, and fetch asks again.
      assert.equal(await textOf(await request(client, url)), "native");
      await settle(server.conns[0]!.eof.promise, 1_000, "the client closing its connection");
      // 2: straight to fetch, no request to the server; fetch still says large.
      assert.equal(await textOf(await request(client, url)), "native");
      // 3: straight to fetch again; this time the body is small, so the URL is forgotten.
      assert.equal(await textOf(await request(client, url)), "native");
      assert.deepEqual(calls, [url, url, url]);
      assert.equal(server.conns.length, 1);
      // 4: the own client asks again, on a new connection.
      const fourth = await request(client, url);
      assert.notEqual(bufferedBody(fourth), undefined);
      assert.equal(await textOf(fourth), "small");
      assert.equal(server.conns.length, 2);
      assert.equal(calls.length, 3);
    },
    nativeFetch,
  );
});

Deno.test("large bodies are not remembered for Range requests, HEAD, or answers other than 200", async () => {
  const large = String(NATIVE_PIPE_MIN_BYTES + 1);
  const calls: string[] = [];
  const nativeFetch: typeof fetch = (input) => {
    calls.push(String(input));
    return Promise.resolve(new Response("native", { headers: { "content-length": large } }));
  };
  const served: string[] = [];
  await withServer(
    answering((head) => {
      served.push(head.slice(0, head.indexOf(" HTTP/1.1")));
      const status = head.includes("/gone") ? "404 Not Found" : "200 OK";
      return `HTTP/1.1 ${status}\r\ncontent-length: ${large}\r\n\r\n`;
    }),
    async (server, client) => {
      const ranged = `${server.url}/bucket/ranged`;
      const gone = `${server.url}/bucket/gone`;
      for (let round = 0; round < 2; round++) {
        await textOf(await request(client, ranged, { headers: { range: "bytes=0-" } }));
        await textOf(await request(client, gone));
        await request(client, `${server.url}/bucket/head`, { method: "HEAD" });
      }
      // Each request reached the server in both rounds; the GETs then went to fetch, HEAD did not.
      const round = ["GET /bucket/ranged", "GET /bucket/gone", "HEAD /bucket/head"];
      assert.deepEqual(served, [...round, ...round]);
      assert.deepEqual(calls, [ranged, gone, ranged, gone]);
    },
    nativeFetch,
  );
});

// ---------------------------------------------------------------------------------------------
// 13-14. Interim answers and refused connections.
// ---------------------------------------------------------------------------------------------

Deno.test("1xx interim answers are skipped", async () => {
  await withServer(
    answering((_, n) =>
      n === 0
        ? [
          "HTTP/1.1 100 Continue\r\n\r\n",
          "HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 2",
          "00 OK\r\ncontent-length: 5\r\n\r\nfinal",
        ]
        : OK("after")
    ),
    async (server, client) => {
      const response = await request(client, `${server.url}/`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("link"), null);
      assert.equal(await textOf(response), "final");
      assert.equal(await textOf(await request(client, `${server.url}/`)), "after");
      assert.equal(server.conns.length, 1);
    },
  );
});

Deno.test("a refused connection rejects (it does not hang)", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const client = new Http1Client();
  try {
    await assert.rejects(
      request(client, `http://127.0.0.1:${port}/b/k`),
      (error) => error instanceof Deno.errors.ConnectionRefused,
    );
  } finally {
    client.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Keep-alive across mixed answers (property).
// ---------------------------------------------------------------------------------------------

type Exchange =
  | { kind: "small" | "medium"; size: number }
  | { kind: "chunked"; sizes: number[] }
  | { kind: "head" | "304" | "empty" };

const exchange: fc.Arbitrary<Exchange> = fc.oneof(
  fc.record({ kind: fc.constant("small" as const), size: fc.integer({ min: 1, max: 3_000 }) }),
  fc.record({
    kind: fc.constant("medium" as const),
    size: fc.integer({ min: BUFFERED_BODY_MAX_BYTES + 1, max: 150_000 }),
  }),
  fc.record({
    kind: fc.constant("chunked" as const),
    sizes: fc.array(fc.integer({ min: 1, max: 5_000 }), { maxLength: 3 }),
  }),
  fc.record({ kind: fc.constantFrom("head" as const, "304" as const, "empty" as const) }),
);

function wireOf(exchange: Exchange, seed: number): { wire: Uint8Array; body: Uint8Array | null } {
  switch (exchange.kind) {
    case "small":
    case "medium": {
      const body = pattern(exchange.size, seed);
      return {
        wire: concat(`HTTP/1.1 200 OK\r\ncontent-length: ${body.byteLength}\r\n\r\n`, body),
        body,
      };
    }
    case "chunked": {
      const chunks = exchange.sizes.map((size, i) => pattern(size, seed + i));
      return {
        wire: concat("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", chunkedBody(chunks)),
        body: concat(...chunks),
      };
    }
    case "head":
      return { wire: bytesOf("HTTP/1.1 200 OK\r\ncontent-length: 123456\r\n\r\n"), body: null };
    case "304":
      return {
        wire: bytesOf("HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n"),
        body: null,
      };
    case "empty":
      return {
        wire: bytesOf("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
        body: new Uint8Array(0),
      };
  }
}

Deno.test("property: any sequence of framed answers runs over one connection, each body exact", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(exchange, { minLength: 1, maxLength: 6 }), async (exchanges) => {
      const wires = exchanges.map((e, i) => wireOf(e, i));
      await withServer(answering((_, n) => wires[n]!.wire), async (server, client) => {
        for (const [n, e] of exchanges.entries()) {
          const response = await request(client, `${server.url}/${n}`, {
            method: e.kind === "head" ? "HEAD" : "GET",
          });
          const expected = wires[n]!.body;
          if (expected === null) assert.equal(response.body, null);
          else assert.deepEqual(await bodyOf(response), expected);
        }
        assert.equal(server.conns.length, 1);
      });
    }),
    { numRuns: 30 },
  );
});

// ---------------------------------------------------------------------------------------------
// Header bytes as fetch gives them.
// ---------------------------------------------------------------------------------------------

Deno.test("a response header value with UTF-8 bytes reaches the Response byte for byte", async () => {
  const value = latin1(new TextEncoder().encode('attachment; filename="voilà"'));
  const valueEndingInA0 = latin1(new TextEncoder().encode("voilà"));
  await withServer(
    answering(() =>
      concat(
        `HTTP/1.1 200 OK\r\ncontent-disposition: ${value}\r\nx-amz-meta-name: ${valueEndingInA0}\r\n`,
        "content-length: 0\r\n\r\n",
      )
    ),
    async (server, client) => {
      const response = await request(client, `${server.url}/`);
      assert.equal(response.headers.get("content-disposition"), value);
      assert.equal(response.headers.get("x-amz-meta-name"), valueEndingInA0);
    },
  );
});

Deno.test("parseHead() leaves out the given headers and those the Connection header names", () => {
  const head = parseHead(
    "HTTP/1.1 200 OK\r\nServer: AmazonS3\r\nx-amz-request-id: R1\r\nConnection: keep-alive, X-Hop\r\n" +
      'x-hop: 1\r\netag: "e"\r\ncontent-length: 3',
    "GET",
    new Set(["server", "x-amz-request-id"]),
  );
  assert.deepEqual(head.headers, [["etag", '"e"'], ["content-length", "3"]]);
  assert.equal(head.keepAlive, true);
  // Without a set, only the hop-by-hop ones go.
  assert.deepEqual(
    parseHead("HTTP/1.1 200 OK\r\nServer: AmazonS3\r\nConnection: x-hop\r\nx-hop: 1", "GET")
      .headers,
    [["server", "AmazonS3"]],
  );
});

Deno.test("a client given headers to drop makes owned Responses; one without does not", async () => {
  const reply = () => "HTTP/1.1 200 OK\r\nserver: S\r\ncontent-length: 2\r\n\r\nok";
  for (const drop of [new Set(["server"]), undefined]) {
    const server = rawServer(answering(reply));
    const client = new Http1Client(fetch, drop);
    try {
      const response = await request(client, `${server.url}/b/k`);
      assert.equal(isOwned(response), drop !== undefined);
      assert.equal(response.headers.get("server"), drop === undefined ? "S" : null);
      assert.equal(await textOf(response), "ok");
    } finally {
      client.close();
      await settle(server.close(), 2_000, "server close");
    }
  }
});

Deno.test("an owned Response carries the answer headers from construction; one without drop does not", async () => {
  const reply = () =>
    "HTTP/1.1 200 OK\r\nx-amz-meta-a: 1\r\nx-amz-meta-a: 2\r\ncontent-length: 2\r\n\r\nok";
  const answerHeaders = { "x-request-id": "rid", "x-cache": "MISS" };
  for (const drop of [new Set(["server"]), undefined]) {
    const server = rawServer(answering(reply));
    const client = new Http1Client(fetch, drop);
    try {
      const response = await request(client, `${server.url}/b/k`, { answerHeaders });
      assert.equal(response.headers.get("x-request-id"), drop === undefined ? null : "rid");
      assert.equal(response.headers.get("x-cache"), drop === undefined ? null : "MISS");
      assert.equal(response.headers.get("x-amz-meta-a"), "1, 2");
      assert.equal(await textOf(response), "ok");
    } finally {
      client.close();
      await settle(server.close(), 2_000, "server close");
    }
  }
});

Deno.test("answerHeaderInit() joins repeated names, adds the extras, and keeps pairs for __proto__", () => {
  assert.deepEqual(
    answerHeaderInit([["a", "1"], ["constructor", "c"], ["a", "2"]], { "x-cache": "HIT" }),
    { a: "1, 2", constructor: "c", "x-cache": "HIT" },
  );
  assert.deepEqual(answerHeaderInit([["a", "1"]], undefined), { a: "1" });
  // A record cannot hold __proto__ as a name: the pairs go to Deno as they are, extras appended.
  assert.deepEqual(
    answerHeaderInit([["__proto__", "x"], ["a", "1"]], { b: "2" }),
    [["__proto__", "x"], ["a", "1"], ["b", "2"]],
  );
  const proto = new Response(null, {
    headers: answerHeaderInit([["__proto__", "x"]], { b: "2" }),
  });
  assert.equal(proto.headers.get("__proto__"), "x");
  assert.equal(proto.headers.get("b"), "2");
});

Deno.test("a streamed body dropped unread has its socket closed once the stream is garbage", async () => {
  // Needs gc(): run in a child Deno with --expose-gc. The child serves one medium body, drops the
  // Response without reading or cancelling it, collects garbage, and reports whether the server
  // then saw the client close the connection.
  const script = `
    import { Http1Client } from ${
    JSON.stringify(new URL("./http1_client.ts", import.meta.url).href)
  };
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closed = (async () => {
      const conn = await listener.accept();
      const buf = new Uint8Array(65536);
      await conn.read(buf);
      await conn.write(new TextEncoder().encode("HTTP/1.1 200 OK\\r\\ncontent-length: 200000\\r\\n\\r\\n"));
      await conn.write(new Uint8Array(1000));
      const eof = await conn.read(buf).catch(() => null);
      conn.close();
      return eof === null;
    })();
    const client = new Http1Client();
    await (async () => {
      const response = await client.fetch("http://127.0.0.1:" + listener.addr.port + "/b/k", {
        method: "GET", headers: {}, signal: new AbortController().signal, redirect: "manual",
      });
      if (response.status !== 200) throw new Error("status " + response.status);
    })();
    const timeout = new Promise((resolve) => setTimeout(() => resolve("timeout"), 3000));
    for (let i = 0; i < 20; i++) {
      globalThis.gc();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    console.log(String(await Promise.race([closed, timeout])));
    listener.close();
    client.close();
    Deno.exit(0);
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  assert.equal(new TextDecoder().decode(output.stdout).trim(), "true", stderr);
});

Deno.test("head bytes decode one char per byte, ASCII or not, at any offset and length", () => {
  const anyBytes = fc.uint8Array({ maxLength: 9000 });
  const asciiBytes = fc.uint8Array({ max: 0x7f, maxLength: 600 });
  fc.assert(
    fc.property(
      fc.oneof(anyBytes, asciiBytes),
      fc.nat(),
      fc.nat(),
      (bytes, a, b) => {
        const start = a % (bytes.length + 1);
        const end = start + b % (bytes.length - start + 1);
        assert.equal(decodeHeadBytes(bytes, start, end), latin1(bytes.subarray(start, end)));
      },
    ),
    { numRuns: 500 },
  );
  // The byte that UTF-8 would read differently, alone among ASCII.
  assert.equal(decodeHeadBytes(bytesOf("ab\xe9c"), 0, 4), "ab\xe9c");
});
