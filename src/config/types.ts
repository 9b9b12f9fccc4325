// Owns the resolved, camelCase configuration types that everything outside config/ reads.

/** Log levels in increasing severity. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error"] as const;
export type LogLevel = typeof LOG_LEVELS[number];

export interface ServerConfig {
  /** Listen host, default "0.0.0.0". */
  address: string;
  /** Listen port, default 8080 (0 picks a free port). */
  port: number;
  /** Seconds the gateway may take to produce response headers before answering 504. Default 30. */
  requestTimeout: number;
  /** Seconds in-flight requests may take to finish after SIGTERM/SIGINT. Default 30. */
  shutdownTimeout: number;
  /** `server.security_limits`: request size limits (414, 431, 413). */
  securityLimits: SecurityLimitsConfig;
  /**
   * Requests handled at once, counted until their response body is delivered
   * (`server.max_concurrent_requests`, default 1000); more are answered 503. Unset: no bound.
   */
  maxConcurrentRequests?: number;
  /**
   * Canonical CIDRs of the proxies whose X-Forwarded-For is believed (`server.trusted_proxies`);
   * set only when the list is not empty.
   */
  trustedProxies?: string[] | undefined;
  /** `server.rate_limit`, when the block is written. */
  rateLimit?: RateLimitConfig | undefined;
}

/** One token bucket: `burst` tokens at most, refilled at `requestsPerSecond`. */
export interface RateLimitRule {
  requestsPerSecond: number;
  /** Requests allowed at once after a quiet spell; default `requestsPerSecond`. */
  burst: number;
}

/** `server.rate_limit`. The scopes are undefined when not enabled or 0 (no limit). */
export interface RateLimitConfig {
  enabled: boolean;
  /** Where the counters live: this process, or the cache's Redis (shared by a fleet). */
  store: "memory" | "redis";
  global: RateLimitRule | undefined;
  /** Keyed by the resolved client IP (server.trusted_proxies). */
  perIp: RateLimitRule | undefined;
  /** Keyed by the JWT subject (`sub`), after authentication. */
  perUser: RateLimitRule | undefined;
}

/** `server.security_limits`. */
export interface SecurityLimitsConfig {
  /** Longest request target (path and query), in characters; longer is 414. Default 8192. */
  maxUriLength: number;
  /** Largest sum of header name and value lengths; larger is 431. Default 65536. */
  maxHeaderSize: number;
  /** Largest request body (by Content-Length, and while reading one); larger is 413. Default 10 MiB. */
  maxBodySize: number;
}

export interface S3Config {
  bucket: string;
  region: string;
  /** Full origin URL (path-style requests) or undefined for AWS virtual-hosted requests. */
  endpoint: string | undefined;
  accessKey: string;
  secretKey: string;
  /** Temporary-credential session token, sent as x-amz-security-token. */
  sessionToken: string | undefined;
  /** Seconds until S3 must have sent response headers, per attempt. Default 20. */
  timeout: number;
  /**
   * Seconds an attempt may go without response headers before the gateway checks that the
   * endpoint still accepts TCP connections (fetch hides its own connects). Default 5.
   */
  connectTimeout: number;
  /** Seconds allowed between two body chunks once headers arrived. Default: `timeout`. */
  idleTimeout: number;
  retry: RetryConfig;
  /** Undefined: no breaker (the block is absent, as in the original). */
  circuitBreaker: CircuitBreakerConfig | undefined;
  /** `s3.rate_limit`: the bucket's own limit; undefined = none. */
  rateLimit?: RateLimitRule | undefined;
  /**
   * `s3.replicas`, sorted by priority (first = preferred). When set, the single-form fields
   * above (bucket, region, endpoint, keys, timeout) are copied from the first replica.
   */
  replicas?: ReplicaConfig[] | undefined;
}

