// Owns who may use the admin routes: admin_claims when a JWT is configured, else loopback (or an explicit opt-in).

import type { JwtAuthenticator } from "../auth/jwt_authenticator.ts";
import { ProxyError } from "../errors.ts";

export interface AdminGuardOptions {
  /** The top-level JWT's authenticator, when a top-level `jwt` is enabled. */
  authenticator: JwtAuthenticator | undefined;
  /** True when any bucket has a JWT (its own or the top-level one). */
  anyJwt: boolean;
  /** `admin.allow_unauthenticated`. */
  allowUnauthenticated: boolean;
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback: the addresses of this machine. */
export function isLoopback(address: string): boolean {
  return address.startsWith("127.") || address === "::1" || address.startsWith("::ffff:127.");
}

/**
 * Throws unless the caller may use the admin routes. With a top-level JWT: a valid token that
 * passes `jwt.admin_claims` (401/403 otherwise; an empty admin_claims admits nobody). With JWTs
 * only on buckets: nobody (an admin token needs a top-level `jwt` to be checked against). With no
 * JWT at all: loopback clients only, unless `admin.allow_unauthenticated: true`. The original left
 * these routes open whenever the top-level JWT was absent.
 */
export async function guardAdmin(
  request: Request,
  rawQuery: string,
  clientIp: string,
  options: AdminGuardOptions,
): Promise<void> {
  if (options.authenticator !== undefined) {
    await options.authenticator.authenticateAdmin(request, rawQuery);
    return;
  }
  if (options.anyJwt) {
    throw new ProxyError("forbidden", {
      message:
        "Admin routes need a top-level `jwt` with `admin_claims` when buckets use JWT; add one to the config.",
      source: "client",
    });
  }
  if (!options.allowUnauthenticated && !isLoopback(clientIp)) {
    throw new ProxyError("forbidden", {
      message:
        "Admin routes answer only loopback clients when no JWT is configured; configure `jwt` with `admin_claims`, or set `admin.allow_unauthenticated: true`.",
      source: "client",
    });
  }
}
