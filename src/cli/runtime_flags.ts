// Owns the V8 flags the gateway ships with: one list for deno.json's serve task, the demo, the compiled binary and the benches.

/**
 * V8's memory reducer off. About 30 s after the last request the reducer runs two shrinking GCs;
 * they clear the weak references that Deno's optimized Request/Response/Headers code holds, so
 * about 30 functions are thrown back to the interpreter, and the next burst runs slower for 1-2 s
 * while they are optimized again (bench/idle_start.sh: the first second of hits after a 40 s pause
 * at 0.805x the Deno Map-cache proxy's with the reducer, 1.034x without; README "Runtime flags").
 * The cost: an idle heap keeps the size it grew to (about 30 MB more RSS while idle, measured).
 */
export const GATEWAY_V8_FLAGS: readonly string[] = ["--no-memory-reducer"];

/** The `--v8-flags=` argument of `deno run` / `deno compile` for GATEWAY_V8_FLAGS. */
export function v8FlagsArg(): string {
  return `--v8-flags=${GATEWAY_V8_FLAGS.join(",")}`;
}
