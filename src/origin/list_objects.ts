// Owns ListObjectsV2 as pure functions: the query pairs of one page request and the parse of its XML answer.

import { XMLParser, XMLValidator } from "fast-xml-parser";
import { errorMessage } from "../errors.ts";

/** One object of a listing page. */
export interface ListedObject {
  /** The decoded object key, exactly as stored (never trimmed, never a number). */
  key: string;
  size: number;
  /** As S3 sends it, quotes included; undefined when the listing omits it. */
  etag: string | undefined;
  /** ISO 8601 text as S3 sends it; undefined when the listing omits it. */
  lastModified: string | undefined;
}

/** One page of a ListObjectsV2 listing. */
export interface ListPage {
  objects: ListedObject[];
  /** The token for the next page; always set when `isTruncated` (the parser checks it). */
  nextContinuationToken: string | undefined;
  isTruncated: boolean;
}

export interface ListPageRequest {
  prefix: string;
  continuationToken: string | undefined;
  maxKeys: number;
}

/** S3 never returns more than this many keys per page, whatever max-keys asks for. */
export const MAX_KEYS_LIMIT = 1000;

/**
 * The query pairs of one ListObjectsV2 request (`GET /{bucket}?list-type=2&...`). No
 * `encoding-type=url`: s3rver does not implement it, and XML character references already carry
 * every key S3 can list. An empty prefix is left out rather than sent as `prefix=`.
 */
export function listObjectsQuery(request: ListPageRequest): Array<[string, string]> {
  const { maxKeys } = request;
  if (!Number.isInteger(maxKeys) || maxKeys < 1 || maxKeys > MAX_KEYS_LIMIT) {
    throw new RangeError(`max-keys must be an integer from 1 to ${MAX_KEYS_LIMIT}, got ${maxKeys}`);
  }
  const query: Array<[string, string]> = [["list-type", "2"], ["max-keys", String(maxKeys)]];
  if (request.prefix !== "") query.push(["prefix", request.prefix]);
  if (request.continuationToken !== undefined) {
    query.push(["continuation-token", request.continuationToken]);
  }
  return query;
}

/** Thrown for an answer that is not a well-formed ListObjectsV2 document. */
export class ListObjectsParseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`Cannot read the S3 ListObjectsV2 answer: ${message}`, options);
    this.name = "ListObjectsParseError";
  }
}

const CDATA = "#cdata";

// Entities are decoded here, not by the library: it drops references it dislikes (&#x1;) without a
// word and leaves undefined ones (&foo;) in place, and its numeric references come bundled with
// the HTML entity set, which is not XML. CDATA stays apart (cdataPropName) so that its text is
// taken verbatim. Tag values are never parsed, so keys like "0123", "1e5" or "true" stay strings,
// and never trimmed, so " a " stays " a ".
const parser = new XMLParser({
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: false,
  cdataPropName: CDATA,
  isArray: (name) => name === "Contents",
});

/** Parses one ListObjectsV2 answer; throws ListObjectsParseError for anything else. */
export function parseListObjectsXml(xml: string): ListPage {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    throw new ListObjectsParseError(`malformed XML (${msg} at line ${line}, column ${col})`);
  }
  let document: unknown;
  try {
    document = parser.parse(xml);
  } catch (error) {
    throw new ListObjectsParseError(errorMessage(error), {
      cause: error,
    });
  }
  let root = isRecord(document) ? document.ListBucketResult : undefined;
  // An empty <ListBucketResult/> (or one holding only whitespace) is an empty, final page.
  if (typeof root === "string" && root.trim() === "") root = {};
  if (!isRecord(root)) {
    const found = isRecord(document) ? Object.keys(document)[0] : undefined;
    throw new ListObjectsParseError(
      `expected a <ListBucketResult> document, found ${
        found === undefined ? "none" : `<${found}>`
      }`,
    );
  }

  const contents = root.Contents;
  const objects: ListedObject[] = [];
  if (Array.isArray(contents)) {
    for (let i = 0; i < contents.length; i++) objects.push(readContents(contents[i], i));
  }

  const truncatedText = optionalText(root.IsTruncated, "IsTruncated")?.trim();
  if (truncatedText !== undefined && truncatedText !== "true" && truncatedText !== "false") {
    throw new ListObjectsParseError(`<IsTruncated> is "${truncatedText}", not true or false`);
  }
  const isTruncated = truncatedText === "true";
  const token = optionalText(root.NextContinuationToken, "NextContinuationToken");
  const nextContinuationToken = token === "" ? undefined : token;
  // Without a token a caller could only stop early (silently missing objects) or loop forever.
  if (isTruncated && nextContinuationToken === undefined) {
    throw new ListObjectsParseError(
      "<IsTruncated> is true but there is no <NextContinuationToken>",
    );
  }
  return { objects, nextContinuationToken, isTruncated };
}

function readContents(node: unknown, index: number): ListedObject {
  const where = `<Contents> #${index + 1}`;
  if (!isRecord(node)) throw new ListObjectsParseError(`${where} has no <Key>`);
  const key = optionalText(node.Key, "Key");
  if (key === undefined) throw new ListObjectsParseError(`${where} has no <Key>`);
  const sizeText = optionalText(node.Size, "Size")?.trim();
  if (sizeText === undefined || !/^\d+$/.test(sizeText)) {
    throw new ListObjectsParseError(
      `${where} (key "${key}") has ${
        sizeText === undefined ? "no <Size>" : `<Size> "${sizeText}"`
      }; expected a byte count`,
    );
  }
  return {
    key,
    size: Number(sizeText),
    etag: optionalText(node.ETag, "ETag"),
    lastModified: optionalText(node.LastModified, "LastModified"),
  };
}

/** The text of a leaf element: entities decoded, CDATA verbatim; undefined when it is absent. */
function optionalText(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string") return decodeXmlText(value, name);
  // An element that repeats, holds child elements, or mixes CDATA with text is not a leaf S3 sends.
  if (isRecord(value)) {
    const fields = Object.keys(value);
    const cdata = value[CDATA];
    if (fields.length === 1 && typeof cdata === "string") return cdata;
  }
  throw new ListObjectsParseError(`<${name}> is not a plain text element`);
}

const PREDEFINED: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

/**
 * Decodes the five predefined entities and numeric character references in one pass (so
 * "&amp;#x41;" stays "&#x41;"). A reference to any other name is a well-formedness error in a
 * document without a DTD. Control characters are accepted as references although XML 1.0 forbids
 * them: that is how S3 lists keys that contain them.
 */
function decodeXmlText(text: string, name: string): string {
  if (!text.includes("&")) return text;
  return text.replace(/&([^;&\s]*);?/g, (match, ref: string) => {
    if (!match.endsWith(";")) throw badReference(match, name);
    const predefined = PREDEFINED[ref];
    if (predefined !== undefined) return predefined;
    const numeric = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(ref);
    if (numeric === null) throw badReference(match, name);
    const codePoint = numeric[1] !== undefined
      ? parseInt(numeric[1], 16)
      : parseInt(numeric[2]!, 10);
    if (codePoint === 0 || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) {
      throw badReference(match, name);
    }
    return String.fromCodePoint(codePoint);
  });
}

function badReference(reference: string, name: string): ListObjectsParseError {
  return new ListObjectsParseError(`<${name}> holds an invalid reference "${reference}"`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
