// Owns the translation of S3 error answers (status + XML body) into ProxyErrors with clear messages.

import { type ErrorCode, ProxyError } from "../errors.ts";

/** S3 error bodies are small; anything beyond this is not an S3 error document. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

export interface S3ErrorContext {
  /** The gateway bucket name (config `buckets[].name`), for messages. */
  bucketName: string;
  /** The S3 bucket name (config `buckets[].s3.bucket`). */
  s3Bucket: string;
  key: string;
}

export interface S3ErrorDocument {
  code: string | undefined;
  message: string | undefined;
  /** InvalidRange documents carry the object size, which the 416's Content-Range needs. */
  actualObjectSize: string | undefined;
}

/** Extracts <Code> and <Message> from an S3 error document (no XML parser needed for two leaves). */
export function parseS3ErrorXml(xml: string): S3ErrorDocument {
  return {
    code: pickElement(xml, "Code"),
    message: pickElement(xml, "Message"),
    actualObjectSize: pickElement(xml, "ActualObjectSize"),
  };
}

function pickElement(xml: string, name: string): string | undefined {
  const open = xml.indexOf(`<${name}>`);
  if (open === -1) return undefined;
  const start = open + name.length + 2;
  const end = xml.indexOf(`</${name}>`, start);
  return end === -1 ? undefined : decodeXmlEntities(xml.slice(start, end));
}

function decodeXmlEntities(text: string): string {
  return text.replace(
    /&(lt|gt|amp|quot|apos);/g,
    (_, entity: string) => ({ lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" })[entity]!,
  );
}

/** Reads at most MAX_ERROR_BODY_BYTES of an error body and cancels the rest. */
export async function readErrorBody(response: Response): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_ERROR_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A broken error body still leaves the status to go on.
  } finally {
    reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes.subarray(0, MAX_ERROR_BODY_BYTES));
}

/** Error codes S3 uses when the gateway's own credentials or signature are at fault. */
const CREDENTIAL_CODES = new Set([
  "SignatureDoesNotMatch",
  "InvalidAccessKeyId",
  "InvalidToken",
  "ExpiredToken",
  "TokenRefreshRequired",
  "AuthorizationHeaderMalformed",
  "RequestTimeTooSkewed",
]);

/**
 * Maps an S3 error answer to the ProxyError the client sees. The S3 error code is kept in the
 * body as `s3_error_code`, so a client or operator sees what S3 said (e.g. SignatureDoesNotMatch).
 */
export function s3ErrorToProxyError(
  status: number,
  document: S3ErrorDocument,
  context: S3ErrorContext,
  headers: Headers,
): ProxyError {
  const s3Code = document.code ?? headers.get("x-amz-error-code") ?? defaultCodeFor(status);
  const where = `bucket "${context.bucketName}" (S3 bucket "${context.s3Bucket}")`;
  let code: ErrorCode;
  let message: string;
  const extraHeaders: Record<string, string> = {};
  if (status === 404 && s3Code === "NoSuchBucket") {
    code = "upstream_error";
    message =
      `S3 says the bucket does not exist for ${where}; check buckets[].s3.bucket and the endpoint in the gateway config.`;
  } else if (status === 404) {
    code = "object_not_found";
    message = `No object "${context.key}" in ${where}.`;
  } else if (status === 403 && CREDENTIAL_CODES.has(s3Code)) {
    code = "access_denied";
    message =
      `S3 rejected the gateway's signed request for ${where} with ${s3Code}; check buckets[].s3.access_key, secret_key, session_token and region.`;
  } else if (status === 403) {
    code = "access_denied";
    message = `S3 denied access to "${context.key}" in ${where} (${s3Code}).`;
  } else if (status === 412) {
    code = "precondition_failed";
    message = "A precondition (If-Match or If-Unmodified-Since) did not hold for this object.";
  } else if (status === 416) {
    code = "range_not_satisfiable";
    message = "The requested Range does not overlap the object; ask for bytes inside its size.";
    // RFC 9110 §15.5.17: a 416 names the current length. S3 puts it in the error document.
    const size = document.actualObjectSize;
    const contentRange = headers.get("content-range") ??
      (size !== undefined && /^\d+$/.test(size) ? `bytes */${size}` : null);
    if (contentRange !== null) extraHeaders["content-range"] = contentRange;
  } else if (status === 400) {
    code = "bad_request";
    message = `S3 refused the request as invalid (${s3Code}): ${
      document.message ?? "check the query parameters"
    }.`;
  } else if (status === 301 || status === 307 || s3Code === "PermanentRedirect") {
    code = "upstream_error";
    message =
      `S3 redirected the request for ${where} (${s3Code}); the bucket is in another region or needs another endpoint: fix buckets[].s3.region / endpoint.`;
  } else {
    code = "upstream_error";
    message = `S3 answered ${status} ${s3Code} for ${where}; the request can be retried later.`;
  }
  const extra = Object.keys(extraHeaders).length > 0 ? { headers: extraHeaders } : {};
  return new ProxyError(code, {
    message,
    source: "origin",
    details: { s3_error_code: s3Code, s3_status: status },
    ...extra,
  });
}

function defaultCodeFor(status: number): string {
  switch (status) {
    case 403:
      return "AccessDenied";
    case 404:
      return "NoSuchKey";
    case 412:
      return "PreconditionFailed";
    case 416:
      return "InvalidRange";
    case 503:
      return "ServiceUnavailable";
    default:
      return status >= 500 ? "InternalError" : `HTTP${status}`;
  }
}
