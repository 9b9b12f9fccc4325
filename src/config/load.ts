// Owns loading a config: YAML with positions, ${VAR} substitution in values, schema and cross-field
// checks, and issues that carry the path and line of the offending node.

import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Document } from "yaml";
import {
  authWithoutJwtMessage,
  cacheSizeProblem,
  claimValueProblem,
  configSchema,
  describeValue,
  IGNORED_KEYS,
  isJwtAlgorithm,
  isSecretKey,
  type KeyMaterial,
  keyMaterialProblem,
  MAKE_SECRET,
  MAX_MEGABYTES,
  megabytesToBytes,
  MEMORY_CACHE_DEFAULTS,
  MIN_SECRET_LENGTH,
  normalizePathPrefix,
  NOT_YET_SUPPORTED,
  pathPrefixProblem,
  SECTION_KEYS,
  unusedKeyMaterial,
  VARIANT_KEYS,
} from "./schema.ts";
import { CLAIM_OPERATORS } from "./types.ts";
import type { Config } from "./types.ts";

export interface ConfigIssue {
  /** "buckets[1].s3.region", or "" for the root / the file as a whole. */
  path: string;
  /** 1-based line of the offending node, when known. */
  line?: number;
  /** 1-based column of the offending node, when known. */
  column?: number;
  message: string;
}

export type ConfigResult =
  | { ok: true; config: Config; warnings: ConfigIssue[] }
  | { ok: false; errors: ConfigIssue[]; warnings: ConfigIssue[] };

type Env = Record<string, string | undefined>;

/**
 * Parses and validates config text; `env` supplies ${VAR} values (default: the process
 * environment). Never throws: every problem, including YAML syntax, is a ConfigIssue.
 */
export function parseConfig(
  text: string,
  options: { env?: Env; source?: string } = {},
): ConfigResult {
  const lookup = options.env ? (name: string) => options.env?.[name] : processEnv;
  try {
    return new Loader(text, lookup, options.source ?? "the config").run();
  } catch (error) {
    // The contract is "never throws"; a crash here is our bug, so say so instead of hiding it.
    return {
      ok: false,
      errors: [{
        path: "",
        message: `internal error while validating the config (please report this bug): ${
          error instanceof Error ? error.message : String(error)
        }`,
      }],
      warnings: [],
    };
  }
}

/**
 * Reads the file; a missing/unreadable file is a ConfigIssue (path "", message naming the file and
 * the OS error), not a throw.
 */
export async function loadConfigFile(
  path: string,
  options: { env?: Env } = {},
): Promise<ConfigResult> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      errors: [{ path: "", message: `cannot read config file ${JSON.stringify(path)}: ${reason}` }],
      warnings: [],
    };
  }
  return parseConfig(text, { ...options, source: path });
}

/** "config.yaml:12:5 buckets[1].s3.region: <message>" — the one formatting used by validate-config and serve. */
export function formatIssue(file: string, issue: ConfigIssue): string {
  let where = file;
  if (issue.line !== undefined) {
    where += `:${issue.line}`;
    if (issue.column !== undefined) where += `:${issue.column}`;
  }
  return issue.path === ""
    ? `${where} ${issue.message}`
    : `${where} ${issue.path}: ${issue.message}`;
}

// ---- internals ------------------------------------------------------------------------------

type Segment = string | number;
type Lookup = (name: string) => string | undefined;
interface Position {
  line: number;
  column: number;
}
/**
 * An issue plus what #result needs to drop noise: its path as segments, whether it reports a key
 * as a whole (unknown / not supported: nothing at or below it matters), and whether it is a
 * "missing key" error (dropped when a misspelt sibling key was already pointed at it).
 */
type Issue = ConfigIssue & {
  segments?: Segment[];
  whole?: boolean;
  missing?: boolean;
  /** Keys any one of which would fix this error: dropped when a misspelt key was pointed at one. */
  satisfiedBy?: Segment[][];
};

interface IssueOptions {
  prefer?: "key" | "value";
  whole?: boolean;
  missing?: boolean;
  satisfiedBy?: Segment[][];
}

interface NodeInfo {
  /** Where the key that introduced this value is (absent for list elements and the root). */
  key?: Position;
  /** Where the value itself is. */
  value: Position;
  /** Variables substituted into this scalar, for messages about the result. */
  vars?: string[];
}

/**
 * Reads the process environment one name at a time: with `--allow-env=NAME,...` a full
 * Deno.env.toObject() would be denied while the names the config uses are readable.
 */
function processEnv(name: string): string | undefined {
  return Deno.env.get(name);
}

/** Every alias expansion costs one unit; bounds "billion laughs" documents. */
const NODE_BUDGET = 100_000;

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

