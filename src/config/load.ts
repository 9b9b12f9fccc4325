// Owns loading a config (parseConfig, loadConfigFile): YAML to plain values with positions, the
// key tables, the schema run, and schema issues placed at their node; checks live in checks_*.ts.

import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Document } from "yaml";
import {
  configSchema,
  describeValue,
  IGNORED_KEYS,
  isSecretKey,
  NOT_YET_SUPPORTED,
} from "./schema.ts";
import {
  type ConfigIssue,
  type Issue,
  type IssueOptions,
  type Position,
  sortIssues,
} from "./issues.ts";
import type { CheckContext } from "./issues.ts";
import {
  define,
  findPaths,
  formatPath,
  isPlainObject,
  key,
  type Segment,
  valueAt,
} from "./paths.ts";
import { type Lookup, processEnv, readPlainScalar, substituteEnv } from "./env_substitution.ts";
import { unknownKey } from "./did_you_mean.ts";
import { checkBuckets } from "./checks_buckets.ts";
import { checkAuth } from "./checks_auth.ts";
import { checkCache } from "./checks_cache.ts";
import type { Config } from "./types.ts";
import { errorMessage } from "../errors.ts";

// The public API of config loading; the pieces live in the modules imported above.
export { type ConfigIssue, formatIssue } from "./issues.ts";
export { formatPath } from "./paths.ts";
export { readPlainScalar } from "./env_substitution.ts";
export { editDistance } from "./did_you_mean.ts";

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
          errorMessage(error)
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
    const reason = errorMessage(error);
    return {
      ok: false,
      errors: [{ path: "", message: `cannot read config file ${JSON.stringify(path)}: ${reason}` }],
      warnings: [],
    };
  }
  return parseConfig(text, { ...options, source: path });
}

// ---- internals ------------------------------------------------------------------------------

interface NodeInfo {
  /** Where the key that introduced this value is (absent for list elements and the root). */
  key?: Position;
  /** Where the value itself is. */
  value: Position;
  /** Variables substituted into this scalar, for messages about the result. */
  vars?: string[];
}

/** Every alias expansion costs one unit; bounds "billion laughs" documents. */
const NODE_BUDGET = 100_000;

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
    const checks = this.#checkContext();
    checkBuckets(checks, root);
    checkAuth(checks, root);
    checkCache(checks, root);
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
   * Substitutes ${VAR} in a scalar (see substituteEnv). A substituted plain scalar is read again as
   * a YAML scalar, so `port: ${PORT:-8080}` is a number; quoted and block scalars stay strings.
   */
  #substitute(text: string, plain: boolean, segments: Segment[], info: NodeInfo): unknown {
    if (!text.includes("$")) return text;
    const secret = isSecretKey(String(segments.at(-1) ?? ""));
    const { text: result, vars, failed } = substituteEnv(
      text,
      secret,
      this.#lookup,
      (message) => this.#error(segments, message),
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

  /** What the cross-field checks (checks_*.ts) see of this loader. */
  #checkContext(): CheckContext {
    return {
      error: (segments, message, options) => this.#error(segments, message, options),
      warning: (segments, message, options) => this.#warning(segments, message, options),
      given: (segments, value) => this.#given(segments, value),
      poisoned: (segments) => this.#poisoned.has(key(segments)),
      onLine: (segments) => this.#onLine(segments),
    };
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
