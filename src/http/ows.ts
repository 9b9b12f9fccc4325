// Owns optional whitespace (OWS, RFC 9110 §5.6.3): SP and HTAB only, never what String.prototype.trim removes.

/** True for SP and HTAB. */
export function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** Removes OWS at both ends; a loop, as a `[ \t]+$` pattern backtracks quadratically. */
export function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}
