// Owns ImageProcessor: one transformation through the pool, answered within the processing timeout.

import { ProxyError } from "../errors.ts";
import type { ImageEngine, TransformResult } from "./engine.ts";
import { timedOut } from "./pipeline.ts";
import type { ImagePool } from "./pool.ts";
import type { ImageFormat, ImageLimits, ImageTransform } from "./types.ts";

/** One finished transformation, for the metrics: its output, time and sizes, or why it failed. */
export interface ImageOutcome {
  format: string;
  seconds: number;
  bytesIn: number;
  bytesOut?: number;
  /** The error code (unsupported_image, image_too_large, image_timeout...) when it failed. */
  error?: string;
}

/** The engine behind the pool, shared by every bucket of a config generation. */
export class ImageProcessor {
  readonly engine: ImageEngine;
  readonly pool: ImagePool;
  readonly #observe: ((outcome: ImageOutcome) => void) | undefined;

  constructor(engine: ImageEngine, pool: ImagePool, observe?: (outcome: ImageOutcome) => void) {
    this.engine = engine;
    this.pool = pool;
    this.#observe = observe;
  }

  /**
   * Transforms in a pool slot. The caller gets 503 image_timeout once `limits.timeoutMs` has
   * passed since the work started; the slot stays taken until the engine really stops (sharp's
   * own timeout ends it within the next whole second), so the pool bounds running work, not
   * answered requests.
   */
  transform(
    source: Uint8Array,
    t: ImageTransform,
    format: ImageFormat | undefined,
    limits: ImageLimits,
    signal?: AbortSignal,
  ): Promise<TransformResult> {
    const answer = new Promise<TransformResult>((resolve, reject) => {
      this.pool.run(() => {
        const work = this.engine.transform(source, t, format, limits);
        const timer = setTimeout(() => reject(timedOut(limits)), limits.timeoutMs);
        work.then(resolve, reject).finally(() => clearTimeout(timer));
        return work;
      }, signal).catch(reject);
    });
    const observe = this.#observe;
    if (observe === undefined) return answer;
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    answer.then(
      (result) =>
        observe({
          format: result.format,
          seconds: seconds(),
          bytesIn: source.byteLength,
          bytesOut: result.bytes.byteLength,
        }),
      (error) =>
        observe({
          format: format ?? "source",
          seconds: seconds(),
          bytesIn: source.byteLength,
          error: error instanceof ProxyError ? error.code : "internal",
        }),
    );
    return answer;
  }
}
