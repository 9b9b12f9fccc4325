// Owns a raw HTTP/1.1 client for tests: sends a request target byte for byte, as an attacker
// would. fetch() and new Request() resolve "." and ".." segments and re-encode the path first,
// so they cannot send "/public/../private/x"; Deno.serve hands such targets over unchanged.

export interface RawResponse {
  /** 0 when the server closed or reset the connection without an answer. */
  status: number;
  headers: Headers;
  body: string;
}

export interface RawRequestOptions {
  method?: string;
  /** Sent in order, after Host; Connection: close is added. */
  headers?: ReadonlyArray<readonly [string, string]>;
  body?: string;
}

const encoder = new TextEncoder();

/** Sends one request on a fresh connection to `base` ("http://127.0.0.1:PORT") and reads it all. */
export async function rawRequest(
  base: string,
  target: string,
  options: RawRequestOptions = {},
): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    let head = `${options.method ?? "GET"} ${target} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n`;
    for (const [name, value] of options.headers ?? []) head += `${name}: ${value}\r\n`;
    if (options.body !== undefined) {
      head += `Content-Length: ${encoder.encode(options.body).byteLength}\r\n`;
    }
    head += "Connection: close\r\n\r\n";
    await writeAll(conn, encoder.encode(head + (options.body ?? "")));
    return parseResponse(await readAll(conn));
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe) {
      return { status: 0, headers: new Headers(), body: "" };
    }
    throw error;
  } finally {
    conn.close();
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
  }
  const all = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return all;
}

function parseResponse(bytes: Uint8Array): RawResponse {
  const text = new TextDecoder("latin1").decode(bytes);
  const end = text.indexOf("\r\n\r\n");
  if (end === -1) return { status: 0, headers: new Headers(), body: "" };
  const [statusLine = "", ...lines] = text.slice(0, end).split("\r\n");
  const status = Number(statusLine.split(" ")[1]);
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let body = bytes.subarray(end + 4);
  if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") body = dechunk(body);
  return { status, headers, body: new TextDecoder().decode(body) };
}

function dechunk(bytes: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  const latin1 = new TextDecoder("latin1");
  while (i < bytes.length) {
    let lineEnd = i;
    while (lineEnd + 1 < bytes.length && !(bytes[lineEnd] === 13 && bytes[lineEnd + 1] === 10)) {
      lineEnd++;
    }
    const size = parseInt(latin1.decode(bytes.subarray(i, lineEnd)), 16);
    if (!(size > 0)) break;
    const start = lineEnd + 2;
    out.push(...bytes.subarray(start, start + size));
    i = start + size + 2;
  }
  return new Uint8Array(out);
}
