// Tests of src/origin/sigv4.ts: AWS's published vectors, encoding edge cases, key caching, and a
// differential property test against @smithy/signature-v4 (the AWS SDK for JS signer).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { SignatureV4 } from "@smithy/signature-v4";
import { HttpRequest } from "@smithy/protocol-http";
import { Sha256 } from "@aws-crypto/sha256-js";
import {
  canonicalHeaderValue,
  canonicalQueryString,
  EMPTY_PAYLOAD_SHA256,
  encodeRfc3986,
  encodeS3Key,
  type SignableRequest,
  type SigV4Credentials,
  SigV4Signer,
} from "./sigv4.ts";

// ---------------------------------------------------------------------------------------------
// AWS SigV4 test suite (docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html).
// Every `authorization` below is the published .authz file content, copied, never computed here.
// ---------------------------------------------------------------------------------------------

const SUITE_CREDENTIALS: SigV4Credentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};
const SUITE_NOW = Date.UTC(2015, 7, 30, 12, 36, 0); // 20150830T123600Z
const SUITE_HOST = "example.amazonaws.com";
const SUITE_TOKEN =
  "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
const SUITE_AUTH_PREFIX =
  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ";
const UNRESERVED = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

interface SuiteVector {
  name: string;
  request: Omit<SignableRequest, "host">;
  sessionToken?: string;
  /** Published Authorization header. */
  authorization: string;
  /** Also compute it with @smithy/signature-v4 (for vectors whose provenance is less direct). */
  crossCheck?: boolean;
}

