// Owns the `sign-url` subcommand: pick the bucket for a path, check the key and expiry against its
// signed_urls config, and print one signed URL (nothing else on stdout, so `$(...)` works).

import { formatDuration, SIGNED_URL_PARAMS, signPath } from "../auth/signed_url.ts";
import { formatIssue, loadConfigFile } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import { BucketRouter } from "../routing/bucket_router.ts";
import { parseDuration } from "./duration.ts";
import { localGatewayUrl } from "./gateway_url.ts";
import type { CommandIO } from "./validate_config.ts";
import { errorMessage } from "../errors.ts";

export interface SignUrlOptions {
  /** Config file. */
  config: string;
  /** The path as the gateway sees it, bucket prefix included, NOT percent-encoded. */
  path: string;
  /** How long the URL stays valid: "90", "90s", "15m", "2h", "7d". */
  expires: string;
  /** Key id to sign with; default the bucket's first key. */
  key?: string | undefined;
  /** Base URL; default http://{server.address}:{server.port} (0.0.0.0 -> 127.0.0.1, :: -> [::1]). */
  base?: string | undefined;
  /** GET (default) or HEAD; both sign the same, a link works for either. */
  method?: string | undefined;
  /** Extra query parameters to sign, each "name=value" (plain text, not percent-encoded). */
  param?: readonly string[] | undefined;
  /** Current Unix time in seconds; default the clock (tests pin it). */
  nowSeconds?: number | undefined;
}

export type SignedUrlResult =
  | { ok: true; url: string; bucket: string; keyId: string; expiresAt: number }
  | { ok: false; error: string };

/** Prints the signed URL as the only stdout line and returns 0; 2 for any usage or config error. */
export async function runSignUrl(options: SignUrlOptions, io: CommandIO): Promise<number> {
  const result = await loadConfigFile(options.config);
  if (!result.ok) {
    for (const error of result.errors) io.stderr(formatIssue(options.config, error));
    const n = result.errors.length;
    io.stderr(
      `${n} error${
        n === 1 ? "" : "s"
      } in ${options.config}; no URL was signed. Run \`yatagarasu validate-config ${options.config}\` after fixing them.`,
    );
    return 2;
  }
  const signed = buildSignedUrl(result.config, options);
  if (!signed.ok) {
    io.stderr(`sign-url: ${signed.error}`);
    return 2;
  }
  if (/%[0-9A-Fa-f]{2}/.test(options.path)) {
    // stderr, so `$(yatagarasu sign-url ...)` still captures only the URL.
    io.stderr(
      `sign-url: note: --path is taken literally, so "%XX" in it stays a percent sign and two characters; if the path was percent-encoded, pass it decoded (a space as a space).`,
    );
  }
  io.stdout(signed.url);
  return 0;
}

/** The pure part of `sign-url`: a URL, or the one error message that explains what to change. */
export function buildSignedUrl(
  config: Config,
  options: Omit<SignUrlOptions, "config">,
): SignedUrlResult {
  const { path } = options;
  if (!path.startsWith("/")) {
    return fail(
      `--path must start with "/" (the path the gateway serves, bucket prefix included), got ${
        JSON.stringify(path)
      }`,
    );
  }
  const method = (options.method ?? "GET").toUpperCase();
  if (method !== "GET" && method !== "HEAD") {
    return fail(
      `--method must be GET or HEAD (the gateway is read-only), got ${
        JSON.stringify(options.method)
      }`,
    );
  }
  let seconds: number;
  try {
    seconds = parseDuration(options.expires);
  } catch (error) {
    return fail(`--expires: ${errorMessage(error)}`);
  }
  const query: Array<[string, string]> = [];
  for (const param of options.param ?? []) {
    const eq = param.indexOf("=");
    const name = eq === -1 ? param : param.slice(0, eq);
    const value = eq === -1 ? "" : param.slice(eq + 1);
    if (name === "") return fail(`--param must be name=value, got ${JSON.stringify(param)}`);
    if (Object.values(SIGNED_URL_PARAMS).some((reserved) => reserved === name)) {
      return fail(`--param ${name} is reserved: sign-url adds it itself`);
    }
    query.push([name, value]);
  }

  const match = new BucketRouter(config.buckets).resolve(path);
  if (match === undefined) {
    const prefixes = config.buckets.map((bucket) => bucket.pathPrefix).join(", ");
    return fail(
      `no bucket serves ${
        JSON.stringify(path)
      }: the path must start with one of the path prefixes ${prefixes}`,
    );
  }
  const bucket = match.target;
  const where = `buckets[${config.buckets.indexOf(bucket)}]`;
  if (match.key === "") {
    return fail(
      `${
        JSON.stringify(path)
      } names the bucket "${bucket.name}" but no object; add the object key after "${
        bucket.pathPrefix === "/" ? "" : bucket.pathPrefix
      }/"`,
    );
  }
  const signedUrls = bucket.signedUrls;
  if (signedUrls === undefined || signedUrls.keys.length === 0) {
    return fail(
      `bucket "${bucket.name}" (${where}) does not enable signed URLs; add ${where}.signed_urls with at least one key`,
    );
  }
  const key = options.key === undefined
    ? signedUrls.keys[0]!
    : signedUrls.keys.find((candidate) => candidate.id === options.key);
  if (key === undefined) {
    return fail(
      `bucket "${bucket.name}" has no signed-URL key ${JSON.stringify(options.key)}; its keys: ${
        signedUrls.keys.map((candidate) => candidate.id).join(", ")
      }`,
    );
  }
  if (seconds > signedUrls.maxExpirySeconds) {
    return fail(
      `--expires ${options.expires} is longer than bucket "${bucket.name}" allows: at most ${
        formatDuration(signedUrls.maxExpirySeconds)
      } (${where}.signed_urls.max_expiry_seconds: ${signedUrls.maxExpirySeconds})`,
    );
  }

  const base = resolveBase(config, options.base);
  if (typeof base !== "string") return base;
  const now = options.nowSeconds ?? Date.now() / 1000;
  const expiresAt = Math.floor(now) + seconds;
  let target: string;
  try {
    target = signPath({ method, path, query, expiresAt, key });
  } catch (error) {
    return fail(errorMessage(error));
  }
  return { ok: true, url: base + target, bucket: bucket.name, keyId: key.id, expiresAt };
}

/** "https://cdn.example.com" or "https://example.com/files" (no trailing "/"), or an error. */
function resolveBase(
  config: Config,
  base: string | undefined,
): string | { ok: false; error: string } {
  if (base === undefined) {
    const local = localGatewayUrl(config, "--base");
    return local.ok ? local.url : fail(local.error);
  }
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    return fail(
      `--base must be an absolute http(s) URL such as https://cdn.example.com, got ${
        JSON.stringify(base)
      }`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return fail(`--base must be an http or https URL, got ${JSON.stringify(base)}`);
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    return fail(
      `--base must not carry a query, a fragment or credentials, got ${JSON.stringify(base)}`,
    );
  }
  return url.origin + url.pathname.replace(/\/+$/, "");
}

function fail(error: string): { ok: false; error: string } {
  return { ok: false, error };
}
