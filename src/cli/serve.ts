// Owns the `serve` subcommand: validate the config, start the gateway, reload on SIGHUP/--watch, drain on SIGTERM/SIGINT.

import { type App, createApp } from "../app.ts";
import { formatIssue, loadConfigFile } from "../config/load.ts";
import type { Config, LogWriter } from "../config/types.ts";
import { Logger } from "../observe/log.ts";
import { LogOutputError, LogThread } from "../observe/log_thread.ts";
import { requestLinesFor } from "../observe/request_log.ts";
import { GatewayMetrics } from "../observe/metrics.ts";
import { type MetricsServer, startMetricsServer } from "../admin/metrics_server.ts";
import { startServer } from "../server.ts";
import { VERSION } from "../version.ts";
import type { CommandIO } from "./validate_config.ts";
import { errorMessage } from "../errors.ts";
import { type ConfigWatcher, createConfigReloader, watchConfigFile } from "./reload.ts";

export interface ServeOptions {
  config: string;
  /** Reload when the config file changes (`--watch`). */
  watch?: boolean;
}

const SHUTDOWN_SIGNALS = ["SIGTERM", "SIGINT"] as const;

/** Runs until SIGTERM/SIGINT; returns the exit code (0 after a drain, 2 for a bad config). */
export async function runServe(options: ServeOptions, io: CommandIO): Promise<number> {
  const result = await loadConfigFile(options.config);
  for (const warning of result.warnings) {
    io.stderr(`warning: ${formatIssue(options.config, warning)}`);
  }
  if (!result.ok) {
    for (const error of result.errors) io.stderr(formatIssue(options.config, error));
    io.stderr(
      `${result.errors.length} error${
        result.errors.length === 1 ? "" : "s"
      } in ${options.config}; the gateway did not start. Run \`yatagarasu validate-config ${options.config}\` after fixing them.`,
    );
    return 2;
  }
  const config = result.config;
  // The access and audit lines are formatted and written by a thread of their own, so that the
  // thread answering requests does not spend several µs per request on them. It also writes
  // every other stdout line, so that lines never interleave.
  let thread: LogThread | undefined;
  const lines = requestLinesFor(config.logging, config.auditLog);
  if ((lines.access !== undefined || lines.audit) && usesLogThread(config.logging.writer)) {
    try {
      thread = await LogThread.start({
        lines,
        format: config.logging.format,
        audit: config.auditLog,
      });
    } catch (error) {
      if (error instanceof LogOutputError) {
        io.stderr(
          `${options.config}: ${error.message.replace(/\.$/, "")}; the gateway did not start.`,
        );
        return 2;
      }
      io.stderr(
        `warning: ${errorMessage(error)}; the access and audit lines are written by the ` +
          "request thread instead (slower under load)",
      );
    }
  }
  const logger = new Logger({
    level: config.logging.level,
    format: config.logging.format,
    sink: thread?.textSink,
  });
  try {
    return await serveWith(config, logger, thread, options, io);
  } finally {
    // Every line logged, every audit line in its file, before the process exits.
    await logger.flush();
    await thread?.close();
  }
}

/** CPUs from which `logging.writer: auto` runs the log thread. */
export const LOG_THREAD_MIN_CPUS = 2;

/**
 * Whether the log thread runs. It takes ~1.7 µs per cache hit off the request thread and costs
 * somewhat more CPU in all (a hand-over per batch, its own event loop), which a second CPU
 * absorbs: on 2 CPUs shared with wrk, bench/ops_overhead.sh measured on/off 0.920-0.939 with the
 * thread against 0.872-0.890 inline (session 7). With one CPU the thread would compete with the
 * requests, so `auto` writes inline there. The count is what the process may use
 * (navigator.hardwareConcurrency follows its CPU affinity: `taskset -c 1` makes it 1).
 */
export function usesLogThread(
  writer: LogWriter | undefined,
  cpus: number = navigator.hardwareConcurrency,
): boolean {
  return writer === "thread" || ((writer ?? "auto") === "auto" && cpus >= LOG_THREAD_MIN_CPUS);
}

