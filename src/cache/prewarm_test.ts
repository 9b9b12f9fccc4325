// Owns the tests of PrewarmManager with fake list/warm functions: bounds, filters, limits, cancel, failures, pruning.

import assert from "node:assert/strict";
import type { ListPage } from "../origin/list_objects.ts";
import {
  depthFilter,
  keyPrefix,
  PrewarmManager,
  type PrewarmManagerOptions,
  type PrewarmTask,
  type PrewarmWarm,
} from "./prewarm.ts";

/** A bucket of `keys` listed `pageSize` at a time, with tokens "t<offset>"; records each call. */
function fakeBucket(keys: string[], pageSize = 1000) {
  const calls: Array<{ bucket: string; prefix: string; token: string | undefined }> = [];
  const list = (
    bucket: string,
    prefix: string,
    token: string | undefined,
    _signal: AbortSignal,
  ): Promise<ListPage> => {
    calls.push({ bucket, prefix, token });
    const matching = keys.filter((k) => k.startsWith(prefix)).sort();
    const start = token === undefined ? 0 : Number(token.slice(1));
    const objects = matching.slice(start, start + pageSize).map((key) => ({
      key,
      size: key.length,
      etag: undefined,
      lastModified: undefined,
    }));
    const next = start + pageSize < matching.length ? `t${start + pageSize}` : undefined;
    return Promise.resolve({
      objects,
      nextContinuationToken: next,
      isTruncated: next !== undefined,
    });
  };
  return { list, calls };
}

