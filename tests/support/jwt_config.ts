// Owns the JwtConfig builder (HS256, every field defaulted) and the HS256 token minter of tests and benches.

import { SignJWT } from "jose";
import type { JwtConfig } from "../../src/config/types.ts";

/** The HMAC secret testJwtConfig() verifies with and signHs256() signs with by default. */
export const TEST_JWT_SECRET = "test-jwt-secret-0123456789abcdef0123456789";

/**
 * A complete JwtConfig: HS256 with TEST_JWT_SECRET, bearer tokens only, 60 s leeway, no
 * issuer/audience, no claims or admin rules; `overrides` replace whole fields.
 */
export function testJwtConfig(overrides: Partial<JwtConfig> = {}): JwtConfig {
  return {
    algorithm: "HS256",
    secret: TEST_JWT_SECRET,
    rsaPublicKeyPath: undefined,
    ecdsaPublicKeyPath: undefined,
    keys: [],
    jwksUrl: undefined,
    jwksRefreshIntervalSecs: 300,
    issuer: undefined,
    audience: undefined,
    leewaySeconds: 60,
    tokenSources: [{ type: "bearer", name: undefined, prefix: undefined }],
    claims: [],
    adminClaims: [],
    ...overrides,
  };
}

export interface SignHs256Options {
  /** Sets `exp` the jose way: "5m", "-1m", "1h", or seconds since the epoch. */
  expiresIn?: string | number;
  /** Sets `iat` to now. */
  issuedAt?: boolean;
  /** More protected-header parameters (`alg` is always HS256). */
  header?: Record<string, unknown>;
}

/** An HS256 JWT of exactly `claims` (plus exp/iat when asked for). */
export function signHs256(
  claims: Record<string, unknown>,
  secret: string = TEST_JWT_SECRET,
  options: SignHs256Options = {},
): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ ...options.header, alg: "HS256" });
  if (options.issuedAt === true) jwt.setIssuedAt();
  if (options.expiresIn !== undefined) jwt.setExpirationTime(options.expiresIn);
  return jwt.sign(new TextEncoder().encode(secret));
}
