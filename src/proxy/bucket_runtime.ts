// Owns BucketRuntime: one configured bucket with the live objects built for it in a generation.

import type { BucketConfig } from "../config/types.ts";
import type { Origin } from "../origin/origin.ts";

/** A bucket as the request path sees it: its config plus the origin that serves it. */
export interface BucketRuntime {
  readonly name: string;
  readonly pathPrefix: string;
  readonly config: BucketConfig;
  readonly origin: Origin;
}
