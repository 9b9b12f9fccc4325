// Micro-benchmark: what path hardening and the size limits add to the accept stage of a plain GET
// (a cache hit pays exactly this), next to the decoding it already did.

import { SECURITY_LIMITS_DEFAULTS } from "../src/config/schema_security.ts";
import { parseRequestTarget } from "../src/proxy/accept.ts";
import { checkRequestTarget } from "../src/proxy/path_guard.ts";
import { checkRequestLimits } from "../src/proxy/request_limits.ts";

const plain = "http://127.0.0.1:8080/public/photos/2026/11/cat-0042.jpg";
const encoded = "http://127.0.0.1:8080/public/photos/2026/11/caf%C3%A9%20menu%20%2B%20prices.pdf";
const request = new Request(plain, {
  headers: {
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    accept: "image/avif,image/webp,*/*;q=0.8",
    "accept-language": "en-US,en;q=0.9",
    "accept-encoding": "gzip, deflate, br",
    cookie: "session=abcdef0123456789abcdef; theme=dark",
  },
});
request.headers.get("x-request-id"); // the accept stage has read the headers already
const lowHeaderLimit = { ...SECURITY_LIMITS_DEFAULTS, maxHeaderSize: 16_384 };

for (const [name, url] of [["plain", plain], ["percent-encoded", encoded]] as const) {
  Deno.bench({
    name: `parseRequestTarget, ${name} path`,
    group: name,
    baseline: true,
    fn() {
      parseRequestTarget(url);
    },
  });
  Deno.bench({
    name: `+ limits + checkRequestTarget, ${name} path`,
    group: name,
    fn() {
      checkRequestLimits(request, url, SECURITY_LIMITS_DEFAULTS);
      const target = parseRequestTarget(url);
      checkRequestTarget(target.rawPath, target.path);
    },
  });
}

Deno.bench({
  name: "checkRequestLimits, default limits (headers not summed)",
  group: "limits",
  baseline: true,
  fn() {
    checkRequestLimits(request, plain, SECURITY_LIMITS_DEFAULTS);
  },
});
Deno.bench({
  name: "checkRequestLimits, max_header_size 16384 (headers summed)",
  group: "limits",
  fn() {
    checkRequestLimits(request, plain, lowHeaderLimit);
  },
});
