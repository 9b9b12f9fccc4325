// Owns DiskStore: the disk tier, one framed file per entry, an in-memory LRU index rebuilt from headers at open.

import { createHash, randomUUID } from "node:crypto";
import { join } from "node:path";
import type { DiskCacheConfig } from "../config/types.ts";
import { describeError } from "../observe/log.ts";
import type { CachedObject } from "./cached_object.ts";
import {
  decodeEntry,
  decodeHeader,
  encodeEntry,
  type EntryHeader,
  FRAME_PREFIX_BYTES,
  headerLength,
} from "./entry_codec.ts";
import { type CacheTier, type PurgeSelector, selectorMatcher, type TierStats } from "./tier.ts";
import { errorMessage } from "../errors.ts";

export interface DiskStoreOptions {
  /** Structured events (`cache.disk.*`); nothing is logged when absent. */
  log?: (event: string, fields: Record<string, unknown>) => void;
  /** Epoch ms; only times the index rebuild for the `cache.disk.opened` event. */
  now?: () => number;
}

/** What the index keeps per entry: enough to bound the size and find the file, never the body. */
interface IndexRecord {
  /** File name inside the entries directory (`<sha256 of key>.entry`). */
  readonly file: string;
  /** The file's size on disk (frame prefix + header + body): what `maxBytes` bounds. */
  readonly bytes: number;
  readonly storedAt: number;
  readonly expiresAt: number;
}

const ENTRY_SUFFIX = ".entry";
/** Temp files share the directory with entries so that the final rename stays on one filesystem (atomic). */
const TEMP_PREFIX = ".tmp-";
/** Files read at once while rebuilding the index: enough to hide latency, few enough to spare file descriptors. */
const REBUILD_CONCURRENCY = 32;

/** The entry file's name for a cache key: keys hold NUL and `/`, a hash is always a safe file name. */
function entryFileName(key: string): string {
  return createHash("sha256").update(key).digest("hex") + ENTRY_SUFFIX;
}

function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound;
}

/** Reads exactly `into.byteLength` bytes; false at a premature end of file (a truncated entry). */
async function readFully(file: Deno.FsFile, into: Uint8Array): Promise<boolean> {
  let filled = 0;
  while (filled < into.byteLength) {
    const n = await file.read(into.subarray(filled));
    if (n === null) return false;
    filled += n;
  }
  return true;
}

/**
 * The header and size of an entry file, reading only the prefix and the header; undefined when
 * the file is not a complete frame (a foreign file, or one torn by a crash or a full disk).
 */
async function readEntryHeader(
  path: string,
): Promise<{ header: EntryHeader; size: number } | undefined> {
  const file = await Deno.open(path, { read: true });
  try {
    const size = (await file.stat()).size;
    const prefix = new Uint8Array(FRAME_PREFIX_BYTES);
    if (!(await readFully(file, prefix))) return undefined;
    const length = headerLength(prefix);
    // Checked against the size first: a garbage length must not make us allocate gigabytes.
    if (length === undefined || FRAME_PREFIX_BYTES + length > size) return undefined;
    const json = new Uint8Array(length);
    if (!(await readFully(file, json))) return undefined;
    const header = decodeHeader(json);
    if (header === undefined || size !== FRAME_PREFIX_BYTES + length + header.bodyBytes) {
      return undefined;
    }
    return { header, size };
  } finally {
    file.close();
  }
}

/** Runs `task` over `items` with at most `limit` running at once. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * The disk tier. Each entry is one file in the entry_codec frame, written to a temp file and
 * renamed into place, so a reader or a crash never sees half an entry. The index (key -> file,
 * size, expiry) lives in memory in LRU order and is rebuilt from the files' headers at open, so
 * entries survive a restart without their bodies being read.
 *
 * Every operation that touches one entry file (write, eviction, damage cleanup, purge) runs in
 * that file's queue: concurrent sets of one key rename in call order, and a delete can never
 * remove a file that a set renamed into place after the delete was decided.
 */
