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

/**
 * Built once per config generation. Resolution walks the "/" positions of the path only up to
 * the longest configured prefix and does one Map lookup per candidate, so its cost depends on
 * the prefix depth, not on the number of buckets (the original scanned every prefix).
 */
export class BucketRouter<T extends Routable> {
  #byPrefix = new Map<string, T>();
  #root: T | undefined;
  #longest = 0;

  constructor(targets: readonly T[]) {
    for (const target of targets) {
      const prefix = target.pathPrefix;
      if (this.#byPrefix.has(prefix) || (prefix === "/" && this.#root)) {
        throw new TypeError(`Duplicate path_prefix "${prefix}"`);
      }
      if (prefix === "/") this.#root = target;
      else this.#byPrefix.set(prefix, target);
      if (prefix.length > this.#longest) this.#longest = prefix.length;
    }
  }

  /** Resolves a decoded path ("/public/a/b.txt"); undefined when no prefix matches. */
  resolve(path: string): RouteMatch<T> | undefined {
    let best: T | undefined;
    let keyStart = -1;
    // Candidate prefixes end just before a "/" or at the end of the path (segment boundary).
    let slash = path.indexOf("/", 1);
    while (slash !== -1 && slash <= this.#longest) {
      const target = this.#byPrefix.get(path.slice(0, slash));
      if (target !== undefined) {
        best = target;
        keyStart = slash + 1;
      }
      slash = path.indexOf("/", slash + 1);
    }
    if (slash === -1 && path.length <= this.#longest) {
      const target = this.#byPrefix.get(path);
      if (target !== undefined) return { target, key: "" };
    }
    if (best !== undefined) return { target: best, key: path.slice(keyStart) };
    if (this.#root !== undefined && path.startsWith("/")) {
      return { target: this.#root, key: path.slice(1) };
    }
    return undefined;
  }
}
