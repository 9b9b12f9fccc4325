// Tests entity-tag parsing and the RFC 9110 §8.8.3.2 strong and weak comparisons.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type EntityTag,
  listMatches,
  parseEntityTag,
  parseEntityTagList,
  strongMatch,
  weakMatch,
} from "./etag.ts";

function tag(text: string): EntityTag {
  const parsed = parseEntityTag(text);
  assert.ok(parsed, `${text} parses`);
  return parsed;
}

Deno.test("strongMatch()/weakMatch() follow the RFC 9110 §8.8.3.2 comparison table", () => {
  const table: [string, string, boolean, boolean][] = [
    // ETag 1, ETag 2, strong comparison, weak comparison
    ['W/"1"', 'W/"1"', false, true],
    ['W/"1"', 'W/"2"', false, false],
    ['W/"1"', '"1"', false, true],
    ['"1"', '"1"', true, true],
  ];
  for (const [a, b, strong, weak] of table) {
    assert.equal(strongMatch(tag(a), tag(b)), strong, `strong ${a} ${b}`);
    assert.equal(strongMatch(tag(b), tag(a)), strong, `strong ${b} ${a}`);
    assert.equal(weakMatch(tag(a), tag(b)), weak, `weak ${a} ${b}`);
    assert.equal(weakMatch(tag(b), tag(a)), weak, `weak ${b} ${a}`);
  }
});

Deno.test("parseEntityTag() reads strong and weak tags and rejects everything else", () => {
  const cases: [string | null | undefined, EntityTag | undefined][] = [
    ['"xyzzy"', { weak: false, opaque: "xyzzy" }],
    ['W/"xyzzy"', { weak: true, opaque: "xyzzy" }],
    ['""', { weak: false, opaque: "" }],
    ['  "a"\t', { weak: false, opaque: "a" }],
    // A comma is a valid etagc, and S3 multipart ETags contain a dash.
    ['"a,b"', { weak: false, opaque: "a,b" }],
    ['"9bb58f26192e4ba00f01e2e7b136bbd8-2"', {
      weak: false,
      opaque: "9bb58f26192e4ba00f01e2e7b136bbd8-2",
    }],
    ['"caf\u00e9"', { weak: false, opaque: "caf\u00e9" }], // obs-text
    ["xyzzy", undefined], // unquoted
    ['w/"x"', undefined], // the weak prefix is case-sensitive
    ['W/ "x"', undefined],
    ['"x', undefined],
    ['"x"y', undefined],
    ['"a b"', undefined], // SP is not an etagc
    ['"a", "b"', undefined], // a list is not one tag
    ["*", undefined],
    ['"\u0100"', undefined], // not a byte
    ["", undefined],
    [null, undefined],
    [undefined, undefined],
  ];
  for (const [input, expected] of cases) {
    assert.deepEqual(parseEntityTag(input), expected, `${input}`);
  }
});

Deno.test("parseEntityTagList() reads lists, `*`, and skips malformed members", () => {
  const cases: [string, ReturnType<typeof parseEntityTagList>][] = [
    ["*", { any: true }],
    [" * ", { any: true }],
    ["\t*\t", { any: true }],
    // Only SP / HTAB is whitespace (§5.6.3): next to NBSP, VT or FF, `*` is a malformed member.
    ["\xa0*", { any: false, tags: [] }],
    ["*\v", { any: false, tags: [] }],
    ["\f*", { any: false, tags: [] }],
    ['"xyzzy"', { any: false, tags: [{ weak: false, opaque: "xyzzy" }] }],
    // The RFC 9110 §13.1.1 and §13.1.2 examples.
    ['"xyzzy", "r2d2xxxx", "c3piozzzz"', {
      any: false,
      tags: [
        { weak: false, opaque: "xyzzy" },
        { weak: false, opaque: "r2d2xxxx" },
        { weak: false, opaque: "c3piozzzz" },
      ],
    }],
    ['W/"xyzzy", W/"r2d2xxxx", W/"c3piozzzz"', {
      any: false,
      tags: [
        { weak: true, opaque: "xyzzy" },
        { weak: true, opaque: "r2d2xxxx" },
        { weak: true, opaque: "c3piozzzz" },
      ],
    }],
    // Whitespace and empty members are tolerated (§5.6.1.2).
    [' ,\t"a" ,, W/"b",', {
      any: false,
      tags: [{ weak: false, opaque: "a" }, { weak: true, opaque: "b" }],
    }],
    ['"a","b"', { any: false, tags: [{ weak: false, opaque: "a" }, { weak: false, opaque: "b" }] }],
    ['"a,b", "c"', {
      any: false,
      tags: [{ weak: false, opaque: "a,b" }, { weak: false, opaque: "c" }],
    }],
    // Malformed members are dropped and do not hide their neighbours.
    ['xyz, "a", w/"b", "c"d, "e"', {
      any: false,
      tags: [{ weak: false, opaque: "a" }, { weak: false, opaque: "e" }],
    }],
    ['"a", *', { any: false, tags: [{ weak: false, opaque: "a" }] }],
    ['"a", "unterminated', { any: false, tags: [{ weak: false, opaque: "a" }] }],
    ["", { any: false, tags: [] }],
    ["garbage", { any: false, tags: [] }],
  ];
  for (const [input, expected] of cases) {
    assert.deepEqual(parseEntityTagList(input), expected, input);
  }
});

