// Owns path hardening of the `accept` stage: dot segments in any encoding, backslashes, control
// characters, double encoding and invalid or overlong percent-encoding are refused with 400.

import { ProxyError } from "../errors.ts";

/*
 * The rules, and why (README.md "HTTP behaviour" documents them for operators):
 *
 * - Deno.serve hands over the request target as received: "/public/../private/x" reaches the
 *   gateway unresolved, and fetch() would resolve the ".." of the upstream URL, so one bucket's
 *   credentials could read another bucket's objects. A "." or ".." segment of the decoded path is
 *   refused, whatever spelled it: "..", "%2e%2e", "%2E.", ".%2e", "..%2f", "..%5c".
 * - Segments are split at "/" and at "\" for that check: "..\" is a traversal to Windows servers,
 *   caches and tools between the client and us. A raw "\" is refused outright (RFC 3986 does not
 *   allow it in a path, and WHATWG URL parsers turn it into "/", so two layers would disagree
 *   about the path); an encoded one ("%5C") is a character of the key, as S3 allows.
 * - An encoded slash ("%2F") is the same as "/": S3 keys are flat strings and the router works
 *   on the decoded path, so it cannot address anything "/" cannot. It is refused only where it
 *   builds a dot segment ("..%2F"), by the rule above.
 * - Double encoding: a key may contain "%" ("100%.txt" arrives as "100%25.txt"), so a "%" left
 *   after the one decode is allowed, unless decoding "%25", "%2E", "%2F" and "%5C" again (up to
 *   MAX_EXTRA_DECODES times) would produce a dot segment ("%252e%252e"): a layer that decodes
 *   twice would see a traversal. The price: a key whose segment is literally "%2e%2e" cannot be
 *   served.
 * - Control characters (Unicode category Cc: U+0000-U+001F, U+007F-U+009F), raw or encoded:
 *   S3 advises against them in keys, and they forge log lines and headers. NUL is one of them.
 * - Invalid percent-encoding and invalid UTF-8, including overlong forms ("%c0%ae" is an
 *   overlong "."; strict decoders refuse them, lenient ones decode them past filters), are
 *   refused by the one decode in accept.ts; invalidEncodingMessage() says which bytes and why.
 * - No keyword lists: apostrophes, "select", "union", "drop table", "+", "=", "&", ";", spaces
 *   and any printable unicode are ordinary key characters (the original's SQL-injection list
 *   refused real file names, and S3 has no SQL to inject into).
 * - The query string is not inspected: only a few S3 parameters reach S3 (s3_query.ts), each
 *   re-encoded when it is signed, and the path decides which bucket and key are read.
 */

/**
 * Anything that needs a closer look: "%", "\", a control character, or a segment starting with
 * "." (the raw path always starts with "/", so every segment follows a "/"). A plain key pays
 * for this one native scan and nothing else.
 */
// deno-lint-ignore no-control-regex -- control characters are exactly what is refused here
const SUSPICIOUS = /[%\\\u0000-\u001f\u007f-\u009f]|\/\./;
/** A "." or ".." segment, segments split at "/" and "\". */
const DOT_SEGMENT = /(?:^|[\/\\])\.{1,2}(?:[\/\\]|$)/;
// deno-lint-ignore no-control-regex -- control characters are exactly what is refused here
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** The escapes that can spell a dot segment once decoded again ("%25" feeds the next round). */
const TRAVERSAL_ESCAPE = /%(?:25|2e|2f|5c)/i;
const TRAVERSAL_ESCAPES = /%(?:25|2e|2f|5c)/gi;
/** Decoding more often than this is something no layer in front of S3 does. */
const MAX_EXTRA_DECODES = 3;

/**
 * Throws 400 `bad_request` when the request path could escape its bucket or smuggle characters
 * past another layer (the rules above). `rawPath` is the path as received (before the query),
 * `path` the same path percent-decoded once.
 */
export function checkRequestTarget(rawPath: string, path: string): void {
  if (!needsInspection(rawPath)) return;
  const problem = targetProblem(rawPath, path);
  if (problem !== undefined) {
    throw new ProxyError("bad_request", { message: problem, source: "client" });
  }
}

/** The fast pre-check: false means targetProblem() has nothing to find. */
export function needsInspection(rawPath: string): boolean {
  return SUSPICIOUS.test(rawPath);
}

/** What is wrong with the path, as the message the client gets; undefined when it is fine. */
export function targetProblem(rawPath: string, path: string): string | undefined {
  if (rawPath.includes("\\")) {
    return 'The request path contains a backslash ("\\"), which some servers read as "/"; ' +
      'if the object key contains one, percent-encode it as "%5C".';
  }
  const control = CONTROL.exec(path);
  if (control !== null) {
    const code = control[0].charCodeAt(0);
    const escape = code < 0x80
      ? `%${hex(code)}`
      : `%${hex(0xc0 | (code >> 6))}%${hex(0x80 | (code & 0x3f))}`;
    return `The request path contains the control character U+${
      code.toString(16).toUpperCase().padStart(4, "0")
    } ("${escape}" once encoded); object keys served here cannot contain control characters ` +
      "(U+0000-U+001F, U+007F-U+009F), so remove it from the path.";
  }
  if (DOT_SEGMENT.test(path)) {
    const how = DOT_SEGMENT.test(rawPath)
      ? 'contains a "." or ".." segment'
      : 'has percent-encoded characters ("%2E", "%2F" or "%5C") that decode to a "." or ".." segment';
    return `The request path ${how}, which could step outside the bucket's path prefix; ` +
      'request the object by its key, without "." or ".." segments.';
  }
  if (path.includes("%") && decodesAgainToDotSegment(path)) {
    return "The request path is double-encoded: after decoding it still has escapes " +
      '("%2E", "%2F", "%5C", "%25") that would decode again to a "." or ".." segment; ' +
      "percent-encode each character of the key once.";
  }
  return undefined;
}

