// Owns the cross-field checks of `buckets`: unique names, unique path prefixes after normalisation.

import { normalizePathPrefix, pathPrefixProblem } from "./schema.ts";
import type { CheckContext } from "./issues.ts";
import { isPlainObject } from "./paths.ts";

/** Cross-field rules: bucket names unique, path prefixes unique after normalisation. */
export function checkBuckets(ctx: CheckContext, root: Record<string, unknown>) {
  const buckets = root.buckets;
  if (!Array.isArray(buckets)) return;
  const names = new Map<string, number>();
  const prefixes = new Map<string, number>();
  buckets.forEach((bucket, index) => {
    if (!isPlainObject(bucket)) return;
    const name = bucket.name;
    if (typeof name === "string" && name.trim() !== "") {
      const first = names.get(name);
      if (first === undefined) {
        names.set(name, index);
      } else {
        ctx.error(
          ["buckets", index, "name"],
          `duplicate bucket name ${JSON.stringify(name)} (buckets[${first}]${
            ctx.onLine(["buckets", first, "name"])
          } uses it too); bucket names must be unique`,
        );
      }
    }
    const prefix = bucket.path_prefix;
    if (typeof prefix === "string" && pathPrefixProblem(prefix) === undefined) {
      const normal = normalizePathPrefix(prefix);
      const first = prefixes.get(normal);
      if (first === undefined) {
        prefixes.set(normal, index);
      } else {
        ctx.error(
          ["buckets", index, "path_prefix"],
          `${JSON.stringify(prefix)} routes the same paths as buckets[${first}].path_prefix${
            ctx.onLine(["buckets", first, "path_prefix"])
          }; each bucket needs its own prefix`,
        );
      }
    }
  });
}
