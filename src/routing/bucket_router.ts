// Owns path -> {bucket, key} resolution: the longest path_prefix that matches on a segment boundary.

/** Anything routable: a bucket (or a later generation's bucket runtime) with its prefix. */
export interface Routable {
  /** Starts with "/", no trailing "/" except the root prefix "/". */
  readonly pathPrefix: string;
}

export interface RouteMatch<T> {
  target: T;
  /** The object key: the decoded path after the prefix and its "/", possibly "". */
  key: string;
}

const SLASH = 47;

/**
 * Built once per config generation. Prefixes are grouped by their first segment, so resolving
 * costs one slice and one Map lookup, then a `startsWith` per deeper prefix in that group: the
 * cost depends on how many prefixes share a first segment, not on the number of buckets (the
 * original scanned every prefix, and without a segment boundary).
 */
export class BucketRouter<T extends Routable> {
  /** First segment ("/media") -> the prefixes starting with it, longest first. */
  #byFirstSegment = new Map<string, T[]>();
  #root: T | undefined;

  constructor(targets: readonly T[]) {
    const seen = new Set<string>();
    for (const target of targets) {
      const prefix = target.pathPrefix;
      if (seen.has(prefix)) throw new TypeError(`Duplicate path_prefix "${prefix}"`);
      seen.add(prefix);
      if (prefix === "/") {
        this.#root = target;
        continue;
      }
      const slash = prefix.indexOf("/", 1);
      const first = slash === -1 ? prefix : prefix.slice(0, slash);
      const group = this.#byFirstSegment.get(first) ?? [];
      group.push(target);
      group.sort((a, b) => b.pathPrefix.length - a.pathPrefix.length);
      this.#byFirstSegment.set(first, group);
    }
  }

  /** Resolves a decoded path ("/public/a/b.txt"); undefined when no prefix matches. */
  resolve(path: string): RouteMatch<T> | undefined {
    const slash = path.indexOf("/", 1);
    const group = this.#byFirstSegment.get(slash === -1 ? path : path.slice(0, slash));
    if (group !== undefined) {
      for (const target of group) {
        const prefix = target.pathPrefix;
        const end = prefix.length;
        if (path.length === end) {
          if (path === prefix) return { target, key: "" };
        } else if (path.charCodeAt(end) === SLASH && path.startsWith(prefix)) {
          return { target, key: path.slice(end + 1) };
        }
      }
    }
    if (this.#root !== undefined && path.charCodeAt(0) === SLASH) {
      return { target: this.#root, key: path.slice(1) };
    }
    return undefined;
  }
}
