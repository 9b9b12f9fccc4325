// Owns the gateway's version string, read from deno.json at build time (so compiled binaries carry it).

import denoJson from "../deno.json" with { type: "json" };

export const VERSION: string = denoJson.version;
