// Owns spawning the real CLI (`deno run -A main.ts ...`) for end-to-end tests, and reading its output.

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion. */
export async function runCli(args: string[], env?: Record<string, string>): Promise<CliResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

export interface RunningGateway {
  url: string;
  pid: number;
  /** The config file it runs (removed when it exits): tests rewrite it to reload. */
  configPath: string;
  /** JSON log lines seen on stdout so far. */
  logLines(): Record<string, unknown>[];
  stderr(): string;
  kill(signal: Deno.Signal): void;
  /** Resolves with the exit code. */
  exited: Promise<number>;
}

/** How long a gateway may take to log "listening" (logging.level must be info or lower). */
const START_TIMEOUT_MS = 30_000;

/**
 * Writes `configYaml` to a temp file, runs `serve` on it (with `extraArgs`, e.g. --watch) and
 * waits for the "listening" line.
 */
export async function startGateway(
  configYaml: string,
  extraArgs: string[] = [],
): Promise<RunningGateway> {
  const dir = await Deno.makeTempDir({ prefix: "yatagarasu-e2e-" });
  const configPath = `${dir}/config.yaml`;
  await Deno.writeTextFile(configPath, configYaml);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", "--config", configPath, ...extraArgs],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdoutText = "";
  let stderrText = "";
  let onLine: (() => void) | undefined;
  const pump = async (stream: ReadableStream<Uint8Array>, isStdout: boolean) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      if (isStdout) stdoutText += text;
      else stderrText += text;
      onLine?.();
    }
  };
  const pumps = Promise.all([pump(child.stdout, true), pump(child.stderr, false)]);
  const exited = child.status.then(async (status) => {
    await pumps;
    await Deno.remove(dir, { recursive: true });
    return status.code;
  });
  const parsed = () =>
    stdoutText.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  // The "listening" line is logged at info: a config with a quieter level never shows it, and
  // the test must then fail, not hang.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const listening = await new Promise<Record<string, unknown> | undefined>((resolve) => {
    const check = () => {
      const line = parsed().find((l) => l.msg === "listening");
      if (line) resolve(line);
    };
    onLine = check;
    exited.then(() => resolve(undefined));
    timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve(undefined);
    }, START_TIMEOUT_MS);
    check();
  });
  clearTimeout(timer);
  onLine = undefined;
  if (listening === undefined) {
    await exited;
    throw new Error(`gateway exited before listening:\n${stderrText}\n${stdoutText}`);
  }
  return {
    url: `http://127.0.0.1:${listening.port}`,
    pid: child.pid,
    configPath,
    logLines: parsed,
    stderr: () => stderrText,
    kill: (signal) => child.kill(signal),
    exited,
  };
}

/** Reads a field in kB from /proc/<pid>/status (VmRSS, VmHWM) and returns bytes. */
export async function procStatusBytes(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Resets the peak RSS (VmHWM) of a process to its current RSS (Linux clear_refs "5"). */
export async function resetPeakRss(pid: number): Promise<void> {
  await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5");
}
