// Tests of scripts/bundle.ts's pure parts: which packages stay external, the command line, and pinning their imports.

import assert from "node:assert/strict";
import { bundleArgs, externalSpecifiers, pinExternalImports } from "./bundle.ts";

Deno.test("externalSpecifiers: the native packages deno.json pins, nothing else", () => {
  const map = externalSpecifiers({
    sharp: "npm:sharp@0.35.5",
    "@img/sharp-wasm32": "npm:@img/sharp-wasm32@0.35.5",
    yaml: "npm:yaml@2.9.1",
  });
  assert.deepEqual([...map], [
    ["sharp", "npm:sharp@0.35.5"],
    ["@img/sharp-wasm32", "npm:@img/sharp-wasm32@0.35.5"],
  ]);
  assert.equal(externalSpecifiers({}).size, 0);
});

Deno.test("bundleArgs: --external=NAME (the spaced form would swallow main.ts), main.ts last", () => {
  assert.deepEqual(bundleArgs(["sharp"], "dist/yatagarasu.js"), [
    "bundle",
    "--platform",
    "deno",
    "--output",
    "dist/yatagarasu.js",
    "--external=sharp",
    "--external=sharp/*",
    "main.ts",
  ]);
});

Deno.test("pinExternalImports: static, dynamic and sub-path imports of external packages only", () => {
  const map = new Map([["sharp", "npm:sharp@0.35.5"], [
    "@img/sharp-wasm32",
    "npm:@img/sharp-wasm32@0.35.5",
  ]]);
  const code = [
    'import sharp from "sharp";',
    "import { x } from 'sharp/lib/utility';",
    'const w = await import("@img/sharp-wasm32");',
    'import "sharp";',
    'const r = require("sharp");',
    'import { y } from "sharpen";',
    'const s = "sharp";',
  ].join("\n");
  assert.equal(
    pinExternalImports(code, map),
    [
      'import sharp from "npm:sharp@0.35.5";',
      "import { x } from 'npm:sharp@0.35.5/lib/utility';",
      'const w = await import("npm:@img/sharp-wasm32@0.35.5");',
      'import "npm:sharp@0.35.5";',
      'const r = require("npm:sharp@0.35.5");',
      'import { y } from "sharpen";',
      'const s = "sharp";',
    ].join("\n"),
  );
});
