// Owns `deno task compile`: self-contained binaries per target (deno compile), DENORT_BIN, and a clear failure when denort cannot be fetched.

import { fileURLToPath } from "node:url";
import { v8FlagsArg } from "../src/cli/runtime_flags.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The targets we ship, as `deno compile --target` names them. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;
export type Target = typeof TARGETS[number];

export interface CompilePlan {
  targets: Target[];
  outDir: string;
}

function isTarget(name: string): name is Target {
  return (TARGETS as readonly string[]).includes(name);
}

/** dist/yatagarasu-<target>[.exe] */
export function outputPath(outDir: string, target: Target): string {
  return `${outDir}/yatagarasu-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/**
 * Reads `--target NAME` (repeatable; `all`, `host`) and `--out DIR`. With no --target: every target,
 * or only this machine's when DENORT_BIN is set (one denort binary runs on one target only).
 */
export function planCompile(
  args: readonly string[],
  env: { denortBin?: string; host: string },
): CompilePlan {
  const targets: Target[] = [];
  let outDir = "dist";
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = args[i + 1];
    if (arg === "--target" || arg === "--out") {
      if (value === undefined || value.startsWith("--")) {
        throw new Error(`${arg} needs a value`);
      }
      i++;
      if (arg === "--out") {
        outDir = value.replace(/\/+$/, "") || ".";
      } else if (value === "all") {
        targets.push(...TARGETS);
      } else if (value === "host") {
        if (!isTarget(env.host)) {
          throw new Error(
            `this machine (${env.host}) is not one of the targets: ${TARGETS.join(", ")}`,
          );
        }
        targets.push(env.host);
      } else if (isTarget(value)) {
        targets.push(value);
      } else {
        throw new Error(
          `unknown --target ${JSON.stringify(value)}: use one of ${
            TARGETS.join(", ")
          }, all or host`,
        );
      }
    } else {
      throw new Error(
        `unknown argument ${
          JSON.stringify(arg)
        }: usage: deno task compile [--target NAME|all|host]... [--out DIR]`,
      );
    }
  }
  if (targets.length === 0) {
    if (env.denortBin !== undefined) {
      if (!isTarget(env.host)) {
        throw new Error(`DENORT_BIN is set, but this machine (${env.host}) is not a known target`);
      }
      targets.push(env.host);
    } else {
      targets.push(...TARGETS);
    }
  }
  const unique = [...new Set(targets)];
  if (env.denortBin !== undefined && unique.length > 1) {
    throw new Error(
      `DENORT_BIN is one runtime binary for one target, but ${unique.length} targets were asked for: ` +
        "build one --target per run, each with the denort of that target",
    );
  }
  return { targets: unique, outDir };
}

/** The argument vector of `deno` that compiles main.ts for one target. */
export function compileArgs(target: Target, outDir: string): string[] {
  return [
    "compile",
    // The gateway reads its config and disk cache, listens, reaches S3/Redis/JWKS, and loads
    // sharp's native addon (ffi); a compiled binary cannot ask for permissions at run time.
    "--allow-read",
    "--allow-write",
    "--allow-net",
    "--allow-env",
    "--allow-sys",
    "--allow-ffi",
    // Baked into the binary like the permissions (src/cli/runtime_flags.ts says why).
    v8FlagsArg(),
    // Worker modules are started by URL, not imported: the image engine's wasm worker must be
    // named to be embedded. (The log worker, src/observe/log_worker.ts, is imported by main.ts.)
    "--include",
    "src/image/wasm_worker.ts",
    "--target",
    target,
    "--output",
    outputPath(outDir, target),
    "main.ts",
  ];
}

/**
 * A failure of `deno compile` worth explaining: the denort download (no network, proxy) or a bad
 * DENORT_BIN. Undefined for other failures (type errors...), whose own output says enough.
 */
export function explainFailure(
  stderr: string,
  target: Target,
  denortBin: string | undefined,
): string | undefined {
  if (denortBin !== undefined && /denort/i.test(stderr)) {
    return `deno compile could not use DENORT_BIN=${denortBin} for ${target}. DENORT_BIN must be the ` +
      `path of the denort binary of Deno ${Deno.version.deno} for ${target} (unzipped from ` +
      `denort-${target}.zip of that Deno release). Check the path and that it is executable.`;
  }
  if (/dl\.deno\.land|denort-|Setting up base binary|error sending request/i.test(stderr)) {
    return `deno compile needs denort, the runtime it copies into the binary, and downloads it from ` +
      `dl.deno.land (denort-${target}.zip for Deno ${Deno.version.deno}); this machine could not ` +
      `fetch it. Either run where that download works, or download the zip elsewhere, unzip it and ` +
      `run: DENORT_BIN=/path/to/denort deno task compile --target ${target}. ` +
      "Without a network, `deno task bundle` still builds dist/yatagarasu.js.";
  }
  return undefined;
}

/** A DENORT_BIN that is the full deno CLI builds a binary that starts a REPL, not the gateway. */
export function denortBinWarning(denortBin: string, execPath: string): string | undefined {
  const base = denortBin.split(/[\\/]/).pop() ?? "";
  let same = false;
  try {
    same = Deno.realPathSync(denortBin) === Deno.realPathSync(execPath);
  } catch {
    // a missing file is deno compile's to report
  }
  if (same || base === "deno" || base === "deno.exe") {
    return `DENORT_BIN=${denortBin} looks like the deno CLI, not denort: a binary built on it starts ` +
      "a Deno REPL instead of the gateway. Use denort (the denort-<target>.zip release asset).";
  }
  return undefined;
}

/** A path from the command line, relative to the repository (where deno compile runs). */
function fromRoot(path: string): string {
  return path.startsWith("/") ? path : `${ROOT}/${path}`;
}

async function main(): Promise<number> {
  const denortBin = Deno.env.get("DENORT_BIN") || undefined;
  // deno compile reads an empty DENORT_BIN as the path '' ("Could not find denort at ''").
  if (denortBin === undefined) Deno.env.delete("DENORT_BIN");
  let plan: CompilePlan;
  try {
    plan = planCompile(Deno.args, { denortBin, host: Deno.build.target });
  } catch (error) {
    console.error(`compile: ${(error as Error).message}`);
    return 2;
  }
  if (denortBin !== undefined) {
    const warning = denortBinWarning(denortBin, Deno.execPath());
    if (warning !== undefined) {
      console.error(`compile: ${warning}`);
      return 2;
    }
  }
  await Deno.mkdir(fromRoot(plan.outDir), { recursive: true });
  for (const target of plan.targets) {
    const args = compileArgs(target, plan.outDir);
    console.error(`compile: deno ${args.join(" ")}`);
    const output = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      stdout: "inherit",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    if (!output.success) {
      console.error(stderr.trimEnd());
      const explained = explainFailure(stderr, target, denortBin);
      console.error(`compile: ${target} failed.${explained === undefined ? "" : ` ${explained}`}`);
      return 1;
    }
    if (target === Deno.build.target) {
      // The binary for this machine can be run: it must be the gateway, not a bare runtime.
      const run = await new Deno.Command(fromRoot(outputPath(plan.outDir, target)), {
        args: ["--version"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const printed = new TextDecoder().decode(run.stdout).trim();
      if (!run.success || !/^\d+\.\d+\.\d+/.test(printed)) {
        console.error(
          `compile: ${
            outputPath(plan.outDir, target)
          } does not answer --version with the gateway's version ` +
            `(got ${JSON.stringify(printed.slice(0, 80))}); is DENORT_BIN really denort?`,
        );
        return 1;
      }
    }
    console.error(`compile: wrote ${outputPath(plan.outDir, target)}`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
