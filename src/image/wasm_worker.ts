// Owns the wasm image worker: sharp on @img/sharp-wasm32 in an isolate where native addons cannot load.

import { disableNativeAddons, importSharp, isWasmSharp, sharpInfo } from "./engine.ts";
import { ProxyError } from "../errors.ts";
import { runPipeline, type SharpConstructor } from "./pipeline.ts";
import type { WorkerReply, WorkerRequest } from "./engine.ts";

declare const self: {
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
};

/** Loads sharp with native addons disabled: its loader then settles on @img/sharp-wasm32. */
async function load(): Promise<SharpConstructor> {
  await disableNativeAddons();
  const sharp = await importSharp();
  if (!isWasmSharp(sharp)) throw new Error("sharp did not load its WebAssembly build");
  return sharp;
}

async function serve(sharp: SharpConstructor, request: WorkerRequest): Promise<void> {
  try {
    const result = await runPipeline(
      sharp,
      request.source,
      request.transform,
      request.format,
      request.limits,
    );
    self.postMessage({ kind: "result", id: request.id, result }, [result.bytes.buffer]);
  } catch (error) {
    const failure = error instanceof ProxyError
      ? error
      : new ProxyError("internal", { message: "The wasm image engine failed.", cause: error });
    self.postMessage({
      kind: "error",
      id: request.id,
      code: failure.code,
      message: failure.message,
      headers: failure.headers,
    });
  }
}

try {
  const sharp = await load();
  self.onmessage = (event) => void serve(sharp, event.data);
  self.postMessage({ kind: "ready", info: sharpInfo(sharp) });
} catch (error) {
  self.postMessage({
    kind: "failed",
    message: `@img/sharp-wasm32 could not be loaded: ${
      error instanceof Error ? error.message.split("\n", 1)[0] : String(error)
    }`,
  });
}
