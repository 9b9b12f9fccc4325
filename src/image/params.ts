// Owns the image query parameters: reading them from a raw query into an ImageTransform (every
// value checked against its range, aliases resolved) and the canonical string of a transform.

import { ProxyError } from "../errors.ts";
import { formDecode } from "../http/form_decode.ts";
import type { Fit, Gravity, ImageFormat, ImageTransform, RequestedFormat, Size } from "./types.ts";

/** Largest width, height or crop coordinate a parameter may name, in pixels (WebP's limit is 16383). */
export const MAX_DIMENSION = 16_384;
/** Largest crop coordinate or size, in source pixels (JPEG's limit). */
export const MAX_CROP = 65_535;
/** Largest percentage size (`w=1000p`: ten times the source, if `enlarge` allows it). */
export const MAX_PERCENT = 1000;

/** The parameter that names a configured preset (policy.ts resolves it). */
export const PRESET_PARAM = "preset";

/**
 * The query parameters of a signed image URL (signing.ts): never image parameters, never part of
 * the canonical string, so neither key rotation nor re-signing creates new cache entries.
 */
export const IMAGE_SIGNATURE_PARAMS = { signature: "sig", keyId: "kid", expires: "exp" } as const;

/** The allowed values of each image parameter, as said in messages (and in README's table). */
export const PARAM_RANGES = {
  w: `a whole number of pixels from 1 to ${MAX_DIMENSION}, or a percentage of the source like 50p or 50% (more than 0, at most ${MAX_PERCENT}, two decimals at most)`,
  h: `a whole number of pixels from 1 to ${MAX_DIMENSION}, or a percentage of the source like 50p or 50% (more than 0, at most ${MAX_PERCENT}, two decimals at most)`,
  q: "a whole number from 1 to 100",
  fmt: "one of jpeg, jpg, png, webp, avif, gif, auto",
  fit: "one of cover, contain, fill, inside, outside, pad",
  dpr: "a number from 1 to 4 (two decimals at most, like 1.5)",
  g: "one of center (c, ce, centre), north (n, no), south (s, so), east (e, ea), west (w, we), northeast (ne), northwest (nw), southeast (se), southwest (sw), smart (sm)",
  r: "one of 0, 90, 180, 270",
  blur: "a number from 0 to 100 (0 = none; two decimals at most)",
  sharpen: "a number from 0 to 10 (0 = none; two decimals at most)",
  brightness: "a whole number from -100 to 100 (0 = unchanged)",
  contrast: "a whole number from -100 to 100 (0 = unchanged)",
  saturation: "a whole number from -100 to 100 (0 = unchanged)",
  grayscale: "1, 0, true or false",
  flip: "one of h, v, hv",
  auto_rotate: "1, 0, true or false",
  enlarge: "1, 0, true or false",
  strip: "1, 0, true or false",
  progressive: "1, 0, true or false",
  bg:
    "a hex colour of 3, 4, 6 or 8 digits with or without '#' (%23 in a URL), like ffffff or %23ff000080",
  cx: `a whole number of source pixels from 0 to ${MAX_CROP}`,
  cy: `a whole number of source pixels from 0 to ${MAX_CROP}`,
  cw: `a whole number of source pixels from 1 to ${MAX_CROP}`,
  ch: `a whole number of source pixels from 1 to ${MAX_CROP}`,
} as const;

/** A canonical image parameter name (the key of PARAM_RANGES). */
export type ImageParamName = keyof typeof PARAM_RANGES;

/** Every name a query may use for an image parameter, aliases included, mapped to its canonical name. */
export const IMAGE_PARAM_NAMES: ReadonlyMap<string, ImageParamName> = new Map<
  string,
  ImageParamName
>([
  ...(Object.keys(PARAM_RANGES) as ImageParamName[]).map((name) => [name, name] as const),
  ["f", "fmt"],
]);

/** What is wrong with one parameter: its name as written, its value, and what it accepts. */
export interface ParamProblem {
  /** The name as the request (or preset) wrote it: "f", not "fmt". */
  param: string;
  value: string;
  expected: string;
}

export type ParseResult =
  | { ok: true; transform: ImageTransform }
  | { ok: false; problem: ParamProblem };

/**
 * Parses image parameters given as name/value pairs (decoded). Names that are not image
 * parameters are skipped (the caller filters presets and signature parameters). Never throws:
 * the first problem found is returned. Values that ask for nothing (r=0, dpr=1, blur=0,
 * auto_rotate=1...) are kept, so they can override a preset; canonicalTransform() drops them.
 */
