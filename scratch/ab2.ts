const mode = Deno.env.get("MODE")!;
const port = Number(Deno.env.get("PORT"));
const origin = "http://127.0.0.1:19000";
Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (request) => {
  const path = request.url.slice(request.url.indexOf("/", 8));
  let signal: AbortSignal | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (mode === "signal" || mode === "both") signal = new AbortController().signal;
  if (mode === "timer" || mode === "both") timer = setTimeout(() => {}, 20000);
  const upstream = await fetch(origin + path, { signal });
  if (timer !== undefined) clearTimeout(timer);
  return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
});
