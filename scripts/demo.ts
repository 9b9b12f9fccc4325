// Owns `deno task demo`: a seeded local s3rver plus the gateway (config.demo.yaml) as a child process.
import { fileURLToPath } from "node:url";
import { largeBody, startS3Server, type TestS3Server } from "../tests/support/s3_server.ts";
import { demoLogo } from "./demo_assets/png.ts";
import { SignJWT } from "jose";
import { signPath } from "../src/auth/signed_url.ts";
import { v8FlagsArg } from "../src/cli/runtime_flags.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const S3_PORT = portFromEnv("DEMO_S3_PORT", 9000);
// 0 lets the gateway pick a free port: the banner shows the one it bound (tests use this).
const GATEWAY_PORT = portFromEnv("DEMO_PORT", 8080, { allowZero: true });
const PRIVATE_KEY = { accessKeyId: "DEMOPRIVATE", secretAccessKey: "demo-private-secret" };
const BUCKETS = ["demo-public", "demo-private"] as const;
const UNICODE_KEY = "files/hello world ✓.txt";

function portFromEnv(name: string, fallback: number, { allowZero = false } = {}): number {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  // 0 is refused for s3rver: config.demo.yaml must name the same port the demo started it on.
  const lowest = allowZero ? 0 : 1;
  if (!Number.isInteger(port) || port < lowest || port > 65535) {
    console.error(`demo: ${name}=${raw} is not a port number (${lowest}-65535)`);
    Deno.exit(2);
  }
  return port;
}

function say(line = ""): void {
  console.log(line);
}

async function seed(s3: TestS3Server): Promise<string> {
  const jpeg = await Deno.readFile(new URL("./demo_assets/sample.jpg", import.meta.url));
  const png = demoLogo();
  const blob = largeBody(20 * 1024 * 1024);
  let helloEtag = "";
  for (const bucket of BUCKETS) {
    const hello = await s3.putObject(
      bucket,
      "hello.txt",
      `Hello from ${bucket}, served through Yatagarasu.\n`,
      { contentType: "text/plain; charset=utf-8" },
    );
    if (bucket === "demo-public") helloEtag = hello.etag;
    await s3.putObject(
      bucket,
      "data/info.json",
      JSON.stringify(
        { bucket, demo: true, objects: 6, note: "seeded by scripts/demo.ts" },
        null,
        2,
      ),
      { contentType: "application/json", metadata: { seeded: "demo" } },
    );
    await s3.putObject(bucket, "images/sample.jpg", jpeg, { contentType: "image/jpeg" });
    await s3.putObject(bucket, "images/logo.png", png, { contentType: "image/png" });
    await s3.putObject(bucket, UNICODE_KEY, "A key with a space and a check mark ✓\n", {
      contentType: "text/plain; charset=utf-8",
    });
    await s3.putObject(bucket, "big/blob.bin", blob, { contentType: "application/octet-stream" });
  }
  return helloEtag;
}

/** A token with `role`, signed with config.demo.yaml's demo secret (valid 1 hour). */
function demoToken(role: "viewer" | "admin"): Promise<string> {
  const secret = Deno.env.get("DEMO_JWT_SECRET") || "demo-jwt-secret-change-me-0123456789abcdef";
  return new SignJWT({ role })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(`demo-${role}`)
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(secret));
}

/** A signed link to the private bucket, valid 15 minutes (what `deno task sign-url` prints). */
function demoSignedPath(): string {
  const secret = Deno.env.get("DEMO_SIGNING_SECRET") || "demo-signing-secret-change-me-0123456789";
  return signPath({
    path: "/private/hello.txt",
    expiresAt: Math.floor(Date.now() / 1000) + 15 * 60,
    key: { id: "demo", secret },
  });
}

async function banner(port: number, etag: string): Promise<void> {
  const base = `http://127.0.0.1:${port}`;
  const unicodePath = UNICODE_KEY.split("/").map(encodeURIComponent).join("/");
  say();
  say(`Yatagarasu demo: gateway ${base}  ->  s3rver http://127.0.0.1:${S3_PORT}`);
  say("  /public  -> bucket demo-public  (key pair S3RVER)");
  say(
    "  /private -> bucket demo-private (its own key pair DEMOPRIVATE; needs a JWT or a signed URL)",
  );
  say("Try:");
  say(`  curl -i ${base}/public/hello.txt`);
  say(`  curl -I ${base}/public/images/sample.jpg`);
  say(`  curl -s -D - -o thumb.webp '${base}/public/images/sample.jpg?w=160&fmt=webp'`);
  say(
    `  curl -s -D - -o thumb.img -H 'Accept: image/avif' '${base}/public/images/sample.jpg?preset=thumb'`,
  );
  say(`  curl -i -H 'Range: bytes=0-4' ${base}/public/hello.txt`);
  say(`  curl -i -H 'If-None-Match: ${etag}' ${base}/public/hello.txt`);
  say(`  curl -s ${base}/public/data/info.json`);
  say(`  curl -s ${base}/public/${unicodePath}`);
  say(
    `  curl -s -o /dev/null -w '%{size_download} B at %{speed_download} B/s\\n' ${base}/public/big/blob.bin`,
  );
  say(`  curl -i ${base}/private/data/info.json        # 401: no token`);
  say(
    `  curl -s -H 'Authorization: Bearer ${await demoToken(
      "viewer",
    )}' ${base}/private/data/info.json`,
  );
  say(`  curl -s '${base}${demoSignedPath()}'`);
  const admin = await demoToken("admin");
  say(`  curl -i ${base}/public/hello.txt              # twice: X-Cache MISS, then HIT`);
  say(`  curl -s -H 'Authorization: Bearer ${admin}' ${base}/admin/cache/stats`);
  say(`  curl -s -X POST -H 'Authorization: Bearer ${admin}' ${base}/admin/cache/purge`);
  say(`  curl -i ${base}/health`);
  say(`  curl -i ${base}/ready`);
  say(`  curl -i ${base}/public/no-such-key.txt        # 404`);
  say(`  curl -i -X DELETE ${base}/public/hello.txt    # 405`);
  say(`  open ${base}/public/images/logo.png in a browser`);
  say("Ctrl-C stops both.");
  say();
}

