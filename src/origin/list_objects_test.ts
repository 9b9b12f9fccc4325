// Owns the tests of the ListObjectsV2 query builder and XML parser, with a round-trip property over random keys.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ListObjectsParseError,
  listObjectsQuery,
  type ListPage,
  parseListObjectsXml,
} from "./list_objects.ts";

const HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">';

function contents(key: string, size = 1, etag = "&quot;e&quot;"): string {
  return `<Contents><Key>${key}</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified>` +
    `<ETag>${etag}</ETag><Size>${size}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
}

function listing(body: string, truncated = false, token?: string): string {
  return `${HEAD}<Name>assets</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>` +
    `<IsTruncated>${truncated}</IsTruncated>${body}` +
    (token === undefined ? "" : `<NextContinuationToken>${token}</NextContinuationToken>`) +
    "</ListBucketResult>";
}

Deno.test("listObjectsQuery() builds list-type=2 with max-keys, prefix and token", () => {
  assert.deepEqual(listObjectsQuery({ prefix: "", continuationToken: undefined, maxKeys: 1000 }), [
    ["list-type", "2"],
    ["max-keys", "1000"],
  ]);
  assert.deepEqual(
    listObjectsQuery({ prefix: "a b/+&", continuationToken: "t/0k=", maxKeys: 2 }),
    [["list-type", "2"], ["max-keys", "2"], ["prefix", "a b/+&"], ["continuation-token", "t/0k="]],
  );
});

Deno.test("listObjectsQuery() refuses a max-keys S3 would not honour", () => {
  for (const maxKeys of [0, -1, 1001, 1.5, Number.NaN]) {
    assert.throws(
      () => listObjectsQuery({ prefix: "", continuationToken: undefined, maxKeys }),
      RangeError,
    );
  }
});

Deno.test("parseListObjectsXml() reads a page with no Contents", () => {
  assert.deepEqual(parseListObjectsXml(listing("")), {
    objects: [],
    nextContinuationToken: undefined,
    isTruncated: false,
  });
  assert.deepEqual(parseListObjectsXml("<ListBucketResult/>"), {
    objects: [],
    nextContinuationToken: undefined,
    isTruncated: false,
  });
});

Deno.test("parseListObjectsXml() reads a single Contents (not an array in the XML)", () => {
  const page = parseListObjectsXml(listing(contents("docs/a.txt", 42)));
  assert.deepEqual(page, {
    objects: [{
      key: "docs/a.txt",
      size: 42,
      etag: '"e"',
      lastModified: "2024-01-02T03:04:05.000Z",
    }],
    nextContinuationToken: undefined,
    isTruncated: false,
  });
});

Deno.test("parseListObjectsXml() reads many Contents in order, with the next token", () => {
  const keys = ["a", "b/c", "d/e/f"];
  const page = parseListObjectsXml(
    listing(keys.map((k, i) => contents(k, i)).join("\n  "), true, "next+/=token"),
  );
  assert.deepEqual(page.objects.map((o) => [o.key, o.size]), [["a", 0], ["b/c", 1], ["d/e/f", 2]]);
  assert.equal(page.isTruncated, true);
  assert.equal(page.nextContinuationToken, "next+/=token");
});

Deno.test("parseListObjectsXml() decodes entities and character references in keys", () => {
  const page = parseListObjectsXml(listing(
    contents("a &amp; b &lt;c&gt; &quot;q&quot; &apos;s&apos;") +
      contents("&#x65E5;&#26412;&#x8A9E;/&#x1F600;.txt") +
      contents("&amp;#x41; stays literal") +
      contents("ctrl&#x1;&#13;char") +
      contents("日本語 ✓ é/😀"),
  ));
  assert.deepEqual(page.objects.map((o) => o.key), [
    "a & b <c> \"q\" 's'",
    "日本語/😀.txt",
    "&#x41; stays literal",
    "ctrl\u0001\rchar",
    "日本語 ✓ é/😀",
  ]);
});

Deno.test("parseListObjectsXml() keeps numeric-looking and blank-edged keys as exact strings", () => {
  const keys = ["0123", "1e5", "0x10", "true", "null", "-0", "  spaced  ", "1.50"];
  const page = parseListObjectsXml(listing(keys.map((k) => contents(k)).join("")));
  assert.deepEqual(page.objects.map((o) => o.key), keys);
  for (const object of page.objects) assert.equal(typeof object.key, "string");
});

Deno.test("parseListObjectsXml() takes CDATA verbatim", () => {
  const page = parseListObjectsXml(listing(contents("<![CDATA[a&amp;<b>]]>")));
  assert.equal(page.objects[0]?.key, "a&amp;<b>");
});

Deno.test("parseListObjectsXml() leaves ETag and LastModified undefined when absent", () => {
  const page = parseListObjectsXml(listing("<Contents><Key>k</Key><Size>7</Size></Contents>"));
  assert.deepEqual(page.objects, [{ key: "k", size: 7, etag: undefined, lastModified: undefined }]);
});

Deno.test("parseListObjectsXml() throws a clear error for malformed or unexpected documents", () => {
  const cases: Array<[string, RegExp]> = [
    ["", /malformed XML/],
    ["not xml at all", /malformed XML/],
    [listing(contents("a")).slice(0, -10), /malformed XML/],
    [listing(contents("a & b")), /malformed XML/],
    [listing(contents("a < b")), /malformed XML/],
    [listing(contents("&nbsp;")), /invalid reference "&nbsp;"/],
    [listing(contents("&#0;")), /invalid reference/],
    [listing(contents("&#xD800;")), /invalid reference/],
    [listing(contents("&#x110000;")), /invalid reference/],
    ["<Error><Code>AccessDenied</Code></Error>", /expected a <ListBucketResult> document.*<Error>/],
    [listing("<Contents><Size>1</Size></Contents>"), /<Contents> #1 has no <Key>/],
    [listing(contents("k", 1).replace("<Size>1</Size>", "")), /no <Size>/],
    [listing(contents("k").replace("<Size>1</Size>", "<Size>-3</Size>")), /<Size> "-3"/],
    [listing(contents("<b>x</b>")), /<Key> is not a plain text element/],
    [listing(contents("k"), true), /no <NextContinuationToken>/],
    [listing("").replace("false", "maybe"), /<IsTruncated> is "maybe"/],
  ];
  for (const [xml, message] of cases) {
    assert.throws(() => parseListObjectsXml(xml), (error: unknown) => {
      assert.ok(error instanceof ListObjectsParseError, `not a ListObjectsParseError: ${error}`);
      assert.match(error.message, /^Cannot read the S3 ListObjectsV2 answer: /);
      assert.match(error.message, message);
      return true;
    }, xml);
  }
});

// --- property: any key S3 can hold, encoded as S3 might encode it, parses back to itself ---

/** Characters XML 1.0 allows literally in text (§2.2); others must be character references. */
function isXmlChar(codePoint: number): boolean {
  return codePoint === 0x9 || codePoint === 0xa ||
    (codePoint >= 0x20 && codePoint <= 0xd7ff) ||
    (codePoint >= 0xe000 && codePoint <= 0xfffd) ||
    (codePoint >= 0x10000 && codePoint <= 0x10ffff);
}

/**
 * Escapes `text` for element content. `style` picks, per character, between the literal (where
 * XML allows it), a decimal and a hex reference, so every decoding path is exercised. CR is
 * always a reference: a literal CR is normalised to LF by every XML parser (§2.11), and S3 sends
 * it as &#13; for that reason.
 */
function xmlEscape(text: string, style: number[]): string {
  let out = "";
  let i = 0;
  for (const char of text) {
    const codePoint = char.codePointAt(0)!;
    const pick = style[i++ % style.length] ?? 0;
    const named = ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[
      char
    ];
    if (pick === 1 || !isXmlChar(codePoint) || codePoint === 0xd) out += `&#${codePoint};`;
    else if (pick === 2) out += `&#x${codePoint.toString(16)};`;
    else if (named !== undefined) out += named;
    else out += char;
  }
  return out;
}