/** One `buckets[].s3.replicas[]` entry: an S3 copy of the bucket with its own credentials. */
export interface ReplicaConfig {
  name: string;
  /** 1 = tried first; unique within the bucket. */
  priority: number;
  bucket: string;
  region: string;
  endpoint: string | undefined;
  accessKey: string;
  secretKey: string;
  sessionToken: string | undefined;
  /** Seconds until this replica must have sent response headers, per attempt. Default 20. */
  timeout: number;
}

/** `buckets[].s3.retry`: GET/HEAD attempts on connection errors, timeouts and S3 500/502/503/504. */
export interface RetryConfig {
  /** Attempts in total, the first included (1 = no retries). Default 3. */
  maxAttempts: number;
  /** The first backoff's lower bound, ms. Default 100. */
  initialBackoffMs: number;
  /** No backoff is longer, ms. Default 1000. */
  maxBackoffMs: number;
}

/** `buckets[].s3.circuit_breaker`: stops sending to a failing S3 for a while. */
export interface CircuitBreakerConfig {
  /** Consecutive failures that open the breaker. Default 5. */
  failureThreshold: number;
  /** Successful half-open probes that close it again. Default 2. */
  successThreshold: number;
  /** Seconds the breaker stays open before probing. Default 60. */
  timeoutSeconds: number;
  /** Probes in flight at once while half-open. Default 3. */
  halfOpenMaxRequests: number;
}

/** JWS algorithms a key may verify ("none" is never one). */
export const JWT_ALGORITHMS = [
  "HS256",
  "HS384",
  "HS512",
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
] as const;
export type JwtAlgorithm = typeof JWT_ALGORITHMS[number];

/** One named verification key (selected by the token's `kid`). */
export interface JwtKeyConfig {
  id: string;
  algorithm: JwtAlgorithm;
  /** HMAC secret (HS*), or undefined when `path` is used. */
  secret: string | undefined;
  /** PEM file (SPKI public key or X.509 certificate) for RS/PS/ES/EdDSA. */
  path: string | undefined;
}

export const TOKEN_SOURCE_TYPES = ["bearer", "header", "query", "cookie"] as const;
export interface TokenSourceConfig {
  type: typeof TOKEN_SOURCE_TYPES[number];
  /** Header, query parameter or cookie name (not used by `bearer`). */
  name: string | undefined;
  /** For `header`: a prefix the value must start with, removed before verification. */
  prefix: string | undefined;
}

export const CLAIM_OPERATORS = [
  "equals",
  "in",
  "contains",
  "gt",
  "lt",
  "gte",
  "lte",
  "regex",
] as const;
export interface ClaimRule {
  /** Claim name or dotted path into nested objects ("realm.roles"). */
  claim: string;
  operator: typeof CLAIM_OPERATORS[number];
  value: unknown;
}

/** A resolved JWT verifier config (top-level `jwt` or `buckets[].auth.jwt`). */
export interface JwtConfig {
  /** The algorithm of `secret` / `rsa_public_key_path` / `ecdsa_public_key_path`. */
  algorithm: JwtAlgorithm;
  secret: string | undefined;
  rsaPublicKeyPath: string | undefined;
  ecdsaPublicKeyPath: string | undefined;
  keys: JwtKeyConfig[];
  jwksUrl: string | undefined;
  /** Default 300. */
  jwksRefreshIntervalSecs: number;
  issuer: string | undefined;
  audience: string | undefined;
  /** Default 60. */
  leewaySeconds: number;
  /** Default [{type: bearer}]. */
  tokenSources: TokenSourceConfig[];
  claims: ClaimRule[];
  adminClaims: ClaimRule[];
}

export interface OpaConfig {
  type: "opa";
  /** http(s) base URL of the OPA server. */
  url: string;
  /** Policy path under /v1/data/, e.g. "yatagarasu/authz/allow". */
  policyPath: string;
  /** Default 100. */
  timeoutMs: number;
  /** Default 60. */
  cacheTtlSeconds: number;
  /** Default "closed". */
  failMode: "open" | "closed";
}

