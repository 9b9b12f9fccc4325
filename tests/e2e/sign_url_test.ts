// End-to-end: a URL printed by `yatagarasu sign-url` is accepted by a running gateway; tampered ones are not.

import assert from "node:assert/strict";
import { runCli, startGateway } from "../support/cli_process.ts";
import { startS3Server } from "../support/s3_server.ts";

const SIGNING_SECRET = "e2e-signing-secret-0123456789abcdefghijkl";

Deno.test("sign-url output is accepted by serve; tampered and unsigned URLs are 403", async () => {
  const s3 = await startS3Server({ buckets: ["reports"] });
  await s3.putObject("reports", "q3/report final.pdf", "%PDF-1.7 quarterly", {
    contentType: "application/pdf",
  });
  const yaml = (port: number) => `
server: { address: 127.0.0.1, port: ${port} }
buckets:
  - name: reports
    path_prefix: /reports
    s3: { bucket: reports, region: us-east-1, endpoint: "${s3.endpoint}", access_key: S3RVER, secret_key: S3RVER }
    signed_urls:
      keys: [{ id: k2026, secret: "${SIGNING_SECRET}" }]
logging: { level: info, format: json }
`;
  const gw = await startGateway(yaml(0));
  const dir = await Deno.makeTempDir();
  try {
    // sign-url reads the same config; --base points at the port the gateway actually bound.
    await Deno.writeTextFile(`${dir}/config.yaml`, yaml(8080));
    const signed = await runCli([
      "sign-url",
      "--config",
      `${dir}/config.yaml`,
      "--path",
      "/reports/q3/report final.pdf",
      "--expires",
      "10m",
      "--base",
      gw.url,
    ]);
    assert.equal(signed.code, 0, signed.stderr);
    const url = signed.stdout.trim();
    assert.equal(url.split("\n").length, 1, "stdout is the URL only");
    assert.match(url, /X-Expires=\d+&X-Key-Id=k2026&X-Signature=[\w-]{43}$/);

    const ok = await fetch(url);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), "%PDF-1.7 quarterly");

    const tampered = await fetch(url.replace("q3", "q4"));
    assert.equal(tampered.status, 403);
    assert.equal((await tampered.json()).code, "signed_url_invalid");

    const unsigned = await fetch(`${gw.url}/reports/q3/report%20final.pdf`);
    assert.equal(unsigned.status, 403);
    await unsigned.body?.cancel();

    const bad = await runCli([
      "sign-url",
      "--config",
      `${dir}/config.yaml`,
      "--path",
      "/nowhere/x",
      "--expires",
      "10m",
    ]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, "");
    assert.match(bad.stderr, /sign-url: /);
  } finally {
    gw.kill("SIGTERM");
    assert.equal(await gw.exited, 0);
    await s3.close();
    await Deno.remove(dir, { recursive: true });
  }
  // The signature never reaches the access log (the path is logged without its query).
  const lines = gw.logLines().filter((l) => l.msg === "request");
  assert.ok(lines.length >= 3);
  assert.ok(lines.every((l) => !JSON.stringify(l).includes("X-Signature")));
});