/** Copies the child's stdout through line by line, calling onLine for each (to spot "listening"). */
async function pipeLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const bytes of stream) {
    await Deno.stdout.write(bytes);
    rest += decoder.decode(bytes, { stream: true });
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      onLine(rest.slice(0, nl));
      rest = rest.slice(nl + 1);
    }
  }
}

/** The gateway's "listening" log line, JSON or pretty, gives the port it really bound. */
function listeningPort(line: string): number | undefined {
  const text = line.trim();
  if (text.startsWith("{")) {
    try {
      const entry = JSON.parse(text) as { msg?: unknown; port?: unknown };
      if (entry.msg === "listening" && typeof entry.port === "number") return entry.port;
    } catch {
      // not JSON after all
    }
    return undefined;
  }
  const match = /\blistening\b.*\bport=(\d+)/.exec(text);
  return match ? Number(match[1]) : undefined;
}

async function main(): Promise<number> {
  // Signals are ours from the first moment, so a Ctrl-C while seeding still removes the temp dir.
  let stopping = false;
  let child: Deno.ChildProcess | undefined;
  const stop = (signal: Deno.Signal) => {
    if (stopping) return;
    stopping = true;
    say(`\ndemo: ${signal}: stopping${child ? " the gateway" : ""}...`);
    try {
      child?.kill(signal);
    } catch {
      // already gone
    }
  };
  const onInt = () => stop("SIGINT");
  const onTerm = () => stop("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  try {
    return await run(
      () => stopping,
      (spawned) => child = spawned,
    );
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGTERM", onTerm);
  }
}

async function run(
  isStopping: () => boolean,
  onSpawn: (child: Deno.ChildProcess) => void,
): Promise<number> {
  let s3: TestS3Server;
  try {
    s3 = await startS3Server({ port: S3_PORT, buckets: [...BUCKETS], accounts: [PRIVATE_KEY] });
  } catch (error) {
    console.error(
      `demo: could not start s3rver on 127.0.0.1:${S3_PORT} (${(error as Error).message}); ` +
        "set DEMO_S3_PORT to a free port",
    );
    return 1;
  }
  try {
    say(`demo: s3rver on ${s3.endpoint}, seeding ${BUCKETS.join(" and ")}...`);
    let etag: string;
    try {
      etag = await seed(s3);
    } catch (error) {
      console.error(`demo: seeding failed: ${(error as Error).message}`);
      return 1;
    }
    if (isStopping()) return 0;

    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", v8FlagsArg(), "main.ts", "serve", "--config", "config.demo.yaml"],
      cwd: ROOT,
      env: { DEMO_PORT: String(GATEWAY_PORT), DEMO_S3_PORT: String(S3_PORT) },
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
      // Its own process group: a terminal Ctrl-C reaches only us, and we forward it exactly once
      // (a second SIGINT could read as "force quit" to the gateway).
      detached: true,
    }).spawn();
    onSpawn(child);

    let shown = false;
    let exited = false;
    const show = (port: number) => {
      if (shown) return;
      shown = true;
      banner(port, etag).catch((error) => say(`demo: cannot print the banner: ${error}`));
    };
    const piping = pipeLines(child.stdout, (line) => {
      const port = listeningPort(line);
      if (port !== undefined) show(port);
    }).catch(() => {});
    // Fallback for a gateway whose log line we do not recognise: its /health answering is enough.
    const polling = (async () => {
      for (let i = 0; i < 300; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        // With port 0 only the log line can say which port the gateway bound.
        if (shown || exited || isStopping() || GATEWAY_PORT === 0) return;
        try {
          const response = await fetch(`http://127.0.0.1:${GATEWAY_PORT}/health`);
          await response.body?.cancel();
          show(GATEWAY_PORT);
        } catch {
          // not up yet
        }
      }
    })();

    const status = await child.status;
    exited = true;
    await piping;
    await polling;
    if (isStopping()) {
      say(`demo: gateway stopped (code ${status.code}).`);
      return 0;
    }
    console.error(`demo: the gateway exited on its own (code ${status.code})`);
    return status.code;
  } finally {
    await s3.close();
  }
}

Deno.exit(await main());
