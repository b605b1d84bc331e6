/**
 * The Store: the only place job and provider state lives. Asynchronous and speaking in jobs, so that
 * a PostgreSQL store for several processes can implement the same interface as the SQLite one.
 */
import type {
  AttemptResult,
  ClaimedJob,
  DirectResult,
  Job,
  JobPage,
  JobSummary,
  JobStatus,
  ListJobsQuery,
  NewJob,
  Stats,
  StatusCounts,
} from '../domain/jobs.js';
import type { KeyRecord } from '../domain/keys.js';
import type { SessionRecord } from '../domain/sessions.js';
import type { BatchLine, BatchRecord, FileRecord } from '../domain/batches.js';
import type { ProviderConfig } from '../domain/providers.js';
import type { ClaimPolicy } from './fair-share.js';
import type { UsageQuery, UsageReport } from '../domain/usage.js';

/** The result of inserting one job: `created` is false when its idempotency key already existed. */
export interface InsertResult {
  job: Job;
  created: boolean;
}

export interface BackupResult {
  path: string;
  pages: number;
  bytes: number;
  durationMs: number;
}

/** Which attempt a write belongs to. */
export interface AttemptRef {
  /**
   * The job as its claim returned it: the attempt's outcome is written without reading the row
   * back (id, tenant, type, attempt number and start come from it).
   */
  job: Job;
  leaseToken: string;
  /** Who claimed it (the attempt's row is written when it ends). */
  owner: string;
}

/** The Batch API's records: files (metadata; the bytes are on disk), batches and their lines' jobs. */
export interface BatchStore {
  insertFile(file: FileRecord): Promise<void>;
  getFile(id: string): Promise<FileRecord | undefined>;
  /** Newest first; `tenant` undefined lists every tenant's. */
  listFiles(tenant: string | undefined, purpose: string | undefined, limit: number): Promise<FileRecord[]>;
  deleteFile(id: string): Promise<boolean>;
  /** Files a tenant keeps, and their bytes. */
  fileUsage(tenant: string): Promise<{ files: number; bytes: number }>;
  /** Files whose expiry passed before `now` (epoch ms), up to `limit`. */
  expiredFiles(now: number, limit: number): Promise<FileRecord[]>;
  insertBatch(batch: BatchRecord): Promise<void>;
  getBatch(id: string): Promise<BatchRecord | undefined>;
  /** Newest first, after the batch `after` (a cursor). */
  listBatches(tenant: string | undefined, after: string | undefined, limit: number): Promise<BatchRecord[]>;
  batchesWithStatus(status: BatchRecord['status']): Promise<BatchRecord[]>;
  /** Change a batch; with `from`, only if its status is one of them (else undefined). */
  updateBatch(id: string, patch: Partial<BatchRecord>, from?: BatchRecord['status'][]): Promise<BatchRecord | undefined>;
  /** Record which job runs which line; lines already recorded are kept. */
  linkBatchJobs(batchId: string, lines: BatchLine[]): Promise<void>;
  /** The batch's jobs per status. */
  batchJobCounts(batchId: string): Promise<Partial<Record<JobStatus, number>>>;
  /** Lines after `after`, in order, with their jobs: `limit` at a time, so that no batch is read whole. */
  batchResults(batchId: string, after: number, limit: number): Promise<{ line: number; customId: string; job: Job }[]>;
  /** Ids of the batch's queued and running jobs, up to `limit`. */
  activeBatchJobs(batchId: string, limit: number): Promise<string[]>;
}

/** A job event, as one process tells the others. */
export type JobEventName =
  | 'job:queued'
  | 'job:started'
  | 'job:retrying'
  | 'job:deferred'
  | 'job:completed'
  | 'job:failed'
  | 'job:cancelled';

/** What the processes sharing one database tell each other. */
export type BusMessage =
  /** A job event; `job` is absent when its summary was too large to send (read the job instead). */
  | { kind: 'job'; event: JobEventName; id: string; job?: JobSummary }
  | { kind: 'progress'; event: { jobId: string; tenant: string; type: string; attempt: number; value: number } }
  /** A provider answered 429 with Retry-After: every process pauses it until `until` (epoch ms). */
  | { kind: 'pause'; provider: string; until: number }
  /** A provider's half-open probe succeeded in one process: every process closes its breaker. */
  | { kind: 'closed'; provider: string }
  /** Providers or keys changed: reload them. */
  | { kind: 'providers' }
  | { kind: 'keys' };

