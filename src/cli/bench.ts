// Owns the `bench` subcommand: checks its options, runs the load against --url (then --compare) and prints the report or JSON.

import { errorMessage } from "../errors.ts";
import {
  BenchUsageError,
  parseBenchDuration,
  parseConcurrency,
  parseHeaders,
  parseMethod,
  parseTargetUrl,
  parseWarmup,
} from "./bench_args.ts";
import { type LoadOptions, probe, runLoad } from "./bench_load.ts";
import { type BenchResult, formatComparison, formatReport, jsonReport } from "./bench_report.ts";
import type { CommandIO } from "./validate_config.ts";

/** The options as commander hands them over (strings, unchecked). */
export interface BenchCliOptions {
  url: string;
  concurrency: string;
  duration: string;
  compare?: string;
  header?: string[];
  method: string;
  warmup?: string;
  json?: boolean;
}

export interface BenchPlan {
  targets: LoadOptions[];
  warmupMs: number;
  json: boolean;
}

/** Checks every option before any request is sent; throws BenchUsageError naming the option. */
export function planBench(options: BenchCliOptions): BenchPlan {
  const method = parseMethod(options.method);
  const concurrency = parseConcurrency(options.concurrency);
  const durationMs = parseBenchDuration(options.duration);
  const warmupMs = parseWarmup(options.warmup, durationMs);
  const headers = parseHeaders(options.header ?? []);
  const urls = [parseTargetUrl(options.url, "--url")];
  if (options.compare !== undefined) urls.push(parseTargetUrl(options.compare, "--compare"));
  return {
    // Both runs send the same requests with the same concurrency, so their ratios compare targets only.
    targets: urls.map((url) => ({ url, method, headers, concurrency, durationMs })),
    warmupMs,
    json: options.json === true,
  };
}

/** 0 when every target answered, 1 when one gave no response at all, 2 for a usage error. */
export async function runBench(options: BenchCliOptions, io: CommandIO): Promise<number> {
  let plan: BenchPlan;
  try {
    plan = planBench(options);
  } catch (error) {
    if (error instanceof BenchUsageError) {
      io.stderr(`bench: ${error.message}`);
      return 2;
    }
    throw error;
  }
  const results: BenchResult[] = [];
  // Targets run one after the other, never together: on a shared machine they would compete for CPU.
  for (const target of plan.targets) {
    const reachable = await probe(target);
    if (!reachable.ok) {
      io.stderr(
        `bench: no response from ${target.url.href}: ${reachable.error}. ` +
          "Is the gateway running and the URL right (scheme, host, port)?",
      );
      return 1;
    }
    if (!plan.json) {
      io.stderr(
        `bench: ${target.method} ${target.url.href} for ${target.durationMs} ms ` +
          `(after ${plan.warmupMs} ms of warm-up) with ${target.concurrency} concurrent requests...`,
      );
    }
    try {
      // Same warm-up for each target, so the first one does not pay for the client's own JIT.
      if (plan.warmupMs > 0) await runLoad({ ...target, durationMs: plan.warmupMs });
      results.push(await runLoad(target));
    } catch (error) {
      io.stderr(`bench: the run against ${target.url.href} failed: ${errorMessage(error)}`);
      return 1;
    }
  }
  const [first, second] = results as [BenchResult, BenchResult | undefined];
  if (plan.json) {
    io.stdout(jsonReport(first, second));
  } else {
    io.stdout(formatReport(first));
    if (second !== undefined) {
      io.stdout("");
      io.stdout(formatReport(second));
      io.stdout("");
      io.stdout(formatComparison(first, second));
    }
  }
  const silent = results.find((r) => r.requests === 0);
  if (silent !== undefined) {
    io.stderr(
      `bench: no request to ${silent.url} completed in ${silent.durationMs} ms ` +
        `(${silent.errors} errors, ${silent.unfinished} unfinished): lengthen --duration or check the target`,
    );
    return 1;
  }
  return 0;
}
