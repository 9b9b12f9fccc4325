// Owns test helpers that build a Config and an App around a memory log, and serve it on loopback.

import { type App, type AppDeps, createApp } from "../../src/app.ts";
import type {
  BucketConfig,
  CacheConfig,
  CircuitBreakerConfig,
  Config,
  MemoryCacheConfig,
  RetryConfig,
} from "../../src/config/types.ts";
import { SECURITY_LIMITS_DEFAULTS } from "../../src/config/schema_security.ts";
import { Logger } from "../../src/observe/log.ts";
import { startServer } from "../../src/server.ts";

/** A log sink that keeps lines in memory. */
export class MemoryLog {
  readonly #decoder = new TextDecoder();
  #text = "";
  write(bytes: Uint8Array): Promise<number> {
    this.#text += this.#decoder.decode(bytes);
    return Promise.resolve(bytes.length);
  }
  /** Every JSON line written so far, parsed. */
  entries(): Record<string, unknown>[] {
    return this.#text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
  }
  get text(): string {
    return this.#text;
  }
}

export interface BucketSpec {
  name: string;
  pathPrefix: string;
  bucket: string;
  endpoint: string;
  accessKey?: string;
  secretKey?: string;
  timeout?: number;
  connectTimeout?: number;
  idleTimeout?: number;
  /** Default: one attempt (no retries), so tests that count upstream requests stay exact. */
  retry?: RetryConfig;
  circuitBreaker?: CircuitBreakerConfig;
}

export function bucketConfig(spec: BucketSpec): BucketConfig {
  return {
    name: spec.name,
    pathPrefix: spec.pathPrefix,
    s3: {
      bucket: spec.bucket,
      region: "us-east-1",
      endpoint: spec.endpoint,
      accessKey: spec.accessKey ?? "S3RVER",
      secretKey: spec.secretKey ?? "S3RVER",
      sessionToken: undefined,
      timeout: spec.timeout ?? 5,
      connectTimeout: spec.connectTimeout ?? 5,
      idleTimeout: spec.idleTimeout ?? spec.timeout ?? 5,
      retry: spec.retry ?? { maxAttempts: 1, initialBackoffMs: 0, maxBackoffMs: 0 },
      circuitBreaker: spec.circuitBreaker,
    },
  };
}

export function testConfig(buckets: BucketConfig[], requestTimeout = 10): Config {
  return {
    server: {
      address: "127.0.0.1",
      port: 0,
      requestTimeout,
      shutdownTimeout: 5,
      securityLimits: { ...SECURITY_LIMITS_DEFAULTS },
    },
    buckets,
    logging: { level: "info", format: "json" },
  };
}

/** A resolved `cache` with a memory tier of `memory` and every other default (overridable). */
export function testCacheConfig(
  memory: MemoryCacheConfig,
  overrides: Partial<CacheConfig> = {},
): CacheConfig {
  return {
    layers: ["memory"],
    memory,
    disk: undefined,
    redis: undefined,
    warming: { concurrency: 10, rateLimit: 100 },
    staleIfErrorSeconds: 0,
    ...overrides,
  };
}

export interface TestApp {
  app: App;
  log: MemoryLog;
  logger: Logger;
  /**
   * Calls the handler in process, as Deno.serve would, from the TCP peer `peer` (default the
   * loopback 127.0.0.1).
   */
  request(path: string, init?: RequestInit, peer?: string): Promise<Response>;
}

export async function buildTestApp(
  config: Config,
  deps: Partial<AppDeps> = {},
): Promise<TestApp> {
  const log = new MemoryLog();
  const logger = new Logger({ level: "info", format: "json", sink: log });
  const app = await createApp(config, {
    logger,
    readiness: { cacheMs: 0, probeTimeoutMs: 2000 },
    ...deps,
  });
  return {
    app,
    log,
    logger,
    request: (path, init, peer = "127.0.0.1") =>
      Promise.resolve(app.handle(new Request(`http://gateway.test${path}`, init), {
        remoteAddr: { transport: "tcp", hostname: peer, port: 40000 },
      })),
  };
}

/** Serves an app on 127.0.0.1:0; returns its base URL and a stop function that drains. */
export async function serveTestApp(
  testApp: TestApp,
): Promise<{ url: string; stop(): Promise<void> }> {
  const server = await startServer(testApp.app, {
    hostname: "127.0.0.1",
    port: 0,
    logger: testApp.logger,
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    stop: async () => {
      await server.drain(5);
      await testApp.app.close();
      await testApp.logger.flush();
    },
  };
}
