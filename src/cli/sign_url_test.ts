// Tests the sign-url subcommand in process: buildSignedUrl against config objects, runSignUrl
// against temp config files (stdout = exactly the URL), parseDuration, and every error message.

import assert from "node:assert/strict";
import { verifySignedRequest } from "../auth/signed_url.ts";
import { parseConfig } from "../config/load.ts";
import type { Config, SignedUrlKey } from "../config/types.ts";
import { parseRequestTarget } from "../proxy/accept.ts";
import { parseDuration } from "./duration.ts";
import { buildSignedUrl, runSignUrl, type SignUrlOptions } from "./sign_url.ts";
import type { CommandIO } from "./validate_config.ts";

const NOW = 1_767_225_600; // 2026-01-01T00:00:00Z
const OLD: SignedUrlKey = { id: "2025-q4", secret: "old secret, still accepted during rotation" };
const NEW: SignedUrlKey = { id: "2026-q1", secret: "new secret, the one sign-url uses by default" };

const BASE_YAML = `
server:
  address: 0.0.0.0
  port: 8080
buckets:
  - name: public-assets
    path_prefix: /public
    s3: { bucket: public-assets, access_key: a, secret_key: b }
  - name: private
    path_prefix: /private
    s3: { bucket: private-data, access_key: c, secret_key: d }
`;

/** BASE_YAML's config with signed URLs on "private" (built in code until the schema has the key). */
function testConfig(
  server: Partial<Config["server"]> = {},
  maxExpirySeconds = 7 * 86_400,
): Config {
  const result = parseConfig(BASE_YAML);
  assert.ok(result.ok, JSON.stringify(result));
  const config = result.config;
  return {
    ...config,
    server: { ...config.server, ...server },
    buckets: config.buckets.map((bucket) =>
      bucket.name === "private"
        ? { ...bucket, signedUrls: { keys: [NEW, OLD], maxExpirySeconds } }
        : bucket
    ),
  };
}

function build(options: Partial<Omit<SignUrlOptions, "config">>, config = testConfig()) {
  return buildSignedUrl(config, {
    path: "/private/report.pdf",
    expires: "15m",
    nowSeconds: NOW,
    ...options,
  });
}

function buildError(options: Partial<Omit<SignUrlOptions, "config">>, config = testConfig()) {
  const result = build(options, config);
  assert.ok(!result.ok, JSON.stringify(result));
  return result.error;
}

/** Verifies a printed URL the way the gateway would: its URL parser, accept's split, the keys. */
function verifyUrl(url: string, keys: SignedUrlKey[], nowSeconds = NOW) {
  const { path, rawQuery } = parseRequestTarget(new Request(url).url);
  return { path, check: verifySignedRequest({ method: "GET", path, rawQuery, keys, nowSeconds }) };
}

/** A CommandIO that records each call (one line, no trailing newline). */
function recorder(): CommandIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (text) => out.push(text), stderr: (text) => err.push(text) };
}

async function withConfigFile<T>(yaml: string, run: (file: string) => Promise<T>): Promise<T> {
  const file = await Deno.makeTempFile({ prefix: "sign-url-", suffix: ".yaml" });
  try {
    await Deno.writeTextFile(file, yaml);
    return await run(file);
  } finally {
    await Deno.remove(file);
  }
}

// ---- parseDuration --------------------------------------------------------------------------

Deno.test("parseDuration() reads seconds with an optional s, m, h or d unit", () => {
  assert.equal(parseDuration("90"), 90);
  assert.equal(parseDuration("90s"), 90);
  assert.equal(parseDuration("15m"), 900);
  assert.equal(parseDuration("2h"), 7200);
  assert.equal(parseDuration("7d"), 604_800);
  assert.equal(parseDuration("007m"), 420);
});

Deno.test("parseDuration() rejects anything else with a TypeError saying what is accepted", () => {
  for (const text of ["", "15x", "1.5h", "-5m", "15 m", " 15m", "15M", "1h30m", "m", "1e3"]) {
    assert.throws(() => parseDuration(text), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.equal(
        error.message,
        `invalid duration ${
          JSON.stringify(text)
        }: write a whole number with an optional unit s, m, h or d (90, 90s, 15m, 2h or 7d)`,
      );
      return true;
    });
  }
  assert.throws(() => parseDuration("0m"), /"0m": it must be at least 1 second/);
  assert.throws(() => parseDuration("9".repeat(20)), /it is too long/);
});

// ---- buildSignedUrl -------------------------------------------------------------------------

Deno.test("buildSignedUrl() signs with the bucket's first key; the gateway accepts the URL", () => {
  const result = build({});
  assert.ok(result.ok);
  assert.equal(result.bucket, "private");
  assert.equal(result.keyId, "2026-q1");
  assert.equal(result.expiresAt, NOW + 900);
  assert.match(
    result.url,
    /^http:\/\/127\.0\.0\.1:8080\/private\/report\.pdf\?X-Expires=1767226500&X-Key-Id=2026-q1&X-Signature=[A-Za-z0-9_-]{43}$/,
  );
  const { path, check } = verifyUrl(result.url, [NEW, OLD]);
  assert.equal(path, "/private/report.pdf");
  assert.deepEqual(check, {
    kind: "valid",
    keyId: "2026-q1",
    expiresAt: NOW + 900,
    remainingQuery: "",
  });
  assert.throws(() => verifyUrl(result.url, [NEW, OLD], NOW + 900), /expired 0s ago/);
});

