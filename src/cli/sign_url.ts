// Owns the `sign-url` subcommand: pick the bucket for a path, check the key and expiry against its
// signed_urls config, sign image parameters (--image) with its image_optimization.signing keys, and
// print one URL (nothing else on stdout, so `$(...)` works).

import { encodeUrlPath, formatDuration, SIGNED_URL_PARAMS, signPath } from "../auth/signed_url.ts";
import { formatIssue, loadConfigFile } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import { BucketRouter } from "../routing/bucket_router.ts";
import { parseDuration } from "./duration.ts";
import { localGatewayUrl } from "./gateway_url.ts";
import type { CommandIO } from "./validate_config.ts";
import { errorMessage, ProxyError } from "../errors.ts";
import { compileImagePolicy, effectiveImageSigning } from "../image/policy.ts";
import {
  canonicalTransform,
  IMAGE_PARAM_NAMES,
  IMAGE_SIGNATURE_PARAMS,
  PRESET_PARAM,
  readImageQuery,
} from "../image/params.ts";
import { signImageQuery } from "../image/signing.ts";

export interface SignUrlOptions {
  /** Config file. */
  config: string;
  /** The path as the gateway sees it, bucket prefix included, NOT percent-encoded. */
  path: string;
  /**
   * How long the URL stays valid: "90", "90s", "15m", "2h", "7d". Required for a signed URL
   * (a bucket with signed_urls); for image parameters alone it adds `exp` (no expiry without it).
   */
  expires?: string | undefined;
  /** Key id to sign with; default the bucket's first key. */
  key?: string | undefined;
  /** Base URL; default http://{server.address}:{server.port} (0.0.0.0 -> 127.0.0.1, :: -> [::1]). */
  base?: string | undefined;
  /** GET (default) or HEAD; both sign the same, a link works for either. */
  method?: string | undefined;
  /** Extra query parameters to sign, each "name=value" (plain text, not percent-encoded). */
  param?: readonly string[] | undefined;
  /**
   * Image parameters as a query, "w=400&h=300&fmt=webp" or "preset=thumb" (plain text): signed
   * with the bucket's image_optimization.signing keys, and checked as the gateway will check them.
   */
  image?: string | undefined;
  /** Image signing key id; default the first key of image_optimization.signing. */
  imageKey?: string | undefined;
  /** Current Unix time in seconds; default the clock (tests pin it). */
  nowSeconds?: number | undefined;
}