const keysUnder = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, "0")}.bin`);

/** A warm that records keys and answers at once, caching `key.length` bytes. */
function recordingWarm() {
  const warmed: string[] = [];
  const warm: PrewarmWarm = (_bucket, key) => {
    warmed.push(key);
    return Promise.resolve({ bytes: key.length, cached: true });
  };
  return { warm, warmed };
}

function manager(options: Partial<PrewarmManagerOptions> & Pick<PrewarmManagerOptions, "list">) {
  return new PrewarmManager({
    concurrency: 4,
    ratePerSecond: 100_000,
    warm: recordingWarm().warm,
    ...options,
  });
}

async function run(m: PrewarmManager, task: PrewarmTask): Promise<PrewarmTask> {
  const done = await m.whenDone(task.id);
  assert.ok(done !== undefined);
  return done;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

Deno.test("a task goes pending -> running -> completed, with the original's JSON fields", async () => {
  let clock = 1_700_000_000_000;
  const { list } = fakeBucket(keysUnder("docs/", 3));
  // Each warm holds until the test has seen the task running: no timing can finish it early
  // (a 5 ms warm against a 1 ms wait failed once on a busy CI host).
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let warmsStarted = 0;
  const held: PrewarmWarm = async (_b, key) => {
    warmsStarted++;
    await gate;
    return { bytes: key.length, cached: true };
  };
  const m = manager({ list, warm: held, now: () => (clock += 250) });
  const created = m.create({ bucket: "assets", path: "docs/" });
  assert.equal(created.status, "pending");
  assert.match(created.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  while (warmsStarted === 0) await delay(1);
  assert.equal(m.get(created.id)?.status, "running");
  release();
  const done = await run(m, created);
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(done))), [
    "id",
    "bucket",
    "path",
    "status",
    "options",
    "files_scanned",
    "files_cached",
    "files_failed",
    "bytes_cached",
    "created_at",
    "start_time",
    "end_time",
    "error_message",
  ]);
  assert.equal(done.status, "completed");
  assert.deepEqual(done.options, { recursive: true, max_depth: null, max_files: null });
  assert.equal(done.files_scanned, 3);
  assert.equal(done.files_cached, 3);
  assert.equal(done.files_failed, 0);
  assert.equal(done.bytes_cached, 3 * "docs/0000.bin".length);
  assert.equal(done.error_message, null);
  // Unix seconds as numbers, in order.
  assert.equal(done.created_at, 1_700_000_000.25);
  assert.ok(done.start_time !== null && done.end_time !== null);
  assert.ok(done.created_at < done.start_time && done.start_time < done.end_time);
  assert.deepEqual(m.list().map((t) => t.id), [created.id]);
  await m.close();
});

Deno.test("get() and list() hand out copies that cannot change the task", async () => {
  const { list } = fakeBucket([]);
  const m = manager({ list });
  const task = m.create({ bucket: "b", path: "" });
  const copy = m.get(task.id)!;
  copy.status = "failed";
  copy.options.recursive = false;
  assert.notEqual(m.get(task.id)?.status, "failed");
  assert.equal(m.get(task.id)?.options.recursive, true);
  await m.close();
});

Deno.test("never more than `concurrency` warms in flight, across tasks", async () => {
  const { list } = fakeBucket([...keysUnder("a/", 40), ...keysUnder("b/", 40)], 7);
  let inFlight = 0;
  let maxInFlight = 0;
  const warm: PrewarmWarm = async (_b, key) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await delay(1 + (key.charCodeAt(key.length - 5) % 4));
    inFlight--;
    return { bytes: 1, cached: true };
  };
  const m = manager({ list, warm, concurrency: 3 });
  const a = m.create({ bucket: "x", path: "a/" });
  const b = m.create({ bucket: "x", path: "b/" });
  const [doneA, doneB] = await Promise.all([run(m, a), run(m, b)]);
  assert.equal(doneA.files_cached, 40);
  assert.equal(doneB.files_cached, 40);
  assert.equal(maxInFlight, 3, "the bound is reached and never exceeded");
  await m.close();
});

Deno.test("no more than `ratePerSecond` warms start per second", async () => {
  const { list } = fakeBucket(keysUnder("r/", 8));
  const starts: number[] = [];
  const warm: PrewarmWarm = () => {
    starts.push(performance.now());
    return Promise.resolve({ bytes: 1, cached: true });
  };
  const m = manager({ list, warm, concurrency: 8, ratePerSecond: 20 });
  const began = performance.now();
  const done = await run(m, m.create({ bucket: "x", path: "r/" }));
  assert.equal(done.files_cached, 8);
  // 20/s is one start every 50 ms; timers never fire early, so the gaps are at least that.
  for (let i = 1; i < starts.length; i++) {
    const gap = starts[i]! - starts[i - 1]!;
    assert.ok(gap >= 49, `start ${i} came ${gap.toFixed(1)} ms after the previous one`);
  }
  assert.ok(performance.now() - began >= 7 * 49);
  await m.close();
});

Deno.test("a high rate is reached, not capped by timer granularity, and not exceeded", async () => {
  const { list } = fakeBucket(keysUnder("h/", 1000));
  const m = manager({ list, concurrency: 64, ratePerSecond: 5000 });
  const began = performance.now();
  const done = await run(m, m.create({ bucket: "x", path: "h/" }));
  const elapsed = performance.now() - began;
  assert.equal(done.files_cached, 1000);
  // 5000/s with a 10 ms burst (50 tokens): the last start comes no sooner than 950 / 5 ms.
  assert.ok(elapsed >= 189, `${elapsed.toFixed(0)} ms is faster than the rate`);
  assert.ok(elapsed < 1500, `${elapsed.toFixed(0)} ms: timers cap the rate`);
  await m.close();
});

Deno.test("maxFiles warms exactly that many objects, across pages", async () => {
  for (const maxFiles of [1, 7, 10, 11, 25, 40]) {
    const { list, calls } = fakeBucket(keysUnder("m/", 25), 5);
    const { warm, warmed } = recordingWarm();
    const m = manager({ list, warm });
    const done = await run(m, m.create({ bucket: "x", path: "m/", maxFiles }));
    const expected = Math.min(maxFiles, 25);
    assert.equal(done.status, "completed");
    assert.equal(done.files_cached, expected, `maxFiles ${maxFiles}`);
    assert.equal(warmed.length, expected);
    assert.deepEqual(warmed, keysUnder("m/", 25).slice(0, expected));
    assert.equal(done.files_scanned, expected);
    assert.equal(done.options.max_files, maxFiles);
    // No page is listed beyond the one that held the last file.
    assert.equal(calls.length, Math.ceil(expected / 5));
    await m.close();
  }
});

Deno.test("recursive:false and maxDepth pick keys by their depth below the path", async () => {
  const keys = ["p/a", "p/b/c", "p/b/d/e", "p/x/y/z/w", "p/", "q/a", "pp/a"];
  const cases: Array<[{ path: string; recursive?: boolean; maxDepth?: number }, string[]]> = [
    [{ path: "p/" }, ["p/", "p/a", "p/b/c", "p/b/d/e", "p/x/y/z/w"]],
    [{ path: "p/", recursive: false }, ["p/", "p/a"]],
    [{ path: "p/", recursive: false, maxDepth: 3 }, ["p/", "p/a"]],
    [{ path: "p/", maxDepth: 1 }, ["p/", "p/a"]],
    [{ path: "p/", maxDepth: 2 }, ["p/", "p/a", "p/b/c"]],
    [{ path: "p/", maxDepth: 3 }, ["p/", "p/a", "p/b/c", "p/b/d/e"]],
    // A path without its trailing "/" counts depth as if it had one.
    [{ path: "p", maxDepth: 1 }, ["p/", "p/a"]],
    [{ path: "p", maxDepth: 2 }, ["p/", "p/a", "p/b/c", "pp/a"]],
    // The leading "/" of a URL-style path is not part of the keys.
    [{ path: "/p/", recursive: false }, ["p/", "p/a"]],
    [{ path: "", recursive: false }, []],
    [{ path: "", maxDepth: 2 }, ["p/", "p/a", "pp/a", "q/a"]],
  ];
  for (const [request, expected] of cases) {
    const { list } = fakeBucket(keys);
    const { warm, warmed } = recordingWarm();
    const m = manager({ list, warm });
    const done = await run(m, m.create({ bucket: "x", ...request }));
    assert.deepEqual(warmed.sort(), expected, JSON.stringify(request));
    assert.equal(done.files_cached, expected.length);
    assert.equal(
      done.files_scanned,
      keys.filter((k) => k.startsWith(keyPrefix(request.path))).length,
    );
    await m.close();
  }
});

Deno.test("depthFilter() and keyPrefix() at the edges", () => {
  assert.equal(keyPrefix("/a/"), "a/");
  assert.equal(keyPrefix("a/"), "a/");
  assert.equal(keyPrefix("//a"), "/a");
  const one = depthFilter("a/", 1);
  assert.equal(one("a/"), true);
  assert.equal(one("a/x"), true);
  assert.equal(one("a/x/"), false);
  assert.equal(depthFilter("a/", null)("a/x/y/z"), true);
  assert.equal(depthFilter("", 1)("x"), true);
  assert.equal(depthFilter("", 1)("/x"), false);
});

Deno.test("cancel() mid-run aborts in-flight warms and stops listing", async () => {
  const { list, calls } = fakeBucket(keysUnder("c/", 50), 10);
  const seen: string[] = [];
  const aborted: string[] = [];
  // Each warm hangs until its signal aborts.
  const warm: PrewarmWarm = (_b, key, signal) => {
    seen.push(key);
    return new Promise((_resolve, reject) => {
      signal.addEventListener("abort", () => {
        aborted.push(key);
        reject(signal.reason);
      }, { once: true });
    });
  };
  const m = manager({ list, warm, concurrency: 3 });
  const task = m.create({ bucket: "x", path: "c/" });
  while (seen.length < 3) await delay(1);
  assert.equal(m.cancel(task.id), "cancelled");
  assert.equal(m.get(task.id)?.status, "cancelled");
  assert.ok(m.get(task.id)?.end_time !== null);
  const done = await run(m, task);
  assert.equal(done.status, "cancelled");
  assert.deepEqual(aborted.sort(), seen.sort());
  assert.equal(seen.length, 3);
  assert.equal(done.files_failed, 0, "aborted warms are not failures");
  assert.equal(done.files_cached, 0);
  assert.equal(calls.length, 1, "no page is listed after the cancel");
  assert.equal(m.cancel(task.id), "finished");
  assert.equal(m.cancel("no-such-id"), "not_found");
  await m.close();
});

Deno.test("cancel() of a pending task means it never runs", async () => {
  const { list, calls } = fakeBucket(keysUnder("c/", 5));
  const m = manager({ list });
  const task = m.create({ bucket: "x", path: "c/" });
  assert.equal(m.cancel(task.id), "cancelled");
  const done = await run(m, task);
  assert.equal(done.status, "cancelled");
  assert.equal(done.start_time, null);
  assert.equal(calls.length, 0);
  await m.close();
});

Deno.test("a listing error fails the task with its message, after the started warms finish", async () => {
  const good = fakeBucket(keysUnder("f/", 10), 4);
  let pages = 0;
  const list: PrewarmManagerOptions["list"] = (bucket, prefix, token, signal) =>
    ++pages === 3
      ? Promise.reject(new Error('S3 answered 503 SlowDown for bucket "x"'))
      : good.list(bucket, prefix, token, signal);
  const m = manager({ list });
  const done = await run(m, m.create({ bucket: "x", path: "f/" }));
  assert.equal(done.status, "failed");
  assert.equal(done.error_message, 'S3 answered 503 SlowDown for bucket "x"');
  assert.equal(done.files_cached, 8, "the two pages listed were warmed");
  assert.ok(done.end_time !== null);
  await m.close();
});

Deno.test("a failing object counts in files_failed and the task goes on", async () => {
  const { list } = fakeBucket(keysUnder("e/", 10));
  const warm: PrewarmWarm = (_b, key) =>
    key.endsWith("3.bin") || key.endsWith("7.bin")
      ? Promise.reject(new Error("NoSuchKey"))
      : Promise.resolve({ bytes: 100, cached: true });
  const log = { lines: [] as string[] };
  const m = manager({
    list,
    warm,
    log: {
      debug: (msg) => log.lines.push(`debug ${msg}`),
      info: (msg) => log.lines.push(`info ${msg}`),
      warn: (msg) => log.lines.push(`warn ${msg}`),
    },
  });
  const done = await run(m, m.create({ bucket: "x", path: "e/" }));
  assert.equal(done.status, "completed");
  assert.equal(done.files_failed, 2);
  assert.equal(done.files_cached, 8);
  assert.equal(done.bytes_cached, 800);
  assert.equal(done.error_message, null);
  assert.ok(log.lines.includes("warn prewarm task completed"), log.lines.join("\n"));
  await m.close();
});

Deno.test("an object that cannot be cached counts only as scanned", async () => {
  const { list } = fakeBucket(["big/huge.iso", "big/small.txt"]);
  const warm: PrewarmWarm = (_b, key) =>
    Promise.resolve({ bytes: key.endsWith(".iso") ? 5e9 : 10, cached: !key.endsWith(".iso") });
  const m = manager({ list, warm });
  const done = await run(m, m.create({ bucket: "x", path: "big/" }));
  assert.deepEqual(
    [done.files_scanned, done.files_cached, done.files_failed, done.bytes_cached],
    [2, 1, 0, 10],
  );
  await m.close();
});

Deno.test("pagination is followed to the last page with each page's token", async () => {
  const keys = keysUnder("big/", 2500);
  const { list, calls } = fakeBucket(keys);
  const { warm, warmed } = recordingWarm();
  const m = manager({ list, warm, concurrency: 16 });
  const done = await run(m, m.create({ bucket: "assets", path: "big/" }));
  assert.deepEqual(calls, [
    { bucket: "assets", prefix: "big/", token: undefined },
    { bucket: "assets", prefix: "big/", token: "t1000" },
    { bucket: "assets", prefix: "big/", token: "t2000" },
  ]);
  assert.equal(done.files_cached, 2500);
  assert.deepEqual(warmed.sort(), keys);
  await m.close();
});

Deno.test("finished tasks older than an hour are pruned when a task is created", async () => {
  let clock = 1_000_000;
  const { list } = fakeBucket(keysUnder("o/", 1));
  const m = manager({ list, now: () => clock });
  const old = await run(m, m.create({ bucket: "x", path: "o/" }));
  clock += 30 * 60 * 1000;
  const recent = await run(m, m.create({ bucket: "x", path: "o/" }));
  // A task still running is never pruned, however old.
  const hanging = m.create({ bucket: "x", path: "o/" });
  clock += 31 * 60 * 1000;
  const fresh = m.create({ bucket: "x", path: "o/" });
  const ids = m.list().map((t) => t.id);
  assert.ok(!ids.includes(old.id), "finished 61 minutes ago: pruned");
  assert.ok(ids.includes(recent.id), "finished 31 minutes ago: kept");
  assert.ok(ids.includes(hanging.id));
  assert.ok(ids.includes(fresh.id));
  assert.equal(m.get(old.id), undefined);
  await m.close();
});

Deno.test("close() cancels running tasks, waits for them, and refuses new ones", async () => {
  const { list } = fakeBucket(keysUnder("z/", 20));
  let active = 0;
  const warm: PrewarmWarm = (_b, _key, signal) => {
    active++;
    return new Promise((_resolve, reject) =>
      signal.addEventListener("abort", () => {
        active--;
        reject(signal.reason);
      }, { once: true })
    );
  };
  const m = manager({ list, warm, concurrency: 2 });
  const a = m.create({ bucket: "x", path: "z/" });
  while (active < 2) await delay(1);
  await m.close();
  assert.equal(active, 0, "in-flight warms were aborted before close() resolved");
  assert.equal(m.get(a.id)?.status, "cancelled");
  assert.equal(m.closed, true);
  assert.throws(() => m.create({ bucket: "x", path: "z/" }), /closed/);
});

Deno.test("invalid options are refused", () => {
  const { list } = fakeBucket([]);
  for (const concurrency of [0, 1.5, -1]) {
    assert.throws(() => manager({ list, concurrency }), RangeError);
  }
  for (const ratePerSecond of [0, -5, Number.NaN]) {
    assert.throws(() => manager({ list, ratePerSecond }), RangeError);
  }
  const m = manager({ list });
  assert.throws(() => m.create({ bucket: "x", path: "", maxDepth: 0 }), RangeError);
  assert.throws(() => m.create({ bucket: "x", path: "", maxFiles: 0 }), RangeError);
  assert.throws(() => m.create({ bucket: "x", path: "", maxFiles: 2.5 }), RangeError);
  assert.deepEqual(m.list(), []);
});
