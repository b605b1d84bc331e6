/**
 * The error catalogue: every error Switchyard reports carries one of these `SWY_*` codes, an HTTP
 * status and whether a job attempt that failed with it may be retried.
 * Tests and clients rely on codes, never on message text.
 */

/** One entry of the catalogue. */
export interface ErrorSpec {
  /** HTTP status when the error answers a request. */
  readonly status: number;
  /** Whether a job attempt that failed with this code is worth another attempt. */
  readonly retryable: boolean;
}

export const ERROR_CATALOGUE = {
  // request errors
  SWY_VALIDATION: { status: 400, retryable: false },
  SWY_INVALID_JSON: { status: 400, retryable: false },
  SWY_BAD_REQUEST: { status: 400, retryable: false },
  SWY_BODY_TOO_LARGE: { status: 413, retryable: false },
  SWY_URI_TOO_LONG: { status: 414, retryable: false },
  SWY_UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  SWY_UNAUTHORIZED: { status: 401, retryable: false },
  /** The key is valid but lacks the route's scope. */
  SWY_FORBIDDEN: { status: 403, retryable: false },
  /** A write made with a console session without the session's CSRF token. */
  SWY_CSRF: { status: 403, retryable: false },
  SWY_KEY_NOT_FOUND: { status: 404, retryable: false },
  SWY_FILE_NOT_FOUND: { status: 404, retryable: false },
  SWY_BATCH_NOT_FOUND: { status: 404, retryable: false },
  SWY_MODEL_NOT_FOUND: { status: 404, retryable: false },
  /** Too many requests from this key or address: wait Retry-After seconds. */
  SWY_RATE_LIMITED: { status: 429, retryable: true },
  /** The key spent its daily token or cost budget: submits resume at the next UTC midnight. */
  SWY_BUDGET_EXCEEDED: { status: 429, retryable: true },
  /** An input limit (batch size, messages, metadata, string length) was passed. */
  SWY_LIMIT_EXCEEDED: { status: 413, retryable: false },
  SWY_JSON_TOO_DEEP: { status: 400, retryable: false },
  SWY_ROUTE_NOT_FOUND: { status: 404, retryable: false },
  SWY_JOB_NOT_FOUND: { status: 404, retryable: false },
  SWY_PROVIDER_NOT_FOUND: { status: 404, retryable: false },
  SWY_PROVIDER_EXISTS: { status: 409, retryable: false },
  /** The provider is set by the providers file or the environment: change it there (only `enabled` may be patched). */
  SWY_PROVIDER_MANAGED: { status: 409, retryable: false },
  SWY_INVALID_PROVIDER: { status: 400, retryable: false },
  SWY_UNKNOWN_JOB_TYPE: { status: 400, retryable: false },
  SWY_INVALID_STATE: { status: 409, retryable: false },
  SWY_IDEMPOTENCY_CONFLICT: { status: 409, retryable: false },
  SWY_SHUTTING_DOWN: { status: 503, retryable: true },
  SWY_NOT_READY: { status: 503, retryable: true },
  SWY_STORE_UNAVAILABLE: { status: 503, retryable: true },
  /** A tenant's files passed their quota (bytes or count). */
  SWY_QUOTA_EXCEEDED: { status: 413, retryable: false },
  /** A key has as many event streams open as it may. */
  SWY_TOO_MANY_STREAMS: { status: 429, retryable: true },
  /** A JSON Schema from a request is larger or more complex than the limits, or took too long to compile or check. */
  SWY_SCHEMA_TOO_COMPLEX: { status: 400, retryable: false },
  /** A request parameter that no provider serving the request can carry. */
  SWY_UNSUPPORTED_PARAMETER: { status: 400, retryable: false },
  /** The store this server runs on cannot do that (an online backup on PostgreSQL: use pg_dump). */
  SWY_NOT_SUPPORTED: { status: 501, retryable: false },
  SWY_INVALID_OPTIONS: { status: 500, retryable: false },
  SWY_INTERNAL: { status: 500, retryable: false },
  // job attempt errors
  SWY_TIMEOUT: { status: 504, retryable: true },
  SWY_CANCELLED: { status: 409, retryable: false },
  SWY_WORKER_CRASHED: { status: 500, retryable: true },
  SWY_HANDLER_ERROR: { status: 500, retryable: true },
  SWY_OUTPUT_INVALID: { status: 502, retryable: true },
  /** An answer or a handler's output was larger than SWITCHYARD_MAX_OUTPUT_BYTES. */
  SWY_OUTPUT_TOO_LARGE: { status: 502, retryable: false },
  SWY_LEASE_EXPIRED: { status: 500, retryable: true },
  SWY_NO_PROVIDER: { status: 503, retryable: true },
  /** Every provider for the model is paused, open, misconfigured or at its limit: the job waits. */
  SWY_NO_PROVIDER_AVAILABLE: { status: 503, retryable: true },
  // provider errors (the taxonomy every adapter maps to)
  SWY_PROVIDER_RATE_LIMITED: { status: 429, retryable: true },
  SWY_PROVIDER_OVERLOADED: { status: 503, retryable: true },
  SWY_PROVIDER_SERVER: { status: 502, retryable: true },
  SWY_PROVIDER_TIMEOUT: { status: 504, retryable: true },
  SWY_PROVIDER_NETWORK: { status: 502, retryable: true },
  SWY_PROVIDER_AUTH: { status: 502, retryable: true },
  SWY_PROVIDER_BAD_REQUEST: { status: 400, retryable: false },
  SWY_PROVIDER_CONTEXT_LENGTH: { status: 400, retryable: false },
  SWY_PROVIDER_BAD_RESPONSE: { status: 502, retryable: true },
  SWY_PROVIDER_BREAKER_OPEN: { status: 503, retryable: true },
  /** The provider's address is refused: link-local or cloud metadata, or outside SWITCHYARD_PROVIDER_HOSTS. */
  SWY_PROVIDER_ADDRESS_FORBIDDEN: { status: 502, retryable: true },
} as const satisfies Record<string, ErrorSpec>;

