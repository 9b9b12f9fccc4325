// Owns the root config schema (snake_case YAML in, camelCase Config out, defaults applied), the
// key tables used for "did you mean" hints, and re-exports of the schema_*.ts modules.

import { z } from "zod";
import type { Config } from "./types.ts";
import { expecting, present } from "./schema_support.ts";
import { LOGGING_SHAPE, loggingSchema, SERVER_SHAPE, serverSchema } from "./schema_server.ts";
import { BUCKET_SHAPE, bucketSchema, bucketsError, S3_SHAPE } from "./schema_buckets.ts";
import { AUTH_SHAPE, authWithoutJwtMessage, jwtSchema, jwtSectionKeys } from "./schema_jwt.ts";
import { ADMIN_SHAPE, adminSchema, OPA_SHAPE, OPENFGA_SHAPE } from "./schema_authorization.ts";
import { METRICS_SHAPE, metricsPortProblem, metricsSchema } from "./schema_metrics.ts";
import { SIGNED_URL_KEY_SHAPE, SIGNED_URLS_SHAPE } from "./schema_signed_urls.ts";
import { SECURITY_LIMITS_SHAPE } from "./schema_security.ts";
import { IP_FILTER_SHAPE } from "./schema_network.ts";
import { CORS_SHAPE } from "./schema_cors.ts";
import { AUDIT_FILE_SHAPE, AUDIT_LOG_SHAPE, auditLogSchema } from "./schema_audit.ts";
import {
  BUCKET_IMAGE_OPTIMIZATION_SHAPE,
  IMAGE_OPTIMIZATION_SHAPE,
  IMAGE_SIGNING_SHAPE,
  imageOptimizationSchema,
  resolveImageOptimization,
} from "./schema_image.ts";
import { CIRCUIT_BREAKER_SHAPE, RETRY_SHAPE } from "./schema_resilience.ts";
import {
  RATE_LIMIT_RULE_SHAPE,
  redisStoreProblem,
  SERVER_RATE_LIMIT_SHAPE,
} from "./schema_rate_limit.ts";
import {
  BUCKET_CACHE_SHAPE,
  CACHE_SHAPE,
  cacheSchema,
  DISK_CACHE_SHAPE,
  MEMORY_CACHE_SHAPE,
  REDIS_CACHE_SHAPE,
  WARMING_SHAPE,
} from "./schema_cache.ts";

// The config modules import these from here; each is owned by the schema_*.ts file named.
export { IGNORED_KEYS, NOT_YET_SUPPORTED, type NotYetSupported } from "./schema_unsupported.ts";
export {
  describeValue,
  isMapping,
  isSecretKey,
  MAKE_SECRET,
  MAX_SECONDS,
  MIN_SECRET_LENGTH,
  serviceUrlProblem,
} from "./schema_support.ts";
export { addressProblem } from "./schema_server.ts";
export {
  endpointProblem,
  normalizePathPrefix,
  pathPrefixProblem,
  s3BucketNameProblem,
} from "./schema_buckets.ts";
export {
  algorithmFamily,
  authWithoutJwtMessage,
  claimValueProblem,
  isJwtAlgorithm,
  type KeyMaterial,
  keyMaterialProblem,
  unusedKeyMaterial,
} from "./schema_jwt.ts";
export { policyPathProblem } from "./schema_authorization.ts";
export { MAX_EXPIRY_SECONDS } from "./schema_signed_urls.ts";
export {
  CACHE_LAYERS,
  cacheLayerProblem,
  cacheSizeProblem,
  MAX_MEGABYTES,
  megabytesToBytes,
  MEMORY_CACHE_DEFAULTS,
  MIB,
  redisUrlProblem,
} from "./schema_cache.ts";

// ---- root -----------------------------------------------------------------------------------

const ROOT_SHAPE = {
  server: serverSchema,
  buckets: z.array(bucketSchema, { error: bucketsError }).min(1, { error: bucketsError }),
  logging: loggingSchema,
  jwt: present(jwtSchema),
  cache: present(cacheSchema),
  admin: present(adminSchema),
  image_optimization: present(imageOptimizationSchema),
  metrics: present(metricsSchema),
  audit_log: present(auditLogSchema),
};

