// Owns what the OPA and OpenFGA tests share: the fake policy server on loopback and the outage checks.

import assert from "node:assert/strict";
import type { AuthorizationConfig } from "../config/types.ts";
import { deadUrl } from "../../tests/support/fake_upstream.ts";
import { type AuthorizationInput, createAuthorizer } from "./authorizer.ts";

/** One request as the fake received it. */
export interface RecordedCall {
  method: string;
  path: string;
  authorization: string | null;
  contentType: string | null;
  body: string;
}

/** An answer that replaces the fake's own for one request; "stall": none until the client aborts. */
export type ScriptedAnswer = { status: number; body: string; contentType?: string } | "stall";

/**
 * A fake policy service on 127.0.0.1:0. Every request is recorded in `calls`; then the next entry
 * of `overrides` answers it if there is one (a stalled request ends with a 504 once the client
 * aborts or the server closes), otherwise the subclass's answer().
 */
export abstract class FakePolicyServer {
  readonly calls: RecordedCall[] = [];
  /** Answers that replace the next requests' evaluation, one each, in order. */
  readonly overrides: ScriptedAnswer[] = [];
  readonly #stalled = new Set<() => void>();
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor() {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (request) => this.#handle(request),
    );
  }

  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  async close(): Promise<void> {
    for (const release of this.#stalled) release();
    await this.#server.shutdown();
  }

  /** The service's own answer to a request that no override took. */
  protected abstract answer(request: Request, url: URL, body: string): Response | Promise<Response>;

  async #handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const body = await request.text();
    this.calls.push({
      method: request.method,
      path: url.pathname,
      authorization: request.headers.get("authorization"),
      contentType: request.headers.get("content-type"),
      body,
    });
    const override = this.overrides.shift();
    if (override === "stall") {
      await new Promise<void>((resolve) => {
        const release = () => {
          this.#stalled.delete(release);
          resolve();
        };
        this.#stalled.add(release);
        request.signal.addEventListener("abort", release, { once: true });
      });
      return new Response(null, { status: 504 });
    }
    if (override !== undefined) {
      return new Response(override.body, {
        status: override.status,
        headers: { "content-type": override.contentType ?? "application/json" },
      });
    }
    return await this.answer(request, url, body);
  }
}

/** A test body that gets a fresh `make()` server and closes it afterwards, pass or fail. */
export function withServer<S extends FakePolicyServer>(
  make: () => S,
  fn: (server: S) => Promise<void>,
): () => Promise<void> {
  return async () => {
    const server = make();
    try {
      await fn(server);
    } finally {
      await server.close();
    }
  };
}

type FailMode = AuthorizationConfig["failMode"];

/**
 * Against a `server` that stalls, the authorizer gives up after timeoutMs (100 ms) and each fail
 * mode decides. `configFor` makes the service's config with those two fields set.
 */
export async function assertTimeoutDecidesByFailMode(
  server: FakePolicyServer,
  configFor: (over: { timeoutMs: number; failMode: FailMode }) => AuthorizationConfig,
  input: AuthorizationInput,
): Promise<void> {
  for (const failMode of ["closed", "open"] as const) {
    server.overrides.push("stall");
    const authorizer = createAuthorizer(configFor({ timeoutMs: 100, failMode }));
    const started = performance.now();
    const decision = await authorizer.authorize(input);
    const elapsed = performance.now() - started;
    assert.equal(decision.allowed, failMode === "open");
    assert.equal(decision.basis, `fail_${failMode}`);
    assert.match(decision.reason!, /no answer within 100 ms/);
    assert.ok(elapsed >= 90 && elapsed < 1500, `took ${elapsed} ms`);
  }
}

/**
 * With nothing listening at the service's URL, closed denies and open allows, and the reason says
 * "<service> was unreachable (request failed: ...". `configFor` makes the config for a URL.
 */
export async function assertRefusedDecidesByFailMode(
  service: string,
  configFor: (url: string, failMode: FailMode) => AuthorizationConfig,
  input: AuthorizationInput,
): Promise<void> {
  const url = deadUrl();
  const closed = await createAuthorizer(configFor(url, "closed")).authorize(input);
  assert.equal(closed.allowed, false);
  assert.equal(closed.basis, "fail_closed");
  assert.match(closed.reason!, new RegExp(`^${service} was unreachable \\(request failed: `));
  const open = await createAuthorizer(configFor(url, "open")).authorize(input);
  assert.equal(open.allowed, true);
  assert.equal(open.basis, "fail_open");
}