/** Every code Switchyard can report. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The plain, serialisable form of an error: what jobs store and what crosses the thread boundary. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  /** A provider asked us to wait this long before calling it again (Retry-After). */
  retryAfterMs?: number;
}

/**
 * The one error class of Switchyard. Its `statusCode` makes Fastify answer with the right status;
 * `retryable` tells the scheduler whether the attempt may be retried.
 */
export class SwitchyardError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  /**
   * What an upstream said (a provider's error text): for operators (a provider's `lastError`), never
   * part of what a job records or a tenant sees, since it can quote anything the upstream knows.
   */
  readonly detail: string | undefined;

  constructor(code: ErrorCode, message: string, opts: { retryAfterMs?: number; cause?: unknown; detail?: string } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SwitchyardError';
    this.code = code;
    this.statusCode = ERROR_CATALOGUE[code].status;
    this.retryable = ERROR_CATALOGUE[code].retryable;
    this.retryAfterMs = opts.retryAfterMs;
    this.detail = opts.detail;
  }

  toInfo(): ErrorInfo {
    const info: ErrorInfo = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.retryAfterMs !== undefined) info.retryAfterMs = this.retryAfterMs;
    return info;
  }
}

/** Whether `code` is one of the catalogue's codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CATALOGUE, code);
}

/** Any thrown value as an ErrorInfo; unknown errors become `fallback` (retryable per catalogue). */
export function toErrorInfo(err: unknown, fallback: ErrorCode = 'SWY_HANDLER_ERROR'): ErrorInfo {
  if (err instanceof SwitchyardError) return err.toInfo();
  const e = err as { code?: unknown; message?: unknown; retryable?: unknown; retryAfterMs?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (isErrorCode(e?.code)) {
    const info: ErrorInfo = {
      code: e.code,
      message,
      retryable: typeof e.retryable === 'boolean' ? e.retryable : ERROR_CATALOGUE[e.code].retryable,
    };
    if (typeof e.retryAfterMs === 'number') info.retryAfterMs = e.retryAfterMs;
    return info;
  }
  const retryable = typeof e?.retryable === 'boolean' ? e.retryable : ERROR_CATALOGUE[fallback].retryable;
  return { code: fallback, message, retryable };
}

/** Rebuild a throwable error from its plain form. */
export function fromErrorInfo(info: ErrorInfo): SwitchyardError {
  const code: ErrorCode = isErrorCode(info.code) ? info.code : 'SWY_HANDLER_ERROR';
  const err = new SwitchyardError(code, info.message, info.retryAfterMs === undefined ? {} : { retryAfterMs: info.retryAfterMs });
  (err as { retryable: boolean }).retryable = info.retryable;
  return err;
}
