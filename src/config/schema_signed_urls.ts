// Owns the schema of `buckets[].signed_urls` (signing keys and the longest expiry).

import { z } from "zod";
import type { SignedUrlsConfig } from "./types.ts";
import { type ErrorFn, expecting, MAKE_SECRET, MIN_SECRET_LENGTH } from "./schema_support.ts";

/** Longest `signed_urls.max_expiry_seconds`: one year. */
export const MAX_EXPIRY_SECONDS = 31_536_000;

const signedUrlSecret = z.string({
  error: expecting(`a secret of at least ${MIN_SECRET_LENGTH} characters (${MAKE_SECRET})`, {
    secret: true,
    text: true,
  }),
}).superRefine((value, ctx) => {
  if (value.length >= MIN_SECRET_LENGTH) return;
  ctx.addIssue({
    code: "custom",
    message: value === ""
      ? `expected a secret of at least ${MIN_SECRET_LENGTH} characters (${MAKE_SECRET}), got an empty string ""`
      : `the secret is shorter than ${MIN_SECRET_LENGTH} characters; ${MAKE_SECRET}`,
    input: value,
  });
});

export const SIGNED_URL_KEY_SHAPE = {
  id: z.string({ error: expecting('a key id like "2024-06"', { text: true }) }).regex(
    /^[A-Za-z0-9._~-]+$/,
    {
      error: expecting(
        'a key id of letters, digits, ".", "_", "~" and "-" (it is part of every signed URL)',
      ),
    },
  ),
  secret: signedUrlSecret,
};

const signedUrlKeysError: ErrorFn = (issue) =>
  Array.isArray(issue.input) && issue.input.length === 0
    ? `at least one key is needed, like [{id: "2024-06", secret: "\${SIGNED_URL_SECRET}"}] (${MAKE_SECRET})`
    : expecting("a list of keys like [{id: ..., secret: ...}]")(issue);

export const SIGNED_URLS_SHAPE = {
  keys: z.array(
    z.strictObject(SIGNED_URL_KEY_SHAPE, { error: expecting("a mapping with id and secret") }),
    { error: signedUrlKeysError },
  ).min(1, { error: signedUrlKeysError }),
  max_expiry_seconds: (() => {
    const error = expecting(`a whole number of seconds from 1 to ${MAX_EXPIRY_SECONDS} (a year)`);
    return z.int({ error }).min(1, { error }).max(MAX_EXPIRY_SECONDS, { error }).default(604_800);
  })(),
};

export const signedUrlsSchema = z.strictObject(SIGNED_URLS_SHAPE, {
  error: expecting("a mapping with keys and max_expiry_seconds"),
}).transform((raw): SignedUrlsConfig => ({
  keys: raw.keys.map((entry) => ({ id: entry.id, secret: entry.secret })),
  maxExpirySeconds: raw.max_expiry_seconds,
}));