/**
 * Messages between the processes that share one database (PostgreSQL's LISTEN/NOTIFY). Best effort:
 * a message sent while a process is not listening is lost to it, so a process that is not
 * listening polls the database instead (`listening` false).
 */
export interface StoreBus {
  /**
   * Send to every other process (never to this one). False when the message is too large to send
   * (a notification's payload is bounded): nothing was sent, and the caller may send less.
   */
  publish(message: BusMessage): boolean;
  /** `handler` gets each message from another process; returns the unsubscribe. */
  subscribe(handler: (message: BusMessage) => void): () => void;
  /** Whether messages arrive now. */
  readonly listening: boolean;
  /** `fn` is told each time listening starts (true) or stops (false). */
  onStatus(fn: (listening: boolean) => void): void;
}

/** A process's share of one provider's limits, asked for (see `LimitLedger.lease`). */
export interface LimitRequest {
  provider: string;
  /** The provider's limits (null: none). */
  rpm: number | null;
  tpm: number | null;
  maxConcurrency: number;
  /** Concurrency slots wanted, and those in use now (kept whatever others hold). */
  slots: number;
  slotsInUse: number;
  /** Calls and tokens wanted for the next slice. */
  calls: number;
  tokens: number;
  /** The last slice: its calls and tokens not used are given back; `tokenCorrection` adds what calls used past their estimate. */
  previous?: { grant: number; unusedCalls: number; unusedTokens: number; tokenCorrection: number };
}

export interface LimitGrant {
  provider: string;
  slots: number;
  calls: number;
  tokens: number;
  /** The slice's id (to give back what it did not use). */
  grant: number;
  /** Calls of the slice must start before this time (epoch ms). */
  until: number;
}

/**
 * Provider limits held in the database, so that processes sharing it stay together under each
 * provider's rpm, tpm and maxConcurrency.
 */
export interface LimitLedger {
  /** How long a slice may be used, ms: a call of it starts before then. */
  readonly sliceMs: number;
  /** Lease `node`'s shares; each provider's in its own transaction, serialised with other processes'. */
  lease(node: string, requests: LimitRequest[]): Promise<LimitGrant[]>;
  /** Give back every share `node` holds (it stops). */
  release(node: string): Promise<void>;
}

export interface Store {
  readonly batches: BatchStore;
  /** Present when several processes may share the database. */
  readonly bus?: StoreBus;
  /** Present when several processes may share the database: provider limits kept for all of them. */
  readonly limits?: LimitLedger;

