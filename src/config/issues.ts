// Owns the shape of a config issue (path, line, column, message), its one-line formatting, its
// ordering, and the interface the cross-field checks report issues through.

import type { Segment } from "./paths.ts";

export interface ConfigIssue {
  /** "buckets[1].s3.region", or "" for the root / the file as a whole. */
  path: string;
  /** 1-based line of the offending node, when known. */
  line?: number;
  /** 1-based column of the offending node, when known. */
  column?: number;
  message: string;
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

export interface Position {
  line: number;
  column: number;
}
/**
 * An issue plus what #result needs to drop noise: its path as segments, whether it reports a key
 * as a whole (unknown / not supported: nothing at or below it matters), and whether it is a
 * "missing key" error (dropped when a misspelt sibling key was already pointed at it).
 */
export type Issue = ConfigIssue & {
  segments?: Segment[];
  whole?: boolean;
  missing?: boolean;
  /** Keys any one of which would fix this error: dropped when a misspelt key was pointed at one. */
  satisfiedBy?: Segment[][];
};

export interface IssueOptions {
  prefer?: "key" | "value";
  whole?: boolean;
  missing?: boolean;
  satisfiedBy?: Segment[][];
}

/** How the cross-field checks (checks_*.ts) report issues and read what the loader knows. */
export interface CheckContext {
  error(segments: Segment[], message: string, options?: IssueOptions): void;
  warning(segments: Segment[], message: string, options?: { prefer?: "key" | "value" }): void;
  /** Set to something (an empty value is not), or its substitution failed (already reported). */
  given(segments: Segment[], value: unknown): boolean;
  /** The value at `segments` already has an error (a failed substitution). */
  poisoned(segments: Segment[]): boolean;
  /** " on line N" for the node at `segments`, or "" when its line is unknown. */
  onLine(segments: Segment[]): string;
}

export function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort((a, b) =>
      (a.issue.line ?? 0) - (b.issue.line ?? 0) ||
      (a.issue.column ?? 0) - (b.issue.column ?? 0) ||
      a.index - b.index
    )
    .map(({ issue }) => issue);
}
