// Owns the message for an unknown key: "did you mean" by edit distance, or the keys allowed there.

import { IGNORED_KEYS, NOT_YET_SUPPORTED, SECTION_KEYS, VARIANT_KEYS } from "./schema.ts";
import { patternOf, type Segment, valueAt } from "./paths.ts";
import { editDistance } from "./edit_distance.ts";

export { editDistance };

/** The "did you mean" / "allowed keys" message for an unknown key in the mapping at `parent`. */
export function unknownKey(
  name: string,
  parent: Segment[],
  root: unknown,
): { message: string; suggestion?: string } {
  if (name === "<<") {
    // The yaml 1.2 core schema has no merge keys, so `<<: *defaults` arrives as a plain key.
    return { message: "YAML merge keys (`<<`) are not supported; write the keys out in full" };
  }
  const pattern = patternOf(parent);
  let supported = SECTION_KEYS[pattern] ?? [];
  const variants = VARIANT_KEYS[pattern];
  if (variants) {
    const type = valueAt(root, [...parent, variants.discriminator]);
    const own = typeof type === "string" ? variants.keys[type] : undefined;
    if (own) {
      supported = own;
      const other = Object.entries(variants.keys).find(([, keys]) => keys.includes(name));
      if (other) {
        return {
          message: `\`${name}\` is a key of \`${variants.discriminator}: ${other[0]}\`, and this ` +
            `mapping has \`${variants.discriminator}: ${type}\`; its keys are ${
              own.map((candidate) => `\`${candidate}\``).join(", ")
            }`,
        };
      }
    }
  }
  const gated = [...NOT_YET_SUPPORTED, ...IGNORED_KEYS]
    .filter((row) =>
      row.path.slice(0, row.path.lastIndexOf(".") + 1) === (pattern ? `${pattern}.` : "")
    )
    .map((row) => row.path.slice(row.path.lastIndexOf(".") + 1));
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of [...supported, ...gated]) {
    const distance = editDistance(name.toLowerCase(), candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best !== undefined) {
    return { message: `unknown key \`${name}\`; did you mean \`${best}\`?`, suggestion: best };
  }
  const allowed = supported.map((candidate) => `\`${candidate}\``).join(", ");
  return { message: `unknown key \`${name}\`; the keys allowed here are ${allowed}` };
}