Deno.test("buildSignedUrl() --key picks a key; --param values are signed; odd paths survive", () => {
  const result = build({
    path: "/private/dir/my report+100%/日本.pdf",
    key: "2025-q4",
    param: ["w=300", "text=a b&c=d", "flag"],
    method: "head",
    nowSeconds: NOW + 0.999,
  });
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.keyId, "2025-q4");
  assert.equal(result.expiresAt, NOW + 900);
  const { path, check } = verifyUrl(result.url, [OLD]);
  assert.equal(path, "/private/dir/my report+100%/日本.pdf");
  assert.equal(check.kind, "valid");
  assert.deepEqual(
    [...new URLSearchParams(check.kind === "valid" ? check.remainingQuery : "")],
    [["w", "300"], ["text", "a b&c=d"], ["flag", ""]],
  );
});

Deno.test("buildSignedUrl() base URL: server.address/port by default, or --base", () => {
  const url = (options: Partial<Omit<SignUrlOptions, "config">>, config = testConfig()) => {
    const result = build(options, config);
    assert.ok(result.ok, JSON.stringify(result));
    return result.url.slice(0, result.url.indexOf("?"));
  };
  assert.equal(url({}), "http://127.0.0.1:8080/private/report.pdf");
  assert.equal(url({}, testConfig({ address: "::" })), "http://[::1]:8080/private/report.pdf");
  assert.equal(url({}, testConfig({ address: "::1" })), "http://[::1]:8080/private/report.pdf");
  assert.equal(
    url({}, testConfig({ address: "gw.internal", port: 80 })),
    "http://gw.internal/private/report.pdf",
  );
  assert.equal(
    url({ base: "https://cdn.example.com" }),
    "https://cdn.example.com/private/report.pdf",
  );
  assert.equal(
    url({ base: "https://cdn.example.com/" }),
    "https://cdn.example.com/private/report.pdf",
  );
  assert.equal(
    url({ base: "https://example.com:8443/files/" }),
    "https://example.com:8443/files/private/report.pdf",
  );
});

Deno.test("buildSignedUrl() explains each usage error", () => {
  assert.equal(
    buildError({ path: "/nope/a.txt" }),
    'no bucket serves "/nope/a.txt": the path must start with one of the path prefixes /public, /private',
  );
  assert.equal(
    buildError({ path: "private/a.txt" }),
    '--path must start with "/" (the path the gateway serves, bucket prefix included), got "private/a.txt"',
  );
  assert.equal(
    buildError({ path: "/private" }),
    '"/private" names the bucket "private" but no object; add the object key after "/private/"',
  );
  assert.equal(
    buildError({ path: "/public/a.txt" }),
    'bucket "public-assets" (buckets[0]) does not enable signed URLs; add buckets[0].signed_urls with at least one key',
  );
  assert.equal(
    buildError({ key: "2024" }),
    'bucket "private" has no signed-URL key "2024"; its keys: 2026-q1, 2025-q4',
  );
  assert.equal(
    buildError({ expires: "15x" }),
    '--expires: invalid duration "15x": write a whole number with an optional unit s, m, h or d (90, 90s, 15m, 2h or 7d)',
  );
  assert.equal(
    buildError({ expires: "8d" }),
    '--expires 8d is longer than bucket "private" allows: at most 7d (buckets[1].signed_urls.max_expiry_seconds: 604800)',
  );
  assert.equal(
    buildError({ expires: "2h" }, testConfig({}, 3600)),
    '--expires 2h is longer than bucket "private" allows: at most 1h (buckets[1].signed_urls.max_expiry_seconds: 3600)',
  );
  assert.ok(build({ expires: "1h" }, testConfig({}, 3600)).ok, "exactly the maximum is allowed");
  assert.equal(
    buildError({ method: "POST" }),
    '--method must be GET or HEAD (the gateway is read-only), got "POST"',
  );
  assert.equal(buildError({ param: ["=x"] }), '--param must be name=value, got "=x"');
  assert.equal(
    buildError({ param: ["X-Expires=1"] }),
    "--param X-Expires is reserved: sign-url adds it itself",
  );
  assert.match(buildError({ path: "/private/a/../b" }), /has a "\." or "\.\." segment/);
  assert.equal(
    buildError({}, testConfig({ port: 0 })),
    "server.port is 0 (any free port), so the gateway's URL is not known; pass --base with it",
  );
  for (const base of ["cdn.example.com", "/relative"]) {
    assert.match(buildError({ base }), /^--base must be an absolute http\(s\) URL/);
  }
  assert.match(buildError({ base: "ftp://example.com" }), /^--base must be an http or https URL/);
  for (
    const base of ["https://example.com/?a=1", "https://example.com/#x", "https://u:p@example.com"]
  ) {
    assert.match(buildError({ base }), /^--base must not carry a query, a fragment or credentials/);
  }
});