  /** Insert jobs in one transaction; an existing idempotency key returns the existing job. */
  insertJobs(jobs: NewJob[]): Promise<InsertResult[]>;
  getJob(id: string): Promise<Job | undefined>;
  listJobs(query: ListJobsQuery): Promise<JobPage>;
  /**
   * Claim up to `limit` due jobs for `owner`, each with a fresh lease: highest priority first
   * within a tenant, the slots split between tenants by `policy` (equal shares without one).
   */
  claimJobs(owner: string, limit: number, leaseMs: number, policy?: ClaimPolicy): Promise<ClaimedJob[]>;
  /** Record a running attempt's progress (ignored once the attempt lost its lease). */
  setProgress(ref: AttemptRef, value: number): Promise<void>;
  /** Extend the leases of every job `owner` runs (heartbeat). */
  renewLeases(owner: string, leaseMs: number): Promise<number>;
  /**
   * Record an attempt's outcome if its lease token still holds. Provider usage is recorded
   * either way (the calls were made); returns undefined when the attempt was superseded.
   */
  finishAttempt(claim: AttemptRef, result: AttemptResult): Promise<Job | undefined>;
  /**
   * Record a job that was run at once, without being stored first (a synchronous request that found
   * a free slot): the job is inserted as its one attempt left it (completed, failed, cancelled, or
   * queued for a retry or a later try), with the attempt's usage rows, in one transaction.
   */
  recordRun(job: NewJob, attempt: { leaseToken: string; owner: string; startedAt: number }, result: DirectResult): Promise<Job>;
  /** Requeue (or fail, when out of attempts) running jobs whose lease expired. */
  requeueExpired(): Promise<Job[]>;
  /** Cancel a queued or running job; throws SWY_INVALID_STATE if terminal, SWY_JOB_NOT_FOUND if unknown. */
  cancelJob(id: string): Promise<Job>;
  /** Requeue a failed or cancelled job with a fresh attempt budget. */
  retryJob(id: string): Promise<Job>;
  /**
   * Forget a finished job's content: its input and output are emptied and `metadata.erasedAt` set
   * (the job, its attempts and its usage stay, for accounting). Throws SWY_INVALID_STATE unless it is terminal.
   */
  eraseJob(id: string): Promise<Job>;
  /**
   * Delete up to `limit` finished jobs (with their attempts and usage rows): completed and
   * cancelled ones that finished before `finishedBefore`, failed ones before `failedBefore`
   * (epoch ms; null keeps them). Returns how many were deleted.
   */
  prune(finishedBefore: number | null, failedBefore: number | null, limit: number): Promise<number>;
  /** When the earliest queued job due after `after` (epoch ms) falls due, or null. */
  nextRunAt(after: number): Promise<number | null>;
  /** Provider calls in a time range, grouped. */
  usage(query: UsageQuery): Promise<UsageReport>;
  /** Jobs per status, cheap at any size. */
  counts(): Promise<StatusCounts>;
  /** Counts, percentiles and usage totals (of one tenant, or all); `throughput` is the engine's to add. */
  stats(tenant?: string): Promise<Omit<Stats, 'throughput'>>;
  /**
   * An online, consistent copy of the database at `destination` while jobs keep running.
   * Resolves once the copy is complete. Only a store on a file has it (SQLite); a server's database
   * is backed up with the server's own tools (`pg_dump`).
   */
  backup?(destination: string): Promise<BackupResult>;
  /**
   * Whether `owner` does the periodic `task` (the lease sweep, retention) now: of the processes on
   * one database, the first to ask once it is due wins, and it is next due `everyMs` later (a
   * compare-and-set on the task's row; no fixed leader). A store only one process writes has none:
   * that process does every task.
   */
  takeTurn?(task: string, owner: string, everyMs: number): Promise<boolean>;
  /** Cheap liveness probe of the database. */
  ping(): Promise<void>;
  /** Record that `owner` is alive, as a real write: fails when the store cannot take writes. */
  heartbeat(owner: string): Promise<void>;

  listKeys(): Promise<KeyRecord[]>;
  insertKey(key: KeyRecord): Promise<void>;
  revokeKey(id: string, at: number): Promise<void>;
  /** Record that a key was used at `at` (epoch ms). */
  touchKey(id: string, at: number): Promise<void>;
  /**
   * Keep a console session. Expired sessions go, and so do the key's oldest past `perKey`, so that
   * a key signing in again and again keeps a bounded number of rows.
   */
  openSession(session: SessionRecord, perKey: number, now: number): Promise<void>;
  /** The session with this id digest, unless it expired by `now`. */
  findSession(idDigest: string, now: number): Promise<SessionRecord | undefined>;
  closeSession(idDigest: string): Promise<void>;
  /** Tokens and cost a tenant's jobs spent since `since` (epoch ms on an hour boundary). */
  tenantUsageSince(tenant: string, since: number): Promise<{ tokens: number; costUsd: number }>;

  listProviders(): Promise<ProviderConfig[]>;
  getProvider(name: string): Promise<ProviderConfig | undefined>;
  insertProvider(config: ProviderConfig): Promise<ProviderConfig>;
  updateProvider(config: ProviderConfig): Promise<ProviderConfig>;
  deleteProvider(name: string): Promise<boolean>;

  /** Checkpoint and close. Idempotent. */
  close(): Promise<void>;
}
