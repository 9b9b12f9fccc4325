// Owns the Zipf hit-rate comparison: the memory tier (MemoryStore) against a plain LRU of the same byte size on a seeded trace.
//
//   deno run -A bench/zipf_hit_rate.ts [--objects N] [--requests N] [--alpha A] [--cache-mb M]
//                                      [--seed S] [--warmup F]
//
// Defaults: 100,000 objects, 1,000,000 requests, alpha 0.7, 0.9 and 1.1 (one alpha with --alpha),
// caches of 1%, 5% and 10% of the distinct bytes the trace requests (one size with --cache-mb),
// seed 1, the first 10% of requests not counted (--warmup 0 counts them all). About 15 s on 2 cores.
//
// Objects get a size from a log-normal (median 16 KiB, sigma 1.5) clamped to 1 KiB..1 MiB, and a
// popularity rank from a seeded shuffle (size and popularity are independent). Each request is
// looked up and, on a miss, stored, as the gateway does (lookup, then store of a complete body of at
// most maxItemBytes), in:
//   - MemoryStore: the real memory tier (lru-cache, size-weighted), maxCacheBytes = the cache size;
//   - plain LRU, same bytes: a Map in recency order, byte-bounded, evicting the least recent until
//     the new entry fits (the textbook LRU). It counts an entry's size as MemoryStore does (body +
//     key + 1 KiB of bookkeeping), so the two differ only in policy, not in accounting;
//   - plain LRU, same entries: count-bounded, as many entries as MemoryStore held on average;
//   - plain LRU, same bytes, bodies only: byte-bounded on body bytes alone, so it holds a few more
//     objects; what MemoryStore's per-entry bookkeeping estimate costs in hit rate.
// Hit rates are per request and per byte (bytes served from the cache / bytes requested).

import { parseArgs } from "node:util";
import { type CachedObject, newCachedObject } from "../src/cache/cached_object.ts";
import { buildCacheKey } from "../src/cache/key.ts";
import { MemoryStore } from "../src/cache/memory_store.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const MAX_ITEM_BYTES = 10 * MiB;
const TTL_SECONDS = 365 * 86_400;
const CLOCK_MS = 1_700_000_000_000; // one fixed instant: nothing expires during the trace
const SAMPLE_EVERY = 1000; // requests between two samples of MemoryStore's item count

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    objects: { type: "string", default: "100000" },
    requests: { type: "string", default: "1000000" },
    alpha: { type: "string" },
    "cache-mb": { type: "string" },
    seed: { type: "string", default: "1" },
    warmup: { type: "string", default: "0.1" },
  },
});

function numberOption(name: string, raw: string, integer: boolean): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isSafeInteger(value))) {
    throw new Error(`--${name}: not a valid number: ${raw}`);
  }
  return value;
}

const objectCount = numberOption("objects", args.objects, true);
const requestCount = numberOption("requests", args.requests, true);
const seed = numberOption("seed", args.seed, true);
const warmupFraction = numberOption("warmup", args.warmup, false);
const alphas = args.alpha === undefined
  ? [0.7, 0.9, 1.1]
  : [numberOption("alpha", args.alpha, false)];
const fixedCacheBytes = args["cache-mb"] === undefined
  ? undefined
  : Math.round(numberOption("cache-mb", args["cache-mb"], false) * MiB);
const CACHE_FRACTIONS = [0.01, 0.05, 0.1];
if (objectCount < 1 || requestCount < 1 || warmupFraction >= 1) {
  throw new Error("--objects and --requests must be ≥ 1, --warmup below 1");
}

