// Owns a raw TCP upstream for fault-injection tests: each request gets a scripted fault (reset,
// stall before headers, stall or truncation mid-body, an S3 error status), and it counts requests
// and open sockets so tests can check retries, timing and that nothing is left connected.

/** What the upstream does with one request. */
export type Fault =
  /** Reads the request, then closes the connection without a byte of answer. */
  | { kind: "reset" }
  /** Reads the request and answers nothing until the gateway gives up and closes. */
  | { kind: "stall_headers" }
  /** An S3 error document with this status and code (503 SlowDown, 500 InternalError...). */
  | { kind: "error"; status: number; code: string }
  /** A 200 with the whole body, after `delayMs` (default 0). */
  | { kind: "ok"; body: string; headers?: Record<string, string>; delayMs?: number }
  /** Headers announcing the whole body, `sent` bytes of it, then silence until closed. */
  | { kind: "stall_body"; body: string; sent: number }
  /** Headers announcing the whole body, `sent` bytes of it, then the connection closed. */
  | { kind: "truncate"; body: string; sent: number }
  /** The whole body in chunks of `chunk` bytes, `everyMs` apart (a slow but live S3). */
  | { kind: "trickle"; body: string; chunk: number; everyMs: number };

export interface FaultRequest {
  method: string;
  target: string;
  /** performance.now() when the request head was read. */
  at: number;
}

export interface FaultUpstream {
  endpoint: string;
  /** Every request read, in order. */
  readonly requests: FaultRequest[];
  /** Sockets open right now (the gateway's side not yet closed). */
  readonly openSockets: number;
  /** Waits (up to `ms`) until no socket is open; false if some still are. */
  allClosed(ms?: number): Promise<boolean>;
  close(): Promise<void>;
}

const encoder = new TextEncoder();

/**
 * Listens on 127.0.0.1:0. `script(n, request)` picks the fault of the n-th request (0-based). Every
 * answer says `Connection: close`, so each request has its own connection and an attempt is a
 * connection.
 */
export function startFaultUpstream(
  script: (n: number, request: FaultRequest) => Fault,
): FaultUpstream {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: FaultRequest[] = [];
  const open = new Set<Deno.Conn>();
  const handlers = new Set<Promise<void>>();

  const serve = async (conn: Deno.Conn) => {
    open.add(conn);
    try {
      const head = await readHead(conn);
      if (head === undefined) return;
      const [method = "", target = ""] = head.split("\r\n")[0]!.split(" ");
      const n = requests.length;
      const request = { method, target, at: performance.now() };
      requests.push(request);
      await answer(conn, script(n, request), method);
    } catch {
      // The gateway closed or reset its side: that is an outcome, not a test failure.
    } finally {
      open.delete(conn);
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  };

  const accepting = (async () => {
    for await (const conn of listener) {
      const handler = serve(conn);
      handlers.add(handler);
      handler.finally(() => handlers.delete(handler));
    }
  })().catch(() => {});

  const port = (listener.addr as Deno.NetAddr).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    get openSockets() {
      return open.size;
    },
    async allClosed(ms = 2000) {
      const deadline = Date.now() + ms;
      while (open.size > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return open.size === 0;
    },
    async close() {
      listener.close();
      await accepting;
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      await Promise.all([...handlers]);
    },
  };
}

/** Reads up to the blank line that ends a request head; undefined if the peer closed first. */
async function readHead(conn: Deno.Conn): Promise<string | undefined> {
  const buffer = new Uint8Array(16 * 1024);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) return undefined;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return text;
}

/** Resolves when the peer closes its side (a read returns end of stream or fails). */
async function untilClosed(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(1024);
  try {
    while (await conn.read(buffer) !== null) {
      // Discard: the gateway sends nothing more on a Connection: close request.
    }
  } catch {
    // Reset by the peer.
  }
}

async function write(conn: Deno.Conn, data: string | Uint8Array): Promise<void> {
  let bytes = typeof data === "string" ? encoder.encode(data) : data;
  while (bytes.byteLength > 0) {
    const n = await conn.write(bytes);
    bytes = bytes.subarray(n);
  }
}

/** The 200 head of the test object `bytes` (its length and ETag), plus `extra` headers. */
function objectHead(bytes: Uint8Array, extra: Record<string, string> = {}): string {
  return head(200, "OK", {
    "content-type": "text/plain",
    "content-length": String(bytes.byteLength),
    etag: '"e1"',
    ...extra,
  });
}

function head(status: number, reason: string, headers: Record<string, string>): string {
  let text = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (const [name, value] of Object.entries({ ...headers, connection: "close" })) {
    text += `${name}: ${value}\r\n`;
  }
  return text + "\r\n";
}

async function answer(conn: Deno.Conn, fault: Fault, method: string): Promise<void> {
  const bodyless = method === "HEAD";
  switch (fault.kind) {
    case "reset":
      return;
    case "stall_headers":
      await untilClosed(conn);
      return;
    case "error": {
      const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.code}</Code>` +
        `<Message>injected</Message><RequestId>R</RequestId></Error>`;
      const bytes = encoder.encode(xml);
      await write(
        conn,
        head(fault.status, "Injected", {
          "content-type": "application/xml",
          "content-length": String(bytes.byteLength),
        }),
      );
      if (!bodyless) await write(conn, bytes);
      return;
    }
    case "ok": {
      if (fault.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      const bytes = encoder.encode(fault.body);
      await write(conn, objectHead(bytes, fault.headers));
      if (!bodyless) await write(conn, bytes);
      return;
    }
    case "stall_body":
    case "truncate": {
      const bytes = encoder.encode(fault.body);
      await write(conn, objectHead(bytes));
      if (bodyless) return;
      await write(conn, bytes.subarray(0, fault.sent));
      if (fault.kind === "stall_body") await untilClosed(conn);
      return;
    }
    case "trickle": {
      const bytes = encoder.encode(fault.body);
      await write(conn, objectHead(bytes));
      if (bodyless) return;
      for (let offset = 0; offset < bytes.byteLength; offset += fault.chunk) {
        if (offset > 0) await new Promise((resolve) => setTimeout(resolve, fault.everyMs));
        await write(conn, bytes.subarray(offset, offset + fault.chunk));
      }
      return;
    }
  }
}
