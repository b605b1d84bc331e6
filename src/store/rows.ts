/** Row ↔ object mapping, shared by the SQLite and PostgreSQL stores. */
import { SwitchyardError, type ErrorInfo } from '../errors.js';
import type { Attempt, AttemptOutcome, AttemptResult, DirectResult, Job, JobStatus, NewJob } from '../domain/jobs.js';
import type { ProviderConfig, ProviderKind } from '../domain/providers.js';

export interface JobRow {
  seq: number;
  id: string;
  tenant: string;
  type: string;
  status: JobStatus;
  priority: number;
  attempt: number;
  max_attempts: number;
  timeout_ms: number;
  input: string;
  output: string | null;
  error: string | null;
  provider: string | null;
  model: string | null;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  metadata: string | null;
  idempotency_key: string | null;
  run_at: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
  progress: number | null;
  lease_owner: string | null;
  lease_token: string | null;
  lease_expires_at: number | null;
}

/** ISO text up to the second, by epoch second, for the last few seconds seen. */
const prefixes = new Map<number, string>();

/**
 * Epoch ms → ISO-8601, as `Date#toISOString`. A job carries four or five timestamps from a few
 * distinct seconds: the text up to the second is kept for recent seconds and only the milliseconds
 * are added, far cheaper than formatting a Date each time.
 */
