// Owns ImageProcessor: one transformation through the pool, answered within the processing timeout.

import type { ImageEngine, TransformResult } from "./engine.ts";
import { timedOut } from "./pipeline.ts";
import type { ImagePool } from "./pool.ts";
import type { ImageFormat, ImageLimits, ImageTransform } from "./types.ts";

/** The engine behind the pool, shared by every bucket of a config generation. */
export class ImageProcessor {
  readonly engine: ImageEngine;
  readonly pool: ImagePool;

  constructor(engine: ImageEngine, pool: ImagePool) {
    this.engine = engine;
    this.pool = pool;
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
    return new Promise((resolve, reject) => {
      this.pool.run(() => {
        const work = this.engine.transform(source, t, format, limits);
        const timer = setTimeout(() => reject(timedOut(limits)), limits.timeoutMs);
        work.then(resolve, reject).finally(() => clearTimeout(timer));
        return work;
      }, signal).catch(reject);
    });
  }
}
