// Owns the image engine: loading sharp (the native libvips addon, or @img/sharp-wasm32 in a worker) behind ImageEngine.

import { ProxyError } from "../errors.ts";
import {
  ALLOWED_LOADERS,
  runPipeline,
  type SharpConstructor,
  type TransformResult,
} from "./pipeline.ts";
import type { ImageFormat, ImageLimits, ImageTransform } from "./types.ts";

export type { TransformResult } from "./pipeline.ts";

/** image_optimization.engine: the native addon, its WebAssembly build, or native falling back to wasm. */
export type EngineMode = "auto" | "native" | "wasm";
export type EngineName = "native" | "wasm";

/** Which engine runs, as /ready, validate-config and the start-up log line report it. */
export interface EngineInfo {
  name: EngineName;
  sharp: string;
  libvips: string;
  /** For `auto` running wasm: why the native addon did not load. */
  fallbackReason?: string;
}

/** The one operation the object path needs of an image library. */
export interface ImageEngine {
  readonly name: EngineName;
  readonly info: EngineInfo;
  /**
   * Decodes `source`, applies `t` and encodes to `format` (undefined: the source's format, when
   * the engine writes it). Throws ProxyError (see pipeline.ts runPipeline for the codes).
   */
  transform(
    source: Uint8Array,
    t: ImageTransform,
    format: ImageFormat | undefined,
    limits: ImageLimits,
  ): Promise<TransformResult>;
  /** Releases this holder's use of the engine (the wasm worker stops when nobody holds it). */
  close(): void;
}

/** The node:module internals used to keep native addons out of the wasm worker. */
interface NodeModuleInternals {
  _extensions: Record<string, (module: unknown, filename: string) => void>;
}

/**
 * Makes every Node-API addon load fail in this isolate, so that sharp's own loader falls through
 * its native candidates to `@img/sharp-wasm32`. Only the wasm worker calls this, before sharp is
 * first imported (sharp picks its binding once, when its module is evaluated).
 */
export async function disableNativeAddons(): Promise<void> {
  const { default: Module } = await import("node:module");
  const { default: process } = await import("node:process");
  // The emscripten glue assigns a non-string to process.env once, which Node deprecates; the
  // warning says nothing an operator can act on.
  process.noDeprecation = true;
  const extensions = (Module as unknown as NodeModuleInternals)._extensions;
  extensions[".node"] = (_module, filename) => {
    throw new Error(`native addons are disabled in the wasm image worker (${filename})`);
  };
}

let sharpImport: Promise<SharpConstructor> | undefined;

/**
 * sharp in this isolate, imported once, with its decoders limited to ALLOWED_LOADERS. The
 * specifier is a literal so `deno compile` and `deno bundle` include it.
 */
export function importSharp(): Promise<SharpConstructor> {
  sharpImport ??= import("sharp").then(({ default: sharp }) => {
    sharp.block({ operation: ["VipsForeignLoad"] });
    sharp.unblock({ operation: [...ALLOWED_LOADERS] });
    return sharp;
  });
  return sharpImport;
}

/** True when `sharp` runs the WebAssembly build (its versions come from @img/sharp-wasm32). */
export function isWasmSharp(sharp: SharpConstructor): boolean {
  return "emscripten" in sharp.versions;
}

export function sharpInfo(sharp: SharpConstructor): EngineInfo {
  return {
    name: isWasmSharp(sharp) ? "wasm" : "native",
    sharp: sharp.versions.sharp,
    libvips: sharp.versions.vips,
  };
}

/** The engine on sharp in this isolate (native, or wasm when sharp itself fell back to it). */
class InProcessEngine implements ImageEngine {
  readonly name: EngineName;
  readonly info: EngineInfo;
  readonly #sharp: SharpConstructor;
  readonly #release: () => void;

  constructor(sharp: SharpConstructor, info: EngineInfo, release: () => void) {
    this.#sharp = sharp;
    this.info = info;
    this.name = info.name;
    this.#release = release;
  }

  transform(
    source: Uint8Array,
    t: ImageTransform,
    format: ImageFormat | undefined,
    limits: ImageLimits,
  ): Promise<TransformResult> {
    return runPipeline(this.#sharp, source, t, format, limits);
  }

  close(): void {
    this.#release();
  }
}

/** Messages between WasmEngine and wasm_worker.ts. */
export interface WorkerRequest {
  id: number;
  source: Uint8Array;
  transform: ImageTransform;
  format: ImageFormat | undefined;
  limits: ImageLimits;
}
export type WorkerReply =
  | { kind: "ready"; info: EngineInfo }
  | { kind: "failed"; message: string }
  | { kind: "result"; id: number; result: TransformResult }
  | {
    kind: "error";
    id: number;
    code: ProxyError["code"];
    message: string;
    headers: Record<string, string> | undefined;
  };

interface Pending {
  resolve(result: TransformResult): void;
  reject(error: unknown): void;
}

/**
 * sharp on @img/sharp-wasm32, in a worker of its own: an isolate where sharp has not been loaded
 * yet and native addons are disabled (so the choice does not depend on what this isolate loaded
 * first), and whose WebAssembly never runs on the request thread.
 */
class WasmEngine implements ImageEngine {
  readonly name = "wasm" as const;
  readonly info: EngineInfo;
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  readonly #release: () => void;
  #nextId = 1;