export interface OpenFgaConfig {
  type: "openfga";
  endpoint: string;
  storeId: string;
  authorizationModelId: string | undefined;
  apiToken: string | undefined;
  /** Default 100. */
  timeoutMs: number;
  /** Default 60. */
  cacheTtlSeconds: number;
  /** Default "closed". */
  failMode: "open" | "closed";
  /** Claim (dotted path) naming the user; default "sub". */
  userClaim: string;
}

export type AuthorizationConfig = OpaConfig | OpenFgaConfig;

export interface SignedUrlKey {
  id: string;
  secret: string;
}

export interface SignedUrlsConfig {
  /** Accepted keys (several during a rotation); `sign-url` signs with the first. */
  keys: SignedUrlKey[];
  /** Longest expiry `sign-url` will issue, seconds. Default 7 days. */
  maxExpirySeconds: number;
}

/** The memory tier of the cache (`cache.memory`). */
export interface MemoryCacheConfig {
  /** Objects larger than this stream through uncached. Default 10 MiB. */
  maxItemBytes: number;
  /** The tier's whole size bound (LRU eviction beyond it). Default 1024 MiB. */
  maxCacheBytes: number;
  /** TTL when S3 sends no s-maxage/max-age. Default 3600. */
  defaultTtlSeconds: number;
}

/** The disk tier (`cache.disk`), when enabled and listed in `cache_layers`. */
export interface DiskCacheConfig {
  /** Directory that holds the entry files (created when missing). */
  cacheDir: string;
  /** The tier's size bound in bytes (LRU eviction beyond it). Default 10240 MiB. */
  maxBytes: number;
}

/** The Redis tier (`cache.redis`), when enabled and listed in `cache_layers`. */
export interface RedisCacheConfig {
  /** redis:// or rediss:// URL. */
  url: string;
  /** AUTH password; undefined when empty. */
  password: string | undefined;
  db: number;
  /** Prepended to every key and to the purge channel. Default "yatagarasu:". */
  keyPrefix: string;
  /** Upper bound on how long Redis keeps an entry, in seconds. Default 3600. */
  ttlSeconds: number;
}

/** Prewarm tasks' pace (`cache.warming`). */
export interface WarmingConfig {
  /** Objects fetched at once. Default 10. */
  concurrency: number;
  /** Objects started per second at most. Default 100. */
  rateLimit: number;
}

export type CacheLayerName = "memory" | "disk" | "redis";

/** The top-level `cache` block, when `enabled`. */
export interface CacheConfig {
  /** Tiers in lookup order (`cache_layers`); only enabled tiers are listed. */
  layers: CacheLayerName[];
  memory: MemoryCacheConfig;
  disk: DiskCacheConfig | undefined;
  redis: RedisCacheConfig | undefined;
  warming: WarmingConfig;
  /**
   * Seconds past expiry a copy may be served (X-Cache: STALE) when S3 fails, for objects whose
   * Cache-Control has no `stale-if-error` of its own. Default 0 (off).
   */
  staleIfErrorSeconds: number;
}

/** A bucket's `cache` overrides. */
export interface BucketCacheConfig {
  /** false: this bucket never uses the cache. Default true. */
  enabled: boolean;
  /** Overrides `cache.memory.default_ttl_seconds` for this bucket. */
  ttlSeconds: number | undefined;
  /** Overrides `cache.memory.max_item_size_mb` (lower only makes sense) for this bucket. */
  maxItemBytes: number | undefined;
}

export interface BucketConfig {
  name: string;
  /** Starts with "/", has no trailing "/" (except the root "/"). */
  pathPrefix: string;
  s3: S3Config;
  /** The JWT that guards this bucket (its own, or the top-level one); undefined = public. */
  jwt?: JwtConfig | undefined;
  authorization?: AuthorizationConfig | undefined;
  signedUrls?: SignedUrlsConfig | undefined;
  cache?: BucketCacheConfig | undefined;
  ipFilter?: IpFilterConfig | undefined;
  cors?: CorsConfig | undefined;
  /** `buckets[].image_optimization` overrides of the top-level block. */
  imageOptimization?: BucketImageOptimizationConfig | undefined;
}

