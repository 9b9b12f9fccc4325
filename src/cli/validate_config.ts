// Owns the `validate-config` subcommand's logic: load a config, report every issue, pick the exit code.

import { type ConfigIssue, formatIssue, loadConfigFile } from "../config/load.ts";

/**
 * Where a command writes. Each call is one line (or one block of lines) WITHOUT its trailing
 * newline: the sink adds it (STANDARD_IO in cli/mod.ts uses console.log / console.error).
 */
export interface CommandIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** The JSON report (`--format json`), a stable shape for CI: every field is always present. */
export interface ValidateConfigReport {
  valid: boolean;
  file: string;
  errors: JsonIssue[];
  warnings: JsonIssue[];
  buckets: { name: string; path_prefix: string }[];
}

interface JsonIssue {
  path: string;
  line: number | null;
  column: number | null;
  message: string;
}

/** Returns the exit code: 0 valid, 2 invalid (including unreadable file). */
export async function runValidateConfig(
  file: string,
  options: { format: "text" | "json" },
  io: CommandIO,
): Promise<number> {
  // The same loader as `serve` and reload, so "valid here" means "starts there".
  const result = await loadConfigFile(file);
  const code = result.ok ? 0 : 2;

  if (options.format === "json") {
    const report: ValidateConfigReport = {
      valid: result.ok,
      file,
      errors: result.ok ? [] : result.errors.map(toJson),
      warnings: result.warnings.map(toJson),
      buckets: result.ok
        ? result.config.buckets.map((bucket) => ({
          name: bucket.name,
          path_prefix: bucket.pathPrefix,
        }))
        : [],
    };
    io.stdout(JSON.stringify(report, null, 2));
    return code;
  }

  for (const warning of result.warnings) io.stderr(`warning: ${formatIssue(file, warning)}`);
  if (result.ok) {
    const { buckets } = result.config;
    const routes = buckets.map((bucket) => `${bucket.name} -> ${bucket.pathPrefix}`).join(", ");
    const count = `${buckets.length} bucket${buckets.length === 1 ? "" : "s"}`;
    io.stdout(`${file}: valid (${count}: ${routes})`);
    return code;
  }
  for (const error of result.errors) io.stderr(formatIssue(file, error));
  const n = result.errors.length;
  io.stderr(`${n} error${n === 1 ? "" : "s"} in ${file}`);
  return code;
}

function toJson(issue: ConfigIssue): JsonIssue {
  return {
    path: issue.path,
    line: issue.line ?? null,
    column: issue.column ?? null,
    message: issue.message,
  };
}
