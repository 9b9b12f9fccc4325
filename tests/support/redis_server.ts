// Owns the real Redis used by tests: a redis-server child process on a free loopback port, without persistence.

export interface StartRedisServerOptions {
  /** Started with `--requirepass`, so clients must AUTH. Default: no password. */
  password?: string;
}

export interface RedisServer {
  /** redis://127.0.0.1:PORT (never with the password: tests pass it separately, like the config does). */
  url: string;
  port: number;
  /** Kills the server (SIGKILL: an abrupt outage, as a crash looks to clients) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port with empty data (stops it first if it is running). */
  restart(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const INSTALL_HINT =
  "redis-server is not installed; install it with `apt-get install -y redis-server`";
const START_TIMEOUT_MS = 5_000;

/** A port the OS considers free now; the small race until redis-server binds it is acceptable in tests. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** True once something on `port` answers a RESP PING (PONG, or NOAUTH when a password is required). */
async function answersPing(port: number): Promise<boolean> {
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buffer = new Uint8Array(64);
    const read = await conn.read(buffer);
    if (read === null) return false;
    const reply = new TextDecoder().decode(buffer.subarray(0, read));
    return reply.startsWith("+PONG") || reply.startsWith("-NOAUTH");
  } catch {
    return false;
  } finally {
    conn?.close();
  }
}

interface Running {
  child: Deno.ChildProcess;
  /** Drains stdout+stderr so the pipes never fill, and keeps the text for error messages. */
  output: Promise<string>;
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    // Only the tail matters for diagnosing a failed start; bound it so a chatty server cannot grow it.
    text = (text + decoder.decode(chunk, { stream: true })).slice(-8_192);
  }
  return text;
}

function spawn(port: number, password: string | undefined): Running {
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    // Tests must never write dump.rdb or an AOF into the working directory.
    "--save",
    "",
    "--appendonly",
    "no",
    "--daemonize",
    "no",
    "--loglevel",
    "warning",
  ];
  if (password !== undefined) args.push("--requirepass", password);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("redis-server", {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new Error(INSTALL_HINT, { cause: error });
    throw error;
  }
  const output = Promise.all([drain(child.stdout), drain(child.stderr)]).then(([out, err]) =>
    (out + err).trim()
  );
  return { child, output };
}

async function waitUntilUp(running: Running, port: number): Promise<void> {
  let exited = false;
  const status = running.child.status.then((s) => {
    exited = true;
    return s;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) {
      const code = (await status).code;
      throw new Error(`redis-server on port ${port} exited with ${code}: ${await running.output}`);
    }
    if (await answersPing(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  running.child.kill("SIGKILL");
  await status;
  throw new Error(
    `redis-server on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms: ${await running
      .output}`,
  );
}

export async function startRedisServer(
  options: StartRedisServerOptions = {},
): Promise<RedisServer> {
  const port = freePort();
  let running: Running | undefined = spawn(port, options.password);
  await waitUntilUp(running, port);

  const stop = async (): Promise<void> => {
    const current = running;
    if (current === undefined) return;
    running = undefined;
    try {
      current.child.kill("SIGKILL");
    } catch {
      // Already exited: nothing to kill, but still reap it below.
    }
    await current.child.status;
    await current.output;
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    async restart() {
      await stop();
      const next = spawn(port, options.password);
      running = next;
      await waitUntilUp(next, port);
    },
    [Symbol.asyncDispose]: stop,
  };
}
