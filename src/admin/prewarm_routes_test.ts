// Owns the tests of the prewarm admin routes: shapes, statuses, body validation, methods, a working cancel.

import assert from "node:assert/strict";
import { PrewarmManager, type PrewarmTask, type PrewarmWarm } from "../cache/prewarm.ts";
import { ProxyError } from "../errors.ts";
import { errorResponse, toProxyError } from "../http/problem.ts";
import type { ListPage } from "../origin/list_objects.ts";
import { handlePrewarm, isPrewarmPath, parseCreateBody } from "./prewarm_routes.ts";

const BUCKETS: ReadonlySet<string> = new Set(["public", "private"]);

/** A manager over a bucket of `keys` whose warms wait for `gate` (or answer at once). */
function testManager(keys: string[], gate?: Promise<void>): PrewarmManager {
  const page: ListPage = {
    objects: keys.map((key) => ({ key, size: 1, etag: undefined, lastModified: undefined })),
    nextContinuationToken: undefined,
    isTruncated: false,
  };
  const warm: PrewarmWarm = async (_bucket, _key, signal) => {
    if (gate !== undefined) {
      await Promise.race([
        gate,
        new Promise((_resolve, reject) =>
          signal.addEventListener("abort", () => reject(signal.reason))
        ),
      ]);
    }
    return { bytes: 1, cached: true };
  };
  return new PrewarmManager({
    concurrency: 2,
    ratePerSecond: 10_000,
    list: (_bucket, prefix) =>
      Promise.resolve({ ...page, objects: page.objects.filter((o) => o.key.startsWith(prefix)) }),
    warm,
  });
}

/** Calls the handler the way the app does: a thrown ProxyError becomes the JSON error body. */
async function call(
  manager: PrewarmManager | undefined,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  let response: Response;
  try {
    response = await handlePrewarm({
      method,
      path,
      body: () => Promise.resolve(body ?? ""),
      manager,
      buckets: BUCKETS,
    });
  } catch (error) {
    response = errorResponse(toProxyError(error), { requestId: "req-1", method });
  }
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text === "" ? {} : JSON.parse(text),
  };
}

async function createTask(
  manager: PrewarmManager,
  body: Record<string, unknown>,
): Promise<string> {
  const res = await call(manager, "POST", "/admin/cache/prewarm", JSON.stringify(body));
  assert.equal(res.status, 201, JSON.stringify(res.json));
  return res.json.task_id as string;
}

Deno.test("isPrewarmPath() covers the prefix and everything under it, nothing else", () => {
  for (
    const path of ["/admin/cache/prewarm", "/admin/cache/prewarm/tasks", "/admin/cache/prewarm/x"]
  ) {
    assert.equal(isPrewarmPath(path), true, path);
  }
  for (const path of ["/admin/cache/prewarmx", "/admin/cache/purge", "/admin/cache", "/prewarm"]) {
    assert.equal(isPrewarmPath(path), false, path);
  }
});

Deno.test("POST creates a task: 201 with the original's body and a Location", async () => {
  const manager = testManager(["img/a.png", "img/b.png"]);
  const res = await call(
    manager,
    "POST",
    "/admin/cache/prewarm",
    JSON.stringify({
      bucket: "public",
      path: "img/",
      recursive: true,
      max_depth: 3,
      max_files: 10,
    }),
  );
  assert.equal(res.status, 201);
  assert.deepEqual(Object.keys(res.json), ["status", "task_id", "message"]);
  assert.equal(res.json.status, "success");
  assert.equal(res.json.message, "Prewarm task created");
  const id = res.json.task_id as string;
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(res.headers.get("location"), `/admin/cache/prewarm/status/${id}`);
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  const done = await manager.whenDone(id);
  assert.equal(done?.status, "completed");
  assert.equal(done?.files_cached, 2);
  assert.deepEqual(done?.options, { recursive: true, max_depth: 3, max_files: 10 });
  await manager.close();
});