/** mulberry32: a small, fast, seeded 32-bit PRNG; returns uniforms in [0, 1). */
function mulberry32(seedValue: number): () => number {
  let state = seedValue >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- The catalog: sizes, popularity order, keys, cache entries (one shared backing buffer). ----

const catalogRandom = mulberry32(seed);
const sizes = new Int32Array(objectCount);
let catalogBytes = 0;
for (let id = 0; id < objectCount; id++) {
  const u1 = 1 - catalogRandom(); // (0, 1]
  const u2 = catalogRandom();
  const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  const size = Math.round(16 * KiB * Math.exp(1.5 * normal));
  sizes[id] = Math.min(MiB, Math.max(KiB, size));
  catalogBytes += sizes[id]!;
}
// rankToObject[r] = the object of popularity rank r + 1.
const rankToObject = new Int32Array(objectCount);
for (let i = 0; i < objectCount; i++) rankToObject[i] = i;
for (let i = objectCount - 1; i > 0; i--) {
  const j = Math.floor(catalogRandom() * (i + 1));
  [rankToObject[i], rankToObject[j]] = [rankToObject[j]!, rankToObject[i]!];
}
const keys = Array.from(
  { length: objectCount },
  (_, id) => buildCacheKey("bench", `objects/${id}.bin`, undefined),
);
// MemoryStore keeps bodies by reference and counts body.byteLength: views of one buffer suffice.
const sharedBody = new ArrayBuffer(MiB);
const sharedHeaders = new Headers({ "content-type": "application/octet-stream" });
const entries: CachedObject[] = Array.from(
  { length: objectCount },
  (_, id) =>
    newCachedObject(
      sharedHeaders,
      new Uint8Array(sharedBody, 0, sizes[id]!),
      TTL_SECONDS,
      CLOCK_MS,
    ),
);
/** What MemoryStore charges for an entry (memory_store.ts entrySize), and a body alone. */
const charged = Float64Array.from(keys, (key, id) => sizes[id]! + key.length + 1024);
const bodyOnly = Float64Array.from(sizes);

// ---- The trace. ----

/** Generalised harmonic number H(n, alpha) = Σ k^-alpha, k = 1..n. */
function harmonic(n: number, alpha: number): number {
  let sum = 0;
  for (let k = n; k >= 1; k--) sum += Math.pow(k, -alpha); // smallest first: less rounding error
  return sum;
}

/** Object ids of a Zipf(alpha) trace over the catalog (CDF inversion by binary search). */
function zipfTrace(alpha: number): Int32Array {
  const cdf = new Float64Array(objectCount);
  let sum = 0;
  for (let k = 0; k < objectCount; k++) cdf[k] = sum += Math.pow(k + 1, -alpha);
  for (let k = 0; k < objectCount; k++) cdf[k]! /= sum;
  // Seeded the same for every alpha: the traces differ by alpha only (common random numbers).
  const random = mulberry32(seed + 0x9e3779b9);
  const trace = new Int32Array(requestCount);
  for (let n = 0; n < requestCount; n++) {
    const u = random();
    let low = 0;
    let high = objectCount - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (cdf[mid]! > u) high = mid;
      else low = mid + 1;
    }
    trace[n] = rankToObject[low]!;
  }
  return trace;
}

// ---- The caches. ----

interface Simulated {
  /** Looks `id` up; on a miss stores it (if it may be stored). True on a hit. */
  access(id: number): boolean;
  readonly items: number;
}

class MemoryStoreSim implements Simulated {
  readonly #store: MemoryStore;
  constructor(maxCacheBytes: number) {
    this.#store = new MemoryStore({
      maxItemBytes: MAX_ITEM_BYTES,
      maxCacheBytes,
      defaultTtlSeconds: TTL_SECONDS,
    });
  }
  access(id: number): boolean {
    // As the gateway: getFresh (a memory-only TieredCache is this call), then store on a miss.
    if (this.#store.get(keys[id]!, CLOCK_MS) !== undefined) return true;
    if (sizes[id]! <= MAX_ITEM_BYTES) this.#store.set(keys[id]!, entries[id]!);
    return false;
  }
  get items(): number {
    return this.#store.stats().items;
  }
}

