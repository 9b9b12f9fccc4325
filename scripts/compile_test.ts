// Tests of scripts/compile.ts's pure parts: target selection, DENORT_BIN rules, the command lines, the failure explanations.

import assert from "node:assert/strict";
import {
  compileArgs,
  denortBinWarning,
  explainFailure,
  outputPath,
  planCompile,
  TARGETS,
} from "./compile.ts";

const HOST = "x86_64-unknown-linux-gnu";

Deno.test("planCompile: every target by default, only the host's with DENORT_BIN", () => {
  assert.deepEqual(planCompile([], { host: HOST }), { targets: [...TARGETS], outDir: "dist" });
  assert.deepEqual(planCompile([], { host: HOST, denortBin: "/opt/denort" }).targets, [HOST]);
  assert.deepEqual(
    planCompile(["--target", "aarch64-apple-darwin", "--target", "host", "--out", "out/"], {
      host: HOST,
    }),
    { targets: ["aarch64-apple-darwin", HOST], outDir: "out" },
  );
  assert.deepEqual(planCompile(["--target", "all", "--target", HOST], { host: HOST }).targets, [
    ...TARGETS,
  ]);
});

Deno.test("planCompile: unknown targets and arguments, and several targets with one DENORT_BIN, are refused", () => {
  assert.throws(
    () => planCompile(["--target", "riscv"], { host: HOST }),
    /unknown --target "riscv": use one of x86_64-unknown-linux-gnu, .* all or host/,
  );
  assert.throws(() => planCompile(["--target"], { host: HOST }), /--target needs a value/);
  assert.throws(
    () => planCompile(["--fast"], { host: HOST }),
    /unknown argument "--fast": usage: deno task compile/,
  );
  assert.throws(
    () => planCompile(["--target", "all"], { host: HOST, denortBin: "/opt/denort" }),
    /DENORT_BIN is one runtime binary for one target, but 5 targets were asked for/,
  );
  assert.throws(
    () => planCompile(["--target", "host"], { host: "riscv64gc-unknown-linux-gnu" }),
    /is not one of the targets/,
  );
});

Deno.test("compileArgs: one deno compile command per target, Windows gets .exe", () => {
  assert.deepEqual(compileArgs("aarch64-unknown-linux-gnu", "dist"), [
    "compile",
    "--allow-read",
    "--allow-write",
    "--allow-net",
    "--allow-env",
    "--allow-sys",
    "--allow-ffi",
    "--v8-flags=--no-memory-reducer",
    "--include",
    "src/image/wasm_worker.ts",
    "--target",
    "aarch64-unknown-linux-gnu",
    "--output",
    "dist/yatagarasu-aarch64-unknown-linux-gnu",
    "main.ts",
  ]);
  assert.equal(
    outputPath("dist", "x86_64-pc-windows-msvc"),
    "dist/yatagarasu-x86_64-pc-windows-msvc.exe",
  );
  for (const target of TARGETS) {
    const args = compileArgs(target, "d");
    assert.equal(args[args.indexOf("--target") + 1], target);
    assert.equal(args.at(-1), "main.ts");
  }
});

Deno.test("explainFailure: the denort download and a bad DENORT_BIN are explained, other errors are not", () => {
  const download =
    "error: Writing deno compile executable\nCaused by:\n    0: Setting up base binary.\n" +
    "    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip): dns error";
  const explained = explainFailure(download, HOST, undefined)!;
  assert.match(explained, /needs denort/);
  assert.match(
    explained,
    /DENORT_BIN=\/path\/to\/denort deno task compile --target x86_64-unknown-linux-gnu/,
  );
  assert.match(explained, /deno task bundle/);
  assert.match(
    explainFailure("0: Could not find denort at '/x'", HOST, "/x")!,
    /could not use DENORT_BIN=\/x for x86_64-unknown-linux-gnu/,
  );
  assert.equal(explainFailure("error: TS2304 Cannot find name 'x'", HOST, undefined), undefined);
});

Deno.test("denortBinWarning: the deno CLI itself is not a denort", () => {
  assert.match(
    denortBinWarning(Deno.execPath(), Deno.execPath())!,
    /looks like the deno CLI, not denort/,
  );
  assert.match(denortBinWarning("/usr/local/bin/deno", "/nowhere")!, /REPL/);
  assert.equal(denortBinWarning("/opt/denort", Deno.execPath()), undefined);
});