/** The whole config: parse the YAML's plain value with it (after NOT_YET_SUPPORTED/IGNORED_KEYS). */
export const configSchema = z.strictObject(ROOT_SHAPE, {
  error: expecting("a mapping with server, buckets and logging"),
}).transform((raw, ctx): Config => {
  const top = raw.jwt?.enabled ? raw.jwt.config : undefined;
  const buckets = raw.buckets.map(({ config, auth }, index) => {
    if (!auth.enabled) return config;
    // A bucket's own jwt with `enabled: false` is an error (load.ts); it never guards anything.
    const jwt = (auth.jwt?.enabled ? auth.jwt.config : undefined) ?? top;
    if (jwt) {
      config.jwt = jwt;
    } else {
      // Backstop: load.ts reports this with a position; should the two ever disagree, the config
      // is still rejected instead of serving the bucket without authentication.
      ctx.addIssue({
        code: "custom",
        path: ["buckets", index, "auth", "enabled"],
        message: authWithoutJwtMessage(config.name, index, raw.jwt ? "disabled" : "absent"),
        input: true,
        params: { backstop: true },
      });
    }
    return config;
  });
  if (raw.server.rateLimit?.store === "redis" && raw.cache?.redis === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["server", "rate_limit", "store"],
      message: redisStoreProblem(),
      input: "redis",
    });
  }
  const config: Config = { server: raw.server, buckets, logging: raw.logging };
  if (top) config.jwt = top;
  if (raw.cache) config.cache = raw.cache;
  if (raw.admin) config.admin = raw.admin;
  if (raw.audit_log) config.auditLog = raw.audit_log;
  const image = resolveImageOptimization(raw.image_optimization, buckets, ctx);
  if (image) config.imageOptimization = image;
  if (raw.metrics) {
    const problem = metricsPortProblem(raw.metrics, raw.server);
    if (problem) {
      ctx.addIssue({
        code: "custom",
        path: ["metrics", "port"],
        message: problem,
        input: raw.metrics.port,
      });
    }
    config.metrics = raw.metrics;
  }
  return config;
});

/**
 * The keys the schema accepts in each mapping, by path pattern ("" is the root, "[]" any list
 * element): used for "did you mean" hints and to list the allowed keys.
 */
export const SECTION_KEYS: Readonly<Record<string, readonly string[]>> = {
  "": Object.keys(ROOT_SHAPE),
  server: Object.keys(SERVER_SHAPE),
  "server.security_limits": Object.keys(SECURITY_LIMITS_SHAPE),
  "server.rate_limit": Object.keys(SERVER_RATE_LIMIT_SHAPE),
  "server.rate_limit.global": Object.keys(RATE_LIMIT_RULE_SHAPE),
  "server.rate_limit.per_ip": Object.keys(RATE_LIMIT_RULE_SHAPE),
  "server.rate_limit.per_user": Object.keys(RATE_LIMIT_RULE_SHAPE),
  "buckets[]": Object.keys(BUCKET_SHAPE),
  "buckets[].s3": Object.keys(S3_SHAPE),
  "buckets[].s3.retry": Object.keys(RETRY_SHAPE),
  "buckets[].s3.circuit_breaker": Object.keys(CIRCUIT_BREAKER_SHAPE),
  "buckets[].s3.rate_limit": Object.keys(RATE_LIMIT_RULE_SHAPE),
  "buckets[].auth": Object.keys(AUTH_SHAPE),
  ...jwtSectionKeys("buckets[].auth.jwt"),
  "buckets[].authorization": [
    ...new Set([...Object.keys(OPA_SHAPE), ...Object.keys(OPENFGA_SHAPE)]),
  ],
  "buckets[].signed_urls": Object.keys(SIGNED_URLS_SHAPE),
  "buckets[].signed_urls.keys[]": Object.keys(SIGNED_URL_KEY_SHAPE),
  "buckets[].cache": Object.keys(BUCKET_CACHE_SHAPE),
  "buckets[].ip_filter": Object.keys(IP_FILTER_SHAPE),
  "buckets[].cors": Object.keys(CORS_SHAPE),
  logging: Object.keys(LOGGING_SHAPE),
  ...jwtSectionKeys("jwt"),
  cache: Object.keys(CACHE_SHAPE),
  "cache.memory": Object.keys(MEMORY_CACHE_SHAPE),
  "cache.disk": Object.keys(DISK_CACHE_SHAPE),
  "cache.redis": Object.keys(REDIS_CACHE_SHAPE),
  "cache.warming": Object.keys(WARMING_SHAPE),
  admin: Object.keys(ADMIN_SHAPE),
  image_optimization: Object.keys(IMAGE_OPTIMIZATION_SHAPE),
  "image_optimization.signing": Object.keys(IMAGE_SIGNING_SHAPE),
  "image_optimization.signing.keys[]": Object.keys(SIGNED_URL_KEY_SHAPE),
  "buckets[].image_optimization": Object.keys(BUCKET_IMAGE_OPTIMIZATION_SHAPE),
  "buckets[].image_optimization.signing": Object.keys(IMAGE_SIGNING_SHAPE),
  "buckets[].image_optimization.signing.keys[]": Object.keys(SIGNED_URL_KEY_SHAPE),
  metrics: Object.keys(METRICS_SHAPE),
  audit_log: Object.keys(AUDIT_LOG_SHAPE),
  "audit_log.file": Object.keys(AUDIT_FILE_SHAPE),
};

/**
 * Mappings whose keys depend on a discriminator (`type`): an unknown key is checked against the
 * keys of the mapping's own type, and a key of another type says so.
 */
export const VARIANT_KEYS: Readonly<
  Record<string, { discriminator: string; keys: Readonly<Record<string, readonly string[]>> }>
> = {
  "buckets[].authorization": {
    discriminator: "type",
    keys: { opa: Object.keys(OPA_SHAPE), openfga: Object.keys(OPENFGA_SHAPE) },
  },
};
