// Owns the schema of `audit_log`: outputs (file, stdout), the audit file and its rotation.

import { z } from "zod";
import { AUDIT_OUTPUTS, type AuditLogConfig, type AuditOutput } from "./types.ts";
import { expecting, list, nonEmptyString, oneOf, optional, section } from "./schema_support.ts";

/** Bytes in a MiB (`max_file_size_mb` counts in MiB, fractions allowed). */
const MIB = 1024 * 1024;
/** Largest `max_file_size_mb`: 1 TiB, as for the cache sizes. */
const MAX_FILE_MB = 1_048_576;
/** Most rotated files kept: each rotation renames every one of them. */
export const MAX_BACKUP_FILES = 1000;
/** Bounds of `buffer_size` in bytes: one 4 KiB page to 64 MiB. */
const MIN_BUFFER = 4096;
const MAX_BUFFER = 64 * MIB;

/** The defaults, as written in YAML. */
export const AUDIT_DEFAULTS = {
  max_file_size_mb: 50,
  max_backup_files: 5,
  rotation_policy: "size",
  buffer_size: 1_048_576,
} as const;

/** Outputs the original offered that this gateway does not have, and what to do instead. */
const UNSUPPORTED_OUTPUTS: Readonly<Record<string, string>> = {
  syslog: "ship the audit file (or stdout) with your log collector (rsyslog, Vector, Fluent Bit)",
  s3: "ship the audit file to S3 with your log collector, or upload its rotated files",
};

/** Why an entry of `audit_log.outputs` is unusable, if it is. */
export function auditOutputProblem(output: string): string | undefined {
  if ((AUDIT_OUTPUTS as readonly string[]).includes(output)) return undefined;
  const shown = JSON.stringify(output);
  const lower = output.trim().toLowerCase();
  const instead = UNSUPPORTED_OUTPUTS[lower];
  if (instead !== undefined) {
    return `the ${shown} audit output is not supported by this gateway; use "file" or "stdout" ` +
      `and ${instead}`;
  }
  const known = AUDIT_OUTPUTS.find((name) => name === lower);
  if (known !== undefined) return `unknown audit output ${shown}; write "${known}" (lowercase)`;
  return `unknown audit output ${shown}; the outputs are "file" and "stdout"`;
}

const auditOutput = z.string({ error: expecting('an output name like "file"', { text: true }) })
  .superRefine((value, ctx) => {
    const problem = auditOutputProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
  });

const outputs = list(auditOutput, {
  expected: "a list of outputs like [file]",
  fallback: () => ["file"],
  empty: "at least one output is needed, like [file] or [stdout]; to turn the audit log off, " +
    "set `enabled: false`",
}).superRefine((values, ctx) => {
  const seen = new Map<string, number>();
  values.forEach((value, index) => {
    const first = seen.get(value);
    if (first === undefined) {
      seen.set(value, index);
      return;
    }
    ctx.addIssue({
      code: "custom",
      path: [index],
      input: value,
      message: `${
        JSON.stringify(value)
      } is listed twice (outputs[${first}]); list each output once`,
    });
  });
});

function fileSizeMb() {
  const expected = `a number of MiB greater than 0 and at most ${MAX_FILE_MB}, like 50 or 0.5`;
  return z.number({ error: expecting(expected) }).superRefine((value, ctx) => {
    // A file must hold at least one line; 4 KiB is far below any sensible setting anyway.
    if (value > 0 && value <= MAX_FILE_MB && value * MIB >= MIN_BUFFER / 4) return;
    ctx.addIssue({
      code: "custom",
      input: value,
      message: value > 0 && value <= MAX_FILE_MB
        ? `${value} MiB is under 1 KiB, too small to hold an audit line; expected ${expected}`
        : expecting(expected)({ input: value }),
    });
  });
}

const backupFilesError = expecting(`a whole number of files from 0 to ${MAX_BACKUP_FILES}`);
const bufferError = expecting(
  `a whole number of bytes from ${MIN_BUFFER} to ${MAX_BUFFER} (64 MiB), like 1048576`,
);
const ROTATION_POLICIES = ["size", "daily"] as const;

export const AUDIT_FILE_SHAPE = {
  path: optional(nonEmptyString()),
  max_file_size_mb: fileSizeMb().default(AUDIT_DEFAULTS.max_file_size_mb),
  max_backup_files: z.int({ error: backupFilesError }).min(0, { error: backupFilesError })
    .max(MAX_BACKUP_FILES, { error: backupFilesError }).default(AUDIT_DEFAULTS.max_backup_files),
  rotation_policy: z.enum(ROTATION_POLICIES, { error: expecting(oneOf(ROTATION_POLICIES)) })
    .default(AUDIT_DEFAULTS.rotation_policy),
  buffer_size: z.int({ error: bufferError }).min(MIN_BUFFER, { error: bufferError })
    .max(MAX_BUFFER, { error: bufferError }).default(AUDIT_DEFAULTS.buffer_size),
};

const auditFileSchema = section(
  z.strictObject(AUDIT_FILE_SHAPE, {
    error: expecting("a mapping like {path: /var/log/yatagarasu/audit.log}"),
  }),
);

/** A block of the original (`syslog`, `s3_export`) that is rejected with what to do instead. */
function unsupportedBlock(name: string, instead: string) {
  return z.unknown().superRefine((value, ctx) => {
    // `syslog:` with every key commented out configures nothing: harmless.
    if (value === undefined || value === null) return;
    ctx.addIssue({
      code: "custom",
      input: value,
      message: `\`${name}\` is not supported by this gateway; remove it, write the audit log to ` +
        `"file" or "stdout" and ${instead}`,
    });
  }).optional();
}

export const AUDIT_LOG_SHAPE = {
  enabled: z.boolean({ error: expecting("true or false") }).default(false),
  outputs,
  file: auditFileSchema,
  syslog: unsupportedBlock("syslog", UNSUPPORTED_OUTPUTS.syslog!),
  s3_export: unsupportedBlock("s3_export", UNSUPPORTED_OUTPUTS.s3!),
};

/** `audit_log`: undefined unless `enabled: true` (its keys are checked either way). */
export const auditLogSchema = z.strictObject(AUDIT_LOG_SHAPE, {
  error: expecting("a mapping of audit log settings like {enabled: true, outputs: [file]}"),
}).superRefine((raw, ctx) => {
  if (!raw.enabled) return;
  if (!raw.outputs.includes("file") || raw.file.path !== undefined) return;
  // Reported on the block: `outputs` defaults to [file], so it may not be written at all.
  ctx.addIssue({
    code: "custom",
    input: raw,
    message:
      "the file output (outputs defaults to [file]) needs a file: set audit_log.file.path, " +
      "like `file: {path: /var/log/yatagarasu/audit.log}`, or use outputs: [stdout]",
  });
}).transform((raw): AuditLogConfig | undefined => {
  if (!raw.enabled) return undefined;
  const chosen = raw.outputs as AuditOutput[];
  const file = raw.file;
  return {
    outputs: chosen,
    file: chosen.includes("file") && file.path !== undefined
      ? {
        path: file.path,
        maxFileBytes: Math.floor(file.max_file_size_mb * MIB),
        maxBackupFiles: file.max_backup_files,
        rotation: file.rotation_policy,
      }
      : undefined,
    bufferBytes: file.buffer_size,
  };
});
