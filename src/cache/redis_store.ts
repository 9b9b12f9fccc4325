// Owns RedisStore (the Redis cache tier) and the ioredis adapter: outage-tolerant clients and Redis key globbing.

import { Buffer } from "node:buffer";
import { Redis } from "ioredis";
import type { RedisCacheConfig } from "../config/types.ts";
import type { CachedObject } from "./cached_object.ts";
import { decodeEntry, encodeEntry } from "./entry_codec.ts";
import type { CacheTier, PurgeSelector, TierStats } from "./tier.ts";
import { errorMessage } from "../errors.ts";

/** Structured events (`cache.redis_unavailable`, `cache.redis_recovered`, ...) for the caller's logger. */
export type RedisLog = (event: string, fields: Record<string, unknown>) => void;

/** The ioredis client, for modules that need a raw connection (the purge bus, tests) without importing ioredis. */
export type RedisClient = Redis;

export interface RedisClientOptions {
  /** A command with no reply after this long fails (so a hung Redis never holds a request). Default 250. */
  commandTimeoutMs?: number;
  /** Reported once when the connection goes down and once when it is back. */
  log?: RedisLog;
  /** Names the connection in log events ("cache", "purge-bus.subscriber", ...). */
  role?: string;
}

export interface RedisStoreOptions {
  /**
   * How long Redis keeps an entry past its expiry, so `lookup` can revalidate it with its ETag or
   * serve it under stale-if-error. Default 3_600_000 (1 h); always capped by `redis_ttl_seconds`.
   */
  retainStaleMs?: number;
  log?: RedisLog;
  /** Default 250. */
  commandTimeoutMs?: number;
}

const SCAN_COUNT = 500;
const MIN_TTL_MS = 1_000;
/** Reconnect backoff: 100 ms doubling to 2 s, forever, so the tier heals without a restart. */
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 2_000;
/** How long close() waits for the socket to finish closing before giving up on a clean end. */
const CLOSE_WAIT_MS = 1_000;

/** The URL with any password removed: it goes into logs and error messages. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, (_match, userinfo: string) => {
    const user = userinfo.split(":")[0] ?? "";
    return user === "" ? "//" : `//${user}@`;
  });
}

/** Clients being closed on purpose: their 'close' and 'error' events are not an outage. */
const closing = new WeakSet<RedisClient>();

/**
 * A connected-or-connecting ioredis client that fails fast while Redis is down (no offline queue,
 * no per-request retries, a command timeout) and reconnects by itself forever. Logs one
 * `cache.redis_unavailable` per outage and one `cache.redis_recovered` when it ends, never one per
 * failed reconnect.
 */
export function createRedisClient(
  config: RedisCacheConfig,
  options: RedisClientOptions = {},
): RedisClient {
  const client = new Redis(config.url, {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 250,
    connectTimeout: 2_000,
    retryStrategy: (times: number) =>
      Math.min(RETRY_BASE_MS * 2 ** Math.min(times - 1, 10), RETRY_MAX_MS),
    // CLIENT SETINFO reads ioredis' package.json on every connect; nothing here needs it.
    disableClientInfo: true,
    // A password in the URL still works; the config's own field wins when set.
    ...(config.password !== undefined ? { password: config.password } : {}),
    db: config.db,
  });
  const url = redactRedisUrl(config.url);
  const role = options.role ?? "cache";
  const log = options.log;
  let down = false;
  const wentDown = (reason: string): void => {
    // quit()/disconnect() from closeRedisClient is not an outage.
    if (down || closing.has(client)) return;
    down = true;
    log?.("cache.redis_unavailable", { url, role, error: reason });
  };
  // Without an 'error' listener ioredis prints every failed reconnect to the console.
  client.on("error", (error: Error) => wentDown(error.message));
  // A server that closes the connection (restart, SHUTDOWN) emits no error until a reconnect fails.
  client.on("close", () => wentDown("connection closed"));
  client.on("ready", () => {
    if (!down) return;
    down = false;
    log?.("cache.redis_recovered", { url, role });
  });
  return client;
}

