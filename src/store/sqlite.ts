/** The embedded Store: better-sqlite3 in WAL mode, statements prepared once, writes on the main thread. */
import { mkdirSync } from 'node:fs';
import { FileLock } from './file-lock.js';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { SwitchyardError } from '../errors.js';
import type {
  AttemptResult,
  ClaimedJob,
  DirectResult,
  Job,
  JobPage,
  ListJobsQuery,
  NewJob,
  Stats,
  StatusCounts,
  UsageRecord,
} from '../domain/jobs.js';
import type { ProviderConfig } from '../domain/providers.js';
import type { UsageQuery, UsageReport } from '../domain/usage.js';
import type { KeyRecord } from '../domain/keys.js';
import type { SessionRecord } from '../domain/sessions.js';
import type { ClaimPolicy } from './fair-share.js';
import { backupDatabase } from './backup.js';
import { BatchTables } from './batches.js';
import { Checkpointer } from './checkpointer.js';
import { Claimer } from './claim.js';
import { KeyTable } from './keys.js';
import { SessionTable } from './sessions.js';
import { storeFault } from './faults.js';
import { GroupCommit } from './group-commit.js';
import { Tallies } from './tallies.js';
import { mapHeaders, SecretBox } from './secrets.js';
import { StatsReader } from './stats.js';
import { UsageReader } from './usage.js';
import { migrate } from './migrate.js';
import { listPage } from './job-list.js';
import {
  applyOutcome,
  ATTEMPT_OUTCOME,
  attemptOfJob,
  isoTime,
  outcomeOf,
  newJobToJob,
  providerToParams,
  rowToAttempt,
  rowToJob,
  rowToProvider,
  type AttemptRow,
  type JobRow,
  type ProviderRow,
} from './rows.js';
import type { AttemptRef, BackupResult, BatchStore, InsertResult, Store } from './store.js';

export interface SqliteStoreOptions {
  /** A file path or `:memory:`. */
  path: string;
  /** SQLite `synchronous`: `normal` may lose the last commits on power failure, never corrupts. @default "normal" */
  synchronous?: 'normal' | 'full';
  /** How long a writer waits for a lock held by another connection, ms. @default 5000 */
  busyTimeoutMs?: number;
  /** Encrypts provider API keys at rest (AES-256-GCM) when set. */
  secretKey?: string;
  /**
   * Hold the file's one-process lock (see FileLock) while open, as an engine does; another store
   * asking for it then fails at open. Tools that read or copy the file beside a server do not. @default false
   */
  exclusive?: boolean;
}

const LEASE_CLEAR = 'lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL';
/** The columns every outcome writes (see outcomeOf in rows.ts). */
const OUTCOME_SET =
  'status = ?, attempt = ?, error = ?, run_at = coalesce(?, run_at), finished_at = coalesce(?, finished_at), duration_ms = coalesce(?, duration_ms)';
/** What an outcome's write may find changed since the claim (a superseded attempt's usage, progress). */
const OUTCOME_RETURNING = 'RETURNING input_tokens, output_tokens, cost_usd, progress';
/** The attempt's provider usage, added in the same row write as its outcome. */
const ADD_USAGE = 'input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, cost_usd = cost_usd + ?';
/** Only the attempt holding the lease writes its outcome. */
const FENCE = `id = ? AND lease_token = ? AND status = 'running'`;

/** Provider usage of one attempt, summed. */
interface Used {
  in: number;
  out: number;
  cost: number;
}

/**
 * An outcome's write (the values of `outcomeOf`, stored as they are) in two forms. `expected` also
 * requires the row's usage and progress to be what the claim read, and returns nothing: then the
 * job as written is the claimed one with the outcome applied. That holds unless a superseded
 * attempt added its usage, or the attempt reported progress, meanwhile; then `returning` writes
 * and reads those back. (RETURNING is not free: SQLite collects the returned row in a temporary
 * table.)
 */
interface OutcomeStatements {
  expected: Database.Statement;
  returning: Database.Statement;
}

function outcome(db: Database.Database, set: string): OutcomeStatements {
  const update = `UPDATE jobs SET ${set}, ${LEASE_CLEAR}, ${ADD_USAGE} WHERE ${FENCE}`;
  return {
    expected: db.prepare(`${update} AND input_tokens = ? AND output_tokens = ? AND cost_usd = ? AND progress IS ?`),
    returning: db.prepare(`${update} ${OUTCOME_RETURNING}`).raw(true),
  };
}

/** When the attempt's job started, epoch ms. */
const startedMs = (ref: AttemptRef): number => Date.parse(ref.job.startedAt as string);

