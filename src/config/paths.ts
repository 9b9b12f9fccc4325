// Owns paths into the plain config value: segments, their "buckets[1].s3" spelling, lookups by
// path and by table pattern ("buckets[].s3.retry").

/** One step of a path: a mapping key or a list index. */
export type Segment = string | number;

/** "buckets[1].s3.region"; keys that are not plain names are quoted: `server["a b"]`. */
export function formatPath(segments: readonly Segment[]): string {
  let out = "";
  for (const segment of segments) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

export function key(segments: readonly Segment[]): string {
  return JSON.stringify(segments);
}

/** "buckets[].s3" for ["buckets", 3, "s3"]: the SECTION_KEYS key for a concrete path. */
export function patternOf(segments: readonly Segment[]): string {
  let out = "";
  for (const segment of segments) {
    if (typeof segment === "number") out += "[]";
    else out += out === "" ? segment : `.${segment}`;
  }
  return out;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Sets a key even when it is "__proto__" (a YAML key must never change a prototype). */
export function define(target: Record<string, unknown>, name: string, value: unknown) {
  Object.defineProperty(target, name, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

export function valueAt(root: unknown, segments: readonly Segment[]): unknown {
  let current = root;
  for (const segment of segments) {
    if (typeof segment === "number") {
      if (!Array.isArray(current)) return undefined;
      current = current[segment];
    } else {
      if (!isPlainObject(current) || !Object.hasOwn(current, segment)) return undefined;
      current = current[segment];
    }
  }
  return current;
}

/** Every place a table path ("buckets[].s3.retry") occurs in the plain value. */
export function findPaths(
  root: Record<string, unknown>,
  pattern: string,
): { segments: Segment[]; parent: Record<string, unknown>; value: unknown }[] {
  const parts = pattern.split(".");
  const hits: { segments: Segment[]; parent: Record<string, unknown>; value: unknown }[] = [];
  const walk = (value: unknown, index: number, segments: Segment[]) => {
    const part = parts[index];
    if (part === undefined) return;
    const list = part.endsWith("[]");
    const name = list ? part.slice(0, -2) : part;
    if (!isPlainObject(value) || !Object.hasOwn(value, name)) return;
    const child = value[name];
    const at = [...segments, name];
    if (list) {
      if (!Array.isArray(child)) return;
      child.forEach((item, position) => walk(item, index + 1, [...at, position]));
    } else if (index === parts.length - 1) {
      hits.push({ segments: at, parent: value, value: child });
    } else {
      walk(child, index + 1, at);
    }
  };
  walk(root, 0, []);
  return hits;
}