Deno.test("POST body errors are 400s that say what to fix", async () => {
  const manager = testManager([]);
  const cases: Array<[string | undefined, RegExp, Record<string, unknown>?]> = [
    [undefined, /^Missing request body/],
    ["   ", /^Missing request body/],
    ["{bucket:", /^Invalid JSON: /],
    ["[1,2]", /must be a JSON object/],
    ["null", /must be a JSON object/],
    ['{"path":"a/"}', /"bucket" must be a string.*missing/, { field: "bucket" }],
    ['{"bucket":7,"path":"a/"}', /"bucket" must be a string.*got 7/, { field: "bucket" }],
    ['{"bucket":"","path":"a/"}', /"bucket" is empty/],
    ['{"bucket":"public"}', /"path" must be a string/, { field: "path" }],
    ['{"bucket":"public","path":["a"]}', /"path" must be a string/, { field: "path" }],
    ['{"bucket":"public","path":"","recursive":"yes"}', /"recursive" must be true or false/, {
      field: "recursive",
    }],
    ['{"bucket":"public","path":"","max_depth":0}', /"max_depth" must be a whole number >= 1/, {
      field: "max_depth",
    }],
    ['{"bucket":"public","path":"","max_depth":"2"}', /"max_depth" must be/, {
      field: "max_depth",
    }],
    ['{"bucket":"public","path":"","max_files":1.5}', /"max_files" must be/, {
      field: "max_files",
    }],
    ['{"bucket":"public","path":"","max_files":-1}', /"max_files" must be/, { field: "max_files" }],
    ['{"bucket":"public","path":"","maxFiles":5}', /Unknown field "maxFiles"/],
  ];
  for (const [body, message, extra] of cases) {
    const res = await call(manager, "POST", "/admin/cache/prewarm", body);
    assert.equal(res.status, 400, `${body} -> ${JSON.stringify(res.json)}`);
    assert.equal(res.json.error, "Bad Request");
    assert.equal(res.json.code, "bad_request");
    assert.equal(res.json.request_id, "req-1");
    assert.match(res.json.message as string, message, String(body));
    for (const [name, value] of Object.entries(extra ?? {})) assert.equal(res.json[name], value);
  }
  const invalidJson = await call(manager, "POST", "/admin/cache/prewarm", "{bucket:");
  assert.equal(typeof invalidJson.json.details, "string", "bad JSON carries the parser's details");
  assert.deepEqual(manager.list(), [], "no task was created");
  await manager.close();
});

Deno.test("parseCreateBody() treats null optional fields as absent, as the original did", () => {
  assert.deepEqual(
    parseCreateBody(
      '{"bucket":"b","path":"p/","recursive":null,"max_depth":null,"max_files":null}',
    ),
    { bucket: "b", path: "p/" },
  );
  assert.deepEqual(
    parseCreateBody('{"bucket":"b","path":"","recursive":false,"max_depth":2,"max_files":9}'),
    { bucket: "b", path: "", recursive: false, maxDepth: 2, maxFiles: 9 },
  );
});

Deno.test("POST for an unknown bucket is a 404 naming it", async () => {
  const manager = testManager([]);
  const res = await call(
    manager,
    "POST",
    "/admin/cache/prewarm",
    JSON.stringify({ bucket: "nope", path: "" }),
  );
  assert.equal(res.status, 404);
  assert.equal(res.json.code, "route_not_found");
  assert.match(res.json.message as string, /^Bucket 'nope' not found/);
  await manager.close();
});

Deno.test("GET tasks lists every task; GET status/{id} returns one or a 404", async () => {
  const manager = testManager(["a/1", "a/2", "b/1"]);
  const first = await createTask(manager, { bucket: "public", path: "a/" });
  const second = await createTask(manager, { bucket: "private", path: "b/" });
  await manager.whenDone(first);
  await manager.whenDone(second);

  const tasks = await call(manager, "GET", "/admin/cache/prewarm/tasks");
  assert.equal(tasks.status, 200);
  const listed = tasks.json.tasks as PrewarmTask[];
  assert.deepEqual(listed.map((t) => [t.id, t.bucket, t.path, t.files_cached]), [
    [first, "public", "a/", 2],
    [second, "private", "b/", 1],
  ]);

  const status = await call(manager, "GET", `/admin/cache/prewarm/status/${first}`);
  assert.equal(status.status, 200);
  assert.equal(status.json.id, first);
  assert.equal(status.json.status, "completed");
  assert.equal(typeof status.json.created_at, "number");
  assert.deepEqual(status.json.options, { recursive: true, max_depth: null, max_files: null });
  const head = await call(manager, "HEAD", `/admin/cache/prewarm/status/${first}`);
  assert.equal(head.status, 200);

  const missing = await call(manager, "GET", "/admin/cache/prewarm/status/no-such-task");
  assert.equal(missing.status, 404);
  assert.match(missing.json.message as string, /^Task not found/);
  await manager.close();
});

