// Integration: client IP behind trusted proxies, per-bucket ip_filter and CORS, through createApp against a real s3rver.

import assert from "node:assert/strict";
import type { BucketConfig, Config, CorsConfig } from "../../src/config/types.ts";
import { bucketConfig, buildTestApp, testCacheConfig, testConfig } from "../support/app_harness.ts";
import { signHs256, testJwtConfig } from "../support/jwt_config.ts";
import { startS3Server } from "../support/s3_server.ts";

const TEXT = "protected bytes\n";
const APP_ORIGIN = "https://app.example.com";

function bucket(spec: { name: string; prefix: string; endpoint: string }): BucketConfig {
  return bucketConfig({
    name: spec.name,
    pathPrefix: spec.prefix,
    bucket: "assets",
    endpoint: spec.endpoint,
  });
}

function cors(overrides: Partial<CorsConfig> = {}): CorsConfig {
  return {
    allowedOrigins: [APP_ORIGIN],
    allowedMethods: ["GET", "HEAD"],
    allowedHeaders: ["authorization", "range"],
    exposedHeaders: ["ETag", "Content-Range"],
    maxAgeSeconds: 600,
    allowCredentials: true,
    ...overrides,
  };
}

async function json(res: Response): Promise<Record<string, unknown>> {
  return await res.json() as Record<string, unknown>;
}

Deno.test("client IP through trusted proxies, spoofed X-Forwarded-For, ip_filter", async (t) => {
  const s3 = await startS3Server({ buckets: ["assets"] });
  await s3.putObject("assets", "a.txt", TEXT, { contentType: "text/plain" });
  const config: Config = testConfig([
    bucket({ name: "public", prefix: "/public", endpoint: s3.endpoint }),
    {
      ...bucket({ name: "office", prefix: "/office", endpoint: s3.endpoint }),
      ipFilter: { allowlist: ["203.0.113.0/24", "2001:db8:beef::/48"], blocklist: [] },
    },
  ]);
  config.server.trustedProxies = ["10.0.0.0/8", "fd00::/8"];
  const gw = await buildTestApp(config);
  /** The client_ip the access log recorded for one request. */
  const clientIpOf = async (peer: string, forwardedFor?: string) => {
    const headers = forwardedFor === undefined ? undefined : { "x-forwarded-for": forwardedFor };
    const res = await gw.request("/public/a.txt", { headers }, peer);
    await res.body?.cancel();
    assert.equal(res.status, 200);
    await gw.logger.flush();
    const lines = gw.log.entries().filter((entry) => entry.msg === "request");
    return lines.at(-1)?.client_ip;
  };
  const office = (peer: string, forwardedFor?: string | Headers) =>
    gw.request(
      "/office/a.txt",
      forwardedFor === undefined ? undefined : {
        headers: typeof forwardedFor === "string"
          ? { "x-forwarded-for": forwardedFor }
          : forwardedFor,
      },
      peer,
    );
  try {
    await t.step("a trusted proxy's X-Forwarded-For names the client", async () => {
      assert.equal(await clientIpOf("10.0.0.5", "198.51.100.7"), "198.51.100.7");
      // A chain of trusted proxies is walked from the right.
      assert.equal(
        await clientIpOf("10.0.0.5", "198.51.100.7, 10.1.1.1, 10.2.2.2"),
        "198.51.100.7",
      );
      // Several header lines count as one list, in order.
      const headers = new Headers();
      headers.append("x-forwarded-for", "203.0.113.9, 198.51.100.7");
      headers.append("x-forwarded-for", "10.1.1.1");
      const res = await office("10.0.0.5", headers);
      assert.equal(res.status, 403);
      assert.match(String((await json(res)).message), /198\.51\.100\.7/);
      // No spaces after the commas.
      assert.equal(await clientIpOf("10.0.0.5", "198.51.100.7,10.1.1.1"), "198.51.100.7");
      // IPv6 peers and entries, with the brackets and port some proxies write.
      assert.equal(await clientIpOf("fd00::1", "[2001:DB8::7]:443"), "2001:db8::7");
      // A dual-stack socket reports an IPv4 proxy as IPv4-mapped IPv6.
      assert.equal(await clientIpOf("::ffff:10.0.0.5", "198.51.100.7"), "198.51.100.7");
      // A trusted proxy without the header: the proxy is the client.
      assert.equal(await clientIpOf("10.0.0.5"), "10.0.0.5");
    });

    await t.step("a spoofed left-most entry is never believed", async () => {
      // The client 198.51.100.7 wrote "203.0.113.9"; the proxy appended the real address.
      assert.equal(await clientIpOf("10.0.0.5", "203.0.113.9, 198.51.100.7"), "198.51.100.7");
      const res = await office("10.0.0.5", "203.0.113.9, 198.51.100.7");
      assert.equal(res.status, 403);
      const body = await json(res);
      assert.equal(body.code, "ip_forbidden");
      assert.match(String(body.message), /198\.51\.100\.7/);
    });

    await t.step("an untrusted peer's X-Forwarded-For is ignored", async () => {
      assert.equal(await clientIpOf("198.51.100.7", "203.0.113.9"), "198.51.100.7");
      const res = await office("198.51.100.7", "203.0.113.9");
      assert.equal(res.status, 403);
      assert.equal((await json(res)).code, "ip_forbidden");
    });

    await t.step("an entry that is not an address stops at the last trusted hop", async () => {
      assert.equal(await clientIpOf("10.0.0.5", "203.0.113.9, unknown, 10.3.3.3"), "10.3.3.3");
      const res = await office("10.0.0.5", "203.0.113.9, garbage");
      assert.equal(res.status, 403);
      assert.match(String((await json(res)).message), /10\.0\.0\.5/);
    });

    await t.step("the allowlist admits the client behind the proxy (v4 and v6)", async () => {
      for (
        const [peer, forwarded] of [
          ["10.0.0.5", "203.0.113.9"],
          ["fd00::1", "2001:db8:beef::7"],
          ["fd00::1", "[2001:db8:beef::7]:8443"],
          ["::ffff:10.0.0.5", "203.0.113.200"],
        ]
      ) {
        const res = await office(peer!, forwarded);
        assert.equal(res.status, 200, `${peer} ${forwarded}`);
        assert.equal(await res.text(), TEXT);
      }
    });
  } finally {
    await gw.app.close();
    await gw.logger.flush();
    await s3.close();
  }
});

