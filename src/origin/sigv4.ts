// AWS Signature Version 4 (header auth) for upstream S3 requests: canonicalization, cached signing key, sign().
import { createHash, createHmac } from "node:crypto";
import { PrecomputedHmacSha256 } from "../crypto/precomputed_hmac.ts";

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

export interface SignerOptions {
  credentials: SigV4Credentials;
  region: string;
  /** Default "s3". */
  service?: string;
  /** S3 requires x-amz-content-sha256; generic AWS test vectors do not use it. Default true. */
  contentSha256Header?: boolean;
}

export interface SignableRequest {
  /** "GET", "HEAD", "PUT"... */
  method: string;
  /** Host header exactly as sent: hostname, plus ":port" when the port is not the scheme default. */
  host: string;
  /** The path exactly as sent on the wire, already URI-encoded (e.g. "/bucket/my%20key%2B1"). */
  canonicalUri: string;
  /** Decoded name/value pairs; the signer RFC3986-encodes, sorts and builds the canonical query. */
  query?: ReadonlyArray<readonly [string, string]>;
  /** Extra headers to sign, lower-case names (range, if-none-match, content-type ...). */
  headers?: Readonly<Record<string, string>>;
  /** Hex SHA-256 of the body; default = hash of the empty string; "UNSIGNED-PAYLOAD" allowed. */
  payloadHash?: string;
}

/** Hex SHA-256 of the empty string: the payload hash of every bodiless GET/HEAD. */
export const EMPTY_PAYLOAD_SHA256 =
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const ALGORITHM = "AWS4-HMAC-SHA256";
const SHA256_HEADER = "x-amz-content-sha256";
const DATE_HEADER = "x-amz-date";
const TOKEN_HEADER = "x-amz-security-token";
// The largest instant whose ISO string still has a 4-digit year (9999-12-31T23:59:59.999Z).
const MAX_TIME_MS = 253402300799999;

// Kinds of the headers the signer itself contributes; a small int keeps the merge loop free of
// closures and of per-call arrays.
const FIXED_HOST = 0;
const FIXED_SHA256 = 1;
const FIXED_DATE = 2;
const FIXED_TOKEN = 3;