class Loader {
  readonly #text: string;
  readonly #lookup: Lookup;
  readonly #source: string;
  readonly #lines = new LineCounter();
  readonly #nodes = new Map<string, NodeInfo>();
  readonly #errors: Issue[] = [];
  readonly #warnings: Issue[] = [];
  /** Paths whose value already has an error (a failed substitution): no second error for them. */
  readonly #poisoned = new Set<string>();
  /** Paths reported as a whole (unknown or not-yet-supported keys): nothing at or below them is reported. */
  readonly #reported = new Set<string>();
  /** Substituted plain scalars that YAML read as non-strings, with their text (see #retyped). */
  readonly #substitutedText = new Map<string, { segments: Segment[]; text: string }>();
  /** Keys that a "did you mean" hint named: their "missing required key" error would repeat it. */
  readonly #suggested = new Set<string>();
  #budget = NODE_BUDGET;
  #doc: Document.Parsed | undefined;

  constructor(text: string, lookup: Lookup, source: string) {
    this.#text = text;
    this.#lookup = lookup;
    this.#source = source;
  }

  run(): ConfigResult {
    const doc = parseDocument(this.#text, {
      lineCounter: this.#lines,
      // Duplicates are reported by #toValue with the key path and both lines.
      uniqueKeys: false,
      // Pretty errors quote the source line, which may hold a secret.
      prettyErrors: false,
    });
    this.#doc = doc;
    // Only the first syntax error is reported: the parser's later errors are nearly always
    // consequences of the first (one unquoted `{` yields dozens), and would bury it.
    const [syntax, ...cascade] = doc.errors;
    if (syntax) {
      const at = this.#at(syntax.pos[0]);
      let message = syntax.code === "MULTIPLE_DOCS"
        ? "the file holds more than one YAML document (a `---` line); a config is one document"
        : `YAML syntax error: ${syntax.message}`;
      const lineText = this.#text.split(/\r?\n/)[(at.line ?? 1) - 1] ?? "";
      if (/\$\{/.test(lineText) && /[{[]/.test(lineText.replace(/\$\{[^}]*\}/g, ""))) {
        message += ' (inside { } or [ ], quote a ${VAR} reference: "${VAR}")';
      }
      if (cascade.length > 0) {
        message +=
          ` (${cascade.length} more YAML error${cascade.length === 1 ? "" : "s"} follow, ` +
          "most likely caused by this one)";
      }
      this.#errors.push({ path: "", ...at, message });
    }
    for (const warning of doc.warnings) {
      this.#warnings.push({ path: "", ...this.#at(warning.pos[0]), message: warning.message });
    }
    // After a syntax error the tree is a guess; checking it would only add misleading issues.
    if (this.#errors.length > 0) return this.#result(undefined);

    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
      this.#errors.push({
        path: "",
        message:
          `${this.#source} is empty; it needs at least a \`buckets:\` list (see config.example.yaml)`,
      });
      return this.#result(undefined);
    }
    const root = this.#toValue(doc.contents, [], undefined, new Set());
    // A document that blew the alias budget is an attack or an accident; either way, stop here.
    if (this.#budget < 0) return this.#result(undefined);
    if (!isPlainObject(root)) {
      this.#errors.push({
        path: "",
        ...this.#positionOf([]),
        message: `expected a mapping with server, buckets and logging at the top level, got ${
          describeValue(root)
        }`,
      });
      return this.#result(undefined);
    }

    this.#applyKeyTables(root);
    let parsed = configSchema.safeParse(root);
    if (!parsed.success && this.#retyped(root, parsed.error.issues)) {
      parsed = configSchema.safeParse(root);
    }
    // Cross-field rules first: a schema backstop issue is dropped when they already reported it.
    this.#checkBuckets(root);
    this.#checkAuth(root);
    this.#checkCache(root);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) this.#addSchemaIssue(root, issue);
    }
    return this.#result(parsed.success ? parsed.data : undefined);
  }

  #result(config: Config | undefined): ConfigResult {
    const relevant = ({ segments, whole, missing, satisfiedBy }: Issue) => {
      if (!segments) return true;
      if (missing && this.#suggested.has(key(segments))) return false;
      if (satisfiedBy?.some((fix) => this.#suggested.has(key(fix)))) return false;
      const end = whole ? segments.length : segments.length + 1;
      for (let length = 0; length < end; length++) {
        if (this.#reported.has(key(segments.slice(0, length)))) return false;
      }
      return true;
    };
    const clean = (issues: Issue[]) =>
      sortIssues(
        issues.filter(relevant).map(({ path, line, column, message }) => {
          const out: ConfigIssue = { path, message };
          if (line !== undefined) out.line = line;
          if (column !== undefined) out.column = column;
          return out;
        }),
      );
    const errors = clean(this.#errors);
    const warnings = clean(this.#warnings);
    if (errors.length === 0 && config) return { ok: true, config, warnings };
    if (errors.length === 0) {
      // Unreachable if the schema and the mapping agree; never report "invalid" with no reason.
      errors.push({
        path: "",
        message: "internal error: the config was rejected without a reason",
      });
    }
    return { ok: false, errors, warnings };
  }

  #at(offset: number | undefined): Partial<Position> {
    if (offset === undefined) return {};
    const { line, col } = this.#lines.linePos(offset);
    return { line, column: col };
  }

  #pos(node: { range?: [number, number, number] | null } | null | undefined): Position | undefined {
    const offset = node?.range?.[0];
    if (offset === undefined) return undefined;
    const { line, col } = this.#lines.linePos(offset);
    return { line, column: col };
  }

  /** The node at `segments`, or the nearest ancestor that exists. */
  #positionOf(segments: Segment[], prefer: "key" | "value" = "value"): Partial<Position> {
    for (let length = segments.length; length >= 0; length--) {
      const info = this.#nodes.get(key(segments.slice(0, length)));
      if (!info) continue;
      const position = prefer === "key" ? info.key ?? info.value : info.value;
      return { ...position };
    }
    return {};
  }

  #error(
    segments: Segment[],
    message: string,
    options: IssueOptions = {},
  ) {
    this.#issue(this.#errors, segments, message, options);
  }

  #warning(segments: Segment[], message: string, options: { prefer?: "key" | "value" } = {}) {
    this.#issue(this.#warnings, segments, message, options);
  }

  #issue(
    into: Issue[],
    segments: Segment[],
    message: string,
    options: IssueOptions,
  ) {
    const { prefer = "value", ...flags } = options;
    into.push({
      path: formatPath(segments),
      ...this.#positionOf(segments, prefer),
      message,
      segments,
      ...flags,
    });
  }

  /** Converts the YAML AST to plain values, substituting ${VAR} in scalar values and recording positions. */
  #toValue(
    node: unknown,
    segments: Segment[],
    keyPos: Position | undefined,
    active: Set<unknown>,
  ): unknown {
    if (--this.#budget < 0) {
      if (this.#budget === -1) {
        this.#error(segments, `the document expands to more than ${NODE_BUDGET} nodes (aliases?)`);
      }
      return null;
    }
    const here = this.#pos(node as { range?: [number, number, number] }) ?? keyPos ??
      { line: 1, column: 1 };
    const info: NodeInfo = { value: here };
    if (keyPos) info.key = keyPos;
    this.#nodes.set(key(segments), info);

    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const target = this.#doc ? node.resolve(this.#doc) : undefined;
      if (!target) {
        this.#error(
          segments,
          `unknown alias *${node.source}; define it first with &${node.source}`,
        );
        this.#poisoned.add(key(segments));
        return null;
      }
      if (active.has(target)) {
        this.#error(segments, `alias *${node.source} refers to a node that contains it`);
        this.#poisoned.add(key(segments));
        return null;
      }
      const value = this.#toValue(target, segments, keyPos, active);
      // Point at the alias (the line the user wrote for this path), not at the anchor.
      this.#nodes.set(key(segments), { ...info, ...this.#nodes.get(key(segments)), value: here });
      return value;
    }
    if (isScalar(node)) {
      // An empty value (`key:`) has a range at the next line; the key is the useful place.
      if (node.value === null && node.source === "" && keyPos) info.value = keyPos;
      if (typeof node.value !== "string") return node.value;
      return this.#substitute(node.value, node.type === "PLAIN", segments, info);
    }
    if (isMap(node)) {
      active.add(node);
      const out: Record<string, unknown> = {};
      const seen = new Map<string, Position>();
      for (const pair of node.items) {
        const keyNode = pair.key;
        const position = this.#pos(keyNode as { range?: [number, number, number] }) ?? here;
        let name: string;
        if (isScalar(keyNode) && keyNode.value !== null && typeof keyNode.value !== "object") {
          // Keys are never substituted: ${...} in a key stays literal (and is then an unknown key).
          name = String(keyNode.value);
        } else {
          this.#errors.push({
            path: formatPath(segments),
            ...position,
            message: "keys must be plain names like `port`; this key is empty or a list/mapping",
          });
          continue;
        }
        const first = seen.get(name);
        if (first) {
          this.#errors.push({
            path: formatPath([...segments, name]),
            ...position,
            message:
              `duplicate key \`${name}\` (first set on line ${first.line}); remove one of them`,
          });
          continue;
        }
        seen.set(name, position);
        define(out, name, this.#toValue(pair.value, [...segments, name], position, active));
      }
      active.delete(node);
      return out;
    }
    if (isSeq(node)) {
      active.add(node);
      const out = node.items.map((item, index) =>
        this.#toValue(item, [...segments, index], undefined, active)
      );
      active.delete(node);
      return out;
    }
    return null;
  }

  /**
   * Substitutes ${VAR} / ${VAR:-default} ("default" when VAR is unset or empty, as in the shell)
   * and $${ (a literal "${"). A substituted plain scalar is read again as a YAML scalar, so
   * `port: ${PORT:-8080}` is a number; quoted and block scalars stay strings.
   */
  #substitute(text: string, plain: boolean, segments: Segment[], info: NodeInfo): unknown {
    if (!text.includes("$")) return text;
    const secret = isSecretKey(String(segments.at(-1) ?? ""));
    const vars: string[] = [];
    let failed = false;
    const result = text.replace(
      /\$\$\{|\$\{([^}]*)(\})?/g,
      (match, body?: string, close?: string) => {
        if (match === "$${") return "${";
        const reference = /^([^:]*)(?::-([\s\S]*))?$/.exec(body ?? "");
        const name = reference?.[1] ?? "";
        if (close === undefined || !VAR_NAME.test(name)) {
          failed = true;
          const shown = secret ? "" : ` ${JSON.stringify(match)}`;
          this.#error(
            segments,
            close === undefined
              ? `unterminated environment variable reference${shown}: close it with "}" or write $\${ for a literal \${`
              : `invalid environment variable reference${shown}: write \${NAME} or \${NAME:-default}, ` +
                `NAME being letters, digits and _ not starting with a digit (or $\${ for a literal \${)`,
          );
          return "";
        }
        vars.push(name);
        let value: string | undefined;
        try {
          value = this.#lookup(name);
        } catch (error) {
          failed = true;
          this.#error(
            segments,
            `cannot read environment variable ${name}: ${
              error instanceof Error ? error.message : error
            }`,
          );
          return "";
        }
        const fallback = reference?.[2];
        if (fallback !== undefined && (value === undefined || value === "")) return fallback;
        if (value === undefined) {
          failed = true;
          this.#error(
            segments,
            `environment variable ${name} is not set (use \${${name}:-default} to give a default)`,
          );
          return "";
        }
        return value;
      },
    );
    if (failed) {
      this.#poisoned.add(key(segments));
      return result;
    }
    if (vars.length === 0) return result;
    info.vars = vars;
    if (!plain) return result;
    const value = readPlainScalar(result);
    if (typeof value !== "string") {
      this.#substitutedText.set(key(segments), { segments, text: result });
    }
    return value;
  }

  /**
   * `port: ${PORT}` must give a number, but `secret_key: ${SECRET}` with SECRET=12345 must give
   * the string "12345": the environment's text is not the user's YAML, so where the schema wants a
   * string, a substituted value YAML read as a number/boolean/null goes back to its text.
   * Returns whether anything changed (then the schema runs once more).
   */
  #retyped(
    root: Record<string, unknown>,
    issues: readonly { code?: string; path: PropertyKey[]; expected?: string }[],
  ) {
    let changed = false;
    for (const issue of issues) {
      if (issue.code !== "invalid_type" || issue.expected !== "string") continue;
      const substituted = this.#substitutedText.get(key(issue.path as Segment[]));
      if (!substituted) continue;
      const parent = valueAt(root, substituted.segments.slice(0, -1));
      const last = substituted.segments.at(-1);
      if (last === undefined || (typeof parent !== "object" || parent === null)) continue;
      define(parent as Record<string, unknown>, String(last), substituted.text);
      changed = true;
    }
    return changed;
  }

  /** Rejects not-yet-supported keys, warns about ignored ones, and removes both before the schema. */
  #applyKeyTables(root: Record<string, unknown>) {
    for (const row of NOT_YET_SUPPORTED) {
      for (const hit of findPaths(root, row.path)) {
        if (row.when && !row.when(hit.value)) continue;
        const name = String(hit.segments.at(-1));
        const label = row.label ?? `\`${name}\``;
        const fix = row.fix ?? "remove it for now";
        this.#error(
          hit.segments,
          `${label} is not supported yet (it lands with ${row.feature}); ${fix}`,
          { prefer: "key", whole: true },
        );
        this.#reported.add(key(hit.segments));
        delete hit.parent[name];
      }
    }
    for (const row of IGNORED_KEYS) {
      for (const hit of findPaths(root, row.path)) {
        const name = String(hit.segments.at(-1));
        this.#warnings.push({
          path: formatPath(hit.segments),
          ...this.#positionOf(hit.segments, "key"),
          message: `\`${name}\` is ignored: ${row.reason}; you can remove it`,
          segments: hit.segments,
          whole: true,
        });
        this.#reported.add(key(hit.segments));
        delete hit.parent[name];
      }
    }
  }

  #addSchemaIssue(
    root: Record<string, unknown>,
    issue: {
      code?: string;
      path: PropertyKey[];
      message: string;
      keys?: string[];
      params?: Record<string, unknown>;
    },
  ) {
    const segments = issue.path.map((part) => (typeof part === "number" ? part : String(part)));
    // A value whose substitution failed was already reported; its stand-in "" proves nothing.
    if (segments.some((_, length) => this.#poisoned.has(key(segments.slice(0, length + 1))))) {
      return;
    }
    // A schema backstop repeats a cross-field rule: only needed if nothing in its mapping was reported.
    if (issue.params?.backstop === true) {
      const parent = formatPath(segments.slice(0, -1));
      const covered = this.#errors.some((error) =>
        error.path === parent || error.path.startsWith(`${parent}.`) ||
        error.path.startsWith(`${parent}[`)
      );
      if (covered) return;
    }
    if (issue.code === "unrecognized_keys" && issue.keys) {
      for (const name of issue.keys) {
        const at = [...segments, name];
        const { message, suggestion } = unknownKey(name, segments, root);
        this.#error(at, message, { prefer: "key", whole: true });
        this.#reported.add(key(at));
        if (suggestion !== undefined) this.#suggested.add(key([...segments, suggestion]));
      }
      return;
    }
    const parent = valueAt(root, segments.slice(0, -1));
    const last = segments.at(-1);
    if (typeof last === "string" && isPlainObject(parent) && !Object.hasOwn(parent, last)) {
      const where = segments.length === 1
        ? "at the top level"
        : `under \`${formatPath(segments.slice(0, -1))}\``;
      this.#error(segments, `missing required key \`${last}\`; add \`${last}: ...\` ${where}`, {
        prefer: "key",
        missing: true,
      });
      return;
    }
    const info = this.#nodes.get(key(segments));
    const from = info?.vars?.length
      ? ` (the value came from ${info.vars.map((name) => `\${${name}}`).join(", ")})`
      : "";
    this.#error(segments, issue.message + from);
  }

  /** Cross-field rules: bucket names unique, path prefixes unique after normalisation. */
  #checkBuckets(root: Record<string, unknown>) {
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
          this.#error(
            ["buckets", index, "name"],
            `duplicate bucket name ${JSON.stringify(name)} (buckets[${first}]${
              this.#onLine(["buckets", first, "name"])
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
          this.#error(
            ["buckets", index, "path_prefix"],
            `${JSON.stringify(prefix)} routes the same paths as buckets[${first}].path_prefix${
              this.#onLine(["buckets", first, "path_prefix"])
            }; each bucket needs its own prefix`,
          );
        }
      }
    });
  }

  /**
   * Cross-field rules of authentication: key material that fits each JWT's algorithm, key entries,
   * token sources, claim values, and every `auth.enabled: true` bucket having a JWT to check.
   */
  #checkAuth(root: Record<string, unknown>) {
    // A `jwt` that is not a mapping is the schema's error; it still counts as "given" here.
    const topGiven = Object.hasOwn(root, "jwt");
    const top = asJwtMapping(root.jwt);
    const topEnabled = topGiven && top?.enabled !== false;
    if (top) this.#checkJwt(["jwt"], top, topEnabled);
    const admin = root.admin;
    if (isPlainObject(admin) && admin.allow_unauthenticated === true && topEnabled) {
      this.#warning(
        ["admin", "allow_unauthenticated"],
        "`allow_unauthenticated` has no effect: with a top-level `jwt`, admin routes need a token " +
          "that passes `jwt.admin_claims`",
        { prefer: "key" },
      );
    }
    const buckets = Array.isArray(root.buckets) ? root.buckets : [];
    buckets.forEach((bucket, index) => {
      if (!isPlainObject(bucket)) return;
      const auth = bucket.auth;
      if (isPlainObject(auth)) {
        const at: Segment[] = ["buckets", index, "auth"];
        const hasJwt = Object.hasOwn(auth, "jwt");
        const jwt = asJwtMapping(auth.jwt);
        if (hasJwt) {
          if (jwt?.enabled === false) {
            this.#error(
              [...at, "jwt", "enabled"],
              "a bucket's jwt cannot be disabled: to make the bucket public set " +
                "`auth.enabled: false`; to use the top-level jwt remove `auth.jwt`",
            );
          }
          if (!Object.hasOwn(auth, "enabled")) {
            this.#error(
              [...at, "enabled"],
              "`auth.jwt` is set but `auth.enabled` is not: add `enabled: true` to protect the " +
                "bucket with this jwt (or `enabled: false` to make it public)",
              { prefer: "key", missing: true },
            );
          } else if (auth.enabled === false) {
            this.#warning(
              [...at, "jwt"],
              "`jwt` is ignored because `auth.enabled` is false (the bucket is public); set " +
                "`enabled: true` to protect the bucket with it",
              { prefer: "key" },
            );
          }
          if (jwt) {
            this.#checkJwt([...at, "jwt"], jwt, auth.enabled !== false && jwt.enabled !== false);
          }
        } else if (auth.enabled === true && !topEnabled) {
          this.#error(
            [...at, "enabled"],
            authWithoutJwtMessage(bucket.name, index, topGiven ? "disabled" : "absent"),
          );
        }
      }
      const signed = bucket.signed_urls;
      if (isPlainObject(signed) && Array.isArray(signed.keys)) {
        this.#checkUniqueIds(["buckets", index, "signed_urls", "keys"], signed.keys);
      }
    });
  }

  /**
   * Cross-field rules of caching: the memory tier's item bound fits in its size bound, and a
   * bucket's `cache` has an effect (a top-level cache, an item bound the tier does not cap).
   */
  #checkCache(root: Record<string, unknown>) {
    const topGiven = Object.hasOwn(root, "cache");
    const top = root.cache === null ? {} : root.cache;
    let tierItem: { mb: number; isDefault: boolean } | undefined;
    if (isPlainObject(top)) {
      const memory = top.memory === null || top.memory === undefined ? {} : top.memory;
      if (isPlainObject(memory)) {
        const at: Segment[] = ["cache", "memory"];
        const item = this.#megabytes([...at, "max_item_size_mb"], memory, "max_item_size_mb");
        const cache = this.#megabytes([...at, "max_cache_size_mb"], memory, "max_cache_size_mb");
        if (item) tierItem = item;
        if (item && cache && item.mb > cache.mb) {
          this.#error(
            [...at, cache.isDefault ? "max_item_size_mb" : "max_cache_size_mb"],
            cacheSizeProblem(item.mb, cache.mb, { item: item.isDefault, cache: cache.isDefault }),
          );
        }
      }
    }
    const topEnabled = topGiven && isPlainObject(top) && top.enabled !== false;
    const buckets = Array.isArray(root.buckets) ? root.buckets : [];
    buckets.forEach((bucket, index) => {
      if (!isPlainObject(bucket) || !Object.hasOwn(bucket, "cache")) return;
      const own = bucket.cache === null ? {} : bucket.cache;
      if (!isPlainObject(own)) return;
      const at: Segment[] = ["buckets", index, "cache"];
      if (own.enabled === false) {
        for (const name of ["ttl_seconds", "max_item_size_mb"]) {
          if (!this.#given([...at, name], own[name])) continue;
          this.#warning(
            [...at, name],
            `\`${name}\` is ignored because this bucket's \`cache.enabled\` is false (the bucket ` +
              "is never cached); remove it, or set `enabled: true`",
            { prefer: "key" },
          );
        }
        return;
      }
      if (!topEnabled) {
        const why = !topGiven
          ? "is absent; add `cache: {}` at the top level to cache objects in memory"
          : `is disabled (\`enabled: false\`${
            this.#onLine(["cache", "enabled"])
          }); enable it, or remove this bucket's \`cache\``;
        this.#warning(
          at,
          `this bucket's \`cache\` has no effect: the top-level \`cache\` ${why}`,
          { prefer: "key" },
        );
        return;
      }
      const item = this.#megabytes([...at, "max_item_size_mb"], own, "max_item_size_mb");
      if (item && !item.isDefault && tierItem && item.mb > tierItem.mb) {
        this.#warning(
          [...at, "max_item_size_mb"],
          `${item.mb} MiB is larger than cache.memory.max_item_size_mb (${tierItem.mb}${
            tierItem.isDefault ? ", the default" : ""
          }), which still applies: objects over ${tierItem.mb} MiB are never cached`,
        );
      }
    });
  }

  /**
   * A `*_mb` value of `mapping` as the schema reads it: the default when left out, undefined when
   * it is invalid (the schema reports that) or has no default.
   */
  #megabytes(
    segments: Segment[],
    mapping: Record<string, unknown>,
    name: "max_item_size_mb" | "max_cache_size_mb",
  ): { mb: number; isDefault: boolean } | undefined {
    const value = mapping[name];
    if (value === undefined || (value === null && segments[0] === "buckets")) {
      const fallback = segments[0] === "cache" ? MEMORY_CACHE_DEFAULTS[name] : undefined;
      return fallback === undefined ? undefined : { mb: fallback, isDefault: true };
    }
    if (this.#poisoned.has(key(segments)) || typeof value !== "number") return undefined;
    if (!(value > 0 && value <= MAX_MEGABYTES && megabytesToBytes(value) >= 1)) return undefined;
    return { mb: value, isDefault: false };
  }

  /** One `jwt` mapping; `used` = it guards something (a disabled one only has its shape checked). */
  #checkJwt(at: Segment[], jwt: Record<string, unknown>, used: boolean) {
    const given = (name: string) => this.#given([...at, name], jwt[name]);
    const keys = Array.isArray(jwt.keys) ? jwt.keys : [];
    this.#checkUniqueIds([...at, "keys"], keys);
    keys.forEach((entry, index) => {
      if (!isPlainObject(entry) || !isJwtAlgorithm(entry.algorithm)) return;
      const here = [...at, "keys", index];
      const hmac = entry.algorithm.startsWith("HS");
      const [need, wrong] = hmac ? ["secret", "path"] : ["path", "secret"];
      const hasWrong = this.#given([...here, wrong], entry[wrong]);
      if (!this.#given([...here, need], entry[need])) {
        const instead = hasWrong
          ? `, not \`${wrong}\` (which is for ${
            hmac ? "RS*, PS*, ES* and EdDSA" : "HS256, HS384 and HS512"
          } keys)`
          : "";
        const what = hmac
          ? `\`secret\` (at least ${MIN_SECRET_LENGTH} characters; ${MAKE_SECRET})`
          : "`path` (a PEM file with its public key or certificate)";
        this.#error(
          [...here, need],
          `a key with algorithm ${entry.algorithm} needs ${what}${instead}`,
          { prefer: "key", missing: true },
        );
      } else if (hasWrong) {
        this.#error(
          [...here, wrong],
          `a key with algorithm ${entry.algorithm} uses \`${need}\`, not \`${wrong}\`; remove \`${wrong}\``,
          { prefer: "key" },
        );
      }
      if (hmac && used) this.#checkSecretLength([...here, "secret"], entry.secret);
    });
    const sources = Array.isArray(jwt.token_sources) ? jwt.token_sources : [];
    sources.forEach((source, index) => {
      if (isPlainObject(source)) this.#checkTokenSource([...at, "token_sources", index], source);
    });
    for (const list of ["claims", "admin_claims"]) {
      const rules = jwt[list];
      if (!Array.isArray(rules)) continue;
      rules.forEach((rule, index) => {
        if (!isPlainObject(rule) || !Object.hasOwn(rule, "value")) return;
        const operator = CLAIM_OPERATORS.find((name) => name === rule.operator);
        if (operator === undefined) return;
        const segments = [...at, list, index, "value"];
        if (this.#poisoned.has(key(segments))) return;
        const problem = claimValueProblem(operator, rule.value);
        if (problem) this.#error(segments, problem);
      });
    }
    if (!used) return;

    const defaulted = jwt.algorithm === undefined || jwt.algorithm === null;
    const algorithm = defaulted ? "HS256" : jwt.algorithm;
    // An algorithm the schema rejects has no key family to check against.
    if (!isJwtAlgorithm(algorithm)) return;
    const has: KeyMaterial = {
      secret: given("secret"),
      rsaPublicKeyPath: given("rsa_public_key_path"),
      ecdsaPublicKeyPath: given("ecdsa_public_key_path"),
      keys: keys.length > 0 || this.#poisoned.has(key([...at, "keys"])),
      jwksUrl: given("jwks_url"),
    };
    const problem = keyMaterialProblem(algorithm, defaulted, has);
    if (problem) {
      const fixes = ["secret", "rsa_public_key_path", "ecdsa_public_key_path", "keys", "jwks_url"];
      this.#error(at, problem, {
        prefer: "key",
        satisfiedBy: fixes.map((name) => [...at, name]),
      });
    } else {
      for (const unused of unusedKeyMaterial(algorithm, has)) {
        this.#warning([...at, unused.key], unused.message, { prefer: "key" });
      }
      if (algorithm.startsWith("HS")) this.#checkSecretLength([...at, "secret"], jwt.secret);
    }
    if (typeof jwt.jwks_url === "string" && insecureRemoteUrl(jwt.jwks_url)) {
      this.#warning(
        [...at, "jwks_url"],
        "`jwks_url` uses http://: anyone on the network path could swap the keys and forge " +
          "tokens; use https://",
      );
    }
  }

  #checkTokenSource(at: Segment[], source: Record<string, unknown>) {
    const type = source.type;
    const name = source.name;
    if (type === "header" || type === "query" || type === "cookie") {
      const what = {
        header: "the header to read, like X-Auth-Token",
        query: "the query parameter to read, like token",
        cookie: "the cookie to read, like session",
      }[type];
      if (!this.#given([...at, "name"], name)) {
        this.#error([...at, "name"], `a \`${type}\` token source needs \`name\`: ${what}`, {
          prefer: "key",
          missing: true,
        });
      } else if (
        typeof name === "string" && type !== "query" && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)
      ) {
        this.#error(
          [...at, "name"],
          `${JSON.stringify(name)} is not a valid ${type} name: use letters, digits and ` +
            '!#$%&\'*+-.^_`|~ (no spaces or ":")',
        );
      }
      if (
        type === "header" && typeof name === "string" && name.toLowerCase() === "authorization" &&
        !this.#given([...at, "prefix"], source.prefix)
      ) {
        this.#warning(
          [...at, "name"],
          'the Authorization header holds "Bearer <token>": use `type: bearer`, or set ' +
            '`prefix: "Bearer "`',
        );
      }
    } else if (type === "bearer" && this.#given([...at, "name"], name)) {
      this.#warning(
        [...at, "name"],
        "`name` is ignored: a `bearer` source always reads the Authorization header",
        { prefer: "key" },
      );
    }
    if (
      (type === "bearer" || type === "query" || type === "cookie") &&
      this.#given([...at, "prefix"], source.prefix)
    ) {
      this.#warning([...at, "prefix"], "`prefix` is ignored: only `header` sources use it", {
        prefer: "key",
      });
    }
  }

  /** A weak HMAC secret is a warning: tokens signed with it can be brute-forced offline. */
  #checkSecretLength(segments: Segment[], secret: unknown) {
    if (typeof secret !== "string" || secret === "" || this.#poisoned.has(key(segments))) return;
    if (secret.length >= MIN_SECRET_LENGTH) return;
    this.#warning(
      segments,
      `the secret is shorter than ${MIN_SECRET_LENGTH} characters, so tokens signed with it can ` +
        `be brute-forced; use at least ${MIN_SECRET_LENGTH} (${MAKE_SECRET})`,
    );
  }

  /** `id`s of the mappings in `list` are unique (JWT keys, signed-URL keys). */
  #checkUniqueIds(at: Segment[], list: unknown[]) {
    const ids = new Map<string, number>();
    list.forEach((entry, index) => {
      if (!isPlainObject(entry) || typeof entry.id !== "string" || entry.id.trim() === "") return;
      const first = ids.get(entry.id);
      if (first === undefined) {
        ids.set(entry.id, index);
        return;
      }
      const name = String(at.at(-1));
      this.#error(
        [...at, index, "id"],
        `duplicate key id ${JSON.stringify(entry.id)} (${name}[${first}]${
          this.#onLine([...at, first, "id"])
        } uses it too); key ids must be unique`,
      );
    });
  }

  /** Set to something (an empty value is not), or its substitution failed (already reported). */
  #given(segments: Segment[], value: unknown): boolean {
    return (value !== undefined && value !== null && value !== "") ||
      this.#poisoned.has(key(segments));
  }

  #onLine(segments: Segment[]): string {
    const line = this.#nodes.get(key(segments))?.value.line;
    return line === undefined ? "" : ` on line ${line}`;
  }
}

