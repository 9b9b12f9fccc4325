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
  /** Seconds until S3 must have sent response headers. Default 20. */
  timeout: number;
}

export interface BucketConfig {
  name: string;
  /** Starts with "/", has no trailing "/" (except the root "/"). */
  pathPrefix: string;
  s3: S3Config;
}

export interface LoggingConfig {
  level: LogLevel;
  format: "json" | "pretty";
}

export interface Config {
  server: ServerConfig;
  buckets: BucketConfig[];
  logging: LoggingConfig;
}