  private constructor(worker: Worker, info: EngineInfo, release: () => void) {
    this.#worker = worker;
    this.info = info;
    this.#release = release;
    worker.onmessage = (event: MessageEvent<WorkerReply>) => this.#receive(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#failAll(new Error(`the wasm image worker failed: ${event.message}`));
    };
  }

  /** Starts the worker and waits until sharp-wasm32 is loaded in it. */
  static async start(release: () => void, fallbackReason?: string): Promise<WasmEngine> {
    const worker = new Worker(new URL("./wasm_worker.ts", import.meta.url).href, {
      type: "module",
    });
    try {
      const info = await new Promise<EngineInfo>((resolve, reject) => {
        worker.onmessage = (event: MessageEvent<WorkerReply>) => {
          const reply = event.data;
          if (reply.kind === "ready") resolve(reply.info);
          else if (reply.kind === "failed") reject(new Error(reply.message));
        };
        worker.onerror = (event) => {
          event.preventDefault();
          reject(new Error(event.message));
        };
      });
      const described = fallbackReason === undefined ? info : { ...info, fallbackReason };
      return new WasmEngine(worker, described, release);
    } catch (error) {
      worker.terminate();
      throw error;
    }
  }

  transform(
    source: Uint8Array,
    t: ImageTransform,
    format: ImageFormat | undefined,
    limits: ImageLimits,
  ): Promise<TransformResult> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // The source is copied (not transferred): it may be a cache entry's body.
      const request: WorkerRequest = { id, source, transform: t, format, limits };
      this.#worker.postMessage(request);
    });
  }

  #receive(reply: WorkerReply): void {
    if (reply.kind !== "result" && reply.kind !== "error") return;
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    if (reply.kind === "result") pending.resolve(reply.result);
    else {
      pending.reject(
        new ProxyError(reply.code, {
          message: reply.message,
          source: reply.code === "internal" ? "internal" : "client",
          headers: reply.headers,
        }),
      );
    }
  }

  #failAll(error: unknown): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }

  terminate(): void {
    this.#failAll(new Error("the wasm image engine was closed"));
    this.#worker.terminate();
  }

  close(): void {
    this.#release();
  }
}

/** One shared engine per process and mode; the holders count decides when a worker stops. */
interface Shared {
  engine: Promise<InProcessEngine | WasmEngine>;
  holders: number;
}
const shared = new Map<EngineMode, Shared>();

function releaser(mode: EngineMode, entry: Shared): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--entry.holders > 0) return;
    if (shared.get(mode) === entry) shared.delete(mode);
    entry.engine.then((engine) => {
      if (engine instanceof WasmEngine) engine.terminate();
    }, () => {});
  };
}

/** A handle on a shared engine: closing it releases only this holder. */
function handle(engine: InProcessEngine | WasmEngine, release: () => void): ImageEngine {
  return {
    name: engine.name,
    info: engine.info,
    transform: (source, t, format, limits) => engine.transform(source, t, format, limits),
    close: release,
  };
}

async function loadNative(): Promise<SharpConstructor> {
  try {
    return await importSharp();
  } catch (error) {
    throw new Error(`sharp's native addon could not be loaded: ${firstLine(error)}`);
  }
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n", 1)[0]!;
}

async function startEngine(mode: EngineMode): Promise<InProcessEngine | WasmEngine> {
  const noRelease = () => {};
  if (mode === "wasm") return await WasmEngine.start(noRelease);
  let sharp: SharpConstructor;
  try {
    sharp = await loadNative();
  } catch (error) {
    if (mode === "native") throw error;
    return await WasmEngine.start(noRelease, firstLine(error));
  }
  const info = sharpInfo(sharp);
  if (mode === "native" && info.name !== "native") {
    throw new Error("sharp loaded its WebAssembly build: the native addon is not available here");
  }
  return new InProcessEngine(sharp, info, noRelease);
}

/**
 * The engine for image_optimization.engine: `native` (the libvips addon, or fail), `wasm`
 * (@img/sharp-wasm32 in a worker), `auto` (native, else wasm, saying why). Loaded once per
 * process and mode; close() the returned handle when done. Rejects when no engine can load.
 */
export function acquireImageEngine(mode: EngineMode): Promise<ImageEngine> {
  let entry = shared.get(mode);
  if (entry === undefined) {
    entry = { engine: startEngine(mode), holders: 0 };
    shared.set(mode, entry);
    const started = entry;
    // A failed start is not cached: the next caller tries again.
    started.engine.catch(() => {
      if (shared.get(mode) === started) shared.delete(mode);
    });
  }
  entry.holders++;
  const release = releaser(mode, entry);
  return entry.engine.then((engine) => handle(engine, release), (error) => {
    release();
    throw error;
  });
}

/** The start-up log line's words for an engine: which one runs, and why when it fell back. */
export function describeEngine(info: EngineInfo): string {
  const base = `${info.name} (sharp ${info.sharp}, libvips ${info.libvips})`;
  return info.fallbackReason === undefined
    ? base
    : `${base}; native unavailable: ${info.fallbackReason}`;
}
