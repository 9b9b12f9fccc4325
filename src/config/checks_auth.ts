// Owns the cross-field checks of authentication: JWT key material per algorithm, key entries,
// token sources, claim values, weak secrets, unique key ids and buckets that need a JWT.

import {
  authWithoutJwtMessage,
  claimValueProblem,
  isJwtAlgorithm,
  type KeyMaterial,
  keyMaterialProblem,
  MAKE_SECRET,
  MIN_SECRET_LENGTH,
  unusedKeyMaterial,
} from "./schema.ts";
import { CLAIM_OPERATORS } from "./types.ts";
import type { CheckContext } from "./issues.ts";
import { isPlainObject, type Segment } from "./paths.ts";

/**
 * Cross-field rules of authentication: key material that fits each JWT's algorithm, key entries,
 * token sources, claim values, and every `auth.enabled: true` bucket having a JWT to check.
 */
export function checkAuth(ctx: CheckContext, root: Record<string, unknown>) {
  // A `jwt` that is not a mapping is the schema's error; it still counts as "given" here.
  const topGiven = Object.hasOwn(root, "jwt");
  const top = asJwtMapping(root.jwt);
  const topEnabled = topGiven && top?.enabled !== false;
  if (top) checkJwt(ctx, ["jwt"], top, topEnabled);
  const admin = root.admin;
  if (isPlainObject(admin) && admin.allow_unauthenticated === true && topEnabled) {
    ctx.warning(
      ["admin", "allow_unauthenticated"],
      "`allow_unauthenticated` has no effect: with a top-level `jwt`, admin routes need a token " +
        "that passes `jwt.admin_claims`",
      { prefer: "key" },
    );
  }
  const buckets = Array.isArray(root.buckets) ? root.buckets : [];
  buckets.forEach((bucket, index) => {
    if (!isPlainObject(bucket)) return;
    const auth = bucket.auth;
    if (isPlainObject(auth)) {
      const at: Segment[] = ["buckets", index, "auth"];
      const hasJwt = Object.hasOwn(auth, "jwt");
      const jwt = asJwtMapping(auth.jwt);
      if (hasJwt) {
        if (jwt?.enabled === false) {
          ctx.error(
            [...at, "jwt", "enabled"],
            "a bucket's jwt cannot be disabled: to make the bucket public set " +
              "`auth.enabled: false`; to use the top-level jwt remove `auth.jwt`",
          );
        }
        if (!Object.hasOwn(auth, "enabled")) {
          ctx.error(
            [...at, "enabled"],
            "`auth.jwt` is set but `auth.enabled` is not: add `enabled: true` to protect the " +
              "bucket with this jwt (or `enabled: false` to make it public)",
            { prefer: "key", missing: true },
          );
        } else if (auth.enabled === false) {
          ctx.warning(
            [...at, "jwt"],
            "`jwt` is ignored because `auth.enabled` is false (the bucket is public); set " +
              "`enabled: true` to protect the bucket with it",
            { prefer: "key" },
          );
        }
        if (jwt) {
          checkJwt(ctx, [...at, "jwt"], jwt, auth.enabled !== false && jwt.enabled !== false);
        }
      } else if (auth.enabled === true && !topEnabled) {
        ctx.error(
          [...at, "enabled"],
          authWithoutJwtMessage(bucket.name, index, topGiven ? "disabled" : "absent"),
        );
      }
    }
    const signed = bucket.signed_urls;
    if (isPlainObject(signed) && Array.isArray(signed.keys)) {
      checkUniqueIds(ctx, ["buckets", index, "signed_urls", "keys"], signed.keys);
    }
  });
}

/** One `jwt` mapping; `used` = it guards something (a disabled one only has its shape checked). */
function checkJwt(ctx: CheckContext, at: Segment[], jwt: Record<string, unknown>, used: boolean) {
  const given = (name: string) => ctx.given([...at, name], jwt[name]);
  const keys = Array.isArray(jwt.keys) ? jwt.keys : [];
  checkUniqueIds(ctx, [...at, "keys"], keys);
  keys.forEach((entry, index) => {
    if (!isPlainObject(entry) || !isJwtAlgorithm(entry.algorithm)) return;
    const here = [...at, "keys", index];
    const hmac = entry.algorithm.startsWith("HS");
    const [need, wrong] = hmac ? ["secret", "path"] : ["path", "secret"];
    const hasWrong = ctx.given([...here, wrong], entry[wrong]);
    if (!ctx.given([...here, need], entry[need])) {
      const instead = hasWrong
        ? `, not \`${wrong}\` (which is for ${
          hmac ? "RS*, PS*, ES* and EdDSA" : "HS256, HS384 and HS512"
        } keys)`
        : "";
      const what = hmac
        ? `\`secret\` (at least ${MIN_SECRET_LENGTH} characters; ${MAKE_SECRET})`
        : "`path` (a PEM file with its public key or certificate)";
      ctx.error(
        [...here, need],
        `a key with algorithm ${entry.algorithm} needs ${what}${instead}`,
        { prefer: "key", missing: true },
      );
    } else if (hasWrong) {
      ctx.error(
        [...here, wrong],
        `a key with algorithm ${entry.algorithm} uses \`${need}\`, not \`${wrong}\`; remove \`${wrong}\``,
        { prefer: "key" },
      );
    }
    if (hmac && used) checkSecretLength(ctx, [...here, "secret"], entry.secret);
  });
  const sources = Array.isArray(jwt.token_sources) ? jwt.token_sources : [];
  sources.forEach((source, index) => {
    if (isPlainObject(source)) checkTokenSource(ctx, [...at, "token_sources", index], source);
  });
  for (const list of ["claims", "admin_claims"]) {
    const rules = jwt[list];
    if (!Array.isArray(rules)) continue;
    rules.forEach((rule, index) => {
      if (!isPlainObject(rule) || !Object.hasOwn(rule, "value")) return;
      const operator = CLAIM_OPERATORS.find((name) => name === rule.operator);
      if (operator === undefined) return;
      const segments = [...at, list, index, "value"];
      if (ctx.poisoned(segments)) return;
      const problem = claimValueProblem(operator, rule.value);
      if (problem) ctx.error(segments, problem);
    });
  }
  if (!used) return;

  const defaulted = jwt.algorithm === undefined || jwt.algorithm === null;
  const algorithm = defaulted ? "HS256" : jwt.algorithm;
  // An algorithm the schema rejects has no key family to check against.
  if (!isJwtAlgorithm(algorithm)) return;
  const has: KeyMaterial = {
    secret: given("secret"),
    rsaPublicKeyPath: given("rsa_public_key_path"),
    ecdsaPublicKeyPath: given("ecdsa_public_key_path"),
    keys: keys.length > 0 || ctx.poisoned([...at, "keys"]),
    jwksUrl: given("jwks_url"),
  };
  const problem = keyMaterialProblem(algorithm, defaulted, has);
  if (problem) {
    const fixes = ["secret", "rsa_public_key_path", "ecdsa_public_key_path", "keys", "jwks_url"];
    ctx.error(at, problem, {
      prefer: "key",
      satisfiedBy: fixes.map((name) => [...at, name]),
    });
  } else {
    for (const unused of unusedKeyMaterial(algorithm, has)) {
      ctx.warning([...at, unused.key], unused.message, { prefer: "key" });
    }
    if (algorithm.startsWith("HS")) checkSecretLength(ctx, [...at, "secret"], jwt.secret);
  }
  if (typeof jwt.jwks_url === "string" && insecureRemoteUrl(jwt.jwks_url)) {
    ctx.warning(
      [...at, "jwks_url"],
      "`jwks_url` uses http://: anyone on the network path could swap the keys and forge " +
        "tokens; use https://",
    );
  }
}

