// Owns the CLI's client of a running gateway's admin API: requests, tokens and what failures mean.

/** The gateway did not answer at all (nothing listens, or the host is unreachable). */
export class GatewayUnreachable extends Error {}

export interface AdminAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * Sends one admin request. Resolves with any HTTP answer (the caller judges the status); rejects
 * with GatewayUnreachable when no gateway answers, so callers can fall back to the tiers.
 */
export async function adminRequest(
  baseUrl: string,
  method: "GET" | "POST" | "DELETE",
  path: string,
  options: { token?: string | undefined; body?: unknown; timeoutMs?: number } = {},
): Promise<AdminAnswer> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(baseUrl + path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (error) {
    throw new GatewayUnreachable(
      `no gateway answers at ${baseUrl} (${error instanceof Error ? error.message : error})`,
    );
  }
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null) body = parsed;
  } catch {
    body = { message: text.slice(0, 300) };
  }
  return { status: response.status, body };
}

/** "401: Authentication required ..." from an error answer, with a hint for the usual causes. */
export function describeAdminError(answer: AdminAnswer): string {
  const message = String(answer.body.message ?? answer.body.error ?? "no message");
  const hint = answer.status === 401
    ? " (pass an admin token with --token or YATAGARASU_ADMIN_TOKEN)"
    : answer.status === 403
    ? " (the token lacks jwt.admin_claims, or admin routes are loopback-only without a jwt)"
    : "";
  return `the gateway answered ${answer.status}: ${message}${hint}`;
}
