/**
 * What every route answers, as JSON Schemas for the OpenAPI document (`/docs/json`). They document;
 * they do not filter: responses are serialised with JSON.stringify (see app.ts), so a field added to
 * an object is never dropped in silence. `test/openapi.test.ts` checks real answers against them.
 * One table, by route, so that a route without its answers documented is easy to see (and a test
 * fails on it).
 */
import { JOB_STATUSES } from '../domain/jobs.js';
import { PROVIDER_KINDS } from '../domain/providers.js';

type Schema = Record<string, unknown>;

const obj = (properties: Record<string, Schema>, required: string[] = Object.keys(properties), description?: string): Schema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: true,
  ...(description && { description }),
});
const str = { type: 'string' };
const num = { type: 'number' };
const int = { type: 'integer' };
const bool = { type: 'boolean' };
const time = { type: 'string', format: 'date-time' };
const nullable = (s: Schema): Schema => ({ anyOf: [s, { type: 'null' }] });
const list = (items: Schema, extra: Record<string, Schema> = {}): Schema => obj({ data: { type: 'array', items }, ...extra });
const any = {};

/** Switchyard's error body: `code` is a `SWY_*` code (the catalogue is in src/errors.ts). */
const error = obj({ error: obj({ code: { type: 'string', pattern: '^SWY_' }, message: str }) }, ['error'], 'An error');
/** OpenAI's error body, on the OpenAI-compatible routes; `code` is the `SWY_*` code. */
const openaiError = obj({ error: obj({ message: str, type: str, param: nullable(str), code: str }) }, ['error'], 'An error (OpenAI shape)');
/** Anthropic's error body, on `/v1/messages`; the `SWY_*` code leads the message. */
const anthropicError = obj(
  { type: { const: 'error' }, error: obj({ type: str, message: str }) },
  ['type', 'error'],
  'An error (Anthropic shape)',
);
const errors = (body: Schema) => ({ '4xx': body, '5xx': body });

