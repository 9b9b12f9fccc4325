// Owns the JWT step of a request: find the token, verify it, apply the claims rules (and admin_claims).

import type { JwtConfig } from "../config/types.ts";
import { ProxyError } from "../errors.ts";
import { compileClaimRules, type CompiledClaimRules, evaluateClaims } from "./claims.ts";
import { extractToken } from "./token_sources.ts";
import { JwtVerifier, type JwtVerifierOptions } from "./jwt_verifier.ts";

export interface Authenticated {
  /** Every claim of the verified token (deep-frozen). */
  claims: Readonly<Record<string, unknown>>;
  /** `sub` when it is a string. */
  subject: string | undefined;
  /** Where the token came from: "bearer", "header:<name>", "query:<name>" or "cookie:<name>". */
  source: string;
  /** `exp` in epoch ms, when the token has one. */
  expiresAtMs: number | undefined;
}

export class JwtAuthenticator {
  /** Query parameters that may carry the token: remove them (removeQueryParams) before S3 and logs. */
  readonly tokenQueryParams: readonly string[];
  readonly verifier: JwtVerifier;
  readonly #config: JwtConfig;
  readonly #claims: CompiledClaimRules;
  readonly #adminClaims: CompiledClaimRules;

  private constructor(config: JwtConfig, verifier: JwtVerifier, label: string) {
    this.#config = config;
    this.verifier = verifier;
    this.#claims = compileClaimRules(config.claims, `${label}.claims`);
    this.#adminClaims = compileClaimRules(config.adminClaims, `${label}.admin_claims`);
    this.tokenQueryParams = Object.freeze(
      config.tokenSources.flatMap((s) => s.type === "query" && s.name ? [s.name] : []),
    );
  }

  /** Compiles the rules (a bad regex or rule is a TypeError naming it) and builds the verifier. */
  static async create(
    config: JwtConfig,
    options: JwtVerifierOptions = {},
  ): Promise<JwtAuthenticator> {
    const label = options.configPath ?? "jwt";
    // Rules first: they fail synchronously and must not leave a verifier with a timer behind.
    compileClaimRules(config.claims, `${label}.claims`);
    compileClaimRules(config.adminClaims, `${label}.admin_claims`);
    const verifier = await JwtVerifier.create(config, options);
    return new JwtAuthenticator(config, verifier, label);
  }

  /**
   * The bucket path: a token is required, must verify, and must pass every `claims` rule.
   * Throws ProxyError token_missing (401), token_invalid (401) or forbidden (403).
   */
  async authenticate(request: Request, rawQuery: string): Promise<Authenticated> {
    const identity = await this.identify(request, rawQuery);
    this.#enforce(this.#claims, identity.claims, "claims");
    return identity;
  }

  /**
   * The admin path: a verified token that passes `admin_claims` (the bucket `claims` do not apply:
   * an operator's token need not look like a viewer's). With no admin_claims nobody is admin.
   */
  async authenticateAdmin(request: Request, rawQuery: string): Promise<Authenticated> {
    const identity = await this.identify(request, rawQuery);
    if (this.#adminClaims.length === 0) {
      throw new ProxyError("forbidden", {
        message: "Admin access needs admin_claims in the JWT config; none are configured.",
        source: "client",
      });
    }
    this.#enforce(this.#adminClaims, identity.claims, "admin_claims");
    return identity;
  }

  /**
   * Whether verified claims pass `admin_claims`. Empty admin_claims → false: the original made every
   * valid token an admin then, which turns any viewer token into a cache-purge / reload token.
   */
  checkAdmin(claims: Readonly<Record<string, unknown>>): boolean {
    return this.#adminClaims.length > 0 && evaluateClaims(claims, this.#adminClaims).ok;
  }

  /** Finds and verifies the token without applying any claims rule. */
  async identify(request: Request, rawQuery: string): Promise<Authenticated> {
    const found = extractToken(request, rawQuery, this.#config.tokenSources);
    if (found === undefined) {
      throw new ProxyError("token_missing", {
        message: `This path needs a JWT; send it as ${describeSources(this.#config)}.`,
        source: "client",
        headers: { "www-authenticate": "Bearer" },
      });
    }
    const verified = await this.verifier.verify(found.token);
    const sub = verified.claims.sub;
    return {
      claims: verified.claims,
      subject: typeof sub === "string" ? sub : undefined,
      source: found.name === undefined ? found.source : `${found.source}:${found.name}`,
      expiresAtMs: verified.expiresAtMs,
    };
  }

  close(): Promise<void> {
    return this.verifier.close();
  }

  #enforce(
    rules: CompiledClaimRules,
    claims: Readonly<Record<string, unknown>>,
    label: string,
  ): void {
    const result = evaluateClaims(claims, rules);
    if (result.ok) return;
    // Names the claim and the operator, never the rule's value (it may be a group name worth hiding).
    throw new ProxyError("forbidden", {
      message:
        `The token does not pass the ${label} rule on "${result.rule.claim}" (${result.rule.operator}): ${result.reason}; ask the issuer for a token with the required claims.`,
      source: "client",
    });
  }
}

function describeSources(config: JwtConfig): string {
  const ways = config.tokenSources.map((source) => {
    switch (source.type) {
      case "bearer":
        return '"Authorization: Bearer <token>"';
      case "header":
        return `the "${source.name}" header${
          source.prefix ? ` (prefixed "${source.prefix}")` : ""
        }`;
      case "query":
        return `the "${source.name}" query parameter`;
      case "cookie":
        return `the "${source.name}" cookie`;
    }
  });
  return ways.length === 0 ? '"Authorization: Bearer <token>"' : ways.join(" or ");
}