const SUITE: SuiteVector[] = [
  {
    name: "get-vanilla",
    request: { method: "GET", canonicalUri: "/" },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
  },
  {
    // The request line is "GET /? HTTP/1.1": an empty query is no query.
    name: "get-vanilla-query",
    request: { method: "GET", canonicalUri: "/", query: [] },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
  },
  {
    name: "get-vanilla-empty-query-key",
    request: { method: "GET", canonicalUri: "/", query: [["Param1", "value1"]] },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;x-amz-date, Signature=a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
  },
  {
    name: "get-vanilla-query-order-key-case",
    request: {
      method: "GET",
      canonicalUri: "/",
      query: [["Param2", "value2"], ["Param1", "value1"]],
    },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
  },
  {
    // Same name twice: sorted by value, upper case first (byte order).
    name: "get-vanilla-query-order-key",
    request: {
      method: "GET",
      canonicalUri: "/",
      query: [["Param1", "value2"], ["Param1", "Value1"]],
    },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;x-amz-date, Signature=eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
  },
  {
    name: "get-vanilla-query-order-value",
    request: {
      method: "GET",
      canonicalUri: "/",
      query: [["Param1", "value2"], ["Param1", "value1"]],
    },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;x-amz-date, Signature=5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
  },
  {
    name: "get-vanilla-query-unreserved",
    request: { method: "GET", canonicalUri: "/", query: [[UNRESERVED, UNRESERVED]] },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;x-amz-date, Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
  },
  {
    name: "get-vanilla-utf8-query",
    request: { method: "GET", canonicalUri: "/", query: [["\u1234", "bar"]] },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;x-amz-date, Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
  },
  {
    name: "get-unreserved",
    request: { method: "GET", canonicalUri: "/" + UNRESERVED },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;x-amz-date, Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
  },
  {
    // "GET /\u1234": the path goes in encoded, as it is sent.
    name: "get-utf8",
    request: { method: "GET", canonicalUri: "/" + encodeS3Key("\u1234") },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
  },
  {
    // "GET /example space/"
    name: "get-space",
    request: { method: "GET", canonicalUri: "/" + encodeS3Key("example space/") },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
  },
  {
    // My-Header1: value2 / value2 / value1, passed joined as the API asks.
    name: "get-header-key-duplicate",
    request: {
      method: "GET",
      canonicalUri: "/",
      headers: { "my-header1": "value2,value2,value1" },
    },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
  },
  {
    // The folded lines "value1", "  value2", "     value3" canonicalize to one comma list.
    name: "get-header-value-multiline",
    request: {
      method: "GET",
      canonicalUri: "/",
      headers: { "my-header1": "value1,value2,value3" },
    },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;my-header1;x-amz-date, Signature=ba17b383a53190154eb5fa66a1b836cc297cc0a3d70a5d00705980573d8ff790",
  },
  {
    name: "get-header-value-order",
    request: {
      method: "GET",
      canonicalUri: "/",
      headers: { "my-header1": "value4,value1,value3,value2" },
    },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;my-header1;x-amz-date, Signature=08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
  },
  {
    name: "get-header-value-trim",
    request: {
      method: "GET",
      canonicalUri: "/",
      headers: { "my-header1": " value1", "my-header2": ' "a   b   c"' },
    },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
  },
  {
    name: "post-vanilla",
    request: { method: "POST", canonicalUri: "/" },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
  },
  {
    name: "post-vanilla-query",
    request: { method: "POST", canonicalUri: "/", query: [["Param1", "value1"]] },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
  },
  {
    // Header names arrive as "Host"/"X-Amz-Date": canonical names are lower case regardless.
    name: "post-header-key-case",
    request: { method: "POST", canonicalUri: "/" },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
  },
  {
    name: "post-header-key-sort",
    request: { method: "POST", canonicalUri: "/", headers: { "my-header1": "value1" } },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;my-header1;x-amz-date, Signature=c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
  },
  {
    name: "post-header-value-case",
    request: { method: "POST", canonicalUri: "/", headers: { "my-header1": "VALUE1" } },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;my-header1;x-amz-date, Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
  },
  {
    // The session token is signed (x-amz-security-token is in SignedHeaders).
    name: "post-sts-header-before",
    request: { method: "POST", canonicalUri: "/" },
    sessionToken: SUITE_TOKEN,
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
  },
  {
    name: "post-x-www-form-urlencoded",
    request: {
      method: "POST",
      canonicalUri: "/",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      // sha256("Param1=value1"), as printed in the suite's .creq
      payloadHash: "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
    },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
  },
  {
    name: "post-x-www-form-urlencoded-parameters",
    request: {
      method: "POST",
      canonicalUri: "/",
      headers: { "content-type": "application/x-www-form-urlencoded; charset=utf8" },
      payloadHash: "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
    },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=content-type;host;x-amz-date, Signature=1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
  },
  {
    // Taken from smithy's copy of the suite (the .req of this vector changed between suite
    // editions), so it is also recomputed with @smithy/signature-v4.
    name: "post-vanilla-query-nonunreserved",
    request: {
      method: "POST",
      canonicalUri: "/",
      query: [["@#$%^", ""], ["+", '/,?><`";:\\|][{}']],
    },
    authorization: SUITE_AUTH_PREFIX +
      "SignedHeaders=host;x-amz-date, Signature=66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e",
    crossCheck: true,
  },
];

function suiteSigner(sessionToken?: string): SigV4Signer {
  return new SigV4Signer({
    credentials: { ...SUITE_CREDENTIALS, sessionToken },
    region: "us-east-1",
    service: "service",
    contentSha256Header: false,
  });
}

/** The AWS SDK for JS signer, configured as the S3 client configures it (see the property test). */
function smithySigner(
  credentials: SigV4Credentials,
  region: string,
  service: string,
  options: { applyChecksum: boolean; uriEscapePath: boolean },
): SignatureV4 {
  return new SignatureV4({
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      ...(credentials.sessionToken === undefined ? {} : { sessionToken: credentials.sessionToken }),
    },
    region,
    service,
    sha256: Sha256,
    uriEscapePath: options.uriEscapePath,
    applyChecksum: options.applyChecksum,
  });
}