async function serveWith(
  config: Config,
  logger: Logger,
  thread: LogThread | undefined,
  options: ServeOptions,
  io: CommandIO,
): Promise<number> {
  let app: App;
  // SIGHUP, POST /admin/reload and --watch all go through one reloader (one reload at a time).
  const reloader = createConfigReloader(options.config, () => app);
  const metrics = config.metrics === undefined
    ? undefined
    : new GatewayMetrics({ version: VERSION });
  try {
    app = await createApp(config, {
      logger,
      metrics,
      reloadConfig: () => reloader.reload("admin"),
      logThread: thread,
    });
  } catch (error) {
    // Start-up messages are sentences of their own; the trailing "." would double up here.
    const message = errorMessage(error).replace(/\.$/, "");
    io.stderr(`${options.config}: ${message}; the gateway did not start.`);
    return 2;
  }
  // The metrics listener comes up first: a port clash stops the start before any traffic is taken.
  let metricsServer: MetricsServer | undefined;
  if (metrics !== undefined && config.metrics !== undefined) {
    const { address, port } = config.metrics;
    try {
      metricsServer = await startMetricsServer(metrics, { hostname: address, port, logger });
    } catch (error) {
      io.stderr(
        `Cannot listen on ${address}:${port} for metrics: ${errorMessage(error)}. Change ` +
          "metrics.address/metrics.port, set metrics.enabled: false, or stop the process using it.",
      );
      await app.close();
      return 1;
    }
    logger.info("metrics listening", {
      address: metricsServer.addr.hostname,
      port: metricsServer.addr.port,
      path: "/metrics",
    });
  }
  let server;
  try {
    server = await startServer(app, {
      hostname: config.server.address,
      port: config.server.port,
      logger,
    });
  } catch (error) {
    io.stderr(
      `Cannot listen on ${config.server.address}:${config.server.port}: ${
        errorMessage(error)
      }. Change server.address/server.port or stop the process using it.`,
    );
    await metricsServer?.close();
    await app.close();
    return 1;
  }
  // Reload triggers are in place before "listening" is announced: whoever changes the file or
  // sends SIGHUP after that line is heard (and nothing awaits between it and the stop signals).
  // SIGHUP reloads at once (the original waited for the next request to arrive).
  const onHangup = () => void reloader.reload("SIGHUP");
  Deno.addSignalListener("SIGHUP", onHangup);
  let watcher: ConfigWatcher | undefined;
  if (options.watch) {
    watcher = await watchConfigFile(options.config, () => void reloader.reload("watch"), {
      logger,
    });
    logger.info("watching the config file", { path: options.config });
  }
  logger.info("listening", {
    address: server.addr.hostname,
    port: server.addr.port,
    version: VERSION,
    buckets: config.buckets.map((b) => `${b.name} -> ${b.pathPrefix}`),
  });

  // The first signal starts the drain; a second one (an impatient Ctrl-C) stops at once.
  const received: string[] = [];
  let wake: (() => void) | undefined;
  for (const name of SHUTDOWN_SIGNALS) {
    Deno.addSignalListener(name, () => {
      received.push(name);
      wake?.();
    });
  }
  const signalCount = (count: number) =>
    new Promise<void>((resolve) => {
      wake = () => {
        if (received.length >= count) resolve();
      };
      wake();
    });
  await signalCount(1);
  Deno.removeSignalListener("SIGHUP", onHangup);
  watcher?.close();
  // The timeout of the config in effect now (a reload may have changed it).
  const shutdownTimeout = app.config.server.shutdownTimeout;
  logger.info("shutting down", {
    signal: received[0],
    in_flight: app.inFlight,
    shutdown_timeout_seconds: shutdownTimeout,
  });
  const drained = await Promise.race([
    server.drain(shutdownTimeout),
    signalCount(2).then(() => ({ completed: false, cutOff: app.inFlight })),
  ]);
  // Scrapes keep working during the drain; the listener goes with the app.
  await metricsServer?.close();
  await app.close();
  if (drained.completed) logger.info("stopped", { drained: true });
  else {
    logger.warn("stopped with requests still in flight (shutdown timeout or a second signal)", {
      cut_off: drained.cutOff,
      shutdown_timeout_seconds: shutdownTimeout,
    });
  }
  return 0;
}