const usage = obj({ inputTokens: int, outputTokens: int, costUsd: num });
const attempt = obj(
  {
    number: int,
    startedAt: time,
    finishedAt: nullable(time),
    outcome: str,
    errorCode: nullable(str),
    errorMessage: nullable(str),
    provider: nullable(str),
  },
  ['number', 'outcome'],
);
const job = obj(
  {
    id: str,
    tenant: str,
    type: str,
    status: { enum: [...JOB_STATUSES] },
    priority: int,
    attempt: int,
    maxAttempts: int,
    timeoutMs: int,
    input: any,
    output: any,
    error: nullable(obj({ code: str, message: str, retryable: bool }, ['code', 'message'])),
    provider: nullable(str),
    model: nullable(str),
    usage,
    metadata: nullable({ type: 'object' }),
    idempotencyKey: nullable(str),
    runAt: time,
    createdAt: time,
    startedAt: nullable(time),
    finishedAt: nullable(time),
    durationMs: nullable(num),
    progress: nullable(num),
    attempts: { type: 'array', items: attempt, description: 'Every attempt, on single-job reads (not in lists)' },
  },
  ['id', 'tenant', 'type', 'status', 'priority', 'attempt', 'maxAttempts', 'input', 'output', 'error', 'usage', 'runAt', 'createdAt'],
  'A job',
);
const payloadPreview = nullable(obj({ text: str, chars: int, truncated: bool }));
/** A job read with `?preview=N`: its input and output as cut, pretty-printed previews. */
const jobWithPreviews = obj(
  {
    ...(job.properties as Record<string, Schema>),
    preview: obj({ input: payloadPreview, output: payloadPreview }),
  },
  [...(job.required as string[]).filter((k) => k !== 'input' && k !== 'output'), 'preview'],
  'A job with previews of its input and output instead of them (`?preview=N`)',
);
const percentiles = obj({ p50: num, p95: num, p99: num });
const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, int]));
const stats = obj(
  {
    total: int,
    ...counts,
    scheduled: int,
    successRate: num,
    avgProcessingTime: num,
    processingTime: percentiles,
    queueWait: percentiles,
    throughput: obj({ last1m: num, last5m: num, last15m: num }),
    byType: { type: 'object', additionalProperties: obj({ total: int, ...counts }) },
    usage,
  },
  undefined,
  'Counts, percentiles, throughput and usage',
);
const usageReport = obj({
  from: time,
  to: time,
  groupBy: { type: 'array', items: str },
  data: {
    type: 'array',
    items: obj(
      {
        calls: int,
        errors: int,
        inputTokens: int,
        outputTokens: int,
        costUsd: { ...nullable(num), description: 'USD of the priced calls; null when no call of the row had a price' },
        unpricedCalls: { ...int, description: 'Calls whose model has no known price (not in costUsd)' },
        latencyMs: obj({ p50: num, p95: num }),
      },
      ['calls', 'errors', 'inputTokens', 'outputTokens', 'costUsd'],
    ),
  },
});
const provider = obj(
  {
    name: str,
    kind: { enum: [...PROVIDER_KINDS] },
    baseUrl: nullable(str),
    hasApiKey: bool,
    secretHeaders: { type: 'array', items: str },
    models: { type: 'array', items: str },
    modelMap: { type: 'object' },
    priority: num,
    weight: num,
    enabled: bool,
    timeoutMs: int,
    maxConcurrency: int,
    rpm: nullable(int),
    tpm: nullable(int),
    breaker: { type: 'object' },
    prices: { type: 'object' },
    options: { type: 'object' },
    state: obj({ breaker: { enum: ['closed', 'open', 'halfOpen', 'half-open'] }, healthy: bool, inFlight: int }, [
      'breaker',
      'healthy',
      'inFlight',
    ]),
    createdAt: time,
    updatedAt: time,
    managedBy: {
      ...nullable({ enum: ['config', 'env'] }),
      description: 'Set by the providers file (config) or the environment (env) on every start',
    },
  },
  ['name', 'kind', 'hasApiKey', 'models', 'priority', 'enabled', 'state'],
  'A provider (never its API key or header values)',
);
const consoleSession = obj(
  { keyId: str, tenant: str, admin: bool, scopes: { type: 'array', items: str }, csrfToken: str, expiresAt: time },
  undefined,
  'A web console session (the session itself is in an HttpOnly cookie)',
);
const probe = obj({ ok: bool, latencyMs: nullable(num), error: nullable({ type: 'object' }), state: { type: 'object' } }, ['ok', 'state']);
const key = obj(
  {
    id: str,
    name: nullable(str),
    prefix: str,
    scopes: { type: 'array', items: str },
    createdAt: time,
    expiresAt: nullable(time),
    revokedAt: nullable(time),
    lastUsedAt: nullable(time),
  },
  ['id', 'prefix', 'scopes', 'createdAt'],
  'An API key (never its secret)',
);
const keyCreated = {
  ...key,
  properties: { ...(key.properties as object), secret: str },
  required: [...(key.required as string[]), 'secret'],
};
const backup = obj({ path: str, pages: int, bytes: int, durationMs: num });

// OpenAI's and Anthropic's objects: the fields clients read; the rest as those APIs define them.
const chatCompletion = obj(
  {
    id: str,
    object: { const: 'chat.completion' },
    created: int,
    model: str,
    choices: { type: 'array', items: obj({ index: int, message: { type: 'object' }, finish_reason: nullable(str) }) },
    usage: obj({ prompt_tokens: int, completion_tokens: int, total_tokens: int }),
  },
  ['id', 'object', 'created', 'model', 'choices'],
  'A chat completion; with `stream: true`, `chat.completion.chunk` server-sent events instead',
);
const model = obj({ id: str, object: { const: 'model' }, created: int, owned_by: str });
const file = obj({
  id: str,
  object: { const: 'file' },
  bytes: int,
  created_at: int,
  filename: str,
  purpose: str,
  expires_at: nullable(int),
});
const batch = obj(
  {
    id: str,
    object: { const: 'batch' },
    endpoint: str,
    input_file_id: str,
    status: str,
    output_file_id: nullable(str),
    error_file_id: nullable(str),
    request_counts: obj({ total: int, completed: int, failed: int }),
  },
  undefined,
  'A batch',
);
const deleted = (object: string) => obj({ id: str, object: { const: object }, deleted: { const: true } });
const response = obj(
  { id: str, object: { const: 'response' }, created_at: num, status: str, model: str, output: { type: 'array' } },
  ['id', 'object', 'status', 'output'],
  'A response; with `stream: true`, the Responses API event stream instead',
);
const message = obj(
  {
    id: str,
    type: { const: 'message' },
    role: { const: 'assistant' },
    content: { type: 'array' },
    model: str,
    stop_reason: nullable(str),
    usage: { type: 'object' },
  },
  ['id', 'type', 'role', 'content', 'model'],
  "A message; with `stream: true`, Anthropic's event stream instead",
);
const tokenCount = obj({ input_tokens: int });

