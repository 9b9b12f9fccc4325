// Owns RedisPurgeBus: purges announced over Redis pub/sub so every gateway instance drops the same entries.

import type { RedisCacheConfig } from "../config/types.ts";
import {
  closeRedisClient,
  createRedisClient,
  redactRedisUrl,
  type RedisClient,
  type RedisLog,
} from "./redis_store.ts";
import type { PurgeSelector } from "./tier.ts";
import { errorMessage } from "../errors.ts";

export interface RedisPurgeBusOptions {
  /** This instance's id; its own messages come back over the channel and are ignored. */
  instanceId: string;
  /** Called for each purge announced by another instance (apply it to local tiers only: never re-publish). */
  onPurge: (selector: PurgeSelector) => void;
  log?: RedisLog;
  /** Default 250. */
  commandTimeoutMs?: number;
}

/** The wire format, versioned so that a future change is refused by old instances, not misread. */
interface PurgeMessage {
  v: 1;
  from: string;
  selector: PurgeSelector;
}

function hasExactKeys(value: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(value);
  return own.length === keys.length && keys.every((k) => Object.hasOwn(value, k));
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

/**
 * The selector in `value`, rebuilt from its checked fields (never the parsed object itself), or
 * undefined when it is not exactly one of the PurgeSelector shapes: a sloppy or hostile message
 * must not turn into a purge-all.
 */
export function parseSelector(value: unknown): PurgeSelector | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  switch (v.kind) {
    case "all":
      return hasExactKeys(v, ["kind"]) ? { kind: "all" } : undefined;
    case "bucket":
      return hasExactKeys(v, ["kind", "bucket"]) && isNonEmptyString(v.bucket)
        ? { kind: "bucket", bucket: v.bucket }
        : undefined;
    case "prefix":
      // An empty prefix is a legal (if roundabout) whole-bucket purge.
      return hasExactKeys(v, ["kind", "bucket", "prefix"]) && isNonEmptyString(v.bucket) &&
          typeof v.prefix === "string"
        ? { kind: "prefix", bucket: v.bucket, prefix: v.prefix }
        : undefined;
    case "object":
      return hasExactKeys(v, ["kind", "bucket", "key"]) && isNonEmptyString(v.bucket) &&
          isNonEmptyString(v.key)
        ? { kind: "object", bucket: v.bucket, key: v.key }
        : undefined;
    default:
      return undefined;
  }
}

/** The message in `text`, or a reason it is refused. */
export function parsePurgeMessage(text: string): PurgeMessage | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { error: "not JSON" };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { error: "not an object" };
  }
  const m = parsed as Record<string, unknown>;
  if (m.v !== 1) return { error: "unknown version" };
  if (!isNonEmptyString(m.from)) return { error: "missing sender" };
  const selector = parseSelector(m.selector);
  if (selector === undefined) return { error: "invalid selector" };
  return { v: 1, from: m.from, selector };
}

export class RedisPurgeBus {
  readonly channel: string;
  readonly #instanceId: string;
  readonly #onPurge: (selector: PurgeSelector) => void;
  readonly #log: RedisLog | undefined;
  readonly #url: string;
  /** A connection in subscriber mode can run no other command, so publishing needs its own. */
  readonly #subscriber: RedisClient;
  readonly #publisher: RedisClient;
  #closed: Promise<void> | undefined;

  private constructor(config: RedisCacheConfig, options: RedisPurgeBusOptions) {
    this.channel = config.keyPrefix + "purge";
    this.#instanceId = options.instanceId;
    this.#onPurge = options.onPurge;
    this.#log = options.log;
    this.#url = redactRedisUrl(config.url);
    const common = {
      ...(options.log !== undefined ? { log: options.log } : {}),
      ...(options.commandTimeoutMs !== undefined
        ? { commandTimeoutMs: options.commandTimeoutMs }
        : {}),
    };
    this.#subscriber = createRedisClient(config, { ...common, role: "purge-bus.subscriber" });
    this.#publisher = createRedisClient(config, { ...common, role: "purge-bus.publisher" });
    this.#subscriber.on("message", (channel: string, text: string) => {
      if (channel === this.channel) this.#receive(text);
    });
    // Subscribe on every 'ready', not once: with the offline queue off, a SUBSCRIBE sent while Redis
    // is down fails and ioredis only auto-resubscribes channels it had confirmed. Repeating it after
    // ioredis' own resubscribe is harmless (SUBSCRIBE is idempotent).
    this.#subscriber.on("ready", () => this.#subscribe());
  }

  /**
   * Connects in the background and never fails: an instance whose Redis is down starts anyway and
   * joins the channel once Redis is reachable.
   */
  static create(config: RedisCacheConfig, options: RedisPurgeBusOptions): RedisPurgeBus {
    return new RedisPurgeBus(config, options);
  }

  /** True while both connections are up (the subscription is renewed on each reconnect). */
  get connected(): boolean {
    return this.#subscriber.status === "ready" && this.#publisher.status === "ready";
  }

  /** Announces a purge to the other instances. Rejects when Redis is unreachable. */
  async publish(selector: PurgeSelector): Promise<void> {
    const message: PurgeMessage = { v: 1, from: this.#instanceId, selector };
    try {
      await this.#publisher.publish(this.channel, JSON.stringify(message));
    } catch (error) {
      const reason = errorMessage(error);
      throw new Error(
        `cannot announce the purge to other instances: Redis at ${this.#url} is unreachable: ${reason}`,
        { cause: error },
      );
    }
  }

  close(): Promise<void> {
    this.#closed ??= Promise.all([
      closeRedisClient(this.#subscriber),
      closeRedisClient(this.#publisher),
    ]).then(() => {});
    return this.#closed;
  }

  #subscribe(): void {
    this.#subscriber.subscribe(this.channel).catch((error: unknown) => {
      // The next reconnect's 'ready' tries again.
      this.#log?.("cache.purge_bus_subscribe_failed", {
        url: this.#url,
        channel: this.channel,
        error: errorMessage(error),
      });
    });
  }

  #receive(text: string): void {
    const message = parsePurgeMessage(text);
    if ("error" in message) {
      this.#log?.("cache.purge_bus_invalid_message", {
        channel: this.channel,
        reason: message.error,
        // Bounded: a huge message must not flood the log.
        message: text.slice(0, 200),
      });
      return;
    }
    if (message.from === this.#instanceId) return;
    try {
      this.#onPurge(message.selector);
    } catch (error) {
      this.#log?.("cache.purge_bus_handler_failed", {
        from: message.from,
        selector: message.selector,
        error: errorMessage(error),
      });
    }
  }
}
