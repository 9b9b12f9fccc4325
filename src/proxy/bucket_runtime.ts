// Owns BucketRuntime: one configured bucket with the live objects built for it in a generation.

import type { Authorizer } from "../auth/authorizer.ts";
import type { JwtAuthenticator } from "../auth/jwt_authenticator.ts";
import type { BucketConfig } from "../config/types.ts";
import type { Origin } from "../origin/origin.ts";
import type { BucketCache } from "./cache_stages.ts";
import type { CorsPolicy } from "./cors.ts";
import type { IpFilter } from "./ip_filter.ts";
import type { ImagePolicy } from "../image/types.ts";
import type { ImageService } from "./image_stages.ts";

/** A bucket as the request path sees it: its config plus the objects that serve it. */
export interface BucketRuntime {
  readonly name: string;
  readonly pathPrefix: string;
  readonly config: BucketConfig;
  readonly origin: Origin;
  /** Verifies the bucket's JWT (shared by buckets that use the same JWT block); none = public. */
  readonly authenticator: JwtAuthenticator | undefined;
  /** OPA or OpenFGA for this bucket, when configured. */
  readonly authorizer: Authorizer | undefined;
  /** The cache this bucket reads and fills; undefined when there is none or it opted out. */
  readonly cache: BucketCache | undefined;
  /** What X-Cache says when the bucket does not use the cache: BYPASS (opted out) or nothing. */
  readonly uncachedStatus: "BYPASS" | undefined;
  /** The bucket's ip_filter (`guard`); undefined when it filters nothing. */
  readonly ipFilter?: IpFilter | undefined;
  /** The bucket's cors; undefined: no CORS headers and no per-request CORS work. */
  readonly cors?: CorsPolicy | undefined;
  /** The bucket's image_optimization; undefined: image parameters are not read at all. */
  readonly image?: ImagePolicy | undefined;
  /** The engine, pool and in-flight builds; set whenever `image` is. */
  readonly imageService?: ImageService | undefined;
}
