// Owns argv parsing and dispatch to the subcommands, and the CLI's exit codes (0 ok, 1 runtime, 2 usage/config).

import { Command, CommanderError, Option } from "@commander-js/extra-typings";
import { VERSION } from "../version.ts";
import { runBench } from "./bench.ts";
import { runPurge } from "./purge.ts";
import { runServe } from "./serve.ts";
import { runSignUrl } from "./sign_url.ts";
import { runWarm } from "./warm.ts";
import { type CommandIO, runValidateConfig } from "./validate_config.ts";

/** The process's own streams; tests pass their own CommandIO instead. */
export const STANDARD_IO: CommandIO = {
  stdout: (text) => console.log(text),
  stderr: (text) => console.error(text),
};

/** Parses argv (without the program name), runs one subcommand and returns its exit code. */
export async function runCli(argv: string[], io: CommandIO = STANDARD_IO): Promise<number> {
  let exitCode = 0;
  const program = new Command()
    .name("yatagarasu")
    .description("A read-only S3 gateway: routes paths to buckets, signs, streams.")
    .version(VERSION, "-V, --version")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout(text.trimEnd()),
      writeErr: (text) => io.stderr(text.trimEnd()),
    })
    .showHelpAfterError("(run `yatagarasu --help` for usage)");

  program.command("serve")
    .description("Run the gateway (validates the config first).")
    .requiredOption("-c, --config <file>", "config file", "config.yaml")
    .option(
      "--watch",
      "reload when the config file changes (SIGHUP and POST /admin/reload always do)",
    )
    .action(async (options) => {
      exitCode = await runServe({ config: options.config, watch: options.watch ?? false }, io);
    });

  program.command("validate-config")
    .description("Check a config file; exit 0 when valid, 2 when not.")
    .argument("[file]", "config file", "config.yaml")
    .addOption(
      new Option("--format <format>", "output format").choices(["text", "json"] as const)
        .default("text" as const),
    )
    .action(async (file, options) => {
      exitCode = await runValidateConfig(file, { format: options.format }, io);
    });

  program.command("sign-url")
    .description(
      "Print a signed URL for a path of a bucket with signed_urls, and/or signed image " +
        "parameters (--image) (stdout: the URL only).",
    )
    .requiredOption("-c, --config <file>", "config file", "config.yaml")
    .requiredOption(
      "--path <path>",
      "path with the bucket prefix, plain text (not percent-encoded)",
    )
    .option(
      "--expires <duration>",
      "how long the link works: 90, 90s, 15m, 2h or 7d (required with signed_urls; optional for --image alone)",
    )
    .option("--key <id>", "key id (default: the bucket's first key)")
    .option(
      "--image <params>",
      'image parameters to sign, as a query: "w=400&h=300&fmt=webp" or "preset=thumb"',
    )
    .option("--image-key <id>", "image signing key id (default: the first image signing key)")
    .option("--base <url>", "base URL (default http://server.address:server.port)")
    .option("--method <method>", "GET or HEAD", "GET")
    .option("--param <name=value...>", "extra query parameters to sign")
    .action(async (options) => {
      exitCode = await runSignUrl(options, io);
    });

  program.command("purge")
    .description(
      "Purge cached objects through a running gateway's admin API, or on the disk/Redis tiers " +
        "directly when no gateway answers.",
    )
    .requiredOption("-c, --config <file>", "config file", "config.yaml")
    .option("--bucket <name>", "gateway bucket name (buckets[].name)")
    .option("--key <key>", "one object key (every variant of it)")
    .option("--prefix <prefix>", "every key of the bucket starting with this")
    .option("--all", "everything in every bucket")
    .option("--url <url>", "gateway base URL (default http://server.address:server.port)")
    .option("--token <jwt>", "admin token (default $YATAGARASU_ADMIN_TOKEN)")
    .option("--direct", "skip the gateway; purge the configured disk/Redis tiers")
    .action(async (options) => {
      exitCode = await runPurge(options, io);
    });

  program.command("warm")
    .description(
      "Fill the cache with every object under a prefix, through a running gateway's admin API, " +
        "or into the disk/Redis tiers directly when no gateway answers.",
    )
    .requiredOption("-c, --config <file>", "config file", "config.yaml")
    .requiredOption("--bucket <name>", "gateway bucket name (buckets[].name)")
    .option("--prefix <prefix>", "key prefix to warm (default: the whole bucket)", "")
    .option("--concurrency <n>", "objects fetched at once (default cache.warming.concurrency)")
    .option("--rate <n>", "objects started per second (default cache.warming.rate_limit)")
    .option("--max-files <n>", "warm at most this many objects")
    .option("--url <url>", "gateway base URL (default http://server.address:server.port)")
    .option("--token <jwt>", "admin token (default $YATAGARASU_ADMIN_TOKEN)")
    .option("--direct", "skip the gateway; warm the configured disk/Redis tiers")
    .option("--no-progress", "no progress bar (default: shown when stderr is a terminal)")
    .action(async (options) => {
      exitCode = await runWarm(options, io);
    });

  program.command("bench")
    .description(
      "Load-test a URL (a deployed gateway): req/s, bytes/s, latency and TTFB percentiles, " +
        "status counts and a latency histogram; --compare runs a second URL and prints ratios.",
    )
    .requiredOption("--url <url>", "URL to request (http or https)")
    .option("--concurrency <n>", "requests kept in flight", "10")
    .option("--duration <time>", "how long each run lasts: 500ms, 2s, 10s, 1m", "10s")
    .option("--compare <url>", "a second URL, run after the first with the same settings")
    .option(
      "--header <name: value>",
      "request header, repeatable",
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option("--method <method>", "GET or HEAD", "GET")
    .option(
      "--warmup <time>",
      "unrecorded load before each run; 0 for none (default: duration/10, at most 1s)",
    )
    .option("--json", "print one JSON document (for scripts) instead of the text report")
    .action(async (options) => {
      exitCode = await runBench(options, io);
    });

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      return error.exitCode === 0 ? 0 : 2;
    }
    throw error;
  }
  if (argv.length === 0) {
    program.outputHelp();
    return 2;
  }
  return exitCode;
}