Deno.test("DELETE cancels a running task: 200, then 409 once finished, 404 when unknown", async () => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const manager = testManager(["slow/1", "slow/2", "slow/3"], gate);
  const id = await createTask(manager, { bucket: "public", path: "slow/" });
  while (manager.get(id)?.status !== "running") await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => setTimeout(r, 5)); // its first warms are now waiting on the gate

  const cancelled = await call(manager, "DELETE", `/admin/cache/prewarm/${id}`);
  assert.equal(cancelled.status, 200);
  assert.deepEqual(cancelled.json, { status: "cancelled" });
  const status = await call(manager, "GET", `/admin/cache/prewarm/status/${id}`);
  assert.equal(status.json.status, "cancelled");
  const settled = await manager.whenDone(id);
  assert.equal(settled?.status, "cancelled");
  assert.equal(settled?.files_cached, 0);
  assert.equal(settled?.files_failed, 0);

  const again = await call(manager, "DELETE", `/admin/cache/prewarm/${id}`);
  assert.equal(again.status, 409);
  assert.equal(again.json.error, "Conflict");
  assert.equal(again.json.code, "conflict");
  assert.match(
    again.json.message as string,
    /^Task cannot be cancelled \(already completed or failed\)/,
  );

  open();
  const completed = await createTask(manager, { bucket: "public", path: "slow/" });
  await manager.whenDone(completed);
  const late = await call(manager, "DELETE", `/admin/cache/prewarm/${completed}`);
  assert.equal(late.status, 409);
  assert.match(late.json.message as string, /it is completed/);

  const unknown = await call(manager, "DELETE", "/admin/cache/prewarm/no-such-task");
  assert.equal(unknown.status, 404);
  assert.match(unknown.json.message as string, /^Task not found/);
  await manager.close();
});

Deno.test("a wrong method is a 405 with Allow", async () => {
  const manager = testManager([]);
  const cases: Array<[string, string, string]> = [
    ["GET", "/admin/cache/prewarm", "POST"],
    ["DELETE", "/admin/cache/prewarm", "POST"],
    ["POST", "/admin/cache/prewarm/tasks", "GET, HEAD"],
    ["DELETE", "/admin/cache/prewarm/status/abc", "GET, HEAD"],
    ["GET", "/admin/cache/prewarm/abc", "DELETE"],
    ["POST", "/admin/cache/prewarm/abc", "DELETE"],
  ];
  for (const [method, path, allow] of cases) {
    const res = await call(manager, method, path, "{}");
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
    assert.equal(res.json.code, "method_not_allowed");
  }
  await manager.close();
});

Deno.test("other paths under the prefix are a 404 that lists the endpoints", async () => {
  const manager = testManager([]);
  for (
    const path of [
      "/admin/cache/prewarm/",
      "/admin/cache/prewarm/status/",
      "/admin/cache/prewarm/status/a/b",
      "/admin/cache/prewarm/tasks/x",
      "/admin/cache/prewarm/a/b",
    ]
  ) {
    const res = await call(manager, "GET", path);
    assert.equal(res.status, 404, path);
    assert.match(res.json.message as string, /^Endpoint not found: the prewarm API is/, path);
  }
  await manager.close();
});

Deno.test("without a cache every prewarm route is a 404 cache_disabled", async () => {
  for (
    const [method, path] of [
      ["POST", "/admin/cache/prewarm"],
      ["GET", "/admin/cache/prewarm/tasks"],
      ["GET", "/admin/cache/prewarm/status/x"],
      ["DELETE", "/admin/cache/prewarm/x"],
    ]
  ) {
    const res = await call(undefined, method!, path!, '{"bucket":"public","path":""}');
    assert.equal(res.status, 404);
    assert.equal(res.json.code, "cache_disabled");
    assert.match(res.json.message as string, /^Cache is not enabled/);
  }
});

Deno.test("a closed manager answers POST with 503 and Retry-After", async () => {
  const manager = testManager([]);
  await manager.close();
  const res = await call(
    manager,
    "POST",
    "/admin/cache/prewarm",
    JSON.stringify({ bucket: "public", path: "" }),
  );
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "1");
});

Deno.test("errors are thrown as ProxyErrors, for the app's error path", async () => {
  await assert.rejects(
    handlePrewarm({
      method: "GET",
      path: "/admin/cache/prewarm/tasks",
      body: () => Promise.resolve(""),
      manager: undefined,
      buckets: BUCKETS,
    }),
    (error: unknown) => error instanceof ProxyError && error.status === 404,
  );
});
