// End-to-end: graceful shutdown of the real CLI — SIGTERM during 50 slow downloads from a real
// s3rver: new connections are refused at once, every download completes in full, exit code 0.

import assert from "node:assert/strict";
import { startGateway } from "../support/cli_process.ts";
import { largeBody, startS3Server } from "../support/s3_server.ts";

const MiB = 1024 * 1024;
const SIZE = 6 * MiB;
const DOWNLOADS = 50;
const SHUTDOWN_TIMEOUT_S = 20;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Download {
  status: number;
  received: number;
  /** Offset of the first byte that differs from the object, or -1. */
  mismatch: number;
  /** Body bytes read after the signal was sent. */
  afterSignal: number;
}

/**
 * A GET on its own raw TCP connection, read 16 KiB at a time with pauses. fetch would not do:
 * its client reads ahead of the script, so a "slow" fetch reader holds no response open.
 */
async function slowDownload(
  port: number,
  path: string,
  expected: Uint8Array,
  onFirstBytes: () => void,
  signalled: () => boolean,
): Promise<Download> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n`,
      ),
    );
    const buffer = new Uint8Array(16 * 1024);
    let head = "";
    let status = 0;
    let received = 0;
    let mismatch = -1;
    let afterSignal = 0;
    let first = true;
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      let chunk = buffer.subarray(0, n);
      if (status === 0) {
        // Headers: latin1 so byte offsets and string offsets agree.
        head += String.fromCharCode(...chunk);
        const end = head.indexOf("\r\n\r\n");
        if (end === -1) continue;
        status = Number(head.slice(9, 12));
        assert.match(head, new RegExp(`content-length: ${expected.length}\r\n`, "i"));
        chunk = chunk.subarray(chunk.length - (head.length - end - 4));
      }
      for (let i = 0; i < chunk.length; i += 1021) {
        if (mismatch === -1 && chunk[i] !== expected[received + i]) mismatch = received + i;
      }
      received += chunk.length;
      if (signalled()) afterSignal += chunk.length;
      if (first) {
        first = false;
        onFirstBytes();
      }
      await sleep(10);
    }
    return { status, received, mismatch, afterSignal };
  } finally {
    conn.close();
  }
}

Deno.test("shutdown: SIGTERM during 50 in-flight downloads — all complete, new connections refused, exit 0", async () => {
  const s3 = await startS3Server({ buckets: ["shutdown"] });
  const big = largeBody(SIZE);
  await s3.putObject("shutdown", "big.bin", big, { contentType: "application/octet-stream" });
  const gw = await startGateway(`
server:
  address: 127.0.0.1
  port: 0
  shutdown_timeout: ${SHUTDOWN_TIMEOUT_S}
buckets:
  - name: files
    path_prefix: /files
    s3: { bucket: shutdown, region: us-east-1, endpoint: "${s3.endpoint}", access_key: S3RVER, secret_key: S3RVER }
logging: { level: info, format: json }
`);
  const port = Number(new URL(gw.url).port);
  try {
    // Each download has its response headers and first bytes before the signal, then reads slowly.
    let started = 0;
    let allStarted!: () => void;
    const ready = new Promise<void>((resolve) => allStarted = resolve);
    let signalled = false;
    const download = async (index: number) => {
      const result = await slowDownload(port, "/files/big.bin", big, () => {
        if (++started === DOWNLOADS) allStarted();
      }, () => signalled);
      assert.equal(result.status, 200, `download ${index}`);
      return result;
    };
    const downloads = Array.from({ length: DOWNLOADS }, (_, i) => download(i));
    await ready;

    const signalAt = performance.now();
    gw.kill("SIGTERM");
    signalled = true;
    await sleep(300);
    // A new TCP connection is refused while the downloads still run.
    const refused = await Deno.connect({ hostname: "127.0.0.1", port }).then(
      (conn) => {
        conn.close();
        return undefined;
      },
      (error) => error,
    );
    assert.ok(
      refused instanceof Deno.errors.ConnectionRefused,
      `a new connection during the drain: ${refused}`,
    );

    const results = await Promise.all(downloads);
    for (const [index, result] of results.entries()) {
      assert.equal(result.received, SIZE, `download ${index} got all its bytes`);
      assert.equal(result.mismatch, -1, `download ${index}'s bytes are the object's`);
    }
    assert.ok(
      results.every((r) => r.afterSignal > 0),
      "every download was still in flight when the signal came",
    );
    const code = await gw.exited;
    const elapsed = (performance.now() - signalAt) / 1000;
    assert.equal(code, 0);
    assert.ok(elapsed < SHUTDOWN_TIMEOUT_S, `stopped ${elapsed.toFixed(1)} s after SIGTERM`);
    console.log(`${DOWNLOADS} downloads drained; exit 0 ${elapsed.toFixed(1)} s after SIGTERM`);
    const lines = gw.logLines();
    const shutting = lines.find((l) => l.msg === "shutting down");
    assert.equal(shutting?.signal, "SIGTERM");
    assert.equal(shutting?.in_flight, DOWNLOADS);
    assert.ok(lines.some((l) => l.msg === "stopped" && l.drained === true));
    assert.equal(
      lines.filter((l) => l.msg === "request" && l.path === "/files/big.bin" && l.bytes === SIZE)
        .length,
      DOWNLOADS,
      "the access log has every download in full",
    );
  } finally {
    // Only when a failed assertion left it running.
    try {
      gw.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await gw.exited;
    await s3.close();
  }
});