/** A `jwt` value as the schema reads it (empty = all defaults), or undefined if it is no mapping. */
function asJwtMapping(value: unknown): Record<string, unknown> | undefined {
  if (value === null) return {};
  return isPlainObject(value) ? value : undefined;
}

/** An http:// URL to another machine (loopback is fine for tests and sidecars). */
function insecureRemoteUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === "http:" &&
    !["localhost", "127.0.0.1", "[::1]"].includes(url.hostname) &&
    !url.hostname.endsWith(".localhost");
}

/** The "did you mean" / "allowed keys" message for an unknown key in the mapping at `parent`. */
function unknownKey(
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

/** Levenshtein distance (small strings only: config keys). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Reads a substituted plain scalar as the YAML 1.2 core schema would. */
export function readPlainScalar(text: string): unknown {
  if (/^(?:~|null|Null|NULL)?$/.test(text)) return null;
  if (/^(?:true|True|TRUE)$/.test(text)) return true;
  if (/^(?:false|False|FALSE)$/.test(text)) return false;
  if (/^[-+]?[0-9]+$/.test(text)) return Number.parseInt(text, 10);
  if (/^0o[0-7]+$/.test(text)) return Number.parseInt(text.slice(2), 8);
  if (/^0x[0-9a-fA-F]+$/.test(text)) return Number.parseInt(text.slice(2), 16);
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(text)) return Number(text);
  if (/^[-+]?\.(?:inf|Inf|INF)$/.test(text)) return text.startsWith("-") ? -Infinity : Infinity;
  if (/^\.(?:nan|NaN|NAN)$/.test(text)) return NaN;
  return text;
}

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

function key(segments: readonly Segment[]): string {
  return JSON.stringify(segments);
}

/** "buckets[].s3" for ["buckets", 3, "s3"]: the SECTION_KEYS key for a concrete path. */
function patternOf(segments: readonly Segment[]): string {
  let out = "";
  for (const segment of segments) {
    if (typeof segment === "number") out += "[]";
    else out += out === "" ? segment : `.${segment}`;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Sets a key even when it is "__proto__" (a YAML key must never change a prototype). */
function define(target: Record<string, unknown>, name: string, value: unknown) {
  Object.defineProperty(target, name, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function valueAt(root: unknown, segments: readonly Segment[]): unknown {
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
function findPaths(
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

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort((a, b) =>
      (a.issue.line ?? 0) - (b.issue.line ?? 0) ||
      (a.issue.column ?? 0) - (b.issue.column ?? 0) ||
      a.index - b.index
    )
    .map(({ issue }) => issue);
}
