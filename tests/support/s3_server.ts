// Owns the real S3 used by tests and the demo: an @20minutes/s3rver on loopback, seeded over signed HTTP.
import { createHash } from "node:crypto";
import S3rver from "s3rver";
// s3rver keeps its key pairs in a process-wide registry on this class; its signature middleware
// requires the same CJS module, so a key pair created here is one s3rver accepts.
import AWSAccount from "s3rver/lib/models/account.js";
import { encodeS3Key, SigV4Signer } from "../../src/origin/sigv4.ts";

export interface S3Account {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface StartS3ServerOptions {
  /** Buckets created before the server answers. Default: none. */
  buckets?: string[];
  /** Key pairs accepted in addition to S3RVER/S3RVER (each becomes its own s3rver account). */
  accounts?: S3Account[];
  /** Listen port; default 0 (a free port). The demo pins one. */
  port?: number;
  /** Data directory; default a fresh temp dir, removed on close. A given directory is kept. */
  directory?: string;
}

export interface PutObjectOptions {
  contentType?: string;
  /** User metadata, sent as x-amz-meta-<name>. */
  metadata?: Record<string, string>;
}

export interface TestS3Server {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  port: number;
  region: "us-east-1";
  accessKeyId: "S3RVER";
  secretAccessKey: "S3RVER";
  /** s3rver's data directory (removed on close unless it was given). */
  directory: string;
  /** PUTs one object, signed with SigV4 as S3RVER (so every seeded object also exercises the signer). */
  putObject(
    bucket: string,
    key: string,
    body: Uint8Array | string,
    options?: PutObjectOptions,
  ): Promise<{ etag: string }>;
  /** Requests the server received so far ("GET /bucket/key?query"), in order: to count upstream fetches. */
  requests(): string[];
  /** Stops listening, drops open connections, revokes extra key pairs, removes the temp dir. */
  close(): Promise<void>;
}

// The registry is per process and shared by every s3rver in it, so extra key pairs are counted:
// closing one server must not revoke a pair another running server still relies on.
interface AccountRegistryEntry {
  account: { revokeAccessKey(accessKeyId: string): void };
  users: number;
}
const extraKeys = new Map<string, AccountRegistryEntry>();
let nextAccountId = 200000000000;

interface AccountModule {
  new (id: number, displayName: string): {
    createKeyPair(accessKeyId: string, secretAccessKey: string): void;
    revokeAccessKey(accessKeyId: string): void;
  };
  registry: Map<string, { accessKeys: Map<string, string> }>;
}
const Accounts = AWSAccount as unknown as AccountModule;

function addKeyPair({ accessKeyId, secretAccessKey }: S3Account): void {
  const existing = extraKeys.get(accessKeyId);
  if (existing) {
    const known = Accounts.registry.get(accessKeyId)?.accessKeys.get(accessKeyId);
    if (known !== secretAccessKey) {
      throw new Error(`s3rver key ${accessKeyId} is already registered with another secret`);
    }
    existing.users++;
    return;
  }
  if (Accounts.registry.has(accessKeyId)) {
    throw new Error(`s3rver key ${accessKeyId} is built in and cannot be redefined`);
  }
  const account = new Accounts(nextAccountId++, accessKeyId);
  account.createKeyPair(accessKeyId, secretAccessKey);
  extraKeys.set(accessKeyId, { account, users: 1 });
}

function dropKeyPair(accessKeyId: string): void {
  const entry = extraKeys.get(accessKeyId);
  if (!entry) return;
  if (--entry.users === 0) {
    entry.account.revokeAccessKey(accessKeyId);
    extraKeys.delete(accessKeyId);
  }
}

interface NodeHttpServer {
  closeAllConnections?: () => void;
  on(event: "request", listener: (request: { method?: string; url?: string }) => void): void;
}
interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  httpServer?: NodeHttpServer;
}

const encoder = new TextEncoder();

export async function startS3Server(options: StartS3ServerOptions = {}): Promise<TestS3Server> {
  const ownDir = options.directory === undefined;
  const directory = options.directory ?? await Deno.makeTempDir({ prefix: "s3rver-" });
  const accounts = options.accounts ?? [];
  const added: string[] = [];
  let server: S3rverInstance | undefined;
  try {
    for (const account of accounts) {
      addKeyPair(account);
      added.push(account.accessKeyId);
    }
    server = new S3rver({
      address: "127.0.0.1",
      port: options.port ?? 0,
      silent: true,
      directory,
      // Path-style only: a Host of 127.0.0.1:PORT must never be read as a bucket name.
      vhostBuckets: false,
      configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
    }) as unknown as S3rverInstance;
    const { port } = await server.run();
    const running = server;
    // A second "request" listener sees every request s3rver answers, without changing it.
    const seen: string[] = [];
    running.httpServer?.on("request", (request) => seen.push(`${request.method} ${request.url}`));
    const endpoint = `http://127.0.0.1:${port}`;
    const host = `127.0.0.1:${port}`;
    const signer = new SigV4Signer({
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      region: "us-east-1",
      service: "s3",
    });
    let closed = false;

    return {
      endpoint,
      port,
      region: "us-east-1",
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
      directory,
      requests: () => [...seen],
      async putObject(bucket, key, body, putOptions = {}) {
        const bytes = typeof body === "string" ? encoder.encode(body) : body;
        const canonicalUri = `/${bucket}/${encodeS3Key(key)}`;
        const headers: Record<string, string> = {};
        if (putOptions.contentType) headers["content-type"] = putOptions.contentType;
        for (const [name, value] of Object.entries(putOptions.metadata ?? {})) {
          headers[`x-amz-meta-${name.toLowerCase()}`] = value;
        }
        const payloadHash = createHash("sha256").update(bytes).digest("hex");
        const signed = signer.sign(
          { method: "PUT", host, canonicalUri, headers, payloadHash },
          Date.now(),
        );
        const response = await fetch(endpoint + canonicalUri, {
          method: "PUT",
          headers: { ...headers, ...signed },
          // Test bodies are never SharedArrayBuffer views, which is all fetch's typing guards against.
          body: bytes as Uint8Array<ArrayBuffer>,
        });
        const text = await response.text();
        if (!response.ok) {
          throw new Error(`s3rver PUT ${canonicalUri} -> ${response.status}: ${text}`);
        }
        const etag = response.headers.get("etag");
        if (!etag) throw new Error(`s3rver PUT ${canonicalUri} returned no ETag`);
        return { etag };
      },
      async close() {
        if (closed) return;
        closed = true;
        // Node's server.close() waits for keep-alive sockets, which fetch's pool holds open.
        running.httpServer?.closeAllConnections?.();
        await running.close();
        for (const id of added) dropKeyPair(id);
        if (ownDir) await Deno.remove(directory, { recursive: true });
      },
    };
  } catch (error) {
    await server?.close().catch(() => {});
    for (const id of added) dropKeyPair(id);
    if (ownDir) await Deno.remove(directory, { recursive: true }).catch(() => {});
    throw error;
  }
}

/**
 * `size` deterministic pseudo-random bytes (xorshift32 from a fixed seed, little-endian words),
 * so a test can rebuild the expected body, or any slice of it, without storing it.
 */
export function largeBody(size: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let x = seed >>> 0 || 1;
  const whole = size - (size % 4);
  let i = 0;
  for (; i < whole; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    view.setUint32(i, x, true);
  }
  if (i < size) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    for (let shift = 0; i < size; i++, shift += 8) out[i] = (x >>> shift) & 0xff;
  }
  return out;
}
