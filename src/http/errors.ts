/** Maps every error a request can meet to `{error: {code, message}}` with a SWY_* code and a fitting status. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { SwitchyardError, type ErrorCode } from '../errors.js';
import { storeFault } from '../store/faults.js';
import type { ErrorObject } from 'ajv';
import { describeError } from '../validation.js';
import { openaiError } from '../openai/errors.js';

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'SWY_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'SWY_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'SWY_BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'SWY_INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'SWY_INVALID_JSON',
  FST_ERR_BAD_URL: 'SWY_BAD_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'SWY_URI_TOO_LONG',
  // @fastify/multipart (file uploads of the Batch API)
  FST_REQ_FILE_TOO_LARGE: 'SWY_LIMIT_EXCEEDED',
  FST_FILES_LIMIT: 'SWY_LIMIT_EXCEEDED',
  FST_FIELDS_LIMIT: 'SWY_LIMIT_EXCEEDED',
  FST_PARTS_LIMIT: 'SWY_LIMIT_EXCEEDED',
  FST_PROTO_VIOLATION: 'SWY_BAD_REQUEST',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'SWY_UNSUPPORTED_MEDIA_TYPE',
  FST_MP_PREMATURE_CLOSE: 'SWY_BAD_REQUEST',
};

export interface ErrorBody {
  error: { code: string; message: string };
}

export function toHttpError(err: FastifyError | SwitchyardError | Error): { status: number; body: ErrorBody } {
  if (err instanceof SwitchyardError) {
    return { status: err.statusCode, body: { error: { code: err.code, message: err.message } } };
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    const message = describeError(fe.validation[0] as ErrorObject | undefined, fe.validationContext ?? 'request');
    return { status: 400, body: { error: { code: 'SWY_VALIDATION', message } } };
  }
  const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) {
    const e = new SwitchyardError(mapped, fe.message);
    return { status: e.statusCode, body: { error: { code: mapped, message: fe.message } } };
  }
  const fault = storeFault(err, 'serve this request');
  if (fault instanceof SwitchyardError) {
    return { status: fault.statusCode, body: { error: { code: fault.code, message: fault.message } } };
  }
  if (err instanceof SyntaxError) {
    return { status: 400, body: { error: { code: 'SWY_INVALID_JSON', message: 'the body is not valid JSON' } } };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, body: { error: { code: 'SWY_BAD_REQUEST', message: fe.message } } };
  }
  return { status: 500, body: { error: { code: 'SWY_INTERNAL', message: 'internal error' } } };
}

/** How an error body is shaped: Switchyard's own, or (on the OpenAI-compatible routes) OpenAI's. */
export type ErrorShape = (code: string, message: string, status: number) => unknown;

const swyShape: ErrorShape = (code, message) => ({ error: { code, message } });

/** Answer a failed request: status and code from the catalogue, Retry-After when known. */
export function replyWithError(err: FastifyError, req: FastifyRequest, reply: FastifyReply, shape: ErrorShape = swyShape): void {
  const { status, body } = toHttpError(err);
  const wait = err instanceof SwitchyardError ? err.retryAfterMs : undefined;
  if (wait !== undefined) void reply.header('retry-after', String(Math.max(1, Math.ceil(wait / 1000))));
  // Server faults are logged (an unknown error with its stack; a store that cannot serve, as a warning).
  if (body.error.code === 'SWY_INTERNAL') req.log.error({ err }, 'request failed');
  else if (status >= 503)
    req.log.warn({ code: body.error.code, message: body.error.message }, 'request refused: the server cannot serve it now');
  void reply.status(status).send(shape(body.error.code, body.error.message, status));
}

export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  replyWithError(err, req, reply);
}

/** The error handler of the OpenAI-compatible routes: OpenAI's shape, `{error: {message, type, param, code}}`. */
export function openaiErrorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  replyWithError(err, req, reply, (code, message, status) => openaiError(code, message, status).body);
}