const eventStream = (description: string): Schema => ({ description, content: { 'text/event-stream': { schema: str } } });
const text = (type: string, description: string): Schema => ({ description, content: { [type]: { schema: str } } });

/** Responses by route (`METHOD /path` as Fastify writes it), by status. */
export const RESPONSES: Record<string, Record<string, Schema>> = {
  'GET /health': { 200: obj({ status: { const: 'ok' } }) },
  'GET /ready': {
    200: obj({ status: { const: 'ready' }, parts: obj({ store: bool, pool: bool, scheduler: bool }) }),
    503: { ...error, description: 'Not ready: `SWY_NOT_READY` names the failing parts, and `parts` says which' },
  },
  'GET /metrics': { 200: text('text/plain', 'Prometheus text format') },
  'POST /v1/jobs': { 200: job, 201: job, ...errors(error) },
  'POST /v1/jobs/batch': { 201: obj({ jobs: { type: 'array', items: job } }), ...errors(error) },
  'GET /v1/jobs/:id': { 200: { anyOf: [job, jobWithPreviews] }, ...errors(error) },
  'GET /v1/jobs/:id/stream': { 200: eventStream("The job's tokens as its provider streams them"), ...errors(error) },
  'GET /v1/jobs': { 200: list(job, { nextCursor: nullable(str) }), ...errors(error) },
  'POST /v1/jobs/:id/cancel': { 200: job, ...errors(error) },
  'POST /v1/jobs/:id/retry': { 200: job, ...errors(error) },
  'GET /v1/stats': { 200: stats, ...errors(error) },
  'GET /v1/usage': { 200: usageReport, ...errors(error) },
  'GET /v1/events': { 200: eventStream('Job and provider events'), ...errors(error) },
  'GET /v1/providers': { 200: list(provider), ...errors(error) },
  'POST /v1/providers': { 201: provider, ...errors(error) },
  'GET /v1/providers/:name': { 200: provider, ...errors(error) },
  'PATCH /v1/providers/:name': { 200: provider, ...errors(error) },
  'DELETE /v1/providers/:name': { 204: { description: 'Removed', type: 'null' }, ...errors(error) },
  'POST /v1/providers/:name/check': { 200: probe, ...errors(error) },
  'POST /v1/admin/backup': { 201: backup, ...errors(error) },
  'POST /v1/keys': { 201: keyCreated, ...errors(error) },
  'GET /v1/keys': { 200: list(key), ...errors(error) },
  'GET /v1/keys/:id': { 200: key, ...errors(error) },
  'DELETE /v1/keys/:id': { 200: key, ...errors(error) },
  'POST /v1/session': { 201: consoleSession, ...errors(error) },
  'GET /v1/session': { 200: consoleSession, ...errors(error) },
  'DELETE /v1/session': { 200: obj({ signedOut: { const: true } }), ...errors(error) },
  'POST /v1/chat/completions': { 200: chatCompletion, ...errors(openaiError) },
  'GET /v1/models': { 200: obj({ object: { const: 'list' }, data: { type: 'array', items: model } }), ...errors(openaiError) },
  'GET /v1/models/:model': { 200: model, ...errors(openaiError) },
  'POST /v1/files': { 200: file, ...errors(openaiError) },
  'GET /v1/files': { 200: obj({ object: { const: 'list' }, data: { type: 'array', items: file } }), ...errors(openaiError) },
  'GET /v1/files/:id': { 200: file, ...errors(openaiError) },
  'GET /v1/files/:id/content': { 200: text('application/jsonl', "The file's bytes"), ...errors(openaiError) },
  'DELETE /v1/files/:id': { 200: deleted('file'), ...errors(openaiError) },
  'POST /v1/batches': { 200: batch, ...errors(openaiError) },
  'GET /v1/batches': {
    200: obj({ object: { const: 'list' }, data: { type: 'array', items: batch }, has_more: bool }),
    ...errors(openaiError),
  },
  'GET /v1/batches/:id': { 200: batch, ...errors(openaiError) },
  'POST /v1/batches/:id/cancel': { 200: batch, ...errors(openaiError) },
  'POST /v1/responses': { 200: response, ...errors(openaiError) },
  'GET /v1/responses/:id': { 200: response, ...errors(openaiError) },
  'DELETE /v1/responses/:id': { 200: deleted('response'), ...errors(openaiError) },
  'POST /v1/messages': { 200: message, ...errors(anthropicError) },
  'POST /v1/messages/count_tokens': { 200: tokenCount, ...errors(anthropicError) },
};