const HAS_RESERVED = /[!'()*]/;
const RESERVED = /[!'()*]/g;
const reservedEscape = (c: string): string => "%" + c.charCodeAt(0).toString(16).toUpperCase();

/** RFC 3986 encoding as SigV4 wants it: everything except A-Z a-z 0-9 - . _ ~ is %XX (upper-case hex, UTF-8). */
export function encodeRfc3986(value: string): string {
  // encodeURIComponent is native and already leaves exactly the unreserved set plus !'()* alone;
  // only those five need a second pass, and they are rare enough to test for first.
  // A lone surrogate cannot be UTF-8 encoded: encodeURIComponent throws URIError, as AWS SDKs do.
  const encoded = encodeURIComponent(value);
  return HAS_RESERVED.test(encoded) ? encoded.replace(RESERVED, reservedEscape) : encoded;
}

/** Encodes an S3 object key for the URI path: each "/"-separated segment with encodeRfc3986, slashes kept. */
export function encodeS3Key(key: string): string {
  // Encoding the whole key and restoring "/" equals encoding each segment: a literal "%" becomes
  // "%25", so "%2F" can only come from a slash. One native pass instead of split/map/join.
  const encoded = encodeRfc3986(key);
  return encoded.includes("%2F") ? encoded.replaceAll("%2F", "/") : encoded;
}

/** The canonical query string for the pairs (exported for the tests and for building the URL that is sent). */
export function canonicalQueryString(query: ReadonlyArray<readonly [string, string]>): string {
  const n = query.length;
  if (n === 0) return "";
  if (n === 1) {
    const only = query[0]!;
    return encodeRfc3986(only[0]) + "=" + encodeRfc3986(only[1]);
  }
  const pairs = new Array<[string, string]>(n);
  for (let i = 0; i < n; i++) {
    const pair = query[i]!;
    pairs[i] = [encodeRfc3986(pair[0]), encodeRfc3986(pair[1])];
  }
  // Sorted by encoded name, then encoded value; encoded text is ASCII, so comparing UTF-16 code
  // units is comparing bytes, which is what SigV4 specifies.
  pairs.sort(comparePairs);
  let out = pairs[0]![0] + "=" + pairs[0]![1];
  for (let i = 1; i < n; i++) out += "&" + pairs[i]![0] + "=" + pairs[i]![1];
  return out;
}

function comparePairs(a: readonly [string, string], b: readonly [string, string]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

// HTTP whitespace (SP, HTAB) plus CR/LF of folded values: exactly what the AWS SDK for JS folds.
// String.prototype.trim() is deliberately not used: it also strips NBSP and Unicode spaces,
// which would then be signed differently from what AWS computes.
const NEEDS_FOLDING = /^[ \t\r\n]|[ \t\r\n]$|[ \t\r\n]{2}|[\t\r\n]/;
const WS_RUNS = /[ \t\r\n]+/g;

/** A header value as it goes into the canonical request: trimmed, inner whitespace runs folded to one space. */
export function canonicalHeaderValue(value: string): string {
  if (!NEEDS_FOLDING.test(value)) return value;
  const folded = value.replace(WS_RUNS, " ");
  const start = folded.charCodeAt(0) === 32 ? 1 : 0;
  const end = folded.length > start && folded.charCodeAt(folded.length - 1) === 32
    ? folded.length - 1
    : folded.length;
  return folded.slice(start, end);
}

/** Signs S3 (or any SigV4 service) requests for one set of credentials in one region. */
export class SigV4Signer {
  readonly #accessKeyId: string;
  readonly #secretKey: string;
  readonly #region: string;
  readonly #service: string;
  readonly #sessionToken: string | undefined;
  /** "x-amz-security-token:<token>\n", or "" without a token. */
  readonly #tokenLine: string;
  readonly #contentSha256: boolean;
  /** The header kinds the signer adds, in canonical (sorted) order, and their names. */
  readonly #fixedKinds: readonly number[];
  readonly #fixedNames: readonly string[];
  /** "host;x-amz-content-sha256;x-amz-date[;x-amz-security-token]": SignedHeaders when no extras. */
  readonly #fixedSignedHeaders: string;
  /** "/<region>/<service>/aws4_request" */
  readonly #scopeSuffix: string;

  // Day-level cache: recomputed only when the UTC date changes.
  #day = "";
  #scope = "";
  /** "AWS4-HMAC-SHA256 Credential=<id>/<scope>, SignedHeaders=" */
  #authPrefix = "";
  /** HMAC under today's signing key (see PrecomputedHmacSha256 for why not createHmac). */
  #hmac: PrecomputedHmacSha256 | undefined;
  #keyDerivations = 0;

  // Second-level cache: x-amz-date and the string-to-sign prefix change once a second at most.
  #second = Number.NaN; // NaN never equals a second, so the first sign() always sets the clock
  #amzDate = "";
  #dateLine = "";
  #stsPrefix = "";

  constructor(options: SignerOptions) {
    const { credentials } = options;
    this.#accessKeyId = credentials.accessKeyId;
    this.#secretKey = credentials.secretAccessKey;
    this.#sessionToken = credentials.sessionToken === "" ? undefined : credentials.sessionToken;
    this.#tokenLine = this.#sessionToken === undefined
      ? ""
      : TOKEN_HEADER + ":" + canonicalHeaderValue(this.#sessionToken) + "\n";
    this.#region = options.region;
    this.#service = options.service ?? "s3";
    this.#contentSha256 = options.contentSha256Header ?? true;
    const kinds = [FIXED_HOST];
    const names = ["host"];
    if (this.#contentSha256) {
      kinds.push(FIXED_SHA256);
      names.push(SHA256_HEADER);
    }
    kinds.push(FIXED_DATE);
    names.push(DATE_HEADER);
    if (this.#sessionToken !== undefined) {
      kinds.push(FIXED_TOKEN);
      names.push(TOKEN_HEADER);
    }
    this.#fixedKinds = kinds;
    this.#fixedNames = names;
    this.#fixedSignedHeaders = names.join(";");
    this.#scopeSuffix = "/" + this.#region + "/" + this.#service + "/aws4_request";
  }

  /** How many times the signing key has been derived (once per UTC day in use); for tests and metrics. */
  get keyDerivations(): number {
    return this.#keyDerivations;
  }

  /**
   * Returns the headers to ADD to the request: "x-amz-date", "x-amz-content-sha256" (when enabled),
   * "x-amz-security-token" (when a session token is set), "authorization". `host` is signed but not
   * returned (fetch sets it from the URL).
   */
  sign(request: SignableRequest, nowMs: number): Record<string, string> {
    this.#advanceClock(nowMs);
    const payloadHash = request.payloadHash ?? EMPTY_PAYLOAD_SHA256;
    const host = request.host;

    let canonicalHeaders = "";
    let signedHeaders: string;
    const kinds = this.#fixedKinds;
    const fixedCount = kinds.length;
    const extra = request.headers;
    const names = extra === undefined ? undefined : extraHeaderNames(extra);
    if (names === undefined) {
      for (let f = 0; f < fixedCount; f++) {
        canonicalHeaders += this.#fixedLine(kinds[f]!, host, payloadHash);
      }
      signedHeaders = this.#fixedSignedHeaders;
    } else {
      // Merge the sorted extra names with the (sorted) names the signer contributes.
      const fixedNames = this.#fixedNames;
      const source = names.source;
      signedHeaders = "";
      let f = 0;
      for (let i = 0; i < names.sorted.length; i++) {
        const name = names.sorted[i]!;
        while (f < fixedCount && fixedNames[f]! < name) {
          canonicalHeaders += this.#fixedLine(kinds[f]!, host, payloadHash);
          signedHeaders += fixedNames[f]! + ";";
          f++;
        }
        if ((f < fixedCount && fixedNames[f] === name) || name === "authorization") {
          throw new TypeError(`SigV4Signer: header "${name}" is set by the signer, not the caller`);
        }
        canonicalHeaders += name + ":" + canonicalHeaderValue(source[name]!) + "\n";
        signedHeaders += name + ";";
      }
      for (; f < fixedCount; f++) {
        canonicalHeaders += this.#fixedLine(kinds[f]!, host, payloadHash);
        signedHeaders += fixedNames[f]! + ";";
      }
      signedHeaders = signedHeaders.slice(0, -1);
    }

    const query = request.query;
    const uri = request.canonicalUri;
    const canonicalRequest = request.method + "\n" +
      (uri === "" ? "/" : uri) + "\n" +
      (query === undefined || query.length === 0 ? "" : canonicalQueryString(query)) + "\n" +
      canonicalHeaders + "\n" +
      signedHeaders + "\n" +
      payloadHash;
    const stringToSign = this.#stsPrefix +
      createHash("sha256").update(canonicalRequest).digest("hex");
    const signature = this.#hmac!.hex(stringToSign);

    const out: Record<string, string> = { [DATE_HEADER]: this.#amzDate };
    if (this.#contentSha256) out[SHA256_HEADER] = payloadHash;
    if (this.#sessionToken !== undefined) out[TOKEN_HEADER] = this.#sessionToken;
    out.authorization = this.#authPrefix + signedHeaders + ", Signature=" + signature;
    return out;
  }

  #fixedLine(kind: number, host: string, payloadHash: string): string {
    switch (kind) {
      case FIXED_HOST:
        return "host:" + host + "\n";
      case FIXED_SHA256:
        return "x-amz-content-sha256:" + payloadHash + "\n";
      case FIXED_DATE:
        return this.#dateLine;
      default:
        return this.#tokenLine;
    }
  }

  #advanceClock(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    if (second === this.#second) return;
    if (!(nowMs >= 0 && nowMs <= MAX_TIME_MS)) {
      throw new RangeError(`SigV4Signer: time ${nowMs} is outside 1970-01-01..9999-12-31`);
    }
    const iso = new Date(second * 1000).toISOString(); // YYYY-MM-DDTHH:mm:ss.000Z
    const day = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10);
    if (day !== this.#day) this.#deriveKey(day);
    this.#amzDate = day + "T" + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + "Z";
    this.#dateLine = DATE_HEADER + ":" + this.#amzDate + "\n";
    this.#stsPrefix = ALGORITHM + "\n" + this.#amzDate + "\n" + this.#scope + "\n";
    this.#second = second;
  }

  #deriveKey(day: string): void {
    const kDate = createHmac("sha256", "AWS4" + this.#secretKey).update(day).digest();
    const kRegion = createHmac("sha256", kDate).update(this.#region).digest();
    const kService = createHmac("sha256", kRegion).update(this.#service).digest();
    const kSigning = createHmac("sha256", kService).update("aws4_request").digest();
    this.#hmac = new PrecomputedHmacSha256(kSigning);
    this.#day = day;
    this.#scope = day + this.#scopeSuffix;
    this.#authPrefix = ALGORITHM + " Credential=" + this.#accessKeyId + "/" + this.#scope +
      ", SignedHeaders=";
    this.#keyDerivations++;
  }
}

interface ExtraHeaderNames {
  /** Lower-case names, sorted. */
  sorted: string[];
  /** Values by lower-case name. */
  source: Readonly<Record<string, string>>;
}

/** The extra header names, lower-cased and sorted; undefined when there are none. */
function extraHeaderNames(headers: Readonly<Record<string, string>>): ExtraHeaderNames | undefined {
  const sorted = Object.keys(headers);
  if (sorted.length === 0) return undefined;
  let source = headers;
  for (let i = 0; i < sorted.length; i++) {
    const name = sorted[i]!;
    const lower = name.toLowerCase();
    if (lower !== name) {
      // The contract asks for lower-case names; tolerate others rather than sign a header name
      // S3 would never reproduce. Rare, so the copy is fine.
      if (source === headers) source = { ...headers };
      (source as Record<string, string>)[lower] = headers[name]!;
      sorted[i] = lower;
    }
  }
  if (sorted.length > 1) {
    sorted.sort();
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i] === sorted[i - 1]) {
        throw new TypeError(
          `SigV4Signer: header "${sorted[i]}" given twice; join multiple values with ","`,
        );
      }
    }
  }
  return { sorted, source };
}