/** A bucket's `ip_filter`: canonical CIDRs ("10.0.0.0/8", "2001:db8::/32"). */
export interface IpFilterConfig {
  /** Empty: every address not blocked may read. */
  allowlist: string[];
  /** Wins over the allowlist. */
  blocklist: string[];
}

/** Methods a bucket's `cors.allowed_methods` may list (the gateway only serves reads). */
export const CORS_METHODS = ["GET", "HEAD"] as const;

/** A bucket's `cors`: who may read it from a browser page of another origin. */
export interface CorsConfig {
  /** Serialized origins ("https://app.example.com"), or ["*"] for any. */
  allowedOrigins: string[];
  /** Default [GET, HEAD]. */
  allowedMethods: (typeof CORS_METHODS)[number][];
  /** Lowercase request header names a preflight may ask for, or ["*"]. Default []. */
  allowedHeaders: string[];
  /** Response header names scripts may read besides the CORS-safelisted ones. Default []. */
  exposedHeaders: string[];
  /** Seconds a browser may cache a preflight answer. Default 86400. */
  maxAgeSeconds: number;
  /** Allow requests with cookies / HTTP auth (then origins are listed, never "*"). Default false. */
  allowCredentials: boolean;
}

/** One image-signing key (`image_optimization.signing.keys[]`); several during a rotation. */
export interface ImageSigningKey {
  id: string;
  secret: string;
}

/** `image_optimization.signing`: free-form image parameters must carry an HMAC-SHA256 signature. */
export interface ImageSigningConfig {
  /** Accepted keys; `sign-url --image` signs with the first unless told otherwise. */
  keys: ImageSigningKey[];
  /** Signatures without `exp` are refused. Default false. */
  requireExpiry: boolean;
}

/** The engine that runs sharp: the native addon, its WebAssembly build, or native then wasm. */
export const IMAGE_ENGINES = ["auto", "native", "wasm"] as const;
export type ImageEngineChoice = typeof IMAGE_ENGINES[number];

/**
 * One named preset (`image_optimization.presets.<name>`): image parameters as they would be
 * written in a query (`{w: "200", fit: "cover"}`), validated at load time by image/params.ts.
 */
export type ImagePresetParams = Readonly<Record<string, string>>;

/**
 * The top-level `image_optimization` block (defaults filled in). Present whenever the block or
 * any bucket's `image_optimization` is written; per-bucket policies come from
 * image/policy.ts compileImagePolicy(config.imageOptimization, bucket.imageOptimization).
 */
export interface ImageOptimizationConfig {
  /** Default for buckets that do not say. Default false. */
  enabled: boolean;
  /** Output bounds in pixels (after dpr). Default 4096 each. */
  maxWidth: number;
  maxHeight: number;
  /** 1-100, used when a request has no `q`. Default 80. */
  defaultQuality: number;
  /** A request without `fmt` negotiates AVIF/WebP from Accept too. Default false. */
  autoFormat: boolean;
  /** Larger sources are refused with 422 (decompression bombs). Default 71,000,000 (~8400x8400). */
  maxSourcePixels: number;
  /** Larger source objects are refused with 422. Default 10 MiB. */
  maxSourceBytes: number;
  /** A transformation taking longer fails with 503. Default 10000. */
  processingTimeoutMs: number;
  /** Global only. Default "auto". */
  engine: ImageEngineChoice;
  /** Transformations running at once (global only). Default: the number of CPUs (at least 1). */
  concurrency: number;
  /** Transformations waiting for a worker before 503 (global only). Default 32. */
  queueSize: number;
  /** Named presets, each validated. Default {}. */
  presets: Readonly<Record<string, ImagePresetParams>>;
  /** Only `?preset=name` is accepted; free-form parameters are a 400. Default false. */
  presetsOnly: boolean;
  /** Set when `signing.enabled`. */
  signing: ImageSigningConfig | undefined;
}

