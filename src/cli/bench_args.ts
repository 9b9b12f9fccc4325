// Owns parsing `bench`'s arguments (--url, --duration, --concurrency, --header) into checked values, with clear messages.

/** What every parser here throws: a message that says what was wrong and what is accepted. */
export class BenchUsageError extends Error {
  override name = "BenchUsageError";
}

const DURATION = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)?$/;
const UNIT_MS: Readonly<Record<string, number>> = { "": 1_000, s: 1_000, ms: 1, m: 60_000 };
/** Shorter runs measure mostly start-up; longer ones belong in a soak test, not an interactive tool. */
export const MIN_DURATION_MS = 100;
export const MAX_DURATION_MS = 3_600_000;

/**
 * Milliseconds from "10s", "2.5s", "500ms", "1m" or a bare number of seconds ("10").
 * Throws BenchUsageError for anything else, or outside 100 ms..1 h.
 */
export function parseBenchDuration(text: string, flag = "--duration"): number {
  const match = DURATION.exec(text.trim());
  if (match === null) {
    throw new BenchUsageError(
      `${flag} ${
        JSON.stringify(text)
      } is not a duration: write a number with an optional unit ms, s or m (500ms, 2s, 2.5s, 1m; a bare number is seconds)`,
    );
  }
  const ms = Math.round(Number(match[1]) * UNIT_MS[match[2] ?? ""]!);
  if (ms < MIN_DURATION_MS || ms > MAX_DURATION_MS) {
    throw new BenchUsageError(
      `${flag} ${JSON.stringify(text)} is out of range: use 100ms to 60m`,
    );
  }
  return ms;
}

/**
 * The unrecorded warm-up before each run (JIT, connection pool, the target's caches): "0" for none,
 * otherwise a duration like --duration's; undefined means a tenth of the duration, at most 1 s.
 */
export function parseWarmup(text: string | undefined, durationMs: number): number {
  if (text === undefined) return Math.min(1_000, Math.round(durationMs / 10));
  if (/^\s*0+(?:\.0*)?(?:ms|s|m)?\s*$/.test(text)) return 0;
  return parseBenchDuration(text, "--warmup");
}

export const MAX_CONCURRENCY = 10_000;

/** A whole number of concurrent request loops, 1..10000. */
export function parseConcurrency(text: string): number {
  const trimmed = text.trim();
  const n = /^[0-9]+$/.test(trimmed) ? Number(trimmed) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_CONCURRENCY) {
    throw new BenchUsageError(
      `--concurrency ${
        JSON.stringify(text)
      } is not a whole number from 1 to ${MAX_CONCURRENCY} (the number of requests kept in flight)`,
    );
  }
  return n;
}

// RFC 9110 token characters.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible ASCII, SP/HTAB and obs-text; never CR, LF or NUL (they would split the request).
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** "Name: value" -> [name, value] with the value's surrounding whitespace trimmed. */
export function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(":");
  if (colon <= 0) {
    throw new BenchUsageError(
      `--header ${
        JSON.stringify(text)
      } has no name: write it as "Name: value" (e.g. --header "Authorization: Bearer TOKEN")`,
    );
  }
  const name = text.slice(0, colon).trim();
  const value = text.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
  if (!TOKEN.test(name)) {
    throw new BenchUsageError(
      `--header ${JSON.stringify(text)}: ${
        JSON.stringify(name)
      } is not a valid header name (letters, digits and !#$%&'*+-.^_\`|~ only)`,
    );
  }
  if (!FIELD_VALUE.test(value)) {
    throw new BenchUsageError(
      `--header ${
        JSON.stringify(text)
      }: the value contains a control character (CR, LF or NUL are not allowed in a header)`,
    );
  }
  return [name, value];
}

/** Every --header, in order; a repeated name keeps each value (sent comma-joined, as fetch does). */
export function parseHeaders(texts: readonly string[]): Headers {
  const headers = new Headers();
  for (const text of texts) {
    const [name, value] = parseHeader(text);
    headers.append(name, value);
  }
  return headers;
}

/** An absolute http(s) URL; `flag` names the option in the message. */
export function parseTargetUrl(text: string, flag: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BenchUsageError(
      `${flag} ${JSON.stringify(text)} is not an absolute URL: write it as http://host:port/path`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new BenchUsageError(
      `${flag} ${
        JSON.stringify(text)
      } uses ${url.protocol} — only http: and https: can be benchmarked`,
    );
  }
  return url;
}

export type BenchMethod = "GET" | "HEAD";

/** GET or HEAD (the gateway is read-only; anything else would only measure 405s). */
export function parseMethod(text: string): BenchMethod {
  const upper = text.trim().toUpperCase();
  if (upper === "GET" || upper === "HEAD") return upper;
  throw new BenchUsageError(
    `--method ${JSON.stringify(text)} is not supported: use GET or HEAD`,
  );
}
