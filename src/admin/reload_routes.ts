// Owns POST /admin/reload: runs the reloader the app was given and answers its outcome as JSON (200, or 400 with the errors).

import { type ConfigIssue, formatIssue } from "../config/issues.ts";
import type { ReloadOutcome } from "../config/reload.ts";
import { ProxyError } from "../errors.ts";

const JSON_HEADERS = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
};

export function isReloadPath(path: string): boolean {
  return path === "/admin/reload";
}

/** Answers POST /admin/reload; the caller has already passed `guardAdmin`. */
export async function handleReload(
  method: string,
  reloadConfig: (() => Promise<ReloadOutcome>) | undefined,
): Promise<Response> {
  if (method !== "POST") {
    throw new ProxyError("method_not_allowed", {
      message: "/admin/reload answers POST only (it re-reads the config file the gateway runs).",
      source: "client",
      headers: { allow: "POST" },
    });
  }
  if (reloadConfig === undefined) {
    return json(503, {
      status: "error",
      message: "Configuration reload is not available: this gateway was not started from a " +
        "config file (`yatagarasu serve --config <file>`).",
    });
  }
  const outcome = await reloadConfig();
  return json(outcome.ok ? 200 : 400, reloadBody(outcome));
}

/**
 * The original's shapes (`status`, `message`, `config_generation`, `timestamp`; `error` on a
 * failure), plus every issue with its path and line, and the keys that need a restart.
 */
export function reloadBody(outcome: ReloadOutcome): Record<string, unknown> {
  const common = {
    config_generation: outcome.generation,
    timestamp: Math.floor(outcome.finishedAt / 1000),
    duration_ms: outcome.durationMs,
    warnings: outcome.warnings.map(issueJson),
  };
  if (outcome.ok) {
    return {
      status: "success",
      message: "Configuration reloaded successfully",
      ...common,
      needs_restart: outcome.needsRestart.map(issueJson),
    };
  }
  return {
    status: "error",
    message: `Configuration reload failed; generation ${outcome.generation} keeps serving. ` +
      `Fix ${outcome.source} (check it with \`yatagarasu validate-config ${outcome.source}\`) ` +
      "and reload again.",
    error: outcome.errors.map((issue) => formatIssue(outcome.source, issue)).join("\n"),
    errors: outcome.errors.map(issueJson),
    ...common,
  };
}

function issueJson(issue: ConfigIssue): Record<string, unknown> {
  return { path: issue.path, line: issue.line, column: issue.column, message: issue.message };
}

function json(status: number, body: Record<string, unknown>): Response {
  return new Response(JSON.stringify(body), { status, headers: JSON_HEADERS });
}