Deno.test("ip_filter: allowlist and blocklist, IPv4 and IPv6, before authentication", async (t) => {
  const s3 = await startS3Server({ buckets: ["assets"] });
  await s3.putObject("assets", "a.txt", TEXT, { contentType: "text/plain" });
  const ipFilter = {
    allowlist: ["198.51.100.0/24", "2001:db8::/32"],
    blocklist: ["198.51.100.66/32", "2001:db8:bad::/48"],
  };
  const jwt = testJwtConfig();
  const config = testConfig([
    { ...bucket({ name: "filtered", prefix: "/filtered", endpoint: s3.endpoint }), ipFilter },
    {
      ...bucket({ name: "blocked-only", prefix: "/open", endpoint: s3.endpoint }),
      ipFilter: { allowlist: [], blocklist: ["192.0.2.0/24"] },
    },
    {
      ...bucket({ name: "private", prefix: "/private", endpoint: s3.endpoint }),
      ipFilter: { allowlist: [], blocklist: ["192.0.2.0/24"] },
      jwt,
    },
    {
      ...bucket({ name: "cors-filtered", prefix: "/cf", endpoint: s3.endpoint }),
      ipFilter: { allowlist: [], blocklist: ["192.0.2.0/24"] },
      cors: cors(),
    },
  ]);
  // No trusted proxies: X-Forwarded-For is never read.
  const gw = await buildTestApp(config);
  const status = async (path: string, peer: string, init?: RequestInit) => {
    const res = await gw.request(path, init, peer);
    const body = res.status === 200 ? undefined : await json(res);
    if (res.status === 200) await res.body?.cancel();
    return { status: res.status, body, headers: res.headers };
  };
  try {
    await t.step("IPv4: allowlisted passes, blocklist wins, others are refused", async () => {
      assert.equal((await status("/filtered/a.txt", "198.51.100.1")).status, 200);
      const blocked = await status("/filtered/a.txt", "198.51.100.66");
      assert.equal(blocked.status, 403);
      assert.equal(blocked.body?.code, "ip_forbidden");
      assert.match(String(blocked.body?.message), /198\.51\.100\.66.*blocklist/);
      const outside = await status("/filtered/a.txt", "192.0.2.1");
      assert.equal(outside.status, 403);
      assert.match(String(outside.body?.message), /192\.0\.2\.1.*allowlist/);
      // An IPv4-mapped peer is matched as IPv4.
      assert.equal((await status("/filtered/a.txt", "::ffff:198.51.100.1")).status, 200);
      assert.equal((await status("/filtered/a.txt", "::ffff:198.51.100.66")).status, 403);
    });

    await t.step("IPv6: allowlisted passes, a blocked /48 inside it is refused", async () => {
      assert.equal((await status("/filtered/a.txt", "2001:db8::1")).status, 200);
      const blocked = await status("/filtered/a.txt", "2001:db8:bad::1");
      assert.equal(blocked.status, 403);
      assert.match(String(blocked.body?.message), /2001:db8:bad::1/);
      assert.equal((await status("/filtered/a.txt", "2001:db9::1")).status, 403);
    });

    await t.step("an X-Forwarded-For from an untrusted peer changes nothing", async () => {
      const res = await status("/filtered/a.txt", "192.0.2.1", {
        headers: { "x-forwarded-for": "198.51.100.1" },
      });
      assert.equal(res.status, 403);
    });

    await t.step("an empty allowlist admits everyone not blocked", async () => {
      assert.equal((await status("/open/a.txt", "203.0.113.1")).status, 200);
      assert.equal((await status("/open/a.txt", "2001:db8::1")).status, 200);
      assert.equal((await status("/open/a.txt", "192.0.2.50")).status, 403);
    });

    await t.step("the filter runs before authentication", async () => {
      // Blocked: 403 ip_forbidden, not 401, and the token is never looked at.
      const blocked = await status("/private/a.txt", "192.0.2.1");
      assert.equal(blocked.status, 403);
      assert.equal(blocked.body?.code, "ip_forbidden");
      const missing = await status("/private/a.txt", "203.0.113.1");
      assert.equal(missing.status, 401);
      const token = await signHs256({ sub: "u" });
      const allowed = await status("/private/a.txt", "203.0.113.1", {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(allowed.status, 200);
    });

    await t.step("a blocked network gets no CORS preflight answer", async () => {
      const preflight = {
        method: "OPTIONS",
        headers: { origin: APP_ORIGIN, "access-control-request-method": "GET" },
      };
      const blocked = await status("/cf/a.txt", "192.0.2.1", preflight);
      assert.equal(blocked.status, 403);
      assert.equal(blocked.body?.code, "ip_forbidden");
      assert.equal(blocked.headers.get("access-control-allow-origin"), null);
      const open = await gw.request("/cf/a.txt", preflight, "203.0.113.1");
      assert.equal(open.status, 204);
      assert.equal(open.headers.get("access-control-allow-origin"), APP_ORIGIN);
    });
  } finally {
    await gw.app.close();
    await gw.logger.flush();
    await s3.close();
  }
});

Deno.test("CORS: preflights, simple requests, cache hits and errors", async (t) => {
  const s3 = await startS3Server({ buckets: ["assets"] });
  const put = await s3.putObject("assets", "a.txt", TEXT, { contentType: "text/plain" });
  const config = testConfig([
    { ...bucket({ name: "app", prefix: "/app", endpoint: s3.endpoint }), cors: cors() },
    {
      ...bucket({ name: "any", prefix: "/any", endpoint: s3.endpoint }),
      cors: cors({
        allowedOrigins: ["*"],
        allowedHeaders: ["*"],
        exposedHeaders: [],
        allowCredentials: false,
        allowedMethods: ["GET"],
      }),
    },
    bucket({ name: "plain", prefix: "/plain", endpoint: s3.endpoint }),
  ]);
  config.cache = testCacheConfig({
    maxItemBytes: 1 << 20,
    maxCacheBytes: 1 << 24,
    defaultTtlSeconds: 60,
  });
  const gw = await buildTestApp(config);
  const preflight = (path: string, headers: Record<string, string>) =>
    gw.request(path, { method: "OPTIONS", headers });
  const vary = (res: Response) => (res.headers.get("vary") ?? "").toLowerCase();
  try {
    await t.step("an allowed preflight: 204 with the Access-Control-Allow-* headers", async () => {
      const res = await preflight("/app/a.txt", {
        origin: APP_ORIGIN,
        "access-control-request-method": "GET",
        "access-control-request-headers": "Authorization, range",
      });
      assert.equal(res.status, 204);
      assert.equal(res.headers.get("access-control-allow-origin"), APP_ORIGIN);
      assert.equal(res.headers.get("access-control-allow-credentials"), "true");
      assert.equal(res.headers.get("access-control-allow-methods"), "GET, HEAD");
      assert.equal(res.headers.get("access-control-allow-headers"), "authorization, range");
      assert.equal(res.headers.get("access-control-max-age"), "600");
      assert.match(vary(res), /origin/);
      assert.match(vary(res), /access-control-request-method/);
      assert.ok(res.headers.get("x-request-id"));
      assert.equal(await res.text(), "");
    });

    await t.step("a refused preflight: 403 cors_forbidden without CORS headers", async () => {
      const cases: [Record<string, string>, RegExp][] = [
        [
          { origin: "https://evil.example", "access-control-request-method": "GET" },
          /https:\/\/evil\.example.*allowed_origins.*"app"/,
        ],
        [
          { origin: APP_ORIGIN, "access-control-request-method": "PUT" },
          /PUT.*allowed_methods/,
        ],
        [
          {
            origin: APP_ORIGIN,
            "access-control-request-method": "GET",
            "access-control-request-headers": "range, x-custom, x-other",
          },
          /x-custom, x-other are not in the allowed_headers/,
        ],
      ];
      for (const [headers, message] of cases) {
        const res = await preflight("/app/a.txt", headers);
        assert.equal(res.status, 403);
        const body = await json(res);
        assert.equal(body.code, "cors_forbidden");
        assert.match(String(body.message), message);
        assert.equal(res.headers.get("access-control-allow-origin"), null);
        assert.equal(res.headers.get("access-control-allow-methods"), null);
        assert.match(vary(res), /origin/);
      }
    });

    await t.step("OPTIONS that is not a preflight: 204 with Allow", async () => {
      const res = await preflight("/app/a.txt", {});
      assert.equal(res.status, 204);
      assert.equal(res.headers.get("allow"), "GET, HEAD, OPTIONS");
      assert.equal(res.headers.get("access-control-allow-origin"), null);
      assert.match(vary(res), /origin/);
    });

    await t.step("GET from an allowed origin: miss, then a hit, both with CORS", async () => {
      const miss = await gw.request("/app/a.txt", { headers: { origin: APP_ORIGIN } });
      assert.equal(miss.status, 200);
      assert.equal(await miss.text(), TEXT);
      assert.equal(miss.headers.get("x-cache"), "MISS");
      assert.equal(miss.headers.get("access-control-allow-origin"), APP_ORIGIN);
      assert.equal(miss.headers.get("access-control-allow-credentials"), "true");
      assert.equal(miss.headers.get("access-control-expose-headers"), "ETag, Content-Range");
      assert.equal(vary(miss), "origin");
      const hit = await gw.request("/app/a.txt", { headers: { origin: APP_ORIGIN } });
      assert.equal(await hit.text(), TEXT);
      assert.equal(hit.headers.get("x-cache"), "HIT");
      assert.equal(hit.headers.get("etag"), put.etag);
      assert.equal(hit.headers.get("access-control-allow-origin"), APP_ORIGIN);
      assert.equal(hit.headers.get("access-control-expose-headers"), "ETag, Content-Range");
      assert.equal(vary(hit), "origin");
    });

    await t.step("the cached copy never carries one origin's headers to another", async () => {
      const other = await gw.request("/app/a.txt", { headers: { origin: "https://evil.example" } });
      assert.equal(await other.text(), TEXT);
      assert.equal(other.headers.get("x-cache"), "HIT");
      assert.equal(other.headers.get("access-control-allow-origin"), null);
      assert.equal(other.headers.get("access-control-allow-credentials"), null);
      assert.equal(vary(other), "origin");
      const none = await gw.request("/app/a.txt");
      assert.equal(await none.text(), TEXT);
      assert.equal(none.headers.get("access-control-allow-origin"), null);
      assert.equal(vary(none), "origin");
    });

    await t.step("HEAD, a Range hit and a 304 carry CORS too", async () => {
      const head = await gw.request("/app/a.txt", {
        method: "HEAD",
        headers: { origin: APP_ORIGIN },
      });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("access-control-allow-origin"), APP_ORIGIN);
      const range = await gw.request("/app/a.txt", {
        headers: { origin: APP_ORIGIN, range: "bytes=0-3" },
      });
      assert.equal(range.status, 206);
      assert.equal(await range.text(), TEXT.slice(0, 4));
      assert.equal(range.headers.get("access-control-allow-origin"), APP_ORIGIN);
      const notModified = await gw.request("/app/a.txt", {
        headers: { origin: APP_ORIGIN, "if-none-match": put.etag },
      });
      assert.equal(notModified.status, 304);
      assert.equal(notModified.headers.get("access-control-allow-origin"), APP_ORIGIN);
      assert.equal(vary(notModified), "origin");
    });

    await t.step("errors of a CORS bucket carry CORS headers (pages can read why)", async () => {
      const res = await gw.request("/app/missing.txt", { headers: { origin: APP_ORIGIN } });
      assert.equal(res.status, 404);
      assert.equal((await json(res)).code, "object_not_found");
      assert.equal(res.headers.get("access-control-allow-origin"), APP_ORIGIN);
      assert.equal(vary(res), "origin");
      const range = await gw.request("/app/a.txt", {
        headers: { origin: APP_ORIGIN, range: "bytes=100-200" },
      });
      assert.equal(range.status, 416);
      await range.body?.cancel();
      assert.equal(range.headers.get("access-control-allow-origin"), APP_ORIGIN);
    });

    await t.step("a wildcard policy answers '*' without credentials", async () => {
      const get = await gw.request("/any/a.txt", { headers: { origin: "https://x.example" } });
      assert.equal(await get.text(), TEXT);
      assert.equal(get.headers.get("access-control-allow-origin"), "*");
      assert.equal(get.headers.get("access-control-allow-credentials"), null);
      assert.equal(get.headers.get("access-control-expose-headers"), null);
      const pre = await preflight("/any/a.txt", {
        origin: "https://x.example",
        "access-control-request-method": "GET",
        "access-control-request-headers": "authorization, x-anything",
      });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.get("access-control-allow-origin"), "*");
      // Echoed: "*" would not cover Authorization.
      assert.equal(pre.headers.get("access-control-allow-headers"), "authorization, x-anything");
      assert.equal(pre.headers.get("access-control-allow-methods"), "GET");
      assert.equal(pre.headers.get("access-control-max-age"), "600");
      // HEAD is not in this bucket's allowed_methods.
      const head = await preflight("/any/a.txt", {
        origin: "https://x.example",
        "access-control-request-method": "HEAD",
      });
      assert.equal(head.status, 403);
      await head.body?.cancel();
      const headGet = await gw.request("/any/a.txt", {
        method: "HEAD",
        headers: { origin: "https://x.example" },
      });
      assert.equal(headGet.headers.get("access-control-allow-origin"), null);
    });

    await t.step("a bucket without cors: no CORS headers, no Vary, plain OPTIONS", async () => {
      const get = await gw.request("/plain/a.txt", { headers: { origin: APP_ORIGIN } });
      assert.equal(await get.text(), TEXT);
      assert.equal(get.headers.get("access-control-allow-origin"), null);
      assert.equal(get.headers.get("vary"), null);
      const pre = await preflight("/plain/a.txt", {
        origin: APP_ORIGIN,
        "access-control-request-method": "GET",
      });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.get("allow"), "GET, HEAD, OPTIONS");
      assert.equal(pre.headers.get("access-control-allow-origin"), null);
      // OPTIONS on no bucket at all keeps the plain answer.
      const nowhere = await preflight("/nowhere/x", {});
      assert.equal(nowhere.status, 204);
    });
  } finally {
    await gw.app.close();
    await gw.logger.flush();
    await s3.close();
  }
});