export class DiskStore implements CacheTier {
  readonly name = "disk" as const;
  readonly #entriesDir: string;
  readonly #maxBytes: number;
  readonly #log: (event: string, fields: Record<string, unknown>) => void;
  /** Map order is recency order: first = least recently used. */
  readonly #index = new Map<string, IndexRecord>();
  /** Per entry file: the tail of its operation queue, and the key it belongs to (for purges of unindexed keys). */
  readonly #queues = new Map<string, { tail: Promise<void>; key: string }>();
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;
  #errors = 0;
  #closed = false;

  private constructor(
    entriesDir: string,
    maxBytes: number,
    log: (event: string, fields: Record<string, unknown>) => void,
  ) {
    this.#entriesDir = entriesDir;
    this.#maxBytes = maxBytes;
    this.#log = log;
  }

  /**
   * Creates `{cacheDir}/entries` when missing, deletes temp files left by a crash and rebuilds the
   * index from the entries' headers. Rejects, naming `cache.disk.cache_dir`, when the directory
   * cannot be created or written: that is a configuration mistake to report at startup, not a
   * tier to run broken.
   */
  static async open(config: DiskCacheConfig, options: DiskStoreOptions = {}): Promise<DiskStore> {
    const log = options.log ?? (() => {});
    const now = options.now ?? Date.now;
    const started = now();
    const entriesDir = join(config.cacheDir, "entries");
    try {
      await Deno.mkdir(entriesDir, { recursive: true });
      // mkdir succeeds on an existing read-only directory; only a write proves we can store.
      // The probe carries the temp prefix, so a crash right here leaves nothing open() keeps.
      const probe = join(entriesDir, `${TEMP_PREFIX}probe-${randomUUID()}`);
      await Deno.writeFile(probe, new Uint8Array(0));
      await Deno.remove(probe);
    } catch (error) {
      throw new Error(
        `cache.disk.cache_dir: cannot use "${config.cacheDir}" as the disk cache directory ` +
          `(${errorMessage(error)}). Set cache.disk.cache_dir ` +
          `to a directory this process can create and write (not a file), fix its permissions, ` +
          `or disable cache.disk.`,
        { cause: error },
      );
    }
    const store = new DiskStore(entriesDir, config.maxBytes, log);
    const removed = await store.#rebuild();
    log("cache.disk.opened", {
      dir: entriesDir,
      items: store.#index.size,
      bytes: store.#bytes,
      maxBytes: store.#maxBytes,
      removed,
      durationMs: now() - started,
    });
    return store;
  }