export function parseImageEntries(entries: Iterable<readonly [string, string]>): ParseResult {
  const t: ImageTransform = {};
  const seen = new Map<ImageParamName, string>();
  let cx: number | undefined;
  let cy: number | undefined;
  let cw: number | undefined;
  let ch: number | undefined;
  for (const [param, value] of entries) {
    const name = IMAGE_PARAM_NAMES.get(param);
    if (name === undefined) continue;
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      return problem(
        param,
        value,
        earlier === param
          ? `${param} only once (it is repeated)`
          : `only one of ${earlier} and ${param} (f is an alias of fmt)`,
      );
    }
    seen.set(name, param);
    switch (name) {
      case "w":
      case "h": {
        const size = parseSize(value);
        if (size === undefined) return problem(param, value, PARAM_RANGES[name]);
        if (name === "w") t.width = size;
        else t.height = size;
        break;
      }
      case "q": {
        const q = parseInteger(value, 1, 100);
        if (q === undefined) return problem(param, value, PARAM_RANGES.q);
        t.quality = q;
        break;
      }
      case "fmt": {
        const format = FORMATS.get(value.toLowerCase());
        if (format === undefined) return problem(param, value, PARAM_RANGES.fmt);
        t.format = format;
        break;
      }
      case "fit": {
        const fit = FITS.get(value.toLowerCase());
        if (fit === undefined) return problem(param, value, PARAM_RANGES.fit);
        t.fit = fit;
        break;
      }
      case "dpr": {
        const dpr = parseDecimal(value, 1, 4);
        if (dpr === undefined) return problem(param, value, PARAM_RANGES.dpr);
        t.dpr = dpr;
        break;
      }
      case "g": {
        const gravity = GRAVITIES.get(value.toLowerCase());
        if (gravity === undefined) return problem(param, value, PARAM_RANGES.g);
        t.gravity = gravity;
        break;
      }
      case "r": {
        const r = ROTATIONS.get(value);
        if (r === undefined) return problem(param, value, PARAM_RANGES.r);
        t.rotate = r;
        break;
      }
      case "blur":
      case "sharpen": {
        const sigma = parseDecimal(value, 0, name === "blur" ? 100 : 10);
        if (sigma === undefined) return problem(param, value, PARAM_RANGES[name]);
        t[name] = sigma;
        break;
      }
      case "brightness":
      case "contrast":
      case "saturation": {
        const amount = parseInteger(value, -100, 100);
        if (amount === undefined) return problem(param, value, PARAM_RANGES[name]);
        t[name] = amount;
        break;
      }
      case "grayscale":
      case "enlarge":
      case "auto_rotate":
      case "strip":
      case "progressive": {
        const flag = BOOLEANS.get(value.toLowerCase());
        if (flag === undefined) return problem(param, value, PARAM_RANGES[name]);
        if (name === "grayscale") t.grayscale = flag;
        else if (name === "enlarge") t.enlarge = flag;
        else if (name === "auto_rotate") t.autoRotate = flag;
        else if (name === "strip") t.strip = flag;
        else t.progressive = flag;
        break;
      }
      case "flip": {
        const flip = FLIPS.get(value.toLowerCase());
        if (flip === undefined) return problem(param, value, PARAM_RANGES.flip);
        t.flip = flip;
        break;
      }
      case "bg": {
        const colour = parseColour(value);
        if (colour === undefined) return problem(param, value, PARAM_RANGES.bg);
        t.background = colour;
        break;
      }
      case "cx":
      case "cy":
      case "cw":
      case "ch": {
        const n = parseInteger(value, name === "cx" || name === "cy" ? 0 : 1, MAX_CROP);
        if (n === undefined) return problem(param, value, PARAM_RANGES[name]);
        if (name === "cx") cx = n;
        else if (name === "cy") cy = n;
        else if (name === "cw") cw = n;
        else ch = n;
        break;
      }
    }
  }
  if (cx !== undefined || cy !== undefined || cw !== undefined || ch !== undefined) {
    if (cx === undefined || cy === undefined || cw === undefined || ch === undefined) {
      const missing = (["cx", "cy", "cw", "ch"] as const).filter((name) => !seen.has(name));
      const given = (["cx", "cy", "cw", "ch"] as const).find((name) => seen.has(name))!;
      return problem(
        given,
        "",
        `cx, cy, cw and ch together (a crop rectangle in source pixels: left, top, width, height); ${
          missing.join(", ")
        } ${missing.length === 1 ? "is" : "are"} missing`,
      );
    }
    t.crop = { x: cx, y: cy, width: cw, height: ch };
  }
  return { ok: true, transform: t };
}