/**
 * Ends a client cleanly: QUIT when connected (pending replies arrive first), else a hard disconnect
 * that also cancels a scheduled reconnect; waits (bounded) for the socket to finish closing so no
 * socket or timer outlives the caller.
 */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  if (client.status === "end") return;
  closing.add(client);
  const hasSocket = client.status === "ready" || client.status === "connect" ||
    client.status === "connecting";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ended = hasSocket
    ? new Promise<void>((resolve) => {
      client.once("end", () => resolve());
      timer = setTimeout(resolve, CLOSE_WAIT_MS);
    })
    : Promise.resolve();
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
  await ended;
  clearTimeout(timer);
}

/** Escapes Redis glob specials so a user-supplied part only ever matches itself. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => "\\" + c);
}

/** The Redis key of a cache key: the first NUL (bucket/key separator) becomes ":"; variant NULs stay. */
export function redisKey(keyPrefix: string, cacheKey: string): string {
  const separator = cacheKey.indexOf("\0");
  if (separator < 0) return keyPrefix + cacheKey;
  return keyPrefix + cacheKey.slice(0, separator) + ":" + cacheKey.slice(separator + 1);
}

/** What a selector covers in Redis: glob patterns to SCAN plus exact keys (an object's base key). */
export function selectorPatterns(
  keyPrefix: string,
  selector: PurgeSelector,
): { patterns: string[]; exact: string[] } {
  const prefix = globEscape(keyPrefix);
  switch (selector.kind) {
    case "all":
      return { patterns: [prefix + "*"], exact: [] };
    case "bucket":
      return { patterns: [prefix + globEscape(selector.bucket) + ":*"], exact: [] };
    case "prefix":
      return {
        patterns: [prefix + globEscape(selector.bucket) + ":" + globEscape(selector.prefix) + "*"],
        exact: [],
      };
    case "object": {
      const base = keyPrefix + selector.bucket + ":" + selector.key;
      return { patterns: [globEscape(base) + "\0*"], exact: [base] };
    }
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class RedisStore implements CacheTier {
  readonly name = "redis" as const;
  readonly #config: RedisCacheConfig;
  readonly #client: RedisClient;
  readonly #retainStaleMs: number;
  readonly #url: string;
  #hits = 0;
  #misses = 0;
  #errors = 0;
  #items = 0;
  #bytes = 0;
  #closed: Promise<void> | undefined;

  constructor(config: RedisCacheConfig, options: RedisStoreOptions = {}) {
    this.#config = config;
    this.#retainStaleMs = options.retainStaleMs ?? 3_600_000;
    this.#url = redactRedisUrl(config.url);
    this.#client = createRedisClient(config, {
      role: "cache",
      ...(options.commandTimeoutMs !== undefined
        ? { commandTimeoutMs: options.commandTimeoutMs }
        : {}),
      ...(options.log !== undefined ? { log: options.log } : {}),
    });
  }

  /** True while the connection is up and ready for commands. */
  get connected(): boolean {
    return this.#client.status === "ready";
  }

  /**
   * Resolves true once connected, or false after `timeoutMs`: lets start-up give Redis a moment
   * so the first requests use it, without ever failing because it is down.
   */
  whenReady(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ready: boolean) => {
        clearTimeout(timer);
        this.#client.off("ready", onReady);
        resolve(ready);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.#client.on("ready", onReady);
    });
  }

  async get(key: string, nowMs: number): Promise<CachedObject | undefined> {
    let raw: Buffer | null;
    try {
      raw = await this.#client.getBuffer(redisKey(this.#config.keyPrefix, key));
    } catch {
      this.#errors++;
      this.#misses++;
      return undefined;
    }
    if (raw === null) {
      this.#misses++;
      return undefined;
    }
    const decoded = decodeEntry(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
    // A foreign value or one written under another key (a prefix collision) is never served.
    if (decoded === undefined || decoded.key !== key) {
      this.#errors++;
      this.#misses++;
      return undefined;
    }
    if (decoded.value.expiresAt > nowMs) this.#hits++;
    else this.#misses++;
    return decoded.value;
  }

  async set(key: string, value: CachedObject): Promise<void> {
    const ttlMs = Math.max(
      MIN_TTL_MS,
      Math.min(
        this.#config.ttlSeconds * 1_000,
        value.expiresAt - Date.now() + this.#retainStaleMs,
      ),
    );
    try {
      await this.#client.set(
        redisKey(this.#config.keyPrefix, key),
        toBuffer(encodeEntry(key, value)),
        "PX",
        Math.round(ttlMs),
      );
    } catch {
      this.#errors++;
    }
  }

  async purge(selector: PurgeSelector): Promise<number> {
    try {
      const { patterns, exact } = selectorPatterns(this.#config.keyPrefix, selector);
      let deleted = 0;
      if (exact.length > 0) deleted += await this.#client.unlink(...exact);
      for (const pattern of patterns) {
        await this.#scan(pattern, async (keys) => {
          deleted += await this.#client.unlink(...keys);
        });
      }
      return deleted;
    } catch (error) {
      throw this.#unreachable(error);
    }
  }

  async usage(selector: PurgeSelector): Promise<{ items: number; bytes: number }> {
    try {
      const { patterns, exact } = selectorPatterns(this.#config.keyPrefix, selector);
      // SCAN may return a key more than once (rehashing), so count each key once.
      const seen = new Set<string>();
      let items = 0;
      let bytes = 0;
      const measure = async (keys: Array<string | Buffer>): Promise<void> => {
        const fresh = keys.filter((k) => {
          const id = typeof k === "string" ? k : k.toString("latin1");
          if (seen.has(id)) return false;
          seen.add(id);
          return true;
        });
        if (fresh.length === 0) return;
        const pipeline = this.#client.pipeline();
        for (const k of fresh) pipeline.strlen(k);
        for (const [error, length] of (await pipeline.exec()) ?? []) {
          if (error) throw error;
          // 0 means the key expired or was deleted between SCAN and STRLEN.
          if (typeof length === "number" && length > 0) {
            items++;
            bytes += length;
          }
        }
      };
      await measure(exact);
      for (const pattern of patterns) await this.#scan(pattern, measure);
      return { items, bytes };
    } catch (error) {
      throw this.#unreachable(error);
    }
  }

  /** Recomputes the items/bytes that stats() reports (a full SCAN: call it from stats endpoints, not per request). */
  async refreshUsage(): Promise<{ items: number; bytes: number }> {
    const usage = await this.usage({ kind: "all" });
    this.#items = usage.items;
    this.#bytes = usage.bytes;
    return usage;
  }

  /** items/bytes are as of the last refreshUsage(); Redis evicts by its own policy, unseen here. */
  stats(): TierStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      evictions: 0,
      items: this.#items,
      bytes: this.#bytes,
      maxBytes: 0,
      errors: this.#errors,
    };
  }

  close(): Promise<void> {
    this.#closed ??= closeRedisClient(this.#client);
    return this.#closed;
  }

  /** SCAN MATCH `pattern` in batches; keys stay Buffers so a non-UTF-8 key is still deleted exactly. */
  async #scan(pattern: string, each: (keys: Buffer[]) => Promise<void>): Promise<void> {
    let cursor = "0";
    do {
      const [next, keys] = await this.#client.scanBuffer(
        cursor,
        "MATCH",
        pattern,
        "COUNT",
        SCAN_COUNT,
      );
      cursor = next.toString();
      if (keys.length > 0) await each(keys);
    } while (cursor !== "0");
  }

  #unreachable(cause: unknown): Error {
    const reason = errorMessage(cause);
    return new Error(`Redis at ${this.#url} is unreachable: ${reason}`, { cause });
  }
}
