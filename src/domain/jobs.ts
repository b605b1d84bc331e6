/** Job shapes shared by the store, the engine, the HTTP layer and library users. */
import type { ErrorInfo } from '../errors.js';

/** Where a job is in its lifecycle. `queued` with a future `runAt` is a scheduled job. */
export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export const JOB_STATUSES: readonly JobStatus[] = ['queued', 'running', 'completed', 'failed', 'cancelled'];
export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['completed', 'failed', 'cancelled']);

/** Tokens and cost a job spent across all its provider calls. */
export interface JobUsage {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/**
 * How an attempt ended. `released` (shutdown) and `deferred` (no provider could take the call)
 * attempts did not count against `maxAttempts`.
 */
export type AttemptOutcome = 'completed' | 'retried' | 'failed' | 'released' | 'deferred' | 'lease_expired' | 'cancelled' | 'superseded';

/** One attempt of a job. `outcome` is null while it runs. */
export interface Attempt {
  number: number;
  startedAt: string;
  finishedAt: string | null;
  outcome: AttemptOutcome | null;
  error: { code: string; message: string } | null;
  provider: string | null;
}

/** A job as the API and the library return it. Times are ISO-8601, durations ms. */
export interface Job {
  id: string;
  /** Who owns the job: the id of the API key that submitted it, or `default`. */
  tenant: string;
  type: string;
  status: JobStatus;
  priority: number;
  /** The current (or last) attempt's number; 0 before the first claim. */
  attempt: number;
  maxAttempts: number;
  timeoutMs: number;
  input: unknown;
  output: unknown;
  error: ErrorInfo | null;
  provider: string | null;
  model: string | null;
  usage: JobUsage;
  metadata: Record<string, unknown> | null;
  idempotencyKey: string | null;
  runAt: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  /** The last value the handler reported with `ctx.progress()`, or null. */
  progress: number | null;
  /** Every attempt so far, oldest first (on single-job reads; lists leave it out). */
  attempts?: Attempt[];
}

/** A job without its input, output and attempt history: what job events carry between processes and to streams. */
export type JobSummary = Omit<Job, 'input' | 'output' | 'attempts'>;

/** What a caller submits. */
export interface SubmitJob {
  /** @default "chat" */
  type?: string;
  input: unknown;
  /** Higher runs first. @default 0 */
  priority?: number;
  /** Do not run before this time (ISO-8601 or epoch ms). */
  runAt?: string | number;
  /** Do not run before now + delayMs. */
  delayMs?: number;
  /** @default engine's `maxAttempts` (3) */
  maxAttempts?: number;
  /** Per-attempt time limit; the handler and its provider calls are aborted when it passes. */
  timeoutMs?: number;
  /** A repeated key returns the job first created with it. */
  idempotencyKey?: string;
  metadata?: Record<string, unknown>;
}

/** A validated, defaulted submit, ready for the store. */
export interface NewJob {
  id: string;
  tenant: string;
  type: string;
  input: unknown;
  priority: number;
  runAt: number;
  maxAttempts: number;
  timeoutMs: number;
  idempotencyKey: string | null;
  /** Hash of the request as submitted, compared when its idempotency key repeats. */
  requestHash: string | null;
  metadata: Record<string, unknown> | null;
  createdAt: number;
}

/** A job claimed for one attempt: the lease token fences every write of that attempt. */
export interface ClaimedJob {
  job: Job;
  leaseToken: string;
}

/** One provider call made by an attempt, recorded with the attempt's outcome. */
export interface UsageRecord {
  provider: string;
  model: string;
  outcome: 'ok' | 'error';
  errorCode: string | null;
  latencyMs: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** Prompt tokens read from the provider's cache (part of `inputTokens`). */
  cacheReadTokens?: number;
  /** Prompt tokens written to the provider's cache (part of `inputTokens`). */
  cacheWriteTokens?: number;
  /** The provider reported no usage (a stream without usage, or one cut short): the tokens are estimates. */
  estimated?: boolean;
  /** Neither the provider's prices nor the price catalogue know the model: `costUsd` is 0 but unknown. */
  unpriced?: boolean;
}

/** What an attempt produced, as the scheduler hands it to the store. */
export type AttemptResult =
  /** `outputIsJson`: the output is a JSON value already (see TaskResult): not parsed back from its stored text. */
  | { kind: 'completed'; output: unknown; provider: string | null; model: string | null; calls: UsageRecord[]; outputIsJson?: boolean }
  | { kind: 'retry'; error: ErrorInfo; runAt: number; calls: UsageRecord[] }
  | { kind: 'failed'; error: ErrorInfo; calls: UsageRecord[] }
  /** Put back to queued without spending the attempt (shutdown). */
  | { kind: 'released'; calls: UsageRecord[] }
  /** Every provider was unavailable: wait until `runAt` without spending the attempt. */
  | { kind: 'deferred'; error: ErrorInfo; runAt: number; calls: UsageRecord[] };

/** How a job run at once (never queued) ended: an attempt's result, or its cancellation while it ran. */
export type DirectResult = AttemptResult | { kind: 'cancelled'; error: ErrorInfo; calls: UsageRecord[] };

/** Filters for listing jobs, newest first. */
export interface ListJobsQuery {
  /** Only this tenant's jobs. */
  tenant?: string;
  status?: JobStatus;
  type?: string;
  /** The job submitted with this idempotency key (one per tenant: several for an admin's listing across tenants). */
  idempotencyKey?: string;
  /** Only jobs whose last call went to this provider. */
  provider?: string;
  /** Only jobs created at or after this time (epoch ms). */
  createdFrom?: number;
  /** Only jobs created at or before this time (epoch ms). */
  createdTo?: number;
  /** Only jobs whose metadata has this key with this value (a string, or a number written the same way). */
  metadata?: { key: string; value: string };
  /** @default 50 */
  limit?: number;
  /**
   * Opaque cursor from a previous page's `nextCursor`. With a provider, time or metadata filter a
   * page examines a bounded stretch of jobs, so it may hold fewer than `limit` (even none) and
   * still have a `nextCursor`.
   */
  cursor?: string;
}

export interface JobPage {
  data: Job[];
  nextCursor: string | null;
}

/** A count per status. */
export type StatusCounts = Record<JobStatus, number>;

/** Nearest-rank percentiles, ms. */
export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

/** Job counts and processing times. `successRate` is a percentage of finished jobs. */
export interface Stats extends StatusCounts {
  total: number;
  /** Queued with a future `runAt` (also counted in `queued`). */
  scheduled: number;
  /** completed ÷ (completed + failed), in percent; 0 before any job finished. */
  successRate: number;
  /** Mean duration of completed jobs' last attempt, ms. */
  avgProcessingTime: number;
  /** Duration of the last attempt, over the last 10,000 completed jobs. */
  processingTime: Percentiles;
  /** From due (`runAt`) to first claim, over the last 10,000 completed jobs. */
  queueWait: Percentiles;
  /** Jobs finished (completed or failed) per second, over the last 1, 5 and 15 minutes. */
  throughput: { last1m: number; last5m: number; last15m: number };
  /** Counts per job type. */
  byType: Record<string, StatusCounts & { total: number }>;
  usage: JobUsage;
}