/** One request's image-related query parameters, split by role. */
export interface ImageQuery {
  /** The free-form image parameters, or undefined when the query names none. */
  transform: ImageTransform | undefined;
  /** `preset`, when given. */
  preset: string | undefined;
  /** The image parameter names as written, in query order (for messages). */
  params: string[];
  /** `sig`, `kid`, `exp` as sent (form-decoded), when given. */
  signature: string | undefined;
  keyId: string | undefined;
  expires: string | undefined;
}

/**
 * Reads a raw query (without "?"; one leading "?" is dropped): names and values are
 * form-decoded as URLSearchParams does. Returns undefined when it has no image parameter, no
 * `preset` and no signature parameter. Other parameters (tokens, versionId, X-Signature...) are
 * ignored. Throws ProxyError `invalid_image_params` (400) naming the parameter and its allowed
 * values (a repeated signature parameter included).
 */
export function readImageQuery(rawQuery: string): ImageQuery | undefined {
  if (rawQuery === "" || rawQuery === "?") return undefined;
  const query = rawQuery.charCodeAt(0) === 63 /* ? */ ? rawQuery.slice(1) : rawQuery;
  let entries: Array<readonly [string, string]> | undefined;
  let preset: string | undefined;
  let signature: string | undefined;
  let keyId: string | undefined;
  let expires: string | undefined;
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf("&", start);
    if (end === -1) end = query.length;
    if (end > start) {
      const eq = query.indexOf("=", start);
      const nameEnd = eq === -1 || eq > end ? end : eq;
      const name = formDecode(query.slice(start, nameEnd));
      const role = ROLES.get(name);
      if (role !== undefined) {
        const value = nameEnd === end ? "" : formDecode(query.slice(nameEnd + 1, end));
        switch (role) {
          case "image":
            (entries ??= []).push([name, value]);
            break;
          case "preset":
            if (preset !== undefined) {
              throw invalidParams(
                `Invalid image parameter preset: it appears more than once; name one preset.`,
                PRESET_PARAM,
              );
            }
            preset = value;
            break;
          case "sig":
            signature = onceSignature(name, signature, value);
            break;
          case "kid":
            keyId = onceSignature(name, keyId, value);
            break;
          case "exp":
            expires = onceSignature(name, expires, value);
            break;
        }
      }
    }
    start = end + 1;
  }
  if (
    entries === undefined && preset === undefined && signature === undefined &&
    keyId === undefined && expires === undefined
  ) return undefined;
  let transform: ImageTransform | undefined;
  if (entries !== undefined) {
    const result = parseImageEntries(entries);
    if (!result.ok) throw paramError(result.problem);
    transform = result.transform;
  }
  return {
    transform,
    preset,
    params: entries === undefined ? [] : entries.map(([name]) => name),
    signature,
    keyId,
    expires,
  };
}

/**
 * The free-form transformation a raw query asks for, or undefined when it names no image
 * parameter (presets and signatures are policy.ts's concern and ignored here). Throws
 * ProxyError `invalid_image_params` (400) naming the parameter and its allowed values.
 */
export function parseImageParams(rawQuery: string): ImageTransform | undefined {
  return readImageQuery(rawQuery)?.transform;
}

/** The 400 for one parameter problem: names the parameter, the value and what is allowed. */
export function paramError(p: ParamProblem): ProxyError {
  return invalidParams(problemMessage(p), p.param);
}

/** "Invalid image parameter w=abc: expected ..." (values cut short and quoted when unusual). */
export function problemMessage(p: ParamProblem): string {
  const shown = p.value === "" ? p.param : `${p.param}=${showValue(p.value)}`;
  return `Invalid image parameter ${shown}: expected ${p.expected}.`;
}

/**
 * The canonical string of a transform: `name=value` pairs joined by "&" in one fixed order,
 * aliases normalized (fmt, never f; jpeg, never jpg; gravity and flip spelled out), values
 * that ask for nothing omitted (r=0, dpr=1, auto_rotate=1, strip=1, ...). Equal transforms give
 * equal strings whatever order or aliases the query used. "" for the empty transform. Only
 * [a-z0-9_=&.#-] appear: safe in a cache key (no NUL, no ":" needed) and inside a quoted ETag.
 */
