// Owns the `validate-config` subcommand's logic: load a config, report every issue, pick the exit code.

import { type ConfigIssue, formatIssue, loadConfigFile } from "../config/load.ts";
import { errorMessage } from "../errors.ts";
import { defaultImageOptimization } from "../config/schema_image.ts";
import type { Config } from "../config/types.ts";
import { acquireImageEngine, describeEngine, type EngineInfo } from "../image/engine.ts";
import { compileImagePolicy } from "../image/policy.ts";

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
  /**
   * The image engine `serve` would run (image_optimization on for some bucket), or null. An
   * engine that cannot load makes the config invalid: `serve` would not start.
   */
  image_engine: { name: string; sharp: string; libvips: string; fallback_reason?: string } | null;
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
  const engine = result.ok ? await probeImageEngine(result.config) : undefined;
  const engineError = engine !== undefined && "error" in engine ? engine.error : undefined;
  const engineInfo = engine !== undefined && "info" in engine ? engine.info : undefined;
  const code = result.ok && engineError === undefined ? 0 : 2;

  if (options.format === "json") {
    const report: ValidateConfigReport = {
      valid: code === 0,
      file,
      errors: result.ok
        ? engineError === undefined ? [] : [{ ...ENGINE_PATH, message: engineError }]
        : result.errors.map(toJson),
      warnings: result.warnings.map(toJson),
      buckets: result.ok
        ? result.config.buckets.map((bucket) => ({
          name: bucket.name,
          path_prefix: bucket.pathPrefix,
        }))
        : [],
      image_engine: engineInfo === undefined ? null : {
        name: engineInfo.name,
        sharp: engineInfo.sharp,
        libvips: engineInfo.libvips,
        ...(engineInfo.fallbackReason === undefined
          ? {}
          : { fallback_reason: engineInfo.fallbackReason }),
      },
    };
    io.stdout(JSON.stringify(report, null, 2));
    return code;
  }

  for (const warning of result.warnings) io.stderr(`warning: ${formatIssue(file, warning)}`);
  if (result.ok && engineError !== undefined) {
    io.stderr(`${file}: image_optimization.engine: ${engineError}`);
    io.stderr(`1 error in ${file}`);
    return code;
  }
  if (result.ok) {
    const { buckets } = result.config;
    const routes = buckets.map((bucket) => `${bucket.name} -> ${bucket.pathPrefix}`).join(", ");
    const count = `${buckets.length} bucket${buckets.length === 1 ? "" : "s"}`;
    io.stdout(`${file}: valid (${count}: ${routes})`);
    if (engineInfo !== undefined) io.stdout(`image engine: ${describeEngine(engineInfo)}`);
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

const ENGINE_PATH = { path: "image_optimization.engine", line: null, column: null };

/**
 * The image engine `serve` would load for this config: loaded here (and released) the same way,
 * so "valid" also means the engine runs on this machine. Undefined when no bucket has
 * image_optimization.
 */
async function probeImageEngine(
  config: Config,
): Promise<{ info: EngineInfo } | { error: string } | undefined> {
  const any = config.buckets.some((bucket) =>
    compileImagePolicy(config.imageOptimization, bucket.imageOptimization) !== undefined
  );
  if (!any) return undefined;
  const mode = (config.imageOptimization ?? defaultImageOptimization()).engine;
  try {
    const engine = await acquireImageEngine(mode);
    engine.close();
    return { info: engine.info };
  } catch (error) {
    return { error: `the ${mode} image engine cannot run here: ${errorMessage(error)}` };
  }
}