Deno.test("listMatches() uses the requested comparison and `*` matches any representation", () => {
  const current = tag('"v1"');
  const weakCurrent = tag('W/"v1"');
  assert.equal(listMatches(parseEntityTagList('"v0", "v1"'), current, "strong"), true);
  assert.equal(listMatches(parseEntityTagList('W/"v1"'), current, "strong"), false);
  assert.equal(listMatches(parseEntityTagList('"v1"'), weakCurrent, "strong"), false);
  assert.equal(listMatches(parseEntityTagList('W/"v1"'), current, "weak"), true);
  assert.equal(listMatches(parseEntityTagList('"v1"'), weakCurrent, "weak"), true);
  assert.equal(listMatches(parseEntityTagList('"v2"'), current, "weak"), false);
  assert.equal(listMatches(parseEntityTagList("*"), undefined, "strong"), true);
  assert.equal(listMatches(parseEntityTagList('"v1"'), undefined, "weak"), false);
  assert.equal(listMatches(parseEntityTagList(""), current, "weak"), false);
});

/** Characters that make random text look like entity-tag lists. */
const LIST_CHARS = fc.constantFrom(
  '"',
  "W",
  "/",
  ",",
  " ",
  "\t",
  "*",
  "a",
  "b",
  "w",
  "\\",
  "\u00ff",
);
const listText = fc.oneof(
  fc.string(),
  fc.string({ unit: LIST_CHARS }),
  fc.string({ unit: "binary" }),
);

Deno.test("parseEntityTag()/parseEntityTagList() never throw and only return valid tags", () => {
  fc.assert(
    fc.property(listText, (text) => {
      const list = parseEntityTagList(text);
      const single = parseEntityTag(text);
      const tags = list.any ? [] : list.tags;
      for (const t of single ? [...tags, single] : tags) {
        assert.ok(!t.opaque.includes('"'));
        assert.ok([...t.opaque].every((c) => c.charCodeAt(0) >= 0x21 && c.charCodeAt(0) <= 0xff));
      }
    }),
    { numRuns: 2000 },
  );
});

const opaqueArb = fc.string({
  unit: fc.constantFrom("a", "b", "0", "-", ",", "/", "!", "#", "~", "\u0080", "\u00ff"),
});
const tagArb = fc.tuple(fc.boolean(), opaqueArb).map(([weak, opaque]): EntityTag => ({
  weak,
  opaque,
}));
const render = (t: EntityTag) => `${t.weak ? "W/" : ""}"${t.opaque}"`;

Deno.test("a list rendered from random tags with random separators parses back to them", () => {
  fc.assert(fc.property(
    fc.array(tagArb, { maxLength: 6 }),
    fc.array(fc.constantFrom(",", ", ", " ,\t", ",,", " , , "), { minLength: 6, maxLength: 6 }),
    (tags, separators) => {
      const text = tags.map((t, i) => render(t) + separators[i]).join("");
      assert.deepEqual(parseEntityTagList(text), { any: false, tags });
      for (const t of tags) assert.deepEqual(parseEntityTag(` ${render(t)} `), t);
    },
  ));
});
