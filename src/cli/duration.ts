// Owns parsing the CLI's duration arguments ("90", "90s", "15m", "2h", "7d") into seconds.

const DURATION = /^([0-9]+)([smhd]?)$/;
const UNIT_SECONDS: Readonly<Record<string, number>> = { "": 1, s: 1, m: 60, h: 3_600, d: 86_400 };
const EXAMPLES = "90, 90s, 15m, 2h or 7d";

/**
 * Whole seconds from a positive whole number with an optional unit: s (seconds, the default),
 * m, h or d. Throws TypeError with a message saying what is accepted.
 */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text);
  if (match === null) {
    throw new TypeError(
      `invalid duration ${
        JSON.stringify(text)
      }: write a whole number with an optional unit s, m, h or d (${EXAMPLES})`,
    );
  }
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2]!]!;
  if (seconds === 0) {
    throw new TypeError(`invalid duration ${JSON.stringify(text)}: it must be at least 1 second`);
  }
  if (!Number.isSafeInteger(seconds)) {
    throw new TypeError(`invalid duration ${JSON.stringify(text)}: it is too long`);
  }
  return seconds;
}