function checkTokenSource(ctx: CheckContext, at: Segment[], source: Record<string, unknown>) {
  const type = source.type;
  const name = source.name;
  if (type === "header" || type === "query" || type === "cookie") {
    const what = {
      header: "the header to read, like X-Auth-Token",
      query: "the query parameter to read, like token",
      cookie: "the cookie to read, like session",
    }[type];
    if (!ctx.given([...at, "name"], name)) {
      ctx.error([...at, "name"], `a \`${type}\` token source needs \`name\`: ${what}`, {
        prefer: "key",
        missing: true,
      });
    } else if (
      typeof name === "string" && type !== "query" && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)
    ) {
      ctx.error(
        [...at, "name"],
        `${JSON.stringify(name)} is not a valid ${type} name: use letters, digits and ` +
          '!#$%&\'*+-.^_`|~ (no spaces or ":")',
      );
    }
    if (
      type === "header" && typeof name === "string" && name.toLowerCase() === "authorization" &&
      !ctx.given([...at, "prefix"], source.prefix)
    ) {
      ctx.warning(
        [...at, "name"],
        'the Authorization header holds "Bearer <token>": use `type: bearer`, or set ' +
          '`prefix: "Bearer "`',
      );
    }
  } else if (type === "bearer" && ctx.given([...at, "name"], name)) {
    ctx.warning(
      [...at, "name"],
      "`name` is ignored: a `bearer` source always reads the Authorization header",
      { prefer: "key" },
    );
  }
  if (
    (type === "bearer" || type === "query" || type === "cookie") &&
    ctx.given([...at, "prefix"], source.prefix)
  ) {
    ctx.warning([...at, "prefix"], "`prefix` is ignored: only `header` sources use it", {
      prefer: "key",
    });
  }
}

/** A weak HMAC secret is a warning: tokens signed with it can be brute-forced offline. */
function checkSecretLength(ctx: CheckContext, segments: Segment[], secret: unknown) {
  if (typeof secret !== "string" || secret === "" || ctx.poisoned(segments)) return;
  if (secret.length >= MIN_SECRET_LENGTH) return;
  ctx.warning(
    segments,
    `the secret is shorter than ${MIN_SECRET_LENGTH} characters, so tokens signed with it can ` +
      `be brute-forced; use at least ${MIN_SECRET_LENGTH} (${MAKE_SECRET})`,
  );
}

/** `id`s of the mappings in `list` are unique (JWT keys, signed-URL keys). */
function checkUniqueIds(ctx: CheckContext, at: Segment[], list: unknown[]) {
  const ids = new Map<string, number>();
  list.forEach((entry, index) => {
    if (!isPlainObject(entry) || typeof entry.id !== "string" || entry.id.trim() === "") return;
    const first = ids.get(entry.id);
    if (first === undefined) {
      ids.set(entry.id, index);
      return;
    }
    const name = String(at.at(-1));
    ctx.error(
      [...at, index, "id"],
      `duplicate key id ${JSON.stringify(entry.id)} (${name}[${first}]${
        ctx.onLine([...at, first, "id"])
      } uses it too); key ids must be unique`,
    );
  });
}

/** A `jwt` value as the schema reads it (empty = all defaults), or undefined if it is no mapping. */
function asJwtMapping(value: unknown): Record<string, unknown> | undefined {
  if (value === null) return {};
  return isPlainObject(value) ? value : undefined;
}

/** An http:// URL to another machine (loopback is fine for tests and sidecars). */
function insecureRemoteUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === "http:" &&
    !["localhost", "127.0.0.1", "[::1]"].includes(url.hostname) &&
    !url.hostname.endsWith(".localhost");
}
