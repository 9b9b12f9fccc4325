// Owns the URL of the gateway a config describes, for subcommands that talk to a running gateway.

import type { Config } from "../config/types.ts";

/**
 * http://{server.address}:{server.port} as a local client reaches it (0.0.0.0 -> 127.0.0.1,
 * :: -> [::1]), or an error naming the flag that supplies it instead.
 */
export function localGatewayUrl(
  config: Config,
  flag: string,
): { ok: true; url: string } | { ok: false; error: string } {
  const { address, port } = config.server;
  if (port === 0) {
    return {
      ok: false,
      error:
        `server.port is 0 (any free port), so the gateway's URL is not known; pass ${flag} with it`,
    };
  }
  let host = address === "" || address === "0.0.0.0" ? "127.0.0.1" : address;
  if (host === "::" || host === "[::]") host = "[::1]";
  else if (host.includes(":") && !host.startsWith("[")) host = `[${host}]`;
  try {
    return { ok: true, url: new URL(`http://${host}:${port}`).origin };
  } catch {
    return {
      ok: false,
      error: `cannot build a URL from server.address ${JSON.stringify(address)}; pass ${flag}`,
    };
  }
}
