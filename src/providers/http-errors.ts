/** Maps HTTP answers and transport failures of any provider to the one provider error taxonomy. */
import { SwitchyardError, type ErrorCode } from '../errors.js';

/** Retry-After as seconds or an HTTP date; also OpenAI's `retry-after-ms`. */
export function parseRetryAfter(headers: Record<string, string | string[] | undefined>): number | undefined {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const ms = Number(first(headers['retry-after-ms']));
  if (Number.isFinite(ms) && ms >= 0 && first(headers['retry-after-ms']) !== undefined) return ms;
  const raw = first(headers['retry-after']);
  if (raw === undefined) return undefined;
  const secs = Number(raw);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export function statusToCode(status: number): ErrorCode {
  if (status === 429) return 'SWY_PROVIDER_RATE_LIMITED';
  if (status === 401 || status === 403) return 'SWY_PROVIDER_AUTH';
  if (status === 408) return 'SWY_PROVIDER_TIMEOUT';
  if (status === 503 || status === 529) return 'SWY_PROVIDER_OVERLOADED';
  if (status >= 500) return 'SWY_PROVIDER_SERVER';
  return 'SWY_PROVIDER_BAD_REQUEST';
}

/**
 * The error for a non-2xx answer. The provider's own message goes to `detail` only (operators see
 * it in the provider's `lastError`); the job's error names the provider, the status and the code. Both
 * OpenAI's `{error: {message, type, code}}` and Anthropic's `{type: "error", error: {type, message}}`
 * are read: their error type can say more than the status (overloaded, context length).
 */
export function httpError(
  provider: string,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: string,
): SwitchyardError {
  let detail = '';
  let kind = '';
  try {
    const parsed = JSON.parse(body) as {
      error?: { message?: unknown; type?: unknown; code?: unknown; status?: unknown } | string;
      message?: unknown;
    };
    const e = parsed.error;
    if (typeof e === 'string') detail = e;
    else if (e) {
      detail = typeof e.message === 'string' ? e.message : '';
      // Google's `status` (RESOURCE_EXHAUSTED, …) says what OpenAI's `type` says.
      kind = [e.type, e.code, e.status].filter((x) => typeof x === 'string').join(' ');
    } else if (typeof parsed.message === 'string') detail = parsed.message; // AWS: `{message}`, the type in a header
    const amzn = headers['x-amzn-errortype'];
    if (typeof amzn === 'string') kind = amzn.split(':')[0] ?? '';
  } catch {
    // not JSON: keep only the status
  }
  let code = statusToCode(status);
  if (/overloaded|ServiceUnavailable|UNAVAILABLE/.test(kind)) code = 'SWY_PROVIDER_OVERLOADED';
  // Google answers a bad key with 400 INVALID_ARGUMENT, not 401.
  else if (code === 'SWY_PROVIDER_BAD_REQUEST' && /API key not valid|API_KEY_INVALID/i.test(detail)) code = 'SWY_PROVIDER_AUTH';
  else if (
    /context_length/.test(kind) ||
    (code === 'SWY_PROVIDER_BAD_REQUEST' && /prompt is too long|context (length|window)|maximum context/i.test(detail))
  ) {
    code = 'SWY_PROVIDER_CONTEXT_LENGTH';
  }
  const retryAfterMs = parseRetryAfter(headers);
  return new SwitchyardError(code, `${provider}: HTTP ${status}`, {
    ...(retryAfterMs !== undefined && { retryAfterMs }),
    ...(detail && { detail: detail.slice(0, 300) }),
  });
}

/**
 * A failure before any answer: the job's own abort passes through unchanged (it is the job's
 * timeout or cancel, not the provider's fault); the provider's own timeout and network errors are mapped.
 */
export function transportError(provider: string, err: unknown, jobSignal: AbortSignal, callSignal: AbortSignal): unknown {
  if (jobSignal.aborted) return jobSignal.reason;
  if (callSignal.aborted) return new SwitchyardError('SWY_PROVIDER_TIMEOUT', `${provider}: no answer within its timeout`, { cause: err });
  const code = (err as { code?: string }).code ?? 'unknown';
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
    return new SwitchyardError('SWY_OUTPUT_TOO_LARGE', `${provider}: the answer is larger than SWITCHYARD_MAX_OUTPUT_BYTES`, {
      cause: err,
    });
  }
  if (code === 'ESWYFORBIDDEN') {
    return new SwitchyardError(
      'SWY_PROVIDER_ADDRESS_FORBIDDEN',
      `${provider}: its host resolves only to addresses providers may not reach`,
      { cause: err },
    );
  }
  return new SwitchyardError('SWY_PROVIDER_NETWORK', `${provider}: network error (${code})`, { cause: err });
}
