// Owns entity-tag parsing (single tags and If-Match / If-None-Match lists) and their comparison.

import { isOws, trimOws } from "./ows.ts";

/**
 * One entity-tag (RFC 9110 §8.8.3): `opaque` is the text between the double quotes, kept exactly
 * as received because comparison is character by character on it; `weak` says it had the
 * case-sensitive `W/` prefix.
 */
export interface EntityTag {
  readonly weak: boolean;
  readonly opaque: string;
}

/**
 * A parsed If-Match / If-None-Match value (RFC 9110 §13.1.1, §13.1.2): either `*` (any current
 * representation) or a list of entity-tags. The list is empty when every member was malformed
 * or the field value was empty, which matches nothing.
 */
export type EntityTagList =
  | { readonly any: true }
  | { readonly any: false; readonly tags: readonly EntityTag[] };

const DQUOTE = 0x22;
const COMMA = 0x2c;

/**
 * etagc = %x21 / %x23-7E / obs-text (RFC 9110 §8.8.3): any visible character but DQUOTE, plus
 * bytes ≥ 0x80 (which a Headers value exposes as Latin-1 code points ≤ 0xFF). A comma is a valid
 * etagc, which is why lists are scanned rather than split on commas.
 */
function isEtagc(code: number): boolean {
  return code === 0x21 || (code >= 0x23 && code <= 0x7e) || (code >= 0x80 && code <= 0xff);
}

/**
 * Reads one entity-tag starting at `start` (after any OWS). Returns the tag (or undefined when
 * the member is malformed) and the index just past the closing quote, or -1 when there is no
 * closing quote at all, so that the caller knows nothing after it can be recovered.
 */
function readTag(value: string, start: number): { tag: EntityTag | undefined; next: number } {
  let i = start;
  // The weak prefix is case-sensitive (RFC 9110 §8.8.3: weak = %s"W/"): `w/"x"` is malformed.
  const weak = value.startsWith("W/", i);
  if (weak) i += 2;
  if (value.charCodeAt(i) !== DQUOTE) return { tag: undefined, next: i };
  const close = value.indexOf('"', i + 1);
  if (close === -1) return { tag: undefined, next: -1 };
  const opaque = value.slice(i + 1, close);
  for (let k = 0; k < opaque.length; k++) {
    if (!isEtagc(opaque.charCodeAt(k))) return { tag: undefined, next: close + 1 };
  }
  return { tag: { weak, opaque }, next: close + 1 };
}

/**
 * Parses one entity-tag field value such as an ETag or If-Range (RFC 9110 §8.8.3, §13.1.5):
 * `"xyz"` or `W/"xyz"`, with surrounding whitespace allowed. Anything else (an unquoted value,
 * a list, `*`, a lower-case `w/`) is undefined: a malformed validator must never match.
 */
export function parseEntityTag(value: string | null | undefined): EntityTag | undefined {
  if (value === null || value === undefined) return undefined;
  let start = 0;
  while (start < value.length && isOws(value.charCodeAt(start))) start++;
  const { tag, next } = readTag(value, start);
  if (tag === undefined || next === -1) return undefined;
  for (let i = next; i < value.length; i++) {
    if (!isOws(value.charCodeAt(i))) return undefined;
  }
  return tag;
}

/** Moves past the rest of a malformed list member, up to (not past) the next comma. */
function skipToComma(value: string, from: number): number {
  const comma = value.indexOf(",", from);
  return comma === -1 ? value.length : comma;
}

/**
 * Parses an If-Match / If-None-Match field value: `*`, or `#entity-tag` (RFC 9110 §13.1.1,
 * §13.1.2, list syntax §5.6.1). Whitespace around members and empty members are tolerated
 * (§5.6.1.2 asks recipients to accept them); a malformed member is skipped, never thrown on,
 * and never turned into a tag, so it can neither match nor hide the members around it.
 * `*` only counts as the whole value, with OWS (SP / HTAB) at most around it: inside a list, or
 * next to other whitespace such as NBSP, it is a malformed member.
 */
export function parseEntityTagList(value: string): EntityTagList {
  if (trimOws(value) === "*") return { any: true };
  const tags: EntityTag[] = [];
  let i = 0;
  while (i < value.length) {
    const code = value.charCodeAt(i);
    if (isOws(code) || code === COMMA) {
      i++;
      continue;
    }
    const { tag, next } = readTag(value, i);
    // An unterminated quote swallows the rest of the value: there is no member after it.
    if (next === -1) break;
    let j = next;
    while (j < value.length && isOws(value.charCodeAt(j))) j++;
    // A member must end at a comma or the end; `"a"b` is malformed, not the tag "a".
    if (tag === undefined || (j < value.length && value.charCodeAt(j) !== COMMA)) {
      i = skipToComma(value, Math.max(j, i + 1));
      continue;
    }
    tags.push(tag);
    i = j;
  }
  return { any: false, tags };
}

/**
 * Strong comparison (RFC 9110 §8.8.3.2): both tags strong and their opaque-tags identical.
 * Used by If-Match and If-Range, where a byte-for-byte identical representation is required.
 */
export function strongMatch(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.opaque === b.opaque;
}

/**
 * Weak comparison (RFC 9110 §8.8.3.2): opaque-tags identical, either or both may be weak.
 * Used by If-None-Match, where a semantically equivalent representation is enough for a 304.
 */
export function weakMatch(a: EntityTag, b: EntityTag): boolean {
  return a.opaque === b.opaque;
}

/**
 * Whether `list` matches the current representation's tag, using strong or weak comparison.
 * `*` matches whenever a current representation exists, which the caller asserts by calling this
 * (RFC 9110 §13.1.1, §13.1.2), even when that representation has no entity-tag.
 */
export function listMatches(
  list: EntityTagList,
  current: EntityTag | undefined,
  comparison: "strong" | "weak",
): boolean {
  if (list.any) return true;
  if (current === undefined) return false;
  const compare = comparison === "strong" ? strongMatch : weakMatch;
  return list.tags.some((tag) => compare(tag, current));
}
