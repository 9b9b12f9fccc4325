// Micro-benchmark of the SigV4 signer (src/origin/sigv4.ts), with @smithy/signature-v4 as the anchor.
import { SignatureV4 } from "@smithy/signature-v4";
import { HttpRequest } from "@smithy/protocol-http";
import { Sha256 } from "@aws-crypto/sha256-js";
import { type SignableRequest, SigV4Signer } from "../src/origin/sigv4.ts";

const credentials = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};
const region = "eu-west-1";
const host = "media-bucket.s3.eu-west-1.amazonaws.com";
const canonicalUri = "/media-bucket/images/2024/cat%20photo.jpg";
const range = "bytes=0-1048575";
const typicalGet: SignableRequest = { method: "GET", host, canonicalUri, headers: { range } };
// A fixed instant: the key for its day is derived on the first call and cached after.
const NOW = Date.UTC(2024, 5, 1, 12, 0, 0);
const DAY_MS = 86_400_000;

const warm = new SigV4Signer({ credentials, region });
warm.sign(typicalGet, NOW);

Deno.bench({
  name: "sign() typical GET (3-segment key, Range), cached signing key",
  group: "sigv4 sign()",
  baseline: true,
  fn() {
    warm.sign(typicalGet, NOW);
  },
});

// Each call lands on a new UTC day, so each one derives the signing key (4 HMACs) first.
const daily = new SigV4Signer({ credentials, region });
let day = 0;
Deno.bench({
  name: "first sign() of a new day (signing-key derivation + sign)",
  group: "sigv4 sign()",
  fn() {
    daily.sign(typicalGet, NOW + ++day * DAY_MS);
  },
});

// The anchor DESIGN.md compares against: the AWS SDK's own signer on the same request.
const smithy = new SignatureV4({
  credentials,
  region,
  service: "s3",
  sha256: Sha256,
  uriEscapePath: false,
  applyChecksum: true,
});
const smithyRequest = new HttpRequest({
  method: "GET",
  protocol: "https:",
  hostname: host,
  path: canonicalUri,
  headers: { host, range },
});
const smithyDate = new Date(NOW);
Deno.bench({
  name: "anchor: @smithy/signature-v4 sign() of the same GET",
  group: "sigv4 sign()",
  async fn() {
    await smithy.sign(smithyRequest, { signingDate: smithyDate });
  },
});
