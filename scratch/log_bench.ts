import { Logger, redact } from "../src/observe/log.ts";
const discard = { write: (bytes: Uint8Array) => Promise.resolve(bytes.length) };
const logger = new Logger({ level: "info", format: "json", sink: discard });
const fields = () => ({ request_id: "3f6fd35e-93cc-4a79-88d9-dc78bd76a995", client_ip: "127.0.0.1", method: "GET", path: "/b/photos/2026/cat.jpg", bucket: "b", status: 200, bytes: 1024, duration_ms: 1.234, code: undefined, interrupted: undefined });
Deno.bench("logger.info access line", () => { logger.info("request", fields()); });
Deno.bench("redact only", () => { redact(fields()); });
Deno.bench("stringify only", () => { JSON.stringify({ ts: new Date().toISOString(), level: "info", msg: "request", ...fields() }); });
Deno.bench("encode 200B", () => { new TextEncoder().encode("x".repeat(200)); });
