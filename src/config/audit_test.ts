// Owns the unit tests of the `audit_log` config: defaults, the camelCase result, every rule and
// message, the unsupported outputs and blocks of the original, and positions.

import assert from "node:assert/strict";
import { parseConfig } from "./load.ts";
import { SECTION_KEYS } from "./schema.ts";
import { auditOutputProblem } from "./schema_audit.ts";
import {
  assertOne,
  assertOneError,
  errors,
  ok,
  parseRaw,
  type RuleCase,
  setPath,
  show,
  twoRawBuckets,
} from "./_test_support.ts";

function auditRaw(audit: unknown): Record<string, unknown> {
  return { buckets: twoRawBuckets(), audit_log: audit };
}

const BASE = [
  "buckets:", //                                                          1
  "  - name: a", //                                                       2
  "    path_prefix: /a", //                                               3
  "    s3: {bucket: abc, access_key: k, secret_key: s}", //               4
];

function parseLines(...lines: string[]) {
  return parseConfig([...BASE, ...lines].join("\n"), { env: {} });
}

Deno.test("audit_log: absent, empty or enabled: false leaves Config.auditLog out", () => {
  assert.ok(!("auditLog" in ok(parseRaw({ buckets: twoRawBuckets() }))));
  for (const text of ["audit_log:", "audit_log: {}", "audit_log:\n  enabled: false"]) {
    assert.equal(ok(parseLines(text)).auditLog, undefined, text);
  }
});

Deno.test("audit_log: the file output with every default, sizes in bytes", () => {
  const config = ok(parseRaw(auditRaw({ enabled: true, file: { path: "/var/log/a.log" } })));
  assert.deepEqual(config.auditLog, {
    outputs: ["file"],
    file: {
      path: "/var/log/a.log",
      maxFileBytes: 50 * 1024 * 1024,
      maxBackupFiles: 5,
      rotation: "size",
    },
    bufferBytes: 1_048_576,
  });
});

Deno.test("audit_log: every key given, both outputs, fractions of a MiB", () => {
  const config = ok(parseRaw(auditRaw({
    enabled: true,
    outputs: ["stdout", "file"],
    file: {
      path: "./logs/audit.log",
      max_file_size_mb: 0.5,
      max_backup_files: 0,
      rotation_policy: "daily",
      buffer_size: 4096,
    },
  })));
  assert.deepEqual(config.auditLog, {
    outputs: ["stdout", "file"],
    file: { path: "./logs/audit.log", maxFileBytes: 524_288, maxBackupFiles: 0, rotation: "daily" },
    bufferBytes: 4096,
  });
});

Deno.test("audit_log: stdout alone needs no file", () => {
  const config = ok(parseRaw(auditRaw({ enabled: true, outputs: ["stdout"] })));
  assert.deepEqual(config.auditLog, {
    outputs: ["stdout"],
    file: undefined,
    bufferBytes: 1_048_576,
  });
});

Deno.test("audit_log: the file output without a path says what to write", () => {
  for (
    const audit of [{ enabled: true }, { enabled: true, file: {} }, { enabled: true, file: null }]
  ) {
    assertOneError(
      parseRaw(auditRaw(audit)),
      "audit_log",
      "the file output (outputs defaults to [file]) needs a file: set audit_log.file.path, like " +
        "`file: {path: /var/log/yatagarasu/audit.log}`, or use outputs: [stdout]",
    );
  }
  // Disabled, a missing path is fine: nothing is opened.
  ok(parseRaw(auditRaw({ enabled: false })));
});

