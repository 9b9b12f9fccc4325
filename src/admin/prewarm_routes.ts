// Owns the prewarm admin API: create, list, status and cancel of prewarm tasks, in the original's JSON shapes.

import type { PrewarmManager, PrewarmRequest } from "../cache/prewarm.ts";
import { errorMessage, ProxyError } from "../errors.ts";

const PREFIX = "/admin/cache/prewarm";

const JSON_HEADERS = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
};

/** The fields a create body may hold; anything else is refused (see parseCreateBody). */
const BODY_FIELDS = new Set(["bucket", "path", "recursive", "max_depth", "max_files"]);

export interface PrewarmAdminContext {
  method: string;
  /** The decoded path, starting with "/admin/cache/prewarm". */
  path: string;
  /** Reads the request body (called only for POST). */
  body: () => Promise<string>;
  /** undefined when the config has no `cache` block. */
  manager: PrewarmManager | undefined;
  /** Configured bucket names (`buckets[].name`). */
  buckets: ReadonlySet<string>;
}

/** Paths this module answers (every path under the prefix: unknown ones get its own 404). */
export function isPrewarmPath(path: string): boolean {
  return path === PREFIX || path.startsWith(PREFIX + "/");
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

function clientError(
  code: "bad_request" | "route_not_found" | "conflict",
  message: string,
  details?: Record<string, string>,
): ProxyError {
  return new ProxyError(code, { message, source: "client", ...(details ? { details } : {}) });
}

/**
 * Throws 405 unless `method` is `allowed` (GET also admits HEAD). DELETE is one of these
 * methods: the original's method gate answered 405 to it, so its cancel could never be reached.
 */
function requireMethod(method: string, allowed: "GET" | "POST" | "DELETE"): void {
  if (method === allowed || (allowed === "GET" && method === "HEAD")) return;
  throw new ProxyError("method_not_allowed", {
    message: `This prewarm route answers ${allowed} only.`,
    source: "client",
    headers: { allow: allowed === "GET" ? "GET, HEAD" : allowed },
  });
}

/**
 * Answers one prewarm admin request; the caller has already passed `guardAdmin`. Errors are
 * thrown as ProxyErrors (the app turns them into the project's JSON error body, whose `message`
 * carries the original's `error` text).
 *
 * - `POST /admin/cache/prewarm` {bucket, path, recursive?, max_depth?, max_files?} -> 201
 * - `GET /admin/cache/prewarm/tasks` -> {"tasks": [...]}
 * - `GET /admin/cache/prewarm/status/{id}` -> the task
 * - `DELETE /admin/cache/prewarm/{id}` -> {"status": "cancelled"}, 404 or 409
 */
export async function handlePrewarm(ctx: PrewarmAdminContext): Promise<Response> {
  const { manager, path } = ctx;
  if (manager === undefined) {
    throw new ProxyError("cache_disabled", {
      message: "Cache is not enabled: add a `cache` block to the config to use prewarming.",
      source: "client",
    });
  }
  if (path === PREFIX) {
    requireMethod(ctx.method, "POST");
    return await create(ctx, manager);
  }
  const rest = path.slice(PREFIX.length + 1);
  if (rest === "tasks") {
    requireMethod(ctx.method, "GET");
    return json({ tasks: manager.list() });
  }
  if (rest.startsWith("status/")) {
    const id = rest.slice("status/".length);
    if (id !== "" && !id.includes("/")) {
      requireMethod(ctx.method, "GET");
      const task = manager.get(id);
      if (task === undefined) throw taskNotFound(id);
      return json(task);
    }
  } else if (rest !== "" && !rest.includes("/")) {
    requireMethod(ctx.method, "DELETE");
    const result = manager.cancel(rest);
    if (result === "not_found") throw taskNotFound(rest);
    if (result === "finished") {
      throw clientError(
        "conflict",
        `Task cannot be cancelled (already completed or failed): it is ${
          manager.get(rest)?.status ?? "finished"
        }.`,
      );
    }
    return json({ status: "cancelled" });
  }
  throw clientError(
    "route_not_found",
    `Endpoint not found: the prewarm API is POST ${PREFIX}, GET ${PREFIX}/tasks, ` +
      `GET ${PREFIX}/status/{id} and DELETE ${PREFIX}/{id}.`,
  );
}

function taskNotFound(id: string): ProxyError {
  return clientError(
    "route_not_found",
    `Task not found: no prewarm task "${id}" (finished tasks are kept for one hour).`,
  );
}

async function create(ctx: PrewarmAdminContext, manager: PrewarmManager): Promise<Response> {
  const request = parseCreateBody(await ctx.body());
  if (!ctx.buckets.has(request.bucket)) {
    throw clientError(
      "route_not_found",
      `Bucket '${request.bucket}' not found: "bucket" must be one of buckets[].name in the config.`,
    );
  }
  // A closed manager belongs to a generation being replaced (reload) or to a gateway that is
  // shutting down; the next attempt reaches the live one.
  if (manager.closed) {
    throw new ProxyError("shutting_down", {
      message: "The prewarm manager is shutting down; retry the request.",
      source: "internal",
      headers: { "retry-after": "1" },
    });
  }
  const task = manager.create(request);
  return json(
    { status: "success", task_id: task.id, message: "Prewarm task created" },
    201,
    { location: `${PREFIX}/status/${task.id}` },
  );
}

/**
 * Reads a create body. Unknown fields are refused rather than ignored: a typo such as
 * "maxFiles" would otherwise start an unbounded task over the whole prefix. `null` counts as
 * absent for the optional fields, as in the original (serde's Option).
 */
export function parseCreateBody(text: string): PrewarmRequest {
  const example = '{"bucket":"<buckets[].name>","path":"images/","recursive":true}';
  if (text.trim() === "") {
    throw clientError("bad_request", `Missing request body: send JSON like ${example}.`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    const details = errorMessage(error);
    throw clientError("bad_request", `Invalid JSON: ${details}.`, { details });
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw clientError("bad_request", `The body must be a JSON object like ${example}.`);
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((name) => !BODY_FIELDS.has(name));
  if (unknown.length > 0) {
    throw clientError(
      "bad_request",
      `Unknown field${unknown.length > 1 ? "s" : ""} ${
        unknown.map((name) => `"${name}"`).join(", ")
      }: the body takes bucket, path, recursive, max_depth and max_files.`,
    );
  }

  const bucket = fields.bucket;
  if (typeof bucket !== "string") {
    throw fieldError("bucket", bucket, "a string naming one of buckets[].name");
  }
  if (bucket === "") {
    throw clientError("bad_request", `"bucket" is empty: name one of buckets[].name.`);
  }
  const path = fields.path;
  if (typeof path !== "string") {
    throw fieldError("path", path, 'a string, the key prefix to warm ("" for the whole bucket)');
  }
  const recursive = optional(fields.recursive);
  if (recursive !== undefined && typeof recursive !== "boolean") {
    throw fieldError("recursive", recursive, "true or false");
  }
  const maxDepth = optionalCount(
    fields.max_depth,
    "max_depth",
    "1 = only objects directly under path",
  );
  const maxFiles = optionalCount(fields.max_files, "max_files", "the most objects to warm");
  return {
    bucket,
    path,
    ...(recursive === undefined ? {} : { recursive }),
    ...(maxDepth === undefined ? {} : { maxDepth }),
    ...(maxFiles === undefined ? {} : { maxFiles }),
  };
}

function optional(value: unknown): unknown {
  return value === null ? undefined : value;
}

function optionalCount(value: unknown, name: string, meaning: string): number | undefined {
  const given = optional(value);
  if (given === undefined) return undefined;
  if (typeof given !== "number" || !Number.isSafeInteger(given) || given < 1) {
    throw fieldError(name, given, `a whole number >= 1 (${meaning})`);
  }
  return given;
}

function fieldError(name: string, value: unknown, expected: string): ProxyError {
  const shown = JSON.stringify(value) ?? String(value);
  const got = value === undefined
    ? "missing"
    : `got ${shown.length > 80 ? shown.slice(0, 77) + "..." : shown}`;
  return clientError("bad_request", `"${name}" must be ${expected}; ${got}.`, { field: name });
}
