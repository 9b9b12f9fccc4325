// Owns the `authenticate` and `authorize` stages: signed URLs, JWT (with claims rules), then OPA/OpenFGA.

import { verifySignedRequest } from "../auth/signed_url.ts";
import { removeQueryParams } from "../auth/token_sources.ts";
import { ProxyError } from "../errors.ts";
import type { RequestContext } from "./context.ts";

/**
 * `authenticate`: who is asking. A bucket with `signed_urls` accepts a valid signed URL on its
 * own (a shared link carries no user, so JWT and policy are not asked); a present but bad one is
 * a 403 whatever else the bucket allows. Otherwise a bucket with a JWT requires a valid token
 * that passes its claims rules; a bucket with neither is public. Signing and token parameters
 * are removed from the query here, so they never reach S3, logs or cache keys.
 */
export async function authenticate(ctx: RequestContext): Promise<void> {
  const bucket = ctx.bucket!;
  const signedUrls = bucket.config.signedUrls;
  if (signedUrls !== undefined && ctx.rawQuery !== "") {
    const check = verifySignedRequest({
      method: ctx.method,
      path: ctx.path,
      rawQuery: ctx.rawQuery,
      keys: signedUrls.keys,
      nowSeconds: Date.now() / 1000,
    });
    if (check.kind === "valid") {
      ctx.rawQuery = check.remainingQuery;
      ctx.identity = "signed_url";
      return;
    }
  }
  const authenticator = bucket.authenticator;
  if (authenticator === undefined) {
    if (signedUrls !== undefined) {
      throw new ProxyError("signed_url_invalid", {
        message:
          `Bucket "${bucket.name}" is served only through signed URLs; ask for a link made with \`yatagarasu sign-url\`.`,
        source: "client",
      });
    }
    return;
  }
  const authenticated = await authenticator.authenticate(ctx.request, ctx.rawQuery);
  ctx.claims = authenticated.claims;
  ctx.subject = authenticated.subject;
  ctx.identity = "jwt";
  if (ctx.rawQuery !== "" && authenticator.tokenQueryParams.length > 0) {
    ctx.rawQuery = removeQueryParams(ctx.rawQuery, authenticator.tokenQueryParams);
  }
}

/** `authorize`: may this caller read this object? OPA or OpenFGA, when the bucket has one. */
export async function authorize(ctx: RequestContext): Promise<void> {
  const authorizer = ctx.bucket!.authorizer;
  if (authorizer === undefined || ctx.identity === "signed_url") return;
  const decision = await authorizer.authorize({
    claims: ctx.claims as Record<string, unknown>,
    bucket: ctx.bucket!.name,
    path: ctx.path,
    key: ctx.key,
    method: ctx.method,
    clientIp: ctx.clientIp,
  }, ctx.request.signal);
  if (!decision.allowed) {
    throw new ProxyError("forbidden", {
      message: `Access to "${ctx.path}" is denied by the bucket's policy${
        decision.reason ? `: ${decision.reason}` : ""
      }.`,
      source: "client",
      details: { decision: decision.basis },
    });
  }
}