/** Any Unicode scalar value but NUL (S3 keys are UTF-8; NUL cannot appear in XML at all). */
const keyChar = fc.oneof(
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  fc.constantFrom(
    "&",
    "<",
    ">",
    '"',
    "'",
    " ",
    "/",
    "\r",
    "\n",
    "\t",
    "0",
    "e",
    ".",
    "+",
    "\u0001",
  ),
).filter((c) => c !== "\u0000");
const key = fc.array(keyChar, { minLength: 1, maxLength: 40 }).map((chars) => chars.join(""));
const style = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 8 });

Deno.test("property: random keys encoded into a listing parse back exactly", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(key, fc.nat({ max: 2 ** 40 }), style), { maxLength: 6 }),
      fc.option(key, { nil: undefined }),
      (objects, token) => {
        const body = objects.map(([k, size, s]) =>
          `<Contents><Key>${xmlEscape(k, s)}</Key><Size>${size}</Size></Contents>`
        ).join("");
        const xml = listing(body, token !== undefined, token && xmlEscape(token, [0]));
        const expected: ListPage = {
          objects: objects.map(([k, size]) => ({
            key: k,
            size,
            etag: undefined,
            lastModified: undefined,
          })),
          nextContinuationToken: token,
          isTruncated: token !== undefined,
        };
        assert.deepEqual(parseListObjectsXml(xml), expected);
      },
    ),
    { numRuns: 500 },
  );
});