export function canonicalTransform(t: ImageTransform): string {
  let out = "";
  const add = (name: string, value: string | number) => {
    out += `${out === "" ? "" : "&"}${name}=${value}`;
  };
  if (t.width !== undefined) add("w", sizeText(t.width));
  if (t.height !== undefined) add("h", sizeText(t.height));
  if (t.dpr !== undefined && t.dpr !== 1) add("dpr", t.dpr);
  if (t.fit !== undefined) add("fit", t.fit);
  if (t.gravity !== undefined) add("g", t.gravity);
  if (t.crop !== undefined) {
    add("cx", t.crop.x);
    add("cy", t.crop.y);
    add("cw", t.crop.width);
    add("ch", t.crop.height);
  }
  if (t.rotate !== undefined && t.rotate !== 0) add("r", t.rotate);
  if (t.flip !== undefined) add("flip", t.flip);
  if (t.autoRotate === false) add("auto_rotate", 0);
  if (t.enlarge === true) add("enlarge", 1);
  if (t.blur !== undefined && t.blur !== 0) add("blur", t.blur);
  if (t.sharpen !== undefined && t.sharpen !== 0) add("sharpen", t.sharpen);
  if (t.brightness !== undefined && t.brightness !== 0) add("brightness", t.brightness);
  if (t.contrast !== undefined && t.contrast !== 0) add("contrast", t.contrast);
  if (t.saturation !== undefined && t.saturation !== 0) add("saturation", t.saturation);
  if (t.grayscale === true) add("grayscale", 1);
  // "#" is dropped: the value is hex digits only.
  if (t.background !== undefined) add("bg", t.background.replace(/^#/, "").toLowerCase());
  if (t.quality !== undefined) add("q", t.quality);
  if (t.format !== undefined) add("fmt", t.format);
  if (t.progressive !== undefined) add("progressive", t.progressive ? 1 : 0);
  if (t.strip === false) add("strip", 0);
  return out;
}

/**
 * The output size in pixels of a pixel size at a device pixel ratio: the one rounding rule for
 * the bound checks (policy.ts) and the engine.
 */
export function scaledSize(px: number, dpr: number): number {
  return Math.round(px * dpr);
}

/** A pixel width or height that, times dpr, is over its bound (see oversizedDimension). */
export interface OversizedDimension {
  /** The canonical parameter: "w" or "h". */
  param: "w" | "h";
  bound: "max_width" | "max_height";
  limit: number;
  /** What was asked, before dpr. */
  px: number;
  dpr: number;
  /** px times dpr, as the engine will render it. */
  pixels: number;
}

/**
 * The first pixel width or height of `t` over `max_width`/`max_height` once scaled by dpr, else
 * undefined (percentages always pass here): the one check behind both the request policy and the
 * config validator's preset check.
 */
export function oversizedDimension(
  t: ImageTransform,
  maxWidth: number,
  maxHeight: number,
): OversizedDimension | undefined {
  const dpr = t.dpr ?? 1;
  for (
    const [size, bound, limit, param] of [
      [t.width, "max_width", maxWidth, "w"],
      [t.height, "max_height", maxHeight, "h"],
    ] as const
  ) {
    if (size === undefined || !("px" in size)) continue;
    const pixels = scaledSize(size.px, dpr);
    if (pixels > limit) return { param, bound, limit, px: size.px, dpr, pixels };
  }
  return undefined;
}

/** The transform with `over`'s fields replacing `base`'s (a preset with free-form overrides). */
export function mergeTransforms(base: ImageTransform, over: ImageTransform): ImageTransform {
  return { ...base, ...over };
}

// ---- internals ------------------------------------------------------------------------------

type Role = "image" | "preset" | "sig" | "kid" | "exp";

const ROLES: ReadonlyMap<string, Role> = new Map<string, Role>([
  ...[...IMAGE_PARAM_NAMES.keys()].map((name) => [name, "image"] as const),
  [PRESET_PARAM, "preset"],
  [IMAGE_SIGNATURE_PARAMS.signature, "sig"],
  [IMAGE_SIGNATURE_PARAMS.keyId, "kid"],
  [IMAGE_SIGNATURE_PARAMS.expires, "exp"],
]);

const FORMATS: ReadonlyMap<string, RequestedFormat> = new Map<string, RequestedFormat>([
  ["jpeg", "jpeg"],
  ["jpg", "jpeg"],
  ["png", "png"],
  ["webp", "webp"],
  ["avif", "avif"],
  ["gif", "gif"],
  ["auto", "auto"],
]);

/** The concrete formats (every RequestedFormat but auto). */
export const IMAGE_FORMATS: readonly ImageFormat[] = ["jpeg", "png", "webp", "avif", "gif"];

const FITS: ReadonlyMap<string, Fit> = new Map<string, Fit>(
  (["cover", "contain", "fill", "inside", "outside", "pad"] as const).map((fit) => [fit, fit]),
);

const GRAVITIES: ReadonlyMap<string, Gravity> = new Map<string, Gravity>([
  ["center", "center"],
  ["centre", "center"],
  ["c", "center"],
  ["ce", "center"],
  ["north", "north"],
  ["n", "north"],
  ["no", "north"],
  ["south", "south"],
  ["s", "south"],
  ["so", "south"],
  ["east", "east"],
  ["e", "east"],
  ["ea", "east"],
  ["west", "west"],
  ["w", "west"],
  ["we", "west"],
  ["northeast", "northeast"],
  ["ne", "northeast"],
  ["northwest", "northwest"],
  ["nw", "northwest"],
  ["southeast", "southeast"],
  ["se", "southeast"],
  ["southwest", "southwest"],
  ["sw", "southwest"],
  ["smart", "smart"],
  ["sm", "smart"],
]);

const ROTATIONS: ReadonlyMap<string, 0 | 90 | 180 | 270> = new Map(
  [
    ["0", 0],
    ["90", 90],
    ["180", 180],
    ["270", 270],
  ] as const,
);

const BOOLEANS: ReadonlyMap<string, boolean> = new Map([
  ["1", true],
  ["true", true],
  ["0", false],
  ["false", false],
]);

const FLIPS: ReadonlyMap<string, "h" | "v" | "hv"> = new Map(
  [
    ["h", "h"],
    ["v", "v"],
    ["hv", "hv"],
    ["vh", "hv"],
  ] as const,
);

// No "+": a query's "+" is a space, so a sign could only arrive as %2B, which nobody writes.
const INTEGER = /^-?[0-9]{1,9}$/;
const DECIMAL = /^[0-9]{1,9}(?:\.[0-9]{1,2})?$/;
const PIXELS = /^[0-9]{1,9}$/;
const PERCENT = /^([0-9]{1,9}(?:\.[0-9]{1,2})?)[p%]$/;
const COLOUR = /^#?([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/;

function parseInteger(value: string, min: number, max: number): number | undefined {
  if (!INTEGER.test(value)) return undefined;
  // `+ 0` turns -0 into 0, so "-0" and "0" are the same value.
  const n = Number(value) + 0;
  return n >= min && n <= max ? n : undefined;
}

function parseDecimal(value: string, min: number, max: number): number | undefined {
  if (!DECIMAL.test(value)) return undefined;
  const n = Number(value);
  return n >= min && n <= max ? n : undefined;
}

function parseSize(value: string): Size | undefined {
  if (PIXELS.test(value)) {
    const px = Number(value);
    return px >= 1 && px <= MAX_DIMENSION ? { px } : undefined;
  }
  const percent = PERCENT.exec(value);
  if (percent === null) return undefined;
  const n = Number(percent[1]);
  return n > 0 && n <= MAX_PERCENT ? { percent: n } : undefined;
}

/** "#rrggbb" or "#rrggbbaa" (lower case; an opaque alpha "ff" is dropped). */
function parseColour(value: string): string | undefined {
  const match = COLOUR.exec(value);
  if (match === null) return undefined;
  let hex = match[1]!.toLowerCase();
  if (hex.length <= 4) hex = [...hex].map((digit) => digit + digit).join("");
  if (hex.length === 8 && hex.endsWith("ff")) hex = hex.slice(0, 6);
  return `#${hex}`;
}

function sizeText(size: Size): string {
  return "px" in size ? String(size.px) : `${size.percent}p`;
}

function problem(param: string, value: string, expected: string): ParseResult {
  return { ok: false, problem: { param, value, expected } };
}

function invalidParams(message: string, param: string): ProxyError {
  return new ProxyError("invalid_image_params", {
    message,
    source: "client",
    details: { parameter: param },
  });
}

function onceSignature(name: string, previous: string | undefined, value: string): string {
  if (previous !== undefined) {
    // A malformed request rather than a wrong signature: 400, like any repeated parameter.
    throw invalidParams(
      `Malformed signed image URL: ${name} appears more than once; use the URL exactly as issued.`,
      name,
    );
  }
  return value;
}

/** A client-supplied value, JSON-quoted when it is not plain, cut short: safe in a message. */
function showValue(value: string): string {
  const cut = value.length > 40 ? `${value.slice(0, 40)}...` : value;
  return /^[A-Za-z0-9._%#+-]*$/.test(cut) ? cut : JSON.stringify(cut);
}
