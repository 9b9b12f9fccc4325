// Owns spawning the real CLI for the observability e2e tests: any log level or format, extra
// environment (OTEL_*), readiness by polling /health instead of parsing a "listening" line.

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

/** How long a gateway may take to answer /health. */
const START_TIMEOUT_MS = 30_000;

export interface ObservedGateway {
  url: string;
  /** The temporary directory holding config.yaml (tests may put their files there). */
  dir: string;
  stdout(): string;
  stderr(): string;
  kill(signal: Deno.Signal): void;
  /** Resolves with the exit code once stdout and stderr are drained. */
  exited: Promise<number>;
  /** Removes `dir`; call after `exited`. */
  cleanup(): Promise<void>;
}

/** A port that was free a moment ago (the gateway binds it right after). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Writes `config(port, dir)` to a temp dir, runs `serve` on it with `env` added to this
 * process's environment, and resolves once /health answers.
 */
export async function spawnGateway(
  config: (port: number, dir: string) => string,
  env: Record<string, string> = {},
): Promise<ObservedGateway> {
  const dir = await Deno.makeTempDir({ prefix: "yatagarasu-obs-" });
  const port = freePort();
  await Deno.writeTextFile(`${dir}/config.yaml`, config(port, dir));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", "--config", `${dir}/config.yaml`],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdoutText = "";
  let stderrText = "";
  const pump = async (stream: ReadableStream<Uint8Array>, isStdout: boolean) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      if (isStdout) stdoutText += text;
      else stderrText += text;
    }
  };
  const pumps = Promise.all([pump(child.stdout, true), pump(child.stderr, false)]);
  let exitCode: number | undefined;
  const exited = child.status.then(async (status) => {
    await pumps;
    exitCode = status.code;
    return status.code;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exitCode !== undefined) {
      throw new Error(
        `gateway exited (${exitCode}) before answering:\n${stderrText}\n${stdoutText}`,
      );
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await exited;
      throw new Error(`gateway did not answer /health in time:\n${stderrText}\n${stdoutText}`);
    }
    try {
      const response = await fetch(`${url}/health`);
      await response.body?.cancel();
      if (response.status === 200) break;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    dir,
    stdout: () => stdoutText,
    stderr: () => stderrText,
    kill: (signal) => child.kill(signal),
    exited,
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}