export type SignedUrlResult =
  | {
    ok: true;
    url: string;
    bucket: string;
    /** The signed-URL key id, when the bucket has signed_urls. */
    keyId: string | undefined;
    /** Unix seconds, when the URL expires. */
    expiresAt: number | undefined;
    /** The image signing key id, when --image was signed. */
    imageKeyId?: string | undefined;
    /** A note for stderr (the parameters are not signed because the bucket does not sign them). */
    note?: string | undefined;
  }
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
  if (signed.note !== undefined) io.stderr(`sign-url: note: ${signed.note}`);
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
  let seconds: number | undefined;
  if (options.expires !== undefined) {
    try {
      seconds = parseDuration(options.expires);
    } catch (error) {
      return fail(`--expires: ${errorMessage(error)}`);
    }
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
    if (
      options.image !== undefined &&
      (IMAGE_PARAM_NAMES.has(name) || name === PRESET_PARAM ||
        Object.values(IMAGE_SIGNATURE_PARAMS).some((reserved) => reserved === name))
    ) {
      return fail(`--param ${name} is an image parameter; put it in --image`);
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
  const signedUrls = bucket.signedUrls !== undefined && bucket.signedUrls.keys.length > 0
    ? bucket.signedUrls
    : undefined;
  if (signedUrls === undefined) {
    if (options.image === undefined) {
      return fail(
        `bucket "${bucket.name}" (${where}) does not enable signed URLs; add ${where}.signed_urls with at least one key`,
      );
    }
    if (options.key !== undefined) {
      return fail(
        `--key names a signed-URL key, and bucket "${bucket.name}" (${where}) has no signed_urls; for the image signing key use --image-key`,
      );
    }
  } else if (seconds === undefined) {
    return fail(
      `--expires is required: bucket "${bucket.name}" (${where}) has signed_urls, and a signed URL always expires (like --expires 15m)`,
    );
  }
  const now = options.nowSeconds ?? Date.now() / 1000;
  const expiresAt = seconds === undefined ? undefined : Math.floor(now) + seconds;
  let image: { pieces: string[]; keyId: string | undefined; note: string | undefined } | undefined;
  if (options.image !== undefined) {
    const signedImage = buildImageQuery(config, options.image, options.imageKey, {
      path,
      bucketIndex: config.buckets.indexOf(bucket),
      expiresAt,
      nowSeconds: now,
    });
    if (!signedImage.ok) return signedImage;
    image = signedImage;
  } else if (options.imageKey !== undefined) {
    return fail("--image-key signs image parameters: give them with --image");
  }

  const base = resolveBase(config, options.base);
  if (typeof base !== "string") return base;
  if (signedUrls === undefined) {
    // Image parameters alone: no signed URL around them.
    const extra = query.map(([name, value]) =>
      `${encodeURIComponent(name)}=${encodeURIComponent(value)}`
    );
    const target = `${encodeUrlPath(path)}?${[...extra, ...image!.pieces].join("&")}`;
    return {
      ok: true,
      url: base + target,
      bucket: bucket.name,
      keyId: undefined,
      expiresAt,
      imageKeyId: image!.keyId,
      note: image!.note,
    };
  }
  for (const piece of image?.pieces ?? []) {
    const eq = piece.indexOf("=");
    query.push([piece.slice(0, eq), piece.slice(eq + 1)]);
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
  if (seconds! > signedUrls.maxExpirySeconds) {
    return fail(
      `--expires ${options.expires} is longer than bucket "${bucket.name}" allows: at most ${
        formatDuration(signedUrls.maxExpirySeconds)
      } (${where}.signed_urls.max_expiry_seconds: ${signedUrls.maxExpirySeconds})`,
    );
  }

  let target: string;
  try {
    target = signPath({ method, path, query, expiresAt: expiresAt!, key });
  } catch (error) {
    return fail(errorMessage(error));
  }
  return {
    ok: true,
    url: base + target,
    bucket: bucket.name,
    keyId: key.id,
    expiresAt,
    ...(image === undefined ? {} : { imageKeyId: image.keyId, note: image.note }),
  };
}

/**
 * The query pieces for --image ("w=400&h=300&fmt=webp&kid=...&sig=..."), signed when the bucket
 * signs image parameters, and checked by the bucket's own image policy (bounds, presets, the
 * signature itself), so a URL that sign-url prints is one the gateway accepts.
 */
function buildImageQuery(
  config: Config,
  text: string,
  keyId: string | undefined,
  at: { path: string; bucketIndex: number; expiresAt: number | undefined; nowSeconds: number },
): { ok: true; pieces: string[]; keyId: string | undefined; note: string | undefined } | {
  ok: false;
  error: string;
} {
  const bucket = config.buckets[at.bucketIndex]!;
  const where = `buckets[${at.bucketIndex}]`;
  const policy = compileImagePolicy(config.imageOptimization, bucket.imageOptimization);
  if (policy === undefined) {
    return fail(
      `image optimization is not enabled for bucket "${bucket.name}" (${where}); set image_optimization.enabled: true (or ${where}.image_optimization.enabled: true)`,
    );
  }
  let parsed;
  try {
    parsed = readImageQuery(text);
  } catch (error) {
    return fail(`--image: ${errorMessage(error)}`);
  }
  if (parsed === undefined || (parsed.transform === undefined && parsed.preset === undefined)) {
    return fail(
      `--image names no image parameter: write them as a query, like --image "w=400&h=300&fmt=webp" or --image "${PRESET_PARAM}=thumb"`,
    );
  }
  if (
    parsed.signature !== undefined || parsed.keyId !== undefined || parsed.expires !== undefined
  ) {
    const { signature, keyId: kid, expires } = IMAGE_SIGNATURE_PARAMS;
    return fail(
      `--image must not contain ${signature}, ${kid} or ${expires}: sign-url adds them (use --image-key and --expires)`,
    );
  }
  const signing = effectiveImageSigning(config.imageOptimization, bucket.imageOptimization);
  let pieces: string[];
  let usedKey: string | undefined;
  let note: string | undefined;
  if (signing === undefined) {
    if (keyId !== undefined) {
      return fail(
        `bucket "${bucket.name}" does not sign image parameters (image_optimization.signing is not enabled for it), so --image-key has no key to use`,
      );
    }
    const canonical = parsed.transform === undefined ? "" : canonicalTransform(parsed.transform);
    pieces = [
      ...(canonical === "" ? [] : [canonical]),
      ...(parsed.preset === undefined
        ? []
        : [`${PRESET_PARAM}=${encodeURIComponent(parsed.preset)}`]),
    ];
    note =
      `bucket "${bucket.name}" does not sign image parameters (image_optimization.signing is not enabled for it); the URL carries them unsigned`;
  } else {
    const key = keyId === undefined
      ? signing.keys[0]!
      : signing.keys.find((candidate) => candidate.id === keyId);
    if (key === undefined) {
      return fail(
        `bucket "${bucket.name}" has no image signing key ${JSON.stringify(keyId)}; its keys: ${
          signing.keys.map((candidate) => candidate.id).join(", ")
        }`,
      );
    }
    if (signing.requireExpiry && at.expiresAt === undefined) {
      return fail(
        `bucket "${bucket.name}" requires image signatures to expire (image_optimization.signing.require_expiry); add --expires, like --expires 7d`,
      );
    }
    try {
      pieces = signImageQuery({
        path: at.path,
        transform: parsed.transform,
        preset: parsed.preset,
        key,
        expiresAt: at.expiresAt,
      }).split("&");
    } catch (error) {
      return fail(`--image: ${errorMessage(error)}`);
    }
    usedKey = key.id;
  }
  // The gateway's own check, on exactly the query it will see.
  try {
    policy.request(at.path, pieces.join("&"), at.nowSeconds * 1000);
  } catch (error) {
    if (!(error instanceof ProxyError)) throw error;
    return fail(`--image: the gateway would refuse this: ${error.message}`);
  }
  return { ok: true, pieces, keyId: usedKey, note };
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
