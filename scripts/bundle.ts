// Owns `deno task bundle`: dist/yatagarasu.js, one JavaScript file, with native npm packages left as pinned npm: imports.

import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Packages kept out of the bundle: sharp loads a platform-specific native addon (and its wasm
 * fallback its .wasm file) relative to its own package directory, which inlined code cannot do.
 * Deno fetches them at run time from the npm: specifier (or its cache), as with `deno run main.ts`.
 */
export const EXTERNAL_PACKAGES = ["sharp", "@img/sharp-wasm32"] as const;

/** The import map entries of deno.json for the external packages it pins (bare name -> npm:name@version). */
export function externalSpecifiers(imports: Record<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of EXTERNAL_PACKAGES) {
    const specifier = imports[name];
    if (specifier !== undefined) out.set(name, specifier);
  }
  return out;
}

export function bundleArgs(external: Iterable<string>, output: string): string[] {
  const args = ["bundle", "--platform", "deno", "--output", output];
  // `--external=NAME`: the flag takes several values, so a spaced form would swallow main.ts.
  for (const name of external) args.push(`--external=${name}`, `--external=${name}/*`);
  args.push("main.ts");
  return args;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Rewrites the bare imports esbuild left for external packages ("sharp", "sharp/lib/x") into their
 * pinned npm: specifiers, so the bundle runs anywhere, not only beside deno.json's import map.
 */
export function pinExternalImports(code: string, specifiers: ReadonlyMap<string, string>): string {
  let out = code;
  for (const [name, specifier] of specifiers) {
    const quoted = new RegExp(
      `(\\bfrom\\s*|\\bimport\\s*\\(\\s*|\\bimport\\s+|\\brequire\\s*\\(\\s*)(["'])${
        escapeRegExp(name)
      }(/[^"']*)?\\2`,
      "g",
    );
    out = out.replace(
      quoted,
      (_m, lead: string, q: string, sub: string | undefined) =>
        `${lead}${q}${specifier}${sub ?? ""}${q}`,
    );
  }
  return out;
}

async function main(): Promise<number> {
  const output = Deno.args[0] ?? "dist/yatagarasu.js";
  const denoJson = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)) as {
    imports?: Record<string, string>;
  };
  const specifiers = externalSpecifiers(denoJson.imports ?? {});
  const args = bundleArgs(specifiers.keys(), output);
  console.error(`bundle: deno ${args.join(" ")}`);
  const result = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT }).output();
  if (!result.success) {
    console.error(new TextDecoder().decode(result.stderr).trimEnd());
    console.error("bundle: deno bundle failed (see above)");
    return 1;
  }
  const path = output.startsWith("/") ? output : `${ROOT}/${output}`;
  const code = await Deno.readTextFile(path);
  await Deno.writeTextFile(path, pinExternalImports(code, specifiers));
  console.error(
    `bundle: wrote ${output}${
      specifiers.size > 0 ? ` (external: ${[...specifiers.values()].join(", ")})` : ""
    }; run it with: deno run -A ${output} serve --config config.yaml`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main());