  /** Fills the index from the directory; returns how many leftover or invalid files were deleted. */
  async #rebuild(): Promise<number> {
    const names: string[] = [];
    const temps: string[] = [];
    try {
      for await (const item of Deno.readDir(this.#entriesDir)) {
        if (item.name.startsWith(TEMP_PREFIX)) temps.push(item.name);
        else if (item.isFile && item.name.endsWith(ENTRY_SUFFIX)) names.push(item.name);
      }
    } catch (error) {
      throw new Error(
        `cache.disk.cache_dir: cannot list "${this.#entriesDir}" ` +
          `(${errorMessage(error)}). Give this process read ` +
          `access to cache.disk.cache_dir, or point it at another directory.`,
        { cause: error },
      );
    }

    let removed = 0;
    // Temp files are writes that never reached their rename: never a valid entry.
    await forEachLimited(temps, REBUILD_CONCURRENCY, async (name) => {
      if (await this.#removeQuietly(name, "open")) removed++;
    });

    const found: Array<{ key: string; record: IndexRecord }> = [];
    await forEachLimited(names, REBUILD_CONCURRENCY, async (name) => {
      let read: { header: EntryHeader; size: number } | undefined;
      try {
        read = await readEntryHeader(join(this.#entriesDir, name));
      } catch (error) {
        if (isNotFound(error)) return;
        this.#fail("open", undefined, error, { file: name });
        read = undefined;
      }
      // A file whose name is not its key's hash would never be found by get() and would be
      // shadowed by the next set(): as good as damaged.
      if (read === undefined || entryFileName(read.header.key) !== name) {
        if (await this.#removeQuietly(name, "open")) removed++;
        return;
      }
      const { header, size } = read;
      found.push({
        key: header.key,
        record: { file: name, bytes: size, storedAt: header.storedAt, expiresAt: header.expiresAt },
      });
    });

    // Access times are not on disk; the oldest stored is the best guess at least recently used.
    found.sort((a, b) => a.record.storedAt - b.record.storedAt);
    for (const { key, record } of found) {
      this.#index.set(key, record);
      this.#bytes += record.bytes;
    }
    // maxBytes may have been lowered since the files were written.
    this.#evict();
    return removed;
  }

  async get(key: string, nowMs: number): Promise<CachedObject | undefined> {
    const record = this.#index.get(key);
    if (record === undefined) {
      this.#misses++;
      return undefined;
    }
    let decoded: ReturnType<typeof decodeEntry>;
    try {
      decoded = decodeEntry(await Deno.readFile(join(this.#entriesDir, record.file)));
    } catch (error) {
      this.#misses++;
      // Gone: an eviction or purge won the race, or someone cleaned the directory. Not an error.
      if (isNotFound(error)) {
        if (this.#index.get(key) === record) this.#drop(key, record);
      } else {
        this.#fail("get", key, error);
      }
      return undefined;
    }
    // A different key in the file means corruption (or a hash collision): never serve it.
    if (decoded === undefined || decoded.key !== key) {
      this.#misses++;
      this.#errors++;
      this.#log("cache.disk.damaged", { key, file: record.file });
      await this.#enqueue(record.file, key, async () => {
        // Only if no set has replaced the file since it was read.
        if (this.#index.get(key) !== record) return;
        this.#drop(key, record);
        await this.#removeQuietly(record.file, "get");
      });
      return undefined;
    }
    if (this.#index.get(key) === record) {
      // Re-insertion moves it to the most recent end.
      this.#index.delete(key);
      this.#index.set(key, record);
    }
    const value = decoded.value;
    if (value.expiresAt > nowMs) this.#hits++;
    else this.#misses++;
    return value;
  }

  async set(key: string, value: CachedObject): Promise<void> {
    if (this.#closed) return;
    const file = entryFileName(key);
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = encodeEntry(key, value);
    } catch (error) {
      this.#fail("set", key, error);
      return;
    }
    if (bytes.byteLength > this.#maxBytes) {
      // Refused rather than evicting everything else; the older copy goes too, since the caller
      // has just replaced it with a version the tier cannot hold.
      this.#log("cache.disk.refused", { key, bytes: bytes.byteLength, maxBytes: this.#maxBytes });
      await this.#enqueue(file, key, async () => {
        const old = this.#index.get(key);
        if (old === undefined) return;
        this.#drop(key, old);
        await this.#removeQuietly(old.file, "set");
      });
      return;
    }
    await this.#enqueue(file, key, async () => {
      const temp = join(this.#entriesDir, `${TEMP_PREFIX}${randomUUID()}`);
      try {
        await Deno.writeFile(temp, bytes);
        // No fsync: a power loss can tear the file behind the rename, but open() and get() both
        // check the frame and its length, so a torn entry is deleted, never served.
        await Deno.rename(temp, join(this.#entriesDir, file));
      } catch (error) {
        this.#fail("set", key, error);
        try {
          await Deno.remove(temp);
        } catch {
          // Never created, or already gone: nothing to clean up.
        }
        return;
      }
      const old = this.#index.get(key);
      if (old !== undefined) this.#drop(key, old);
      this.#index.set(key, {
        file,
        bytes: bytes.byteLength,
        storedAt: value.storedAt,
        expiresAt: value.expiresAt,
      });
      this.#bytes += bytes.byteLength;
      this.#evict();
    });
  }

  async purge(selector: PurgeSelector): Promise<number> {
    const matches = selectorMatcher(selector);
    const keys = new Set<string>();
    for (const key of this.#index.keys()) if (matches(key)) keys.add(key);
    // Keys whose first set is still being written: purged too, once that write lands.
    for (const { key } of this.#queues.values()) if (matches(key)) keys.add(key);
    let purged = 0;
    const failures: string[] = [];
    await Promise.all(
      [...keys].map((key) =>
        this.#enqueue(entryFileName(key), key, async () => {
          const record = this.#index.get(key);
          if (record === undefined) return;
          // Out of the index first: even if the file resists, it is no longer served.
          this.#drop(key, record);
          purged++;
          try {
            await Deno.remove(join(this.#entriesDir, record.file));
          } catch (error) {
            if (isNotFound(error)) return;
            this.#fail("purge", key, error, { file: record.file });
            failures.push(`${record.file}: ${error instanceof Error ? error.message : error}`);
          }
        })
      ),
    );
    if (failures.length > 0) {
      // The files would come back at the next open: the operator must know the purge is incomplete.
      throw new Error(
        `cache.disk: purge could not delete ${failures.length} entry file(s) in ` +
          `"${this.#entriesDir}" (first: ${failures[0]}); check the directory's permissions`,
      );
    }
    return purged;
  }

  usage(selector: PurgeSelector): Promise<{ items: number; bytes: number }> {
    const matches = selectorMatcher(selector);
    let items = 0;
    let bytes = 0;
    for (const [key, record] of this.#index) {
      if (!matches(key)) continue;
      items++;
      bytes += record.bytes;
    }
    return Promise.resolve({ items, bytes });
  }

  stats(): TierStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      items: this.#index.size,
      bytes: this.#bytes,
      maxBytes: this.#maxBytes,
      errors: this.#errors,
    };
  }

  /** Stops accepting sets and waits for every queued write and delete. */
  async close(): Promise<void> {
    this.#closed = true;
    // A queued operation may queue another (an eviction after a write): drain until empty.
    while (this.#queues.size > 0) {
      await Promise.all([...this.#queues.values()].map((queue) => queue.tail));
    }
  }

  /**
   * Runs `task` after every earlier operation on `file`. The returned promise never rejects (a
   * throwing task is counted as an error) so that get and set stay total.
   */
  #enqueue(file: string, key: string, task: () => Promise<void>): Promise<void> {
    const previous = this.#queues.get(file)?.tail ?? Promise.resolve();
    const tail = previous.then(task).catch((error) => this.#fail("queue", key, error));
    const queue = { tail, key };
    this.#queues.set(file, queue);
    void tail.then(() => {
      if (this.#queues.get(file) === queue) this.#queues.delete(file);
    });
    return tail;
  }

  /** Evicts least recently used entries until the tier is within its bound. */
  #evict(): void {
    while (this.#bytes > this.#maxBytes) {
      const oldest = this.#index.entries().next();
      if (oldest.done) break;
      const [key, record] = oldest.value;
      this.#drop(key, record);
      this.#evictions++;
      // Not awaited: the index is already within bounds; the file goes once its queue reaches it,
      // unless a set queued earlier has put the key back (then the file on disk is that new one).
      void this.#enqueue(record.file, key, async () => {
        if (this.#index.has(key)) return;
        await this.#removeQuietly(record.file, "evict");
      });
    }
  }

  #drop(key: string, record: IndexRecord): void {
    this.#index.delete(key);
    this.#bytes -= record.bytes;
  }

  /** Deletes a file of the entries directory; true if it went. Failures are counted and logged, never thrown. */
  async #removeQuietly(name: string, op: string): Promise<boolean> {
    try {
      await Deno.remove(join(this.#entriesDir, name));
      return true;
    } catch (error) {
      if (!isNotFound(error)) this.#fail(op, undefined, error, { file: name });
      return false;
    }
  }

  #fail(op: string, key: string | undefined, error: unknown, extra: Record<string, unknown> = {}) {
    this.#errors++;
    this.#log("cache.disk.error", { op, key, ...extra, error: describeError(error) });
  }
}