/** Pairs -> smithy's query record (a repeated name becomes an array). */
function smithyQuery(
  pairs: ReadonlyArray<readonly [string, string]>,
): Record<string, string | string[]> {
  // Grouped in a Map so that names like "constructor" or "__proto__" stay plain data.
  const grouped = new Map<string, string[]>();
  for (const [name, value] of pairs) {
    const values = grouped.get(name);
    if (values === undefined) grouped.set(name, [value]);
    else values.push(value);
  }
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [name, values] of grouped) {
    Object.defineProperty(out, name, {
      value: values.length === 1 ? values[0]! : values,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

for (const vector of SUITE) {
  Deno.test(`SigV4Signer.sign() matches AWS vector ${vector.name}`, async () => {
    const signed = suiteSigner(vector.sessionToken).sign(
      { ...vector.request, host: SUITE_HOST },
      SUITE_NOW,
    );
    assert.equal(signed.authorization, vector.authorization);
    assert.equal(signed["x-amz-date"], "20150830T123600Z");
    assert.equal(signed["x-amz-content-sha256"], undefined);
    assert.equal(signed["x-amz-security-token"], vector.sessionToken);
    if (vector.crossCheck) {
      const smithy = smithySigner(
        { ...SUITE_CREDENTIALS, sessionToken: vector.sessionToken },
        "us-east-1",
        "service",
        { applyChecksum: false, uriEscapePath: false },
      );
      const request = new HttpRequest({
        method: vector.request.method,
        hostname: SUITE_HOST,
        path: vector.request.canonicalUri,
        query: smithyQuery(vector.request.query ?? []),
        headers: { host: SUITE_HOST, ...vector.request.headers },
      });
      const bySmithy = await smithy.sign(request, { signingDate: new Date(SUITE_NOW) });
      assert.equal(bySmithy.headers.authorization, vector.authorization);
    }
  });
}

Deno.test("SigV4Signer.sign() matches AWS vector post-sts-header-after", () => {
  // In this vector the token header is attached after signing, so it is not signed: the
  // signature is post-vanilla's. This signer always signs a configured token (as the SDKs and
  // post-sts-header-before do), so the vector is reproduced by signing without a token and
  // attaching it afterwards.
  const signed = suiteSigner().sign(
    { method: "POST", host: SUITE_HOST, canonicalUri: "/" },
    SUITE_NOW,
  );
  assert.equal(
    signed.authorization,
    SUITE_AUTH_PREFIX +
      "SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
  );
  assert.equal(signed["x-amz-security-token"], undefined);
});

// ---------------------------------------------------------------------------------------------
// S3 documentation, "Signature Calculations for the Authorization Header: Transferring Payload in
// a Single Chunk" (docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).
// ---------------------------------------------------------------------------------------------

const S3_DOC_CREDENTIALS: SigV4Credentials = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};
const S3_DOC_NOW = Date.UTC(2013, 4, 24, 0, 0, 0); // 20130524T000000Z
const S3_DOC_HOST = "examplebucket.s3.amazonaws.com";
const S3_DOC_CREDENTIAL =
  "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, ";

function s3DocSigner(): SigV4Signer {
  return new SigV4Signer({ credentials: S3_DOC_CREDENTIALS, region: "us-east-1" });
}

Deno.test("SigV4Signer.sign() matches the S3 docs example GET object with Range: bytes=0-9", () => {
  const signed = s3DocSigner().sign(
    {
      method: "GET",
      host: S3_DOC_HOST,
      canonicalUri: "/test.txt",
      headers: { range: "bytes=0-9" },
    },
    S3_DOC_NOW,
  );
  assert.deepEqual(signed, {
    "x-amz-date": "20130524T000000Z",
    "x-amz-content-sha256": EMPTY_PAYLOAD_SHA256,
    authorization: S3_DOC_CREDENTIAL +
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
  });
});

Deno.test("SigV4Signer.sign() matches the S3 docs example PUT object test$file.text", () => {
  const body = "Welcome to Amazon S3.";
  const payloadHash = createHash("sha256").update(body).digest("hex");
  assert.equal(payloadHash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  const signed = s3DocSigner().sign(
    {
      method: "PUT",
      host: S3_DOC_HOST,
      canonicalUri: "/" + encodeS3Key("test$file.text"),
      headers: {
        date: "Fri, 24 May 2013 00:00:00 GMT",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
      },
      payloadHash,
    },
    S3_DOC_NOW,
  );
  assert.equal(
    signed.authorization,
    S3_DOC_CREDENTIAL +
      "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
  );
  assert.equal(signed["x-amz-content-sha256"], payloadHash);
});

Deno.test("SigV4Signer.sign() matches the S3 docs example GET bucket lifecycle", () => {
  const signed = s3DocSigner().sign(
    { method: "GET", host: S3_DOC_HOST, canonicalUri: "/", query: [["lifecycle", ""]] },
    S3_DOC_NOW,
  );
  assert.equal(
    signed.authorization,
    S3_DOC_CREDENTIAL +
      "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
  );
});

Deno.test("SigV4Signer.sign() matches the S3 docs example list objects (max-keys=2&prefix=J)", () => {
  const signed = s3DocSigner().sign(
    {
      method: "GET",
      host: S3_DOC_HOST,
      canonicalUri: "/",
      query: [["prefix", "J"], ["max-keys", "2"]],
    },
    S3_DOC_NOW,
  );
  assert.equal(
    signed.authorization,
    S3_DOC_CREDENTIAL +
      "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
  );
});

// ---------------------------------------------------------------------------------------------
// Encoding and canonicalization edge cases.
// ---------------------------------------------------------------------------------------------

Deno.test("encodeRfc3986() leaves only the unreserved set alone", () => {
  assert.equal(encodeRfc3986(UNRESERVED), UNRESERVED);
  assert.equal(encodeRfc3986(""), "");
  // encodeURIComponent leaves !'()* alone; SigV4 does not.
  assert.equal(encodeRfc3986("!'()*"), "%21%27%28%29%2A");
  assert.equal(encodeRfc3986("a b+c"), "a%20b%2Bc"); // space is %20, never "+"
  assert.equal(encodeRfc3986("%"), "%25");
  assert.equal(encodeRfc3986("%2F"), "%252F"); // already-encoded text is encoded again
  assert.equal(encodeRfc3986("/?#[]@$&,;=:"), "%2F%3F%23%5B%5D%40%24%26%2C%3B%3D%3A");
  assert.equal(encodeRfc3986("\u00e9"), "%C3%A9"); // UTF-8, upper-case hex
  assert.equal(encodeRfc3986("\u1234"), "%E1%88%B4");
  assert.equal(encodeRfc3986("\u{1F600}"), "%F0%9F%98%80"); // astral: one 4-byte sequence
  assert.equal(encodeRfc3986("\u0000\u007f"), "%00%7F");
  // A lone surrogate has no UTF-8 form; AWS SDKs throw too.
  assert.throws(() => encodeRfc3986("\ud800"), URIError);
});

Deno.test("encodeS3Key() encodes each segment and keeps the slashes", () => {
  assert.equal(encodeS3Key("a/b/c.txt"), "a/b/c.txt");
  assert.equal(encodeS3Key("my key+1"), "my%20key%2B1");
  assert.equal(
    encodeS3Key("dir/sub dir/\u00fcml\u00e4ut.png"),
    "dir/sub%20dir/%C3%BCml%C3%A4ut.png",
  );
  // Empty and dot segments are kept verbatim: S3 keys are not file paths, never normalized.
  assert.equal(encodeS3Key("a//b/./../c/"), "a//b/./../c/");
  assert.equal(encodeS3Key("/leading"), "/leading");
  // A literal "%2F" in a key stays data, it must not turn into a slash.
  assert.equal(encodeS3Key("100%2F/x"), "100%252F/x");
  assert.equal(encodeS3Key("~tilde=eq&amp"), "~tilde%3Deq%26amp");
  assert.equal(encodeS3Key(""), "");
  // Same as segment-wise encoding, checked on a few awkward keys.
  for (const key of ["a b/c+d/%/~/=&/\u{1F600}", "//", "x/%2F%2f/y", "'()*!/!"]) {
    assert.equal(encodeS3Key(key), key.split("/").map(encodeRfc3986).join("/"));
  }
});

Deno.test("canonicalQueryString() encodes, then sorts by name and value", () => {
  assert.equal(canonicalQueryString([]), "");
  assert.equal(canonicalQueryString([["lifecycle", ""]]), "lifecycle=");
  assert.equal(canonicalQueryString([["prefix", "J"], ["max-keys", "2"]]), "max-keys=2&prefix=J");
  // Sorting is on the encoded name: "%" (0x25) sorts before letters, "a" before "a-b".
  assert.equal(
    canonicalQueryString([["b", "1"], ["a-b", "2"], ["a", "3"], ["\u00e9", "4"]]),
    "%C3%A9=4&a=3&a-b=2&b=1",
  );
  // A repeated name sorts by value; upper case before lower case.
  assert.equal(
    canonicalQueryString([["k", "b"], ["k", "B"], ["k", "a"], ["k", ""]]),
    "k=&k=B&k=a&k=b",
  );
  assert.equal(
    canonicalQueryString([["response-content-type", "text/plain; charset=utf-8"]]),
    "response-content-type=text%2Fplain%3B%20charset%3Dutf-8",
  );
  assert.equal(canonicalQueryString([["a=b&c", "d e+f"]]), "a%3Db%26c=d%20e%2Bf");
  assert.equal(canonicalQueryString([["empty", ""], ["", "noname"]]), "=noname&empty=");
});

Deno.test("canonicalHeaderValue() trims and folds HTTP whitespace only", () => {
  assert.equal(canonicalHeaderValue("bytes=0-9"), "bytes=0-9");
  assert.equal(canonicalHeaderValue('  "a   b   c"  '), '"a b c"');
  assert.equal(canonicalHeaderValue("a\t\tb\r\n c"), "a b c");
  assert.equal(canonicalHeaderValue("   "), "");
  assert.equal(canonicalHeaderValue(""), "");
  // NBSP is data, not whitespace, in an HTTP header value.
  assert.equal(canonicalHeaderValue("\u00a0x\u00a0"), "\u00a0x\u00a0");
});

Deno.test("SigV4Signer.sign() returns exactly the headers to add", () => {
  const signer = new SigV4Signer({
    credentials: { accessKeyId: "AK", secretAccessKey: "SK", sessionToken: "TOKEN" },
    region: "eu-west-1",
  });
  const signed = signer.sign(
    {
      method: "HEAD",
      host: "127.0.0.1:9000",
      canonicalUri: "/b/k",
      headers: { "if-none-match": '"abc"' },
      payloadHash: "UNSIGNED-PAYLOAD",
    },
    Date.UTC(2024, 1, 29, 23, 59, 59, 999),
  );
  assert.deepEqual(Object.keys(signed).sort(), [
    "authorization",
    "x-amz-content-sha256",
    "x-amz-date",
    "x-amz-security-token",
  ]);
  assert.equal(signed["x-amz-date"], "20240229T235959Z");
  assert.equal(signed["x-amz-content-sha256"], "UNSIGNED-PAYLOAD");
  assert.equal(signed["x-amz-security-token"], "TOKEN");
  assert.match(
    signed.authorization!,
    /^AWS4-HMAC-SHA256 Credential=AK\/20240229\/eu-west-1\/s3\/aws4_request, SignedHeaders=host;if-none-match;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
  );
});

Deno.test("SigV4Signer.sign() lower-cases header names and rejects the ones it owns", () => {
  const signer = new SigV4Signer({ credentials: S3_DOC_CREDENTIALS, region: "us-east-1" });
  const request = { method: "GET", host: S3_DOC_HOST, canonicalUri: "/test.txt" };
  assert.equal(
    signer.sign({ ...request, headers: { Range: "bytes=0-9" } }, S3_DOC_NOW).authorization,
    signer.sign({ ...request, headers: { range: "bytes=0-9" } }, S3_DOC_NOW).authorization,
  );
  for (const name of ["host", "x-amz-date", "x-amz-content-sha256", "authorization", "Host"]) {
    assert.throws(
      () => signer.sign({ ...request, headers: { [name]: "x" } }, S3_DOC_NOW),
      TypeError,
    );
  }
  assert.throws(
    () => signer.sign({ ...request, headers: { Range: "a", range: "b" } }, S3_DOC_NOW),
    TypeError,
  );
  // Without the S3 header, a caller may sign its own x-amz-content-sha256.
  const generic = new SigV4Signer({
    credentials: S3_DOC_CREDENTIALS,
    region: "us-east-1",
    contentSha256Header: false,
  });
  assert.match(
    generic.sign({ ...request, headers: { "x-amz-content-sha256": "x" } }, S3_DOC_NOW)
      .authorization!,
    /SignedHeaders=host;x-amz-content-sha256;x-amz-date,/,
  );
});

Deno.test("SigV4Signer.sign() treats an empty path as /", () => {
  const signer = suiteSigner();
  assert.equal(
    signer.sign({ method: "GET", host: SUITE_HOST, canonicalUri: "" }, SUITE_NOW).authorization,
    SUITE[0]!.authorization, // get-vanilla
  );
});

Deno.test("SigV4Signer.sign() rejects times it cannot format", () => {
  const signer = suiteSigner();
  const request = { method: "GET", host: SUITE_HOST, canonicalUri: "/" };
  for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY, 253402300800000]) {
    assert.throws(() => signer.sign(request, bad), RangeError);
  }
  assert.equal(signer.sign(request, 0)["x-amz-date"], "19700101T000000Z");
  assert.equal(signer.sign(request, 253402300799999)["x-amz-date"], "99991231T235959Z");
});

// ---------------------------------------------------------------------------------------------
// Caching: the signing key per UTC day, x-amz-date per second.
// ---------------------------------------------------------------------------------------------

Deno.test("SigV4Signer derives the signing key once per UTC day and follows date changes", async () => {
  const credentials = { accessKeyId: "AKID", secretAccessKey: "secret/with+chars" };
  const signer = new SigV4Signer({ credentials, region: "ap-southeast-2" });
  const smithy = smithySigner(credentials, "ap-southeast-2", "s3", {
    applyChecksum: true,
    uriEscapePath: false,
  });
  const request: SignableRequest = {
    method: "GET",
    host: "bucket.s3.ap-southeast-2.amazonaws.com",
    canonicalUri: "/a/b%20c",
    headers: { range: "bytes=10-" },
  };
  const expected = async (nowMs: number) => {
    const signed = await smithy.sign(
      new HttpRequest({
        method: "GET",
        hostname: request.host,
        path: request.canonicalUri,
        headers: { host: request.host, range: "bytes=10-" },
      }),
      { signingDate: new Date(nowMs) },
    );
    return signed.headers.authorization;
  };
  const lastMsOfDay = Date.UTC(2024, 11, 31, 23, 59, 59, 999);
  const steps: Array<[nowMs: number, derivations: number, date: string]> = [
    [Date.UTC(2024, 11, 31, 0, 0, 0), 1, "20241231T000000Z"],
    [Date.UTC(2024, 11, 31, 0, 0, 0, 500), 1, "20241231T000000Z"], // same second
    [Date.UTC(2024, 11, 31, 12, 30, 1), 1, "20241231T123001Z"], // same day, later second
    [lastMsOfDay, 1, "20241231T235959Z"],
    [lastMsOfDay + 1, 2, "20250101T000000Z"], // new year, new day: new key
    [Date.UTC(2025, 0, 1, 8), 2, "20250101T080000Z"],
    [Date.UTC(2024, 11, 31, 9), 3, "20241231T090000Z"], // a clock stepped back: key follows it
  ];
  for (const [nowMs, derivations, amzDate] of steps) {
    const signed = signer.sign(request, nowMs);
    assert.equal(signed["x-amz-date"], amzDate);
    assert.equal(signer.keyDerivations, derivations, `derivations at ${amzDate}`);
    assert.equal(signed.authorization, await expected(nowMs), `signature at ${amzDate}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Differential property test against @smithy/signature-v4.
// ---------------------------------------------------------------------------------------------

// How smithy is configured to canonicalize exactly as S3 does:
// - applyChecksum: true and x-amz-content-sha256 passed in the request headers: smithy takes the
//   payload hash from that header (getPayloadHash) and signs the header, as S3 requires; it does
//   not hash a body, so the random payload hash (or UNSIGNED-PAYLOAD) is used verbatim.
// - uriEscapePath: for S3 the canonical URI is the path as sent (encoded once, never normalized:
//   "a//b/../c" is a legal key). With uriEscapePath: false smithy signs request.path verbatim, and
//   we give it our encoded path. With uriEscapePath: true smithy encodes the raw path itself
//   (per segment, like encodeS3Key) but also collapses empty, "." and ".." segments, so that mode
//   is used, with the raw key, only for keys without such segments: those runs check
//   encodeS3Key() against the SDK's own encoder, the others check that we never normalize.
// - query: smithy takes decoded values and encodes them itself; a repeated name becomes an array.
// - headers: smithy signs every header it is given except a fixed list (user-agent, expect,
//   "date" which it regenerates...), so only signable S3 request headers are generated.
// - the session token: smithy adds and signs x-amz-security-token, as this signer does.

const SEGMENT_PIECES = [
  "a",
  "Z",
  "0",
  " ",
  "+",
  "%",
  "~",
  "=",
  "&",
  "?",
  "#",
  "!",
  "'",
  "(",
  ")",
  "*",
  ":",
  "@",
  ",",
  ";",
  "$",
  "\u00e9",
  "\u00fc",
  "\u4e2d\u6587",
  "\u1234",
  "\u{1F600}",
  "\u00a0",
  "%2F",
  "..",
  ".",
];
const segment = fc.oneof(
  fc.array(fc.constantFrom(...SEGMENT_PIECES), { maxLength: 5 }).map((p) => p.join("")),
  fc.string({ unit: "binary", maxLength: 6 }),
  fc.constantFrom("", ".", ".."),
);
const s3Key = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join("/"))
  .filter((k) => k.length > 0);
const queryText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.array(fc.constantFrom(...SEGMENT_PIECES, "/", "-", "_"), { maxLength: 6 }).map((p) =>
    p.join("")
  ),
);
const headerValueChars = fc.constantFrom(
  ..."abcXYZ019 =-,;:/\"'()*?<>@!#$%&+.^_`|~[]{}".split(""),
  "  ",
  "\t",
);
const headerValue = fc.array(headerValueChars, { maxLength: 12 }).map((c) => c.join(""));
const extraHeaders = fc.dictionary(
  fc.constantFrom(
    "range",
    "if-none-match",
    "if-match",
    "if-modified-since",
    "if-unmodified-since",
    "content-type",
    "content-md5",
    "x-amz-meta-note",
    "x-amz-request-payer",
    "x-amz-checksum-mode",
    "x-amz-expected-bucket-owner",
  ),
  headerValue,
  { maxKeys: 4 },
);
const keyChars = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".split(""));
const secretChars = fc.constantFrom(
  ..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+=".split(""),
);
const token = fc.array(secretChars, { minLength: 16, maxLength: 64 }).map((c) => c.join(""));
const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")
);

const scenario = fc.record({
  accessKeyId: fc.array(keyChars, { minLength: 16, maxLength: 20 }).map((c) => c.join("")),
  secretAccessKey: fc.array(secretChars, { minLength: 1, maxLength: 40 }).map((c) => c.join("")),
  sessionToken: fc.option(token, { nil: undefined }),
  region: fc.constantFrom(
    "us-east-1",
    "eu-west-3",
    "ap-southeast-2",
    "auto",
    "garage",
    "us-gov-west-1",
  ),
  host: fc.constantFrom(
    "127.0.0.1:9000",
    "localhost:4566",
    "s3.amazonaws.com",
    "bucket.s3.eu-west-3.amazonaws.com",
    "[::1]:9000",
  ),
  method: fc.constantFrom("GET", "HEAD", "PUT"),
  bucket: fc.constantFrom("b", "media-bucket", "my.bucket.name"),
  key: s3Key,
  query: fc.array(fc.tuple(queryText, queryText), { maxLength: 4 }),
  headers: extraHeaders,
  payloadHash: fc.oneof(fc.constant(EMPTY_PAYLOAD_SHA256), fc.constant("UNSIGNED-PAYLOAD"), hex64),
  nowMs: fc.integer({ min: 0, max: 253402300799999 }),
});

function isNormalizationFree(key: string): boolean {
  const segments = key.split("/");
  return segments.every((s, i) =>
    s !== "." && s !== ".." && (s !== "" || i === segments.length - 1)
  );
}

Deno.test("SigV4Signer.sign() equals @smithy/signature-v4 on random S3 requests (property)", async () => {
  let smithyEncodedRuns = 0;
  await fc.assert(
    fc.asyncProperty(scenario, async (s) => {
      const credentials = {
        accessKeyId: s.accessKeyId,
        secretAccessKey: s.secretAccessKey,
        sessionToken: s.sessionToken,
      };
      const ours = new SigV4Signer({ credentials, region: s.region });
      const canonicalUri = `/${s.bucket}/${encodeS3Key(s.key)}`;
      const signed = ours.sign(
        {
          method: s.method,
          host: s.host,
          canonicalUri,
          query: s.query,
          headers: s.headers,
          payloadHash: s.payloadHash,
        },
        s.nowMs,
      );

      const smithyEncodes = isNormalizationFree(s.key);
      if (smithyEncodes) smithyEncodedRuns++;
      const smithy = smithySigner(credentials, s.region, "s3", {
        applyChecksum: true,
        uriEscapePath: smithyEncodes,
      });
      const bySmithy = await smithy.sign(
        new HttpRequest({
          method: s.method,
          protocol: "https:",
          hostname: s.host,
          path: smithyEncodes ? `/${s.bucket}/${s.key}` : canonicalUri,
          query: smithyQuery(s.query),
          headers: { ...s.headers, host: s.host, "x-amz-content-sha256": s.payloadHash },
        }),
        { signingDate: new Date(s.nowMs) },
      );
      assert.equal(signed.authorization, bySmithy.headers.authorization);
      assert.equal(signed["x-amz-date"], bySmithy.headers["x-amz-date"]);
      assert.equal(signed["x-amz-content-sha256"], s.payloadHash);
      assert.equal(signed["x-amz-security-token"], bySmithy.headers["x-amz-security-token"]);
    }),
    { numRuns: 600 },
  );
  // Both modes must actually have been exercised.
  assert.ok(smithyEncodedRuns > 100, `only ${smithyEncodedRuns} runs used smithy's encoder`);
  assert.ok(smithyEncodedRuns < 550, `only ${600 - smithyEncodedRuns} runs had dot/empty segments`);
});

Deno.test("SigV4Signer.sign() equals @smithy/signature-v4 without the S3 header (property)", async () => {
  // The generic (non-S3) mode: no x-amz-content-sha256 header, payload hash still signed.
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        secretAccessKey: fc.string({ minLength: 1, maxLength: 40 }),
        service: fc.constantFrom("service", "s3", "execute-api", "sts"),
        query: fc.array(fc.tuple(queryText, queryText), { maxLength: 3 }),
        headers: extraHeaders,
        nowMs: fc.integer({ min: 0, max: 253402300799999 }),
      }),
      async (s) => {
        const credentials = { accessKeyId: "AKID", secretAccessKey: s.secretAccessKey };
        const ours = new SigV4Signer({
          credentials,
          region: "us-east-1",
          service: s.service,
          contentSha256Header: false,
        });
        const signed = ours.sign(
          {
            method: "POST",
            host: SUITE_HOST,
            canonicalUri: "/",
            query: s.query,
            headers: s.headers,
          },
          s.nowMs,
        );
        const smithy = smithySigner(credentials, "us-east-1", s.service, {
          applyChecksum: false,
          uriEscapePath: false,
        });
        const bySmithy = await smithy.sign(
          new HttpRequest({
            method: "POST",
            hostname: SUITE_HOST,
            path: "/",
            query: smithyQuery(s.query),
            headers: { ...s.headers, host: SUITE_HOST },
          }),
          { signingDate: new Date(s.nowMs) },
        );
        assert.equal(signed.authorization, bySmithy.headers.authorization);
        assert.equal(signed["x-amz-content-sha256"], undefined);
      },
    ),
    { numRuns: 200 },
  );
});