const RULES: RuleCase[] = [
  {
    name: "enabled is a boolean",
    path: "audit_log.enabled",
    value: "yes",
    message: 'expected true or false, got "yes"',
  },
  {
    name: "outputs is a list",
    path: "audit_log.outputs",
    value: "file",
    message: 'expected a list of outputs like [file], got "file"',
  },
  {
    name: "outputs may not be empty",
    path: "audit_log.outputs",
    value: [],
    message: "at least one output is needed, like [file] or [stdout]; to turn the audit log off, " +
      "set `enabled: false`",
  },
  {
    name: "syslog output",
    path: "audit_log.outputs",
    value: ["syslog"],
    errorPath: "audit_log.outputs[0]",
    message: 'the "syslog" audit output is not supported by this gateway; use "file" or "stdout" ' +
      "and ship the audit file (or stdout) with your log collector (rsyslog, Vector, Fluent Bit)",
  },
  {
    name: "s3 output",
    path: "audit_log.outputs",
    value: ["stdout", "s3"],
    errorPath: "audit_log.outputs[1]",
    message: /^the "s3" audit output is not supported by this gateway; use "file" or "stdout"/,
  },
  {
    name: "output in capitals",
    path: "audit_log.outputs",
    value: ["STDOUT"],
    errorPath: "audit_log.outputs[0]",
    message: 'unknown audit output "STDOUT"; write "stdout" (lowercase)',
  },
  {
    name: "unknown output",
    path: "audit_log.outputs",
    value: ["kafka"],
    errorPath: "audit_log.outputs[0]",
    message: 'unknown audit output "kafka"; the outputs are "file" and "stdout"',
  },
  {
    name: "output listed twice",
    path: "audit_log.outputs",
    value: ["stdout", "stdout"],
    errorPath: "audit_log.outputs[1]",
    message: '"stdout" is listed twice (outputs[0]); list each output once',
  },
  {
    name: "empty path",
    path: "audit_log.file.path",
    value: "  ",
    message: 'expected a non-empty string, got "  "',
  },
  {
    name: "size zero",
    path: "audit_log.file.max_file_size_mb",
    value: 0,
    message: "expected a number of MiB greater than 0 and at most 1048576, like 50 or 0.5, got 0",
  },
  {
    name: "size too small for a line",
    path: "audit_log.file.max_file_size_mb",
    value: 0.0001,
    message: "0.0001 MiB is under 1 KiB, too small to hold an audit line; expected a number of " +
      "MiB greater than 0 and at most 1048576, like 50 or 0.5",
  },
  {
    name: "size quoted",
    path: "audit_log.file.max_file_size_mb",
    value: "50",
    message:
      'expected a number of MiB greater than 0 and at most 1048576, like 50 or 0.5, got "50"' +
      " (a string; remove the quotes)",
  },
  {
    name: "negative backups",
    path: "audit_log.file.max_backup_files",
    value: -1,
    message: "expected a whole number of files from 0 to 1000, got -1",
  },
  {
    name: "fractional backups",
    path: "audit_log.file.max_backup_files",
    value: 2.5,
    message: "expected a whole number of files from 0 to 1000, got 2.5",
  },
  {
    name: "unknown rotation policy",
    path: "audit_log.file.rotation_policy",
    value: "hourly",
    message: 'expected one of "size", "daily", got "hourly"',
  },
  {
    name: "buffer too small",
    path: "audit_log.file.buffer_size",
    value: 100,
    message:
      "expected a whole number of bytes from 4096 to 67108864 (64 MiB), like 1048576, got 100",
  },
  {
    name: "syslog block",
    path: "audit_log.syslog",
    value: { address: "127.0.0.1:514", protocol: "udp" },
    message:
      /^`syslog` is not supported by this gateway; remove it, write the audit log to "file" or "stdout" and ship/,
  },
  {
    name: "s3_export block",
    path: "audit_log.s3_export",
    value: { bucket: "audit", region: "us-east-1" },
    message: /^`s3_export` is not supported by this gateway; remove it/,
  },
  {
    name: "unknown key with a hint",
    path: "audit_log.file.rotation_polcy",
    value: "size",
    message: "unknown key `rotation_polcy`; did you mean `rotation_policy`?",
  },
];

for (const rule of RULES) {
  Deno.test(`audit_log rule: ${rule.name}`, () => {
    // Rules are checked whether or not the log is enabled; the stdout output needs no file.
    for (const enabled of [true, false]) {
      const raw = auditRaw({ enabled, outputs: ["stdout"] });
      setPath(raw, rule.path, rule.value);
      assertOneError(parseRaw(raw), rule.errorPath ?? rule.path, rule.message);
    }
  });
}

Deno.test("audit_log: log_level is accepted with a warning saying why it means nothing", () => {
  const result = parseLines(
    "audit_log:",
    "  enabled: true",
    "  outputs: [stdout]",
    "  log_level: info",
  );
  const config = ok(result);
  assert.deepEqual(config.auditLog?.outputs, ["stdout"]);
  assertOne(
    result.warnings,
    "audit_log.log_level",
    "`log_level` is ignored: every request is audited: audit lines have no level, and " +
      "logging.level does not filter them; you can remove it",
  );
  assert.equal(result.warnings[0]?.line, 8);
});

Deno.test("audit_log: errors point at the offending line", () => {
  const result = parseLines(
    "audit_log:", //                                    5
    "  enabled: true", //                               6
    "  outputs: [file, syslog]", //                     7
    "  file:", //                                       8
    "    path: /tmp/a.log", //                          9
    "    max_backup_files: many", //                    10
  );
  const issues = errors(result);
  assert.deepEqual(
    issues.map((issue) => [issue.path, issue.line]),
    [["audit_log.outputs[1]", 7], ["audit_log.file.max_backup_files", 10]],
    show(issues),
  );
});

Deno.test("audit_log: the key tables know its sections", () => {
  assert.deepEqual(SECTION_KEYS["audit_log"], [
    "enabled",
    "outputs",
    "file",
    "syslog",
    "s3_export",
  ]);
  assert.deepEqual(SECTION_KEYS["audit_log.file"], [
    "path",
    "max_file_size_mb",
    "max_backup_files",
    "rotation_policy",
    "buffer_size",
  ]);
  assert.equal(auditOutputProblem("file"), undefined);
  assert.equal(auditOutputProblem("stdout"), undefined);
});
