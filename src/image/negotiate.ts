// Owns output-format negotiation: fmt=auto (or auto_format) picks AVIF, then WebP, then the source's format from Accept.

import type { ImageFormat, ImageTransform } from "./types.ts";

/**
 * The output a request asks for: a fixed format, or the source's format (`source`). `negotiated`
 * is true when Accept decided it, so the response must say `Vary: Accept`.
 */
export interface FormatChoice {
  format: ImageFormat | "source";
  negotiated: boolean;
}

const SOURCE_FIXED: FormatChoice = Object.freeze({ format: "source", negotiated: false });
const SOURCE_NEGOTIATED: FormatChoice = Object.freeze({ format: "source", negotiated: true });
const AVIF: FormatChoice = Object.freeze({ format: "avif", negotiated: true });
const WEBP: FormatChoice = Object.freeze({ format: "webp", negotiated: true });

/**
 * The quality value (RFC 9110 §12.4.2) that `accept` gives to the media type `type` when it is
 * listed by name, or undefined when it is not. Wildcards (`image/*`, `*\/*`) do not count: a
 * client that does not name AVIF or WebP may not decode them (curl sends `*\/*`), so it gets the
 * source's format. A malformed element is ignored; a malformed q counts as not acceptable.
 */
export function explicitQuality(accept: string, type: string): number | undefined {
  let best: number | undefined;
  for (const element of accept.split(",")) {
    const parts = element.split(";");
    const range = parts[0]!.trim().toLowerCase();
    if (range !== type) continue;
    let q = 1;
    for (let i = 1; i < parts.length; i++) {
      const param = parts[i]!.trim();
      const eq = param.indexOf("=");
      if (eq === -1) continue;
      if (param.slice(0, eq).trim().toLowerCase() !== "q") continue;
      q = parseQuality(param.slice(eq + 1).trim());
    }
    // The same type listed twice: the most specific parameters are not modelled; take the highest.
    best = best === undefined ? q : Math.max(best, q);
  }
  return best;
}

/** qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ); anything else is not acceptable (0). */
function parseQuality(text: string): number {
  return /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(text) ? Number(text) : 0;
}

/**
 * AVIF when Accept names image/avif with q > 0, else WebP likewise, else the source's format. When
 * both are named, the higher q wins (AVIF on a tie: it is smaller at the same quality).
 */
export function negotiateFromAccept(accept: string | null): FormatChoice {
  if (accept === null || accept === "") return SOURCE_NEGOTIATED;
  const avif = explicitQuality(accept, "image/avif") ?? 0;
  const webp = explicitQuality(accept, "image/webp") ?? 0;
  if (avif > 0 && avif >= webp) return AVIF;
  if (webp > 0) return WEBP;
  return SOURCE_NEGOTIATED;
}

/**
 * The output format of `t`: an explicit fmt as it is; fmt=auto, or no fmt with
 * image_optimization.auto_format, from Accept; otherwise the source's format.
 */
export function chooseFormat(
  t: ImageTransform,
  autoFormat: boolean,
  /** The Accept value, or the request's headers to read it from only when it is needed. */
  accept: string | null | Headers,
): FormatChoice {
  const requested = t.format;
  if (requested !== undefined && requested !== "auto") {
    return FIXED[requested];
  }
  if (requested === "auto" || autoFormat) {
    return negotiateFromAccept(accept instanceof Headers ? accept.get("accept") : accept);
  }
  return SOURCE_FIXED;
}

/** The choices of an explicit `fmt`, made once (a variant hit allocates nothing here). */
const FIXED: Readonly<Record<ImageFormat, FormatChoice>> = {
  jpeg: Object.freeze({ format: "jpeg", negotiated: false }),
  png: Object.freeze({ format: "png", negotiated: false }),
  webp: Object.freeze({ format: "webp", negotiated: false }),
  avif: Object.freeze({ format: "avif", negotiated: false }),
  gif: Object.freeze({ format: "gif", negotiated: false }),
};