export function isoTime(ms: number): string {
  if (!Number.isInteger(ms)) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  let prefix = prefixes.get(second);
  if (prefix === undefined) {
    if (prefixes.size >= 64) prefixes.clear();
    prefix = new Date(second * 1000).toISOString().slice(0, -4); // without "000Z"
    prefixes.set(second, prefix);
  }
  const milli = ms - second * 1000;
  return `${prefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

/** Epoch ms → ISO-8601, keeping null. */
export const iso = (ms: number | null): string | null => (ms === null ? null : isoTime(ms));
const parse = <T>(s: string | null): T | null => (s === null ? null : (JSON.parse(s) as T));

/** A job as it is right after its insert, built from what was inserted (no read back, no re-parse). */
export function newJobToJob(j: NewJob): Job {
  return {
    id: j.id,
    tenant: j.tenant,
    type: j.type,
    status: 'queued',
    priority: j.priority,
    attempt: 0,
    maxAttempts: j.maxAttempts,
    timeoutMs: j.timeoutMs,
    input: j.input,
    output: null,
    error: null,
    provider: null,
    model: null,
    usage: { inputTokens: 0, outputTokens: 0, costUsd: 0 },
    metadata: j.metadata,
    idempotencyKey: j.idempotencyKey,
    runAt: isoTime(j.runAt),
    createdAt: isoTime(j.createdAt),
    startedAt: null,
    finishedAt: null,
    durationMs: null,
    progress: null,
  };
}

export function rowToJob(r: JobRow): Job {
  return {
    id: r.id,
    tenant: r.tenant,
    type: r.type,
    status: r.status,
    priority: r.priority,
    attempt: r.attempt,
    maxAttempts: r.max_attempts,
    timeoutMs: r.timeout_ms,
    input: JSON.parse(r.input) as unknown,
    output: parse<unknown>(r.output),
    error: parse<ErrorInfo>(r.error),
    provider: r.provider,
    model: r.model,
    usage: { inputTokens: r.input_tokens, outputTokens: r.output_tokens, costUsd: r.cost_usd },
    metadata: parse<Record<string, unknown>>(r.metadata),
    idempotencyKey: r.idempotency_key,
    runAt: isoTime(r.run_at),
    createdAt: isoTime(r.created_at),
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    durationMs: r.duration_ms,
    progress: r.progress,
  };
}

/**
 * A queued job's row as the claim reads it: an array, because building an object with named
 * properties per row was a large share of the claim's cost. Same fields as `JobRow`;
 * read them by name through `COL` (`r[COL.attempt]`), never by a bare number.
 */
export const COL = {
  seq: 0,
  id: 1,
  tenant: 2,
  type: 3,
  priority: 4,
  attempt: 5,
  max_attempts: 6,
  timeout_ms: 7,
  input: 8,
  output: 9,
  error: 10,
  provider: 11,
  model: 12,
  input_tokens: 13,
  output_tokens: 14,
  cost_usd: 15,
  metadata: 16,
  idempotency_key: 17,
  run_at: 18,
  created_at: 19,
  progress: 20,
  queue_wait_ms: 21,
  finished_at: 22,
  duration_ms: 23,
} as const;

/** The columns a claim reads, in `COL`'s order. */
export const CLAIM_COLUMNS = Object.keys(COL).join(', ');

export type ClaimRow = [
  seq: number,
  id: string,
  tenant: string,
  type: string,
  priority: number,
  attempt: number,
  maxAttempts: number,
  timeoutMs: number,
  input: string,
  output: string | null,
  error: string | null,
  provider: string | null,
  model: string | null,
  inputTokens: number,
  outputTokens: number,
  costUsd: number,
  metadata: string | null,
  idempotencyKey: string | null,
  runAt: number,
  createdAt: number,
  progress: number | null,
  queueWaitMs: number | null,
  finishedAt: number | null,
  durationMs: number | null,
];

/** The job as its claim left it (what `rowToJob` of its row returns now). */
export function claimedJob(r: ClaimRow, attempt: number, startedAt: string): Job {
  return {
    id: r[COL.id],
    tenant: r[COL.tenant],
    type: r[COL.type],
    status: 'running',
    priority: r[COL.priority],
    attempt,
    maxAttempts: r[COL.max_attempts],
    timeoutMs: r[COL.timeout_ms],
    input: JSON.parse(r[COL.input]) as unknown,
    output: parse<unknown>(r[COL.output]),
    error: parse<ErrorInfo>(r[COL.error]),
    provider: r[COL.provider],
    model: r[COL.model],
    usage: { inputTokens: r[COL.input_tokens], outputTokens: r[COL.output_tokens], costUsd: r[COL.cost_usd] },
    metadata: parse<Record<string, unknown>>(r[COL.metadata]),
    idempotencyKey: r[COL.idempotency_key],
    runAt: isoTime(r[COL.run_at]),
    createdAt: isoTime(r[COL.created_at]),
    startedAt,
    finishedAt: iso(r[COL.finished_at]),
    durationMs: r[COL.duration_ms],
    progress: r[COL.progress],
  };
}

export interface ProviderRow {
  name: string;
  kind: ProviderKind;
  base_url: string | null;
  api_key: string | null;
  models: string;
  model_map: string;
  priority: number;
  weight: number;
  enabled: number;
  timeout_ms: number;
  max_concurrency: number;
  rpm: number | null;
  tpm: number | null;
  breaker: string;
  prices: string;
  options: string;
  created_at: number;
  updated_at: number;
  managed_by: 'config' | 'env' | null;
}

export function rowToProvider(r: ProviderRow): ProviderConfig {
  return {
    name: r.name,
    kind: r.kind,
    baseUrl: r.base_url,
    apiKey: r.api_key,
    models: JSON.parse(r.models) as string[],
    modelMap: JSON.parse(r.model_map) as Record<string, string>,
    priority: r.priority,
    weight: r.weight,
    enabled: r.enabled === 1,
    timeoutMs: r.timeout_ms,
    maxConcurrency: r.max_concurrency,
    rpm: r.rpm,
    tpm: r.tpm,
    breaker: JSON.parse(r.breaker) as ProviderConfig['breaker'],
    prices: JSON.parse(r.prices) as ProviderConfig['prices'],
    options: JSON.parse(r.options) as Record<string, unknown>,
    createdAt: isoTime(r.created_at),
    updatedAt: isoTime(r.updated_at),
    managedBy: r.managed_by ?? null,
  };
}

export function providerToParams(p: ProviderConfig): Record<string, unknown> {
  return {
    name: p.name,
    kind: p.kind,
    base_url: p.baseUrl,
    api_key: p.apiKey,
    models: JSON.stringify(p.models),
    model_map: JSON.stringify(p.modelMap),
    priority: p.priority,
    weight: p.weight,
    enabled: p.enabled ? 1 : 0,
    timeout_ms: p.timeoutMs,
    max_concurrency: p.maxConcurrency,
    rpm: p.rpm,
    tpm: p.tpm,
    breaker: JSON.stringify(p.breaker),
    prices: JSON.stringify(p.prices),
    options: JSON.stringify(p.options),
    created_at: Date.parse(p.createdAt),
    updated_at: Date.parse(p.updatedAt),
    managed_by: p.managedBy ?? null,
  };
}

export interface AttemptRow {
  number: number;
  started_at: number;
  finished_at: number | null;
  outcome: AttemptOutcome | null;
  error_code: string | null;
  error_message: string | null;
  provider: string | null;
}

export function rowToAttempt(r: AttemptRow): Attempt {
  return {
    number: r.number,
    startedAt: isoTime(r.started_at),
    finishedAt: iso(r.finished_at),
    outcome: r.outcome,
    error: r.error_code === null ? null : { code: r.error_code, message: r.error_message ?? '' },
    provider: r.provider,
  };
}

/**
 * The attempt a running job is in, or the one that completed it: neither has a row of its own
 * (a running attempt's is written when it ends; a completing one's would repeat the job's row).
 */
export function attemptOfJob(r: JobRow): Attempt {
  const completed = r.status === 'completed';
  return {
    number: r.attempt,
    startedAt: iso(r.started_at) ?? '',
    finishedAt: completed ? iso(r.finished_at) : null,
    outcome: completed ? 'completed' : null,
    error: null,
    provider: completed ? r.provider : null,
  };
}

/**
 * What an attempt's outcome writes to its job's row: the outcome rules, in this one place. The
 * store's write stores these values (it computes nothing), and the job it returns is the claimed
 * job with them applied (`applyOutcome`).
 */
export interface Outcome {
  status: JobStatus;
  attempt: number;
  /** The error as stored (JSON), or null. */
  error: string | null;
  /** The times, epoch ms; null leaves the row's value as it is (the write keeps it). */
  runAt: number | null;
  finishedAt: number | null;
  durationMs: number | null;
  /** Completed only: the output as stored (JSON), and who answered. */
  output?: string;
  provider?: string | null;
  model?: string | null;
}

/**
 * The outcome rules: what each kind of attempt result makes of the claimed `job` (for a job run
 * at once, of the job as it would have been claimed; only such a run ends `cancelled` here).
 */
export function outcomeOf(job: Job, result: DirectResult, now: number, startedMs: number): Outcome {
  switch (result.kind) {
    case 'completed':
      return {
        status: 'completed',
        attempt: job.attempt,
        error: null,
        runAt: null,
        finishedAt: now,
        durationMs: now - startedMs,
        output: JSON.stringify(result.output ?? null),
        provider: result.provider,
        model: result.model,
      };
    case 'failed':
    case 'cancelled':
      return {
        status: result.kind,
        attempt: job.attempt,
        error: JSON.stringify(result.error),
        runAt: null,
        finishedAt: now,
        durationMs: now - startedMs,
      };
    case 'retry':
      return {
        status: 'queued',
        attempt: job.attempt,
        error: JSON.stringify(result.error),
        runAt: result.runAt,
        finishedAt: null,
        durationMs: null,
      };
    // Waiting for a provider, or put back by a shutdown: the attempt is not spent.
    case 'deferred':
      return {
        status: 'queued',
        attempt: job.attempt - 1,
        error: JSON.stringify(result.error),
        runAt: result.runAt,
        finishedAt: null,
        durationMs: null,
      };
    case 'released':
      return {
        status: 'queued',
        attempt: job.attempt - 1,
        error: job.error === null ? null : JSON.stringify(job.error),
        runAt: null,
        finishedAt: null,
        durationMs: null,
      };
  }
}

/**
 * The job after its outcome was written: the claimed job with the outcome's values and the row's
 * usage and progress. The output is parsed back from the JSON stored (unless it is a JSON value
 * already), so that it is the same value a read returns.
 */
export function applyOutcome(job: Job, o: Outcome, result: AttemptResult, usage: Job['usage'], progress: number | null): Job {
  const next: Job = {
    ...job,
    status: o.status,
    attempt: o.attempt,
    error: o.error === null ? null : (JSON.parse(o.error) as ErrorInfo),
    // Unchanged times keep the claimed job's text: not parsed and formatted again.
    runAt: o.runAt === null ? job.runAt : isoTime(o.runAt),
    finishedAt: o.finishedAt === null ? job.finishedAt : isoTime(o.finishedAt),
    durationMs: o.durationMs ?? job.durationMs,
    usage,
    progress,
  };
  if (result.kind === 'completed') {
    next.output = result.outputIsJson === true ? (result.output ?? null) : (JSON.parse(o.output as string) as unknown);
    next.provider = o.provider ?? null;
    next.model = o.model ?? null;
  }
  return next;
}

/** The attempt row's outcome for each kind of attempt result. */
export const ATTEMPT_OUTCOME = {
  completed: 'completed',
  retry: 'retried',
  failed: 'failed',
  released: 'released',
  deferred: 'deferred',
} as const;

/** A list page's cursor: the last job's `seq`, opaque to clients. */
export function encodeCursor(seq: number): string {
  return Buffer.from(String(seq)).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const n = Number(Buffer.from(cursor, 'base64url').toString());
  if (!Number.isSafeInteger(n) || n < 0) throw new SwitchyardError('SWY_VALIDATION', 'cursor is not valid');
  return n;
}