/** What an operator can do about a failure to open the database, by SQLite's (or the file system's) code. */
const OPEN_HINTS: Record<string, string> = {
  SQLITE_CANTOPEN:
    ': the file or its directory cannot be opened or created; check that the directory exists and that this user may write in it',
  SQLITE_READONLY: ': the file or its directory is read-only; Switchyard writes the database and its -wal and -shm files beside it',
  SQLITE_BUSY: ': another process holds a lock on it',
  SQLITE_NOTADB: ': the file is not a SQLite database',
  SQLITE_CORRUPT: ': the file is damaged; restore it from a backup (docs/operations.md)',
  EACCES: ': this user may not create the directory or the file',
  EPERM: ': this user may not create the directory or the file',
  EROFS: ': the file system is read-only',
};

const closedError = () => new SwitchyardError('SWY_SHUTTING_DOWN', 'the store is closed');

export class SqliteStore implements Store {
  readonly db!: Database.Database;
  readonly batches: BatchStore;
  private closed = false;
  private checkpointer: Checkpointer | undefined;
  private readonly s;
  private readonly listStatements = new Map<string, Database.Statement>();
  private readonly group: GroupCommit;
  private readonly secrets: SecretBox;
  private readonly statsReader: StatsReader;
  private readonly usageReader: UsageReader;
  private readonly claimer: Claimer;
  private readonly tallies: Tallies;
  private readonly keys: KeyTable;
  private readonly sessions: SessionTable;
  private lock: FileLock | undefined;