/** The textbook LRU: a Map in recency order (oldest first), bounded by bytes or by entries. */
class PlainLru implements Simulated {
  readonly #recency = new Map<number, number>(); // id -> charged size
  readonly #capacity: number;
  /** Each object's cost in bytes; undefined bounds the entries instead (each costs 1). */
  readonly #costs: Float64Array | undefined;
  #used = 0;
  /**
   * One live iterator over the keys, kept across evictions: what it has passed was evicted, what
   * is added later lands behind it, so its next key is always the least recent. (A fresh
   * `keys().next()` per eviction would re-skip every deleted slot still in the table: O(n).)
   */
  #oldest: MapIterator<number>;
  constructor(capacity: number, costs: Float64Array | undefined) {
    this.#capacity = capacity;
    this.#costs = costs;
    this.#oldest = this.#recency.keys();
  }
  access(id: number): boolean {
    const recency = this.#recency;
    const size = recency.get(id);
    if (size !== undefined) {
      recency.delete(id);
      recency.set(id, size);
      return true;
    }
    if (sizes[id]! > MAX_ITEM_BYTES) return false;
    const cost = this.#costs === undefined ? 1 : this.#costs[id]!;
    if (cost > this.#capacity) return false; // larger than the whole cache: refused
    while (this.#used + cost > this.#capacity) {
      let next = this.#oldest.next();
      if (next.done) next = (this.#oldest = recency.keys()).next();
      this.#used -= recency.get(next.value!)!;
      recency.delete(next.value!);
    }
    recency.set(id, cost);
    this.#used += cost;
    return false;
  }
  get items(): number {
    return this.#recency.size;
  }
}

interface Outcome {
  /** 1 where the request (warm-up included) was a hit. */
  hitFlags: Uint8Array;
  requestHitRate: number;
  byteHitRate: number;
  averageItems: number;
}

function replay(trace: Int32Array, cache: Simulated): Outcome {
  const counted = Math.floor(trace.length * warmupFraction);
  let hits = 0;
  let hitBytes = 0;
  let requestedBytes = 0;
  let itemSum = 0;
  let samples = 0;
  const hitFlags = new Uint8Array(trace.length);
  for (let n = 0; n < trace.length; n++) {
    const id = trace[n]!;
    const hit = cache.access(id);
    if (hit) hitFlags[n] = 1;
    if (n < counted) continue;
    requestedBytes += sizes[id]!;
    if (hit) {
      hits++;
      hitBytes += sizes[id]!;
    }
    if ((n - counted) % SAMPLE_EVERY === 0) {
      itemSum += cache.items;
      samples++;
    }
  }
  const requests = trace.length - counted;
  return {
    hitFlags,
    requestHitRate: hits / requests,
    byteHitRate: requestedBytes === 0 ? 0 : hitBytes / requestedBytes,
    averageItems: samples === 0 ? cache.items : itemSum / samples,
  };
}

// ---- Report. ----

const pct = (value: number, digits = 2) => `${(value * 100).toFixed(digits)}%`;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
const gib = (bytes: number) => `${(bytes / (1024 * MiB)).toFixed(2)} GiB`;
const int = (value: number) => Math.round(value).toLocaleString("en-US");

const started = performance.now();
console.log(
  `Zipf hit rates: ${int(objectCount)} objects (log-normal sizes, median 16 KiB, sigma 1.5, ` +
    `1 KiB..1 MiB: mean ${(catalogBytes / objectCount / KiB).toFixed(1)} KiB, catalog ` +
    `${gib(catalogBytes)}), ${int(requestCount)} requests, seed ${seed}; ` +
    (warmupFraction > 0
      ? `the first ${pct(warmupFraction, 0)} of requests warm the caches and are not counted.`
      : "every request counted (cold start)."),
);
console.log(
  "Cache sizes as MemoryStore counts them (body + key + 1 KiB per entry); both byte-bounded " +
    'caches use that accounting except "bodies only". "vs LRU": the row\'s hit rate / ' +
    "the plain LRU of the same bytes.",
);

const header = ["cache", "policy", "avg items", "req hit", "byte hit", "req vs LRU", "byte vs LRU"];
const widths = [16, 34, 10, 8, 9, 11, 11];
const row = (cells: string[]) =>
  cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");

for (const alpha of alphas) {
  const trace = zipfTrace(alpha);
  const counts = new Int32Array(objectCount);
  for (let n = 0; n < trace.length; n++) counts[trace[n]!]!++;
  let distinct = 0;
  let distinctBytes = 0;
  let top1PercentRequests = 0;
  const topRanks = Math.max(1, Math.floor(objectCount / 100));
  for (let id = 0; id < objectCount; id++) {
    if (counts[id]! > 0) {
      distinct++;
      distinctBytes += sizes[id]!;
    }
  }
  for (let r = 0; r < topRanks; r++) top1PercentRequests += counts[rankToObject[r]!]!;
  const total = harmonic(objectCount, alpha);
  // An infinite cache misses each object's first request only (in the counted window: the
  // objects first requested there).
  const counted = Math.floor(trace.length * warmupFraction);
  const seen = new Uint8Array(objectCount);
  let compulsory = 0;
  let compulsoryBytes = 0;
  let countedBytes = 0;
  for (let n = 0; n < trace.length; n++) {
    const id = trace[n]!;
    const first = seen[id] === 0;
    seen[id] = 1;
    if (n < counted) continue;
    countedBytes += sizes[id]!;
    if (first) {
      compulsory++;
      compulsoryBytes += sizes[id]!;
    }
  }
  const countedRequests = trace.length - counted;

  console.log(`\nalpha ${alpha}`);
  console.log(
    `  most popular object: ${pct(counts[rankToObject[0]!]! / trace.length, 3)} of requests ` +
      `(Zipf predicts ${pct(1 / total, 3)}); top 1% of objects: ` +
      `${pct(top1PercentRequests / trace.length)} (predicts ${
        pct(harmonic(topRanks, alpha) / total)
      })`,
  );
  console.log(
    `  distinct objects requested: ${int(distinct)}, ${gib(distinctBytes)}; infinite cache ` +
      `(compulsory misses only): ${pct(1 - compulsory / countedRequests)} req, ` +
      `${pct(countedBytes === 0 ? 0 : 1 - compulsoryBytes / countedBytes)} bytes`,
  );
  console.log(`  ${row(header)}`);

  const cacheSizes = fixedCacheBytes === undefined
    ? CACHE_FRACTIONS.map((fraction) => ({
      label: `${pct(fraction, 0)} = ${mib(fraction * distinctBytes)}`,
      bytes: Math.round(fraction * distinctBytes),
    }))
    : [{ label: mib(fixedCacheBytes), bytes: fixedCacheBytes }];
  for (const { label, bytes } of cacheSizes) {
    const memory = replay(trace, new MemoryStoreSim(bytes));
    const plain = replay(trace, new PlainLru(bytes, charged));
    const entryBound = Math.max(1, Math.round(memory.averageItems));
    const byCount = replay(trace, new PlainLru(entryBound, undefined));
    const bodies = replay(trace, new PlainLru(bytes, bodyOnly));
    const ratio = (value: number, base: number) =>
      base === 0 ? "-" : `${(value / base).toFixed(3)}x`;
    const line = (name: string, outcome: Outcome, first: boolean) =>
      "  " + row([
        first ? label : "",
        name,
        int(outcome.averageItems),
        pct(outcome.requestHitRate),
        pct(outcome.byteHitRate),
        ratio(outcome.requestHitRate, plain.requestHitRate),
        ratio(outcome.byteHitRate, plain.byteHitRate),
      ]);
    console.log(line("MemoryStore (lru-cache)", memory, true));
    console.log(line("plain LRU, same bytes", plain, false));
    console.log(line(`plain LRU, ${int(entryBound)} entries`, byCount, false));
    console.log(line("plain LRU, same bytes, bodies only", bodies, false));
    let differ = 0;
    for (let n = 0; n < trace.length; n++) {
      if (memory.hitFlags[n] !== plain.hitFlags[n]) differ++;
    }
    console.log(
      "  " +
        row([
          "",
          `MemoryStore vs plain LRU, same bytes: ${int(differ)} of ${
            int(trace.length)
          } requests differ in hit/miss`,
        ]),
    );
  }
}
console.log(`\n${((performance.now() - started) / 1000).toFixed(1)} s`);