/** A bucket's `image_optimization` overrides; undefined fields inherit the top-level value. */
export interface BucketImageOptimizationConfig {
  enabled?: boolean | undefined;
  maxWidth?: number | undefined;
  maxHeight?: number | undefined;
  defaultQuality?: number | undefined;
  autoFormat?: boolean | undefined;
  maxSourcePixels?: number | undefined;
  maxSourceBytes?: number | undefined;
  processingTimeoutMs?: number | undefined;
  /** Merged over the top-level presets (a bucket preset replaces a global one of the same name). */
  presets?: Readonly<Record<string, ImagePresetParams>> | undefined;
  presetsOnly?: boolean | undefined;
  /** Replaces the top-level signing: a config, or null for "explicitly disabled here". */
  signing?: ImageSigningConfig | null | undefined;
}

/** Where access and audit lines are formatted and written (`logging.writer`). */
export const LOG_WRITERS = ["auto", "thread", "inline"] as const;
export type LogWriter = typeof LOG_WRITERS[number];

export interface LoggingConfig {
  level: LogLevel;
  format: "json" | "pretty";
  /**
   * `thread`: a log thread formats and writes the access and audit lines (and all of stdout);
   * `inline`: the request thread does; `auto` (default): thread with 2 CPUs or more.
   */
  writer?: LogWriter;
}

/** Where audit lines go (`audit_log.outputs`). */
export const AUDIT_OUTPUTS = ["file", "stdout"] as const;
export type AuditOutput = typeof AUDIT_OUTPUTS[number];

/** `audit_log.file`: the audit file and its rotation. */
export interface AuditFileConfig {
  path: string;
  /** A file is rotated before it would grow past this (max_file_size_mb, default 50 MiB). */
  maxFileBytes: number;
  /** Rotated files kept as path.1 (newest) .. path.N (max_backup_files, default 5; 0: none). */
  maxBackupFiles: number;
  /** `size` (default), or `daily`: also rotated when the UTC day changes. */
  rotation: "size" | "daily";
}

/** `audit_log`, when `enabled: true`: one JSON line per request. */
export interface AuditLogConfig {
  outputs: AuditOutput[];
  /** Set when `outputs` includes "file". */
  file: AuditFileConfig | undefined;
  /** Bytes of lines held before a write starts (buffer_size, default 1 MiB). */
  bufferBytes: number;
}

export interface AdminConfig {
  /** Serve the admin routes to non-loopback clients without a token when no JWT is configured. Default false. */
  allowUnauthenticated: boolean;
}

/** `metrics`: the Prometheus listener (GET /metrics), on a port of its own. */
export interface MetricsConfig {
  /** Listen host, default "0.0.0.0". */
  address: string;
  /** Listen port, default 9090 (0 picks a free port). */
  port: number;
}

export interface Config {
  server: ServerConfig;
  buckets: BucketConfig[];
  logging: LoggingConfig;
  /** The top-level JWT (default for buckets with `auth.enabled: true`), when enabled. */
  jwt?: JwtConfig | undefined;
  /** The cache, when `cache.enabled` (default true when the block is present). */
  cache?: CacheConfig | undefined;
  /** The admin routes' settings, when the `admin` block is present. */
  admin?: AdminConfig | undefined;
  /** The metrics listener, when the `metrics` block is present and not `enabled: false`. */
  metrics?: MetricsConfig | undefined;
  /** `image_optimization` (defaults filled in), when it or any bucket's override is written. */
  imageOptimization?: ImageOptimizationConfig | undefined;
  /** The audit log, when `audit_log.enabled: true`. */
  auditLog?: AuditLogConfig | undefined;
}