  constructor(opts: SqliteStoreOptions) {
    try {
      if (opts.path !== ':memory:') {
        mkdirSync(dirname(opts.path), { recursive: true });
        if (opts.exclusive) this.lock = FileLock.take(opts.path);
      }
      this.db = new Database(opts.path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      this.db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
      this.db.pragma('foreign_keys = ON');
      migrate(this.db);
      if (opts.path !== ':memory:')
        this.checkpointer = new Checkpointer(this.db, opts.path, opts.synchronous === 'full' ? 'FULL' : 'NORMAL');
    } catch (err) {
      this.lock?.release();
      if (err instanceof SwitchyardError) throw err;
      const code = (err as { code?: string }).code ?? 'error';
      throw new SwitchyardError(
        'SWY_STORE_UNAVAILABLE',
        `cannot open the database at ${opts.path}: ${(err as Error).message} (${code})${OPEN_HINTS[code.split('_').slice(0, 2).join('_')] ?? ''}`,
        { cause: err },
      );
    }
    this.tallies = new Tallies(this.db);
    this.group = new GroupCommit(this.db, this.tallies);
    this.secrets = new SecretBox(opts.secretKey);
    this.statsReader = new StatsReader(this.db);
    this.usageReader = new UsageReader(this.db);
    this.claimer = new Claimer(this.db, this.tallies);
    this.keys = new KeyTable(this.db);
    this.sessions = new SessionTable(this.db);
    this.batches = this.batchStore(new BatchTables(this.db));
    const db = this.db;
    this.s = {
      // Jobs without an idempotency key take the plain insert: ON CONFLICT … RETURNING is much
      // slower per row, and the job is built from what was inserted anyway.
      insertPlain: db.prepare(`INSERT INTO jobs (id, tenant, type, status, priority, max_attempts, timeout_ms, input, metadata,
          run_at, created_at)
        VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)`),
      insert: db.prepare(`INSERT INTO jobs (id, tenant, type, status, priority, max_attempts, timeout_ms, input, metadata,
          idempotency_key, request_hash, run_at, created_at)
        VALUES (@id, @tenant, @type, 'queued', @priority, @maxAttempts, @timeoutMs, @input, @metadata, @idempotencyKey,
          @requestHash, @runAt, @createdAt)
        ON CONFLICT (tenant, idempotency_key) DO NOTHING RETURNING *`),
      byId: db.prepare('SELECT * FROM jobs WHERE id = ?'),
      byKey: db.prepare('SELECT * FROM jobs WHERE tenant = ? AND idempotency_key = ?'),
      // An attempt's row is written once, when it ends, unless it completed the job: the running
      // and the completing attempt are read from the job's row. (Inserting at the claim and
      // updating at the end cost a row write and a lookup more.)
      attemptRow: db.prepare(`INSERT INTO attempts (job_id, number, lease_token, owner, started_at, finished_at, outcome,
          error_code, error_message, provider) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      // A superseded attempt may already have its row (written when its lease expired or its job was cancelled).
      attemptRowOnce: db.prepare(`INSERT INTO attempts (job_id, number, lease_token, owner, started_at, finished_at, outcome,
          error_code, error_message, provider)
        SELECT @id, @number, @token, @owner, @startedAt, @now, @outcome, @errorCode, @errorMessage, @provider
        WHERE NOT EXISTS (SELECT 1 FROM attempts WHERE job_id = @id AND lease_token = @token)`),
      attemptsOf: db.prepare(`SELECT number, started_at, finished_at, outcome, error_code, error_message, provider
        FROM attempts WHERE job_id = ? ORDER BY id`),
      expiredLeases: db.prepare(`SELECT id, lease_token AS token, attempt, lease_owner AS owner, started_at AS startedAt
        FROM jobs INDEXED BY jobs_status
        WHERE status = 'running' AND lease_expires_at < ?`),
      progress: db.prepare(`UPDATE jobs SET progress = @value WHERE id = @id AND lease_token = @token`),
      renew: db.prepare(`UPDATE jobs SET lease_expires_at = @expires WHERE status = 'running' AND lease_owner = @owner`),
      addUsage: db.prepare(`UPDATE jobs SET input_tokens = input_tokens + @in, output_tokens = output_tokens + @out,
          cost_usd = cost_usd + @cost WHERE id = @id`),
      usageRow: db.prepare(`INSERT INTO usage (job_id, job_type, tenant, attempt, provider, model, outcome, error_code, latency_ms,
          input_tokens, output_tokens, cost_usd, created_at, cache_read_tokens, cache_write_tokens, estimated, unpriced)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      // Outcomes bind by position (named parameters cost more per write, on the hottest path), in the
      // order of outcomeArgs: [output, provider, model,] status, attempt, error, run_at, finished_at,
      // duration_ms, the usage to add (in, out, cost), the fence (id, token).
      complete: outcome(db, `output = ?, provider = ?, model = ?, ${OUTCOME_SET}`),
      other: outcome(db, OUTCOME_SET),
      expire: db.prepare(`UPDATE jobs SET
          status = CASE WHEN attempt >= max_attempts THEN 'failed' ELSE 'queued' END,
          error = @error,
          finished_at = CASE WHEN attempt >= max_attempts THEN @now ELSE NULL END,
          ${LEASE_CLEAR}
        WHERE id = @id AND lease_token = @token AND status = 'running' RETURNING *`),
      // A job run at once, inserted as its attempt left it.
      insertRun: db.prepare(`INSERT INTO jobs (id, tenant, type, status, priority, attempt, max_attempts, timeout_ms, input, output, error,
          provider, model, input_tokens, output_tokens, cost_usd, metadata, run_at, created_at, started_at, finished_at, duration_ms,
          queue_wait_ms)
        VALUES (@id, @tenant, @type, @status, @priority, @attempt, @maxAttempts, @timeoutMs, @input, @output, @error, @provider, @model,
          @inputTokens, @outputTokens, @costUsd, @metadata, @runAt, @createdAt, @startedAt, @finishedAt, @durationMs, 0)
        RETURNING *`),
      cancel: db.prepare(`UPDATE jobs SET status = 'cancelled', error = @error, finished_at = @now, ${LEASE_CLEAR}
        WHERE id = @id AND status IN ('queued', 'running') RETURNING *`),
      erase: db.prepare(`UPDATE jobs SET input = '{}', output = NULL,
          metadata = json_set(coalesce(metadata, '{}'), '$.erasedAt', @at)
        WHERE id = @id AND status IN ('completed', 'failed', 'cancelled') RETURNING *`),
      retryJob: db.prepare(`UPDATE jobs SET status = 'queued', attempt = 0, run_at = @now, error = NULL, output = NULL,
          finished_at = NULL, duration_ms = NULL
        WHERE id = @id AND status IN ('failed', 'cancelled') RETURNING *`),
      prunable: db
        .prepare(`SELECT seq FROM jobs WHERE status IN ('completed', 'cancelled') AND finished_at < @finished
        UNION ALL SELECT seq FROM jobs WHERE status = 'failed' AND finished_at < @failed LIMIT @limit`)
        .pluck(),
      deleteJob: db.prepare('DELETE FROM jobs WHERE seq = ?'),
      // By the partial index on run_at: the planner's own choice (jobs_status) scans every queued job.
      nextRunAt: db.prepare(`SELECT min(run_at) AS t FROM jobs INDEXED BY jobs_due WHERE status = 'queued' AND run_at > ?`),
      ping: db.prepare('SELECT 1'),
      providers: db.prepare('SELECT * FROM providers ORDER BY priority DESC, name'),
      provider: db.prepare('SELECT * FROM providers WHERE name = ?'),
      insertProvider: db.prepare(`INSERT INTO providers (name, kind, base_url, api_key, models, model_map, priority, weight,
          enabled, timeout_ms, max_concurrency, rpm, tpm, breaker, prices, options, created_at, updated_at, managed_by)
        VALUES (@name, @kind, @base_url, @api_key, @models, @model_map, @priority, @weight, @enabled, @timeout_ms,
          @max_concurrency, @rpm, @tpm, @breaker, @prices, @options, @created_at, @updated_at, @managed_by)`),
      updateProvider: db.prepare(`UPDATE providers SET kind = @kind, base_url = @base_url, api_key = @api_key,
          models = @models, model_map = @model_map, priority = @priority, weight = @weight, enabled = @enabled, timeout_ms = @timeout_ms,
          max_concurrency = @max_concurrency, rpm = @rpm, tpm = @tpm, breaker = @breaker, prices = @prices,
          options = @options, updated_at = @updated_at, managed_by = @managed_by WHERE name = @name`),
      deleteProvider: db.prepare('DELETE FROM providers WHERE name = ?'),
      heartbeat: db.prepare('INSERT INTO heartbeats (owner, at) VALUES (?, ?) ON CONFLICT (owner) DO UPDATE SET at = excluded.at'),
    };
    try {
      this.sealStoredSecrets();
    } catch (err) {
      throw storeFault(err, 'seal stored provider secrets');
    }
  }

  private batchStore(t: BatchTables): BatchStore {
    const read = <T>(fn: () => T) => Promise.resolve().then(() => this.direct(fn));
    const write = <T>(fn: () => T) => {
      this.guard();
      return this.group.run(fn);
    };
    return {
      insertFile: (f) => write(() => t.insertFile(f)),
      getFile: (id) => read(() => t.file(id)),
      listFiles: (tenant, purpose, limit) => read(() => t.files(tenant, purpose, limit)),
      deleteFile: (id) => write(() => t.deleteFile(id)),
      fileUsage: (tenant) => read(() => t.fileUsage(tenant)),
      expiredFiles: (now, limit) => read(() => t.expiredFiles(now, limit)),
      insertBatch: (b) => write(() => t.insertBatch(b)),
      getBatch: (id) => read(() => t.batch(id)),
      listBatches: (tenant, after, limit) => read(() => t.batches(tenant, after, limit)),
      batchesWithStatus: (status) => read(() => t.batchesWithStatus(status)),
      updateBatch: (id, patch, from) => write(() => t.updateBatch(id, patch, from)),
      linkBatchJobs: (batchId, lines) => write(() => t.link(batchId, lines)),
      batchJobCounts: (batchId) => read(() => t.counts(batchId)),
      batchResults: (batchId, after, limit) => read(() => t.results(batchId, after, limit)),
      activeBatchJobs: (batchId, limit) => read(() => t.activeJobIds(batchId, limit)),
    };
  }

  /** Run statements outside the group commit; a failing database answers with a coded 503. */
  private direct<T>(fn: () => T, doing = 'read'): T {
    this.guard();
    try {
      return fn();
    } catch (err) {
      throw storeFault(err, doing);
    }
  }

  /** Requests that reach a closed store get a coded 503, not an internal error. */
  private guard(): void {
    if (this.closed) throw closedError();
  }

  private insertRows(jobs: NewJob[]): InsertResult[] {
    return jobs.map((j) => {
      if (j.idempotencyKey === null) {
        this.s.insertPlain.run(
          j.id,
          j.tenant,
          j.type,
          j.priority,
          j.maxAttempts,
          j.timeoutMs,
          JSON.stringify(j.input),
          j.metadata === null ? null : JSON.stringify(j.metadata),
          j.runAt,
          j.createdAt,
        );
        this.tallies.job(j.tenant, j.type, 'queued', 1);
        return { job: newJobToJob(j), created: true };
      }
      const row = this.s.insert.get({
        ...j,
        input: JSON.stringify(j.input),
        metadata: j.metadata === null ? null : JSON.stringify(j.metadata),
      }) as JobRow | undefined;
      if (row) {
        this.tallies.job(row.tenant, row.type, 'queued', 1);
        return { job: rowToJob(row), created: true };
      }
      const existing = this.s.byKey.get(j.tenant, j.idempotencyKey) as JobRow & { request_hash: string | null };
      if (existing.request_hash !== null && existing.request_hash !== j.requestHash) {
        throw new SwitchyardError(
          'SWY_IDEMPOTENCY_CONFLICT',
          `idempotency key ${JSON.stringify(j.idempotencyKey)} was used with a different request`,
        );
      }
      return { job: rowToJob(existing), created: false };
    });
  }

  async insertJobs(jobs: NewJob[]): Promise<InsertResult[]> {
    this.guard();
    return this.group.run(() => this.insertRows(jobs));
  }

  async getJob(id: string): Promise<Job | undefined> {
    return this.direct(() => {
      const row = this.s.byId.get(id) as JobRow | undefined;
      if (!row) return undefined;
      const job = rowToJob(row);
      const attempts = (this.s.attemptsOf.all(id) as AttemptRow[]).map(rowToAttempt);
      // The running attempt and the one that completed the job have no row: they are the job's own
      // (a database written before completed attempts went rowless has that row already).
      if (row.status === 'running' || (row.status === 'completed' && attempts.at(-1)?.outcome !== 'completed')) {
        attempts.push(attemptOfJob(row));
      }
      job.attempts = attempts;
      return job;
    });
  }

  async listJobs(q: ListJobsQuery): Promise<JobPage> {
    const params = {
      tenant: q.tenant,
      status: q.status,
      type: q.type,
      provider: q.provider,
      idempotencyKey: q.idempotencyKey,
      createdFrom: q.createdFrom,
      createdTo: q.createdTo,
      metaPath: q.metadata && metadataPath(q.metadata.key),
      metaValue: q.metadata?.value,
    };
    const where: string[] = [];
    if (q.tenant !== undefined) where.push('tenant = @tenant');
    if (q.status !== undefined) where.push('status = @status');
    if (q.type !== undefined) where.push('type = @type');
    if (q.provider !== undefined) where.push('provider = @provider');
    // Unique per tenant: across tenants, each tenant that has jobs is one seek in that index.
    if (q.idempotencyKey !== undefined) {
      where.push('idempotency_key = @idempotencyKey');
      if (q.tenant === undefined) where.push('tenant IN (SELECT DISTINCT tenant FROM job_counts)');
    }
    if (q.createdFrom !== undefined) where.push('created_at >= @createdFrom');
    if (q.createdTo !== undefined) where.push('created_at <= @createdTo');
    if (q.metadata !== undefined) where.push('CAST(metadata ->> @metaPath AS TEXT) = @metaValue');
    const sql = `SELECT * FROM jobs WHERE ${['seq >= @from AND seq < @before', ...where].join(' AND ')} ORDER BY seq DESC LIMIT @limit`;
    const { rows, nextCursor } = await listPage<JobRow>(q, {
      range: async () =>
        this.direct(() => {
          const r = this.listStatement('SELECT (SELECT min(seq) FROM jobs) AS min, (SELECT max(seq) FROM jobs) AS max').get() as {
            min: number | null;
            max: number | null;
          };
          return r.min === null || r.max === null ? undefined : { min: r.min, max: r.max };
        }),
      createdAt: async (seq) =>
        this.direct(
          () =>
            (
              this.listStatement('SELECT created_at FROM jobs WHERE seq <= ? ORDER BY seq DESC LIMIT 1').get(seq) as
                | { created_at: number }
                | undefined
            )?.created_at,
        ),
      rows: async (from, before, limit) => this.direct(() => this.listStatement(sql).all({ ...params, from, before, limit }) as JobRow[]),
    });
    return { data: rows.map(rowToJob), nextCursor };
  }

  /** A listing's statement, prepared once per distinct SQL (the filters make a handful of shapes). */
  private listStatement(sql: string): Database.Statement {
    let stmt = this.listStatements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.listStatements.set(sql, stmt);
    }
    return stmt;
  }

  async claimJobs(owner: string, limit: number, leaseMs: number, policy?: ClaimPolicy): Promise<ClaimedJob[]> {
    this.guard();
    return this.group.run(() => this.claimer.run(owner, limit, leaseMs, policy), { background: true });
  }

  async setProgress(ref: AttemptRef, value: number): Promise<void> {
    this.guard();
    await this.group.run(() => this.s.progress.run({ id: ref.job.id, token: ref.leaseToken, value }), { background: true });
  }

  async renewLeases(owner: string, leaseMs: number): Promise<number> {
    this.guard();
    return this.group.run(() => this.s.renew.run({ owner, expires: Date.now() + leaseMs }).changes);
  }

  private finishRow(ref: AttemptRef, result: AttemptResult): Job | undefined {
    const now = Date.now();
    const { job } = ref;
    const used = this.recordCalls(ref, result.calls, now);
    const after = this.writeOutcome(ref, result, now, used);
    // The calls were made even when the attempt lost its lease: the job still carries their cost.
    if (!after && result.calls.length > 0) this.s.addUsage.run({ id: job.id, ...used });
    if (after) this.tallies.move(job.tenant, job.type, 'running', after.status, 0, after.durationMs ?? 0);
    // The completing attempt is read from the job's row (attemptOfJob): a row of its own would be a
    // second insert and index entry per processed job.
    if (after?.status !== 'completed') this.writeAttemptRow(ref, result, after !== undefined, now);
    return after;
  }

  /** The row of an attempt that did not complete its job (`written`: its outcome was recorded; else it was superseded). */
  private writeAttemptRow(ref: AttemptRef, result: AttemptResult, written: boolean, now: number): void {
    const { job, leaseToken, owner } = ref;
    const error = result.kind === 'retry' || result.kind === 'failed' || result.kind === 'deferred' ? result.error : null;
    const outcome = written ? ATTEMPT_OUTCOME[result.kind] : 'superseded';
    const provider = result.kind === 'completed' ? result.provider : (result.calls.at(-1)?.provider ?? null);
    const startedAt = startedMs(ref);
    if (written) {
      this.s.attemptRow.run(
        job.id,
        job.attempt,
        leaseToken,
        owner,
        startedAt,
        now,
        outcome,
        error?.code ?? null,
        error?.message ?? null,
        provider,
      );
    } else {
      this.s.attemptRowOnce.run({
        id: job.id,
        number: job.attempt,
        token: leaseToken,
        owner,
        startedAt,
        now,
        outcome,
        errorCode: error?.code ?? null,
        errorMessage: error?.message ?? null,
        provider,
      });
    }
  }

  /**
   * The outcome's row write, fenced by the lease token; returns the job as written. It is computed
   * when the row held what the claim read (see OutcomeStatements), else read back; the rest of the
   * job is the claimed one.
   */
  private writeOutcome(ref: AttemptRef, result: AttemptResult, now: number, used: Used): Job | undefined {
    const { job, leaseToken } = ref;
    const { usage } = job;
    const o = outcomeOf(job, result, now, startedMs(ref));
    const expectedAfter = () => ({
      inputTokens: usage.inputTokens + used.in,
      outputTokens: usage.outputTokens + used.out,
      costUsd: usage.costUsd + used.cost,
    });
    let row: [number, number, number, number | null] | undefined;
    if (o.output !== undefined) {
      // Once per processed job: bound directly, without the argument array of the other kinds.
      const { expected, returning } = this.s.complete;
      const { status, attempt, error, runAt, finishedAt, durationMs, output, provider, model } = o;
      // biome-ignore format: one line per group of bound values, in the statement's order
      const changes = expected.run(
        output, provider, model, status, attempt, error, runAt, finishedAt, durationMs,
        used.in, used.out, used.cost,
        job.id, leaseToken,
        usage.inputTokens, usage.outputTokens, usage.costUsd, job.progress,
      ).changes;
      if (changes === 1) return applyOutcome(job, o, result, expectedAfter(), job.progress);
      // biome-ignore format: as above
      row = returning.get(
        output, provider, model, status, attempt, error, runAt, finishedAt, durationMs,
        used.in, used.out, used.cost,
        job.id, leaseToken,
      ) as typeof row;
    } else {
      const { expected, returning } = this.s.other;
      const args = [o.status, o.attempt, o.error, o.runAt, o.finishedAt, o.durationMs, used.in, used.out, used.cost, job.id, leaseToken];
      if (expected.run(...args, usage.inputTokens, usage.outputTokens, usage.costUsd, job.progress).changes === 1) {
        return applyOutcome(job, o, result, expectedAfter(), job.progress);
      }
      row = returning.get(...args) as typeof row;
    }
    return row && applyOutcome(job, o, result, { inputTokens: row[0], outputTokens: row[1], costUsd: row[2] }, row[3]);
  }

  /** One usage row per provider call; returns the attempt's totals. */
  private recordCalls(ref: AttemptRef, calls: UsageRecord[], now: number): Used {
    const used = { in: 0, out: 0, cost: 0 };
    for (const c of calls) {
      this.s.usageRow.run(
        ref.job.id,
        ref.job.type,
        ref.job.tenant,
        ref.job.attempt,
        c.provider,
        c.model,
        c.outcome,
        c.errorCode,
        c.latencyMs,
        c.inputTokens,
        c.outputTokens,
        c.costUsd,
        now,
        c.cacheReadTokens ?? 0,
        c.cacheWriteTokens ?? 0,
        c.estimated ? 1 : 0,
        c.unpriced ? 1 : 0,
      );
      this.tallies.usage(c, ref.job.tenant, ref.job.type, now);
      used.in += c.inputTokens;
      used.out += c.outputTokens;
      used.cost += c.costUsd;
    }
    return used;
  }

  /** Not `async`: once per job, and an async wrapper around the commit's promise cost two more microtask turns. */
  finishAttempt(ref: AttemptRef, result: AttemptResult): Promise<Job | undefined> {
    if (this.closed) return Promise.reject(closedError());
    return this.group.run(() => this.finishRow(ref, result), { background: true });
  }

  async recordRun(job: NewJob, attempt: { leaseToken: string; owner: string; startedAt: number }, result: DirectResult): Promise<Job> {
    this.guard();
    const row = await this.group.run(() => {
      const now = Date.now();
      const startedAt = isoTime(attempt.startedAt);
      const ref: AttemptRef = { job: { ...newJobToJob(job), attempt: 1, startedAt }, leaseToken: attempt.leaseToken, owner: attempt.owner };
      // The job's row first: its usage rows refer to it.
      const used = { in: 0, out: 0, cost: 0 };
      for (const c of result.calls) {
        used.in += c.inputTokens;
        used.out += c.outputTokens;
        used.cost += c.costUsd;
      }
      // The same rules as an attempt of a claimed job: a deferred or released attempt does not count.
      const o = outcomeOf(ref.job, result, now, attempt.startedAt);
      const inserted = this.s.insertRun.get({
        id: job.id,
        tenant: job.tenant,
        type: job.type,
        status: o.status,
        priority: job.priority,
        attempt: o.attempt,
        maxAttempts: job.maxAttempts,
        timeoutMs: job.timeoutMs,
        input: JSON.stringify(job.input),
        output: o.output ?? null,
        error: o.error,
        provider: o.provider ?? null,
        model: o.model ?? null,
        inputTokens: used.in,
        outputTokens: used.out,
        costUsd: used.cost,
        metadata: job.metadata === null ? null : JSON.stringify(job.metadata),
        runAt: o.runAt ?? job.runAt,
        createdAt: job.createdAt,
        startedAt: attempt.startedAt,
        finishedAt: o.finishedAt,
        durationMs: o.durationMs,
      }) as JobRow;
      this.recordCalls(ref, result.calls, now);
      this.tallies.job(job.tenant, job.type, o.status, 1, o.durationMs ?? 0);
      if (result.kind !== 'completed') {
        const error = result.kind === 'released' ? null : result.error;
        const outcome = result.kind === 'cancelled' ? 'cancelled' : ATTEMPT_OUTCOME[result.kind];
        this.s.attemptRow.run(
          job.id,
          1,
          attempt.leaseToken,
          attempt.owner,
          attempt.startedAt,
          now,
          outcome,
          error?.code ?? null,
          error?.message ?? null,
          result.calls.at(-1)?.provider ?? null,
        );
      }
      return inserted;
    });
    return rowToJob(row);
  }

  async requeueExpired(): Promise<Job[]> {
    this.guard();
    const error = { code: 'SWY_LEASE_EXPIRED', message: "the attempt's lease expired (its process stopped or stalled)", retryable: true };
    const rows = await this.group.run(() => {
      const now = Date.now();
      const out: JobRow[] = [];
      type Expired = { id: string; token: string; attempt: number; owner: string; startedAt: number };
      for (const e of this.s.expiredLeases.all(now) as Expired[]) {
        const row = this.s.expire.get({ id: e.id, token: e.token, now, error: JSON.stringify(error) }) as JobRow | undefined;
        if (!row) continue;
        this.tallies.move(row.tenant, row.type, 'running', row.status, 0, row.duration_ms ?? 0);
        this.s.attemptRow.run(e.id, e.attempt, e.token, e.owner, e.startedAt, now, 'lease_expired', error.code, error.message, null);
        out.push(row);
      }
      return out;
    });
    return rows.map(rowToJob);
  }

  async cancelJob(id: string): Promise<Job> {
    this.guard();
    const error = JSON.stringify({ code: 'SWY_CANCELLED', message: 'cancelled', retryable: false });
    const row = await this.group.run(() => {
      const now = Date.now();
      const before = this.s.byId.get(id) as JobRow | undefined;
      const cancelled = this.s.cancel.get({ id, now, error }) as JobRow | undefined;
      if (cancelled && before)
        this.tallies.move(before.tenant, before.type, before.status, 'cancelled', before.duration_ms ?? 0, cancelled.duration_ms ?? 0);
      if (cancelled && before?.status === 'running') {
        this.s.attemptRow.run(
          id,
          before.attempt,
          before.lease_token,
          before.lease_owner,
          before.started_at,
          now,
          'cancelled',
          'SWY_CANCELLED',
          'cancelled',
          null,
        );
      }
      return cancelled;
    });
    if (row) return rowToJob(row);
    return this.stateError(id, 'only a queued or running job can be cancelled');
  }

  async retryJob(id: string): Promise<Job> {
    this.guard();
    const row = await this.group.run(() => {
      const before = this.s.byId.get(id) as JobRow | undefined;
      const again = this.s.retryJob.get({ id, now: Date.now() }) as JobRow | undefined;
      if (again && before) this.tallies.move(before.tenant, before.type, before.status, 'queued', before.duration_ms ?? 0, 0);
      return again;
    });
    if (row) return rowToJob(row);
    return this.stateError(id, 'only a failed or cancelled job can be retried');
  }

  async eraseJob(id: string): Promise<Job> {
    this.guard();
    const row = await this.group.run(() => this.s.erase.get({ id, at: new Date().toISOString() }) as JobRow | undefined);
    if (row) return rowToJob(row);
    return this.stateError(id, 'only a finished job can be erased');
  }

  private stateError(id: string, message: string): never {
    const existing = this.s.byId.get(id) as JobRow | undefined;
    if (!existing) throw new SwitchyardError('SWY_JOB_NOT_FOUND', `job ${id} not found`);
    throw new SwitchyardError('SWY_INVALID_STATE', `job ${id} is ${existing.status}: ${message}`);
  }

  async prune(finishedBefore: number | null, failedBefore: number | null, limit: number): Promise<number> {
    this.guard();
    return this.group.run(() => {
      const seqs = this.s.prunable.all({ finished: finishedBefore ?? -1, failed: failedBefore ?? -1, limit }) as number[];
      for (const seq of seqs) this.s.deleteJob.run(seq);
      return seqs.length;
    });
  }

  async nextRunAt(after: number): Promise<number | null> {
    return this.direct(() => {
      return (this.s.nextRunAt.get(after) as { t: number | null }).t;
    });
  }

  async counts(): Promise<StatusCounts> {
    return this.direct(() => this.statsReader.counts());
  }

  async stats(tenant?: string): Promise<Omit<Stats, 'throughput'>> {
    return this.direct(() => this.statsReader.read(tenant));
  }

  async usage(query: UsageQuery): Promise<UsageReport> {
    return this.direct(() => this.usageReader.read(query));
  }

  async backup(destination: string): Promise<BackupResult> {
    this.guard();
    return backupDatabase(this.db, destination);
  }

  async heartbeat(owner: string): Promise<void> {
    this.guard();
    await this.group.run(() => this.s.heartbeat.run(owner, Date.now()));
  }

  async ping(): Promise<void> {
    return this.direct(() => {
      this.s.ping.get();
    });
  }

  async listKeys(): Promise<KeyRecord[]> {
    return this.direct(() => this.keys.all());
  }

  async insertKey(key: KeyRecord): Promise<void> {
    this.guard();
    await this.group.run(() => this.keys.insert(key));
  }

  async revokeKey(id: string, at: number): Promise<void> {
    this.guard();
    await this.group.run(() => this.keys.revoke(id, at));
  }

  async touchKey(id: string, at: number): Promise<void> {
    this.guard();
    await this.group.run(() => this.keys.touch(id, at));
  }

  async openSession(session: SessionRecord, perKey: number, now: number): Promise<void> {
    this.guard();
    await this.group.run(() => this.sessions.open(session, perKey, now));
  }

  async findSession(idDigest: string, now: number): Promise<SessionRecord | undefined> {
    return this.direct(() => this.sessions.find(idDigest, now));
  }

  async closeSession(idDigest: string): Promise<void> {
    this.guard();
    await this.group.run(() => this.sessions.close(idDigest));
  }

  async tenantUsageSince(tenant: string, since: number): Promise<{ tokens: number; costUsd: number }> {
    return this.direct(() => this.keys.spent(tenant, since));
  }

  async listProviders(): Promise<ProviderConfig[]> {
    return this.direct(() => {
      return (this.s.providers.all() as ProviderRow[]).map((r) => this.readProvider(r));
    });
  }

  async getProvider(name: string): Promise<ProviderConfig | undefined> {
    return this.direct(() => {
      const row = this.s.provider.get(name) as ProviderRow | undefined;
      return row && this.readProvider(row);
    });
  }

  private readProvider(row: ProviderRow): ProviderConfig {
    const p = rowToProvider(row);
    const open = (v: string) => this.secrets.open(v, p.name) as string;
    return { ...p, apiKey: this.secrets.open(p.apiKey, p.name), options: mapHeaders(p.options, open) };
  }

  /** Provider secrets (the key, header values) are sealed on the way in. */
  private providerParams(config: ProviderConfig): Record<string, unknown> {
    const seal = (v: string) => this.secrets.seal(v) as string;
    return providerToParams({ ...config, apiKey: this.secrets.seal(config.apiKey), options: mapHeaders(config.options, seal) });
  }

  /** Secrets stored in clear before SWITCHYARD_SECRET_KEY was set are sealed now, once. */
  private sealStoredSecrets(): void {
    if (!this.secrets.sealing) return;
    this.db
      .transaction(() => {
        for (const row of this.s.providers.all() as ProviderRow[]) {
          const p = rowToProvider(row);
          const headers = Object.values((p.options.headers ?? {}) as Record<string, string>);
          if ((p.apiKey === null || SecretBox.sealed(p.apiKey)) && headers.every((h) => SecretBox.sealed(h))) continue;
          this.s.updateProvider.run(this.providerParams(p));
        }
      })
      .immediate();
  }

  async insertProvider(config: ProviderConfig): Promise<ProviderConfig> {
    this.guard();
    try {
      this.s.insertProvider.run(this.providerParams(config));
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new SwitchyardError('SWY_PROVIDER_EXISTS', `provider ${config.name} already exists`);
      }
      throw storeFault(err, 'write');
    }
    return config;
  }

  async updateProvider(config: ProviderConfig): Promise<ProviderConfig> {
    this.guard();
    const { changes } = this.direct(() => this.s.updateProvider.run(this.providerParams(config)), 'write');
    if (changes === 0) throw new SwitchyardError('SWY_PROVIDER_NOT_FOUND', `provider ${config.name} not found`);
    return config;
  }

  async deleteProvider(name: string): Promise<boolean> {
    this.guard();
    return this.direct(() => this.s.deleteProvider.run(name).changes > 0, 'write');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.group.drain();
    await this.checkpointer?.stop();
    // A truncating checkpoint leaves the main file complete on its own.
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.close();
    this.lock?.release();
  }
}

/** The JSON path of a top-level metadata key. A key holding a quote or a backslash is refused: the quoted path cannot carry it. */
function metadataPath(key: string): string {
  if (/["\\]/.test(key)) throw new SwitchyardError('SWY_VALIDATION', 'a metadata key may not hold a quote or a backslash');
  return `$."${key}"`;
}
