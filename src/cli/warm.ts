// Owns the `warm` subcommand: prewarm a prefix through a running gateway, or into the disk/Redis tiers directly, with progress and a summary.

import process from "node:process";
import cliProgress from "cli-progress";
import type { PrewarmTask } from "../cache/prewarm.ts";
import type { Config } from "../config/types.ts";
import { bucketCache } from "../app.ts";
import { DeadlineSweeper } from "../origin/deadlines.ts";
import { S3Origin } from "../origin/s3_origin.ts";
import { createPrewarmManager } from "../proxy/prewarm_source.ts";
import { adminRequest, describeAdminError } from "./admin_client.ts";
import {
  adminToken,
  type CacheCommand,
  fallBackToTiers,
  gatewayBase,
  loadCommandConfig,
  openDirectTiers,
} from "./cache_command.ts";
import type { CommandIO } from "./validate_config.ts";

export interface WarmOptions {
  config: string;
  bucket: string;
  prefix: string;
  /** Objects at once (direct mode; a gateway uses its own cache.warming). */
  concurrency?: string | undefined;
  /** Objects started per second (direct mode). */
  rate?: string | undefined;
  maxFiles?: string | undefined;
  url?: string | undefined;
  token?: string | undefined;
  direct?: boolean | undefined;
  /** Show a progress bar; default when stderr is a terminal. */
  progress?: boolean | undefined;
}

const WARM: CacheCommand = {
  name: "warm",
  done: "warmed",
  fallback: "warming the configured tiers directly",
};

/** How often a running task's counters are read. */
const POLL_MS = 200;

function positive(
  value: string | undefined,
  flag: string,
  max: number,
): number | undefined | string {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    return `${flag} must be a whole number from 1 to ${max}, got ${JSON.stringify(value)}`;
  }
  return n;
}

/** Exit 0 when every object was warmed, 1 when the task failed or some objects did, 2 usage/config. */
export async function runWarm(options: WarmOptions, io: CommandIO): Promise<number> {
  const concurrency = positive(options.concurrency, "--concurrency", 1000);
  const rate = positive(options.rate, "--rate", 100_000);
  const maxFiles = positive(options.maxFiles, "--max-files", Number.MAX_SAFE_INTEGER);
  for (const value of [concurrency, rate, maxFiles]) {
    if (typeof value === "string") {
      io.stderr(`warm: ${value}`);
      return 2;
    }
  }
  const config = await loadCommandConfig(WARM, options.config, options.bucket, io);
  if (config === undefined) return 2;
  const show = options.progress ?? Deno.stderr.isTerminal();
  const started = performance.now();
  let task: PrewarmTask | undefined;
  if (!options.direct) {
    const base = gatewayBase(WARM, config, options.url, io);
    if (base === undefined) return 2;
    const token = adminToken(options.token);
    try {
      task = await warmThroughGateway(
        base,
        token,
        options,
        maxFiles as number | undefined,
        show,
        io,
      );
      if (task === undefined) return 1;
      if (concurrency !== undefined || rate !== undefined) {
        io.stderr(
          "warm: note: the gateway paces tasks with its own cache.warming settings; " +
            "--concurrency and --rate apply with --direct",
        );
      }
    } catch (error) {
      if (!fallBackToTiers(WARM, error, options.url, io)) return 1;
    }
  }
  if (task === undefined) {
    task = await warmDirectly(
      config,
      options,
      {
        concurrency: concurrency as number | undefined,
        rate: rate as number | undefined,
        maxFiles: maxFiles as number | undefined,
      },
      show,
      io,
    );
    if (task === undefined) return 1;
  }
  const seconds = (performance.now() - started) / 1000;
  io.stdout(
    `warm ${task.status}: ${task.files_cached} files, ${formatBytes(task.bytes_cached)}, ` +
      `${task.files_failed} errors, ${task.files_scanned} listed, in ${seconds.toFixed(1)} s` +
      (task.error_message ? ` (${task.error_message})` : ""),
  );
  return task.status === "completed" && task.files_failed === 0 ? 0 : 1;
}

async function warmThroughGateway(
  base: string,
  token: string | undefined,
  options: WarmOptions,
  maxFiles: number | undefined,
  show: boolean,
  io: CommandIO,
): Promise<PrewarmTask | undefined> {
  const body: Record<string, unknown> = { bucket: options.bucket, path: options.prefix };
  if (maxFiles !== undefined) body.max_files = maxFiles;
  const created = await adminRequest(base, "POST", "/admin/cache/prewarm", { token, body });
  if (created.status !== 201) {
    io.stderr(`warm: ${describeAdminError(created)}`);
    return undefined;
  }
  const id = String(created.body.task_id);
  return await follow(async () => {
    const answer = await adminRequest(base, "GET", `/admin/cache/prewarm/status/${id}`, { token });
    if (answer.status !== 200) throw new Error(describeAdminError(answer));
    return answer.body as unknown as PrewarmTask;
  }, show);
}

async function warmDirectly(
  config: Config,
  options: WarmOptions,
  pace: {
    concurrency?: number | undefined;
    rate?: number | undefined;
    maxFiles?: number | undefined;
  },
  show: boolean,
  io: CommandIO,
): Promise<PrewarmTask | undefined> {
  const bucket = config.buckets.find((b) => b.name === options.bucket)!;
  if (bucket.cache?.enabled === false) {
    io.stderr(`warm: bucket "${bucket.name}" has cache.enabled: false; nothing would be stored`);
    return undefined;
  }
  const direct = await openDirectTiers(WARM, config, io);
  if (direct === undefined) return undefined;
  const cache = direct.cache;
  const cacheConfig = config.cache!;
  const deadlines = new DeadlineSweeper();
  const origin = new S3Origin({ bucketName: bucket.name, s3: bucket.s3, deadlines });
  const manager = createPrewarmManager({
    concurrency: pace.concurrency ?? cacheConfig.warming.concurrency,
    rateLimit: pace.rate ?? cacheConfig.warming.rateLimit,
  }, () => ({
    name: bucket.name,
    origin,
    timeoutSeconds: bucket.s3.timeout,
    cache: bucketCache(bucket, config, cache, new Map()),
  }));
  try {
    const created = manager.create({
      bucket: bucket.name,
      path: options.prefix,
      maxFiles: pace.maxFiles,
    });
    const task = await follow(() => Promise.resolve(manager.get(created.id)!), show);
    // Every write to disk and Redis has landed before the summary is printed.
    await cache.flush();
    return task;
  } finally {
    await manager.close();
    await cache.close();
    deadlines.close();
  }
}

/** Polls a task until it ends, drawing a progress bar on stderr when asked. */
async function follow(read: () => Promise<PrewarmTask>, show: boolean): Promise<PrewarmTask> {
  const bar = show
    ? new cliProgress.SingleBar({
      format: "warming {bar} {value}/{total} files | {bytes} | {failed} errors",
      hideCursor: true,
      clearOnComplete: false,
      stream: process.stderr,
    }, cliProgress.Presets.shades_classic)
    : undefined;
  bar?.start(0, 0, { bytes: formatBytes(0), failed: 0 });
  try {
    for (;;) {
      const task = await read();
      bar?.setTotal(Math.max(task.files_scanned, 1));
      bar?.update(task.files_cached + task.files_failed, {
        bytes: formatBytes(task.bytes_cached),
        failed: task.files_failed,
      });
      if (task.status !== "pending" && task.status !== "running") return task;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    bar?.stop();
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}