// ---- runSignUrl (files, stdout/stderr, exit codes) -------------------------------------------

const SIGNED_YAML = `${BASE_YAML}    signed_urls:
      keys:
        - id: "${NEW.id}"
          secret: "${NEW.secret}"
        - id: "${OLD.id}"
          secret: "${OLD.secret}"
`;

Deno.test("runSignUrl() prints exactly one line, the URL, and exits 0", async () => {
  await withConfigFile(SIGNED_YAML, async (config) => {
    const io = recorder();
    const code = await runSignUrl(
      { config, path: "/private/report.pdf", expires: "15m", nowSeconds: NOW },
      io,
    );
    assert.deepEqual(io.err, []);
    assert.equal(code, 0);
    assert.equal(io.out.length, 1);
    const url = io.out[0]!;
    assert.ok(!url.includes("\n") && url === url.trim());
    assert.match(url, /^http:\/\/127\.0\.0\.1:8080\/private\/report\.pdf\?X-Expires=1767226500&/);
    assert.equal(verifyUrl(url, [NEW, OLD]).check.kind, "valid");
    // Without max_expiry_seconds the cap is 7 days.
    const late = recorder();
    assert.equal(await runSignUrl({ config, path: "/private/report.pdf", expires: "8d" }, late), 2);
    assert.deepEqual(late.out, []);
    assert.match(late.err[0] ?? "", /at most 7d/);
  });
});

Deno.test("runSignUrl() honours signed_urls.max_expiry_seconds and --key from the file", async () => {
  const yaml = `${SIGNED_YAML}      max_expiry_seconds: 3600\n`;
  await withConfigFile(yaml, async (config) => {
    const io = recorder();
    const options = { config, path: "/private/a b.pdf", nowSeconds: NOW, key: OLD.id };
    assert.equal(await runSignUrl({ ...options, expires: "1h" }, io), 0);
    const { path, check } = verifyUrl(io.out[0]!, [OLD]);
    assert.equal(path, "/private/a b.pdf");
    assert.deepEqual(check, {
      kind: "valid",
      keyId: OLD.id,
      expiresAt: NOW + 3600,
      remainingQuery: "",
    });
    const encoded = recorder();
    assert.equal(
      await runSignUrl({ ...options, path: "/private/a%20b.pdf", expires: "1h" }, encoded),
      0,
    );
    assert.equal(verifyUrl(encoded.out[0]!, [OLD]).path, "/private/a%20b.pdf");
    assert.match(encoded.err[0] ?? "", /^sign-url: note: --path is taken literally/);
    const late = recorder();
    assert.equal(await runSignUrl({ ...options, expires: "2h" }, late), 2);
    assert.deepEqual(late.err, [
      'sign-url: --expires 2h is longer than bucket "private" allows: at most 1h (buckets[1].signed_urls.max_expiry_seconds: 3600)',
    ]);
  });
});

Deno.test("runSignUrl() reports a usage error on stderr only, one line, exit 2", async () => {
  await withConfigFile(BASE_YAML, async (config) => {
    const io = recorder();
    const code = await runSignUrl({ config, path: "/public/a.txt", expires: "15m" }, io);
    assert.equal(code, 2);
    assert.deepEqual(io.out, []);
    assert.deepEqual(io.err, [
      'sign-url: bucket "public-assets" (buckets[0]) does not enable signed URLs; add buckets[0].signed_urls with at least one key',
    ]);
  });
});

Deno.test("runSignUrl() reports config errors with file:line, then a count, exit 2", async () => {
  await withConfigFile("server:\n  port: 70000\nbuckets: []\n", async (config) => {
    const io = recorder();
    assert.equal(await runSignUrl({ config, path: "/a/b", expires: "15m" }, io), 2);
    assert.deepEqual(io.out, []);
    assert.match(
      io.err[0] ?? "",
      new RegExp(`^${config.replaceAll(".", "\\.")}:2:9 server\\.port: `),
    );
    assert.match(
      io.err.at(-1) ?? "",
      /^\d+ errors? in .*; no URL was signed\. Run `yatagarasu validate-config .*` after fixing them\.$/,
    );
  });
  const io = recorder();
  const missing = "/nonexistent/sign-url-config.yaml";
  assert.equal(await runSignUrl({ config: missing, path: "/a/b", expires: "15m" }, io), 2);
  assert.deepEqual(io.out, []);
  assert.match(io.err[0] ?? "", /cannot read config file "\/nonexistent\/sign-url-config\.yaml"/);
  assert.equal(
    io.err[1],
    `1 error in ${missing}; no URL was signed. Run \`yatagarasu validate-config ${missing}\` after fixing them.`,
  );
});