/** Whether decoding the traversal escapes of an already decoded path again makes a dot segment. */
function decodesAgainToDotSegment(path: string): boolean {
  let current = path;
  for (let round = 0; round < MAX_EXTRA_DECODES && TRAVERSAL_ESCAPE.test(current); round++) {
    current = current.replace(TRAVERSAL_ESCAPES, decodeEscape);
    if (DOT_SEGMENT.test(current)) return true;
  }
  return false;
}

function decodeEscape(escape: string): string {
  return String.fromCharCode(parseInt(escape.slice(1), 16));
}

function hex(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, "0");
}

// ---- invalid percent-encoding ---------------------------------------------------------------

const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;

/**
 * The 400 message for a path decodeURIComponent refused: which escape is wrong and how to write
 * it. Only runs on that error path, so it may take its time.
 */
export function invalidEncodingMessage(rawPath: string): string {
  const prefix = "The request path has invalid percent-encoding: ";
  const problem = encodingProblem(rawPath);
  return prefix + (problem ??
    "encode reserved characters as %XX with two hex digits and valid UTF-8.");
}

/** Why decodeURIComponent refuses `raw`, as a message; undefined when it decodes. */
export function encodingProblem(raw: string): string | undefined {
  // Each run of consecutive %XX escapes is a byte string that must be valid UTF-8 on its own.
  let i = 0;
  while (i < raw.length) {
    if (raw.charCodeAt(i) !== 37) {
      i++;
      continue;
    }
    const bytes: number[] = [];
    const start = i;
    while (i < raw.length && raw.charCodeAt(i) === 37) {
      const pair = raw.slice(i + 1, i + 3);
      if (!HEX_PAIR.test(pair)) {
        return `"${raw.slice(i, i + 3)}" is not a % followed by two hex digits; ` +
          'write a literal "%" as "%25".';
      }
      bytes.push(parseInt(pair, 16));
      i += 3;
    }
    const problem = utf8Problem(bytes, raw.slice(start, i));
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** Why `bytes` (spelled `spelled` in the path) is not valid UTF-8 (RFC 3629 §4), if it is not. */
function utf8Problem(bytes: number[], spelled: string): string | undefined {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    const at = (n: number) => spelled.slice(i * 3, (i + n) * 3);
    let length: number;
    let min = 0x80;
    let max = 0xbf;
    if (lead < 0x80) length = 1;
    else if (lead === 0xc0 || lead === 0xc1) {
      return overlong(at(2), bytes.slice(i, i + 2));
    } else if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead === 0xe0) min = 0xa0;
      if (lead === 0xed) max = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead === 0xf0) min = 0x90;
      if (lead === 0xf4) max = 0x8f;
    } else if (lead >= 0x80 && lead <= 0xbf) {
      return `"${at(1)}" is a UTF-8 continuation byte without a lead byte; ` +
        "percent-encode each character as its complete UTF-8 bytes.";
    } else {
      return `"${
        at(1)
      }" can never appear in UTF-8; percent-encode each character as its UTF-8 bytes.`;
    }
    if (i + length > bytes.length) {
      return `"${at(bytes.length - i)}" is an incomplete UTF-8 sequence (the character needs ` +
        `${length} bytes); percent-encode each character as its complete UTF-8 bytes.`;
    }
    for (let k = 1; k < length; k++) {
      const next = bytes[i + k]!;
      const low = k === 1 ? min : 0x80;
      const high = k === 1 ? max : 0xbf;
      if (next < 0x80 || next > 0xbf) {
        return `"${at(k + 1)}" is an incomplete UTF-8 sequence; ` +
          "percent-encode each character as its complete UTF-8 bytes.";
      }
      if (next < low) return overlong(at(length), bytes.slice(i, i + length));
      if (next > high) {
        return lead === 0xed
          ? `"${at(length)}" encodes a UTF-16 surrogate, which is not a character; ` +
            "percent-encode the character's UTF-8 bytes instead."
          : `"${at(length)}" encodes a code point above U+10FFFF, which is not a character.`;
      }
    }
    i += length;
  }
  return undefined;
}

/** Message for an overlong form, naming the character it hides ("." for %C0%AE). */
function overlong(spelled: string, bytes: number[]): string {
  let code = bytes[0]! & (bytes.length === 2 ? 0x1f : bytes.length === 3 ? 0x0f : 0x07);
  for (const byte of bytes.slice(1)) code = (code << 6) | (byte & 0x3f);
  const shown = code >= 0x21 && code <= 0x7e
    ? JSON.stringify(String.fromCharCode(code))
    : `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
  return `"${spelled}" is an overlong UTF-8 encoding of ${shown}, a way to sneak characters ` +
    "past filters; percent-encode each character as its shortest UTF-8 bytes.";
}
