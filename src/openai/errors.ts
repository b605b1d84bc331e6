/** Errors on the OpenAI-compatible routes, in OpenAI's shape: `{error: {message, type, param, code}}`. */
import { ERROR_CATALOGUE, isErrorCode, type ErrorInfo } from '../errors.js';

/** OpenAI's error `type` for an HTTP status. */
function typeFor(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

/** The OpenAI error body and status for a Switchyard code. The `code` stays the SWY_* code. */
export function openaiError(code: string, message: string, status?: number): { status: number; body: unknown } {
  const s = status ?? (isErrorCode(code) ? ERROR_CATALOGUE[code].status : 500);
  return { status: s, body: { error: { message, type: typeFor(s), param: null, code } } };
}

/** A failed job's error as an OpenAI error. */
export function jobError(error: ErrorInfo | null): { status: number; body: unknown } {
  return openaiError(error?.code ?? 'SWY_INTERNAL', error?.message ?? 'the job failed');
}
