// Tests the file reloader (one reload at a time, bursts coalesced, the file's own validation) and the --watch watcher.

import assert from "node:assert/strict";
import { type App, createApp } from "../app.ts";
import { loadConfigFile } from "../config/load.ts";
import { Logger } from "../observe/log.ts";
import { createConfigReloader, watchConfigFile } from "./reload.ts";

const lines: string[] = [];
const decoder = new TextDecoder();
const logger = new Logger({
  level: "info",
  format: "json",
  sink: {
    write(bytes) {
      lines.push(...decoder.decode(bytes).split("\n").filter((l) => l !== ""));
      return Promise.resolve(bytes.length);
    },
  },
});

function yaml(prefix: string): string {
  return `server: { address: 127.0.0.1, port: 0 }
buckets:
  - name: files
    path_prefix: ${prefix}
    s3: { bucket: files, endpoint: "http://127.0.0.1:9", access_key: a, secret_key: b }
`;
}

async function appFor(path: string): Promise<App> {
  const result = await loadConfigFile(path);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return createApp(result.config, { logger });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("createConfigReloader: a burst costs at most two reloads; the later callers share one", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/config.yaml`;
  await Deno.writeTextFile(path, yaml("/one"));
  const app = await appFor(path);
  try {
    const reloader = createConfigReloader(path, () => app);
    await Deno.writeTextFile(path, yaml("/two"));
    const first = reloader.reload("SIGHUP");
    const rest = [1, 2, 3, 4].map(() => reloader.reload("SIGHUP"));
    assert.ok(rest.every((p) => p === rest[0]), "the queued callers share one reload");
    const outcomes = await Promise.all([first, ...rest]);
    assert.deepEqual(outcomes.map((o) => o.generation), [2, 3, 3, 3, 3]);
    assert.deepEqual(app.reloads, { succeeded: 2, failed: 0 });
    assert.equal(app.config.buckets[0]!.pathPrefix, "/two");
    // Idle again: the next call starts a reload of its own, validated like start-up.
    await Deno.writeTextFile(path, yaml("no-slash"));
    const invalid = await reloader.reload("admin");
    assert.equal(invalid.ok, false);
    assert.equal(invalid.source, path);
    assert.equal(invalid.errors[0]!.path, "buckets[0].path_prefix");
    assert.equal(invalid.errors[0]!.line, 4);
    assert.equal(app.generation, 3);
    await Deno.remove(path);
    const missing = await reloader.reload("admin");
    assert.match(missing.errors[0]!.message, /cannot read config file/);
    assert.deepEqual(app.reloads, { succeeded: 2, failed: 2 });
  } finally {
    await app.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("watchConfigFile: a content change reloads, whether written in place or renamed over", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/config.yaml`;
  await Deno.writeTextFile(path, yaml("/one"));
  let changes = 0;
  const watcher = await watchConfigFile(path, () => changes++, { logger, debounceMs: 50 });
  try {
    // Other files and rewrites with the same content are not changes.
    await Deno.writeTextFile(`${dir}/other.txt`, "x");
    await Deno.writeTextFile(path, yaml("/one"));
    await sleep(300);
    assert.equal(changes, 0);
    // An editor's save: a temp file renamed over the original, written in several steps.
    await Deno.writeTextFile(`${dir}/.config.yaml.swp`, yaml("/two"));
    await Deno.rename(`${dir}/.config.yaml.swp`, path);
    await Deno.writeTextFile(path, yaml("/two") + "# saved\n");
    await sleep(300);
    assert.equal(changes, 1, "one reload for one debounced save");
    // After the rename, the new file is still watched.
    await Deno.writeTextFile(path, yaml("/three"));
    await sleep(300);
    assert.equal(changes, 2);
  } finally {
    watcher.close();
    await Deno.remove(dir, { recursive: true });
  }
});
