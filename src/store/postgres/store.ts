/**
 * The PostgreSQL Store, for several engine processes sharing one database: claims with
 * `FOR UPDATE SKIP LOCKED`, outcomes fenced by lease tokens, and the writes of a moment (outcomes,
 * usage rows, counters) in one transaction per group commit, as on SQLite.
 */
import type pg from 'pg';
import { listPage } from '../job-list.js';
import { SwitchyardError } from '../../errors.js';
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
} from '../../domain/jobs.js';
import type { ProviderConfig } from '../../domain/providers.js';
import type { UsageQuery, UsageReport } from '../../domain/usage.js';
import type { KeyRecord } from '../../domain/keys.js';
import type { SessionRecord } from '../../domain/sessions.js';
import { FairShare, type ClaimPolicy, type TenantDemand } from '../fair-share.js';
import { rowToKey, type KeyRow } from '../keys.js';
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
  type Outcome,
  type ProviderRow,
} from '../rows.js';
import { mapHeaders, SecretBox } from '../secrets.js';
import type { AttemptRef, BatchStore, InsertResult, LimitLedger, Store, StoreBus } from '../store.js';
import { Tallies, type JobSum } from '../tallies.js';
import { pgBatchStore } from './batches.js';
import { PgBus } from './bus.js';
import { PgLimitLedger } from './limits.js';
import { PgGroupCommit, type Write } from './group-commit.js';
import { migratePostgres } from './migrate.js';
import { jobColumns, SLOTS } from './tallies.js';
import { connectionConfig, createPool, oneStatement, pgFault, pgText, prepared, quoteIdent, type Statement } from './pool.js';
import { readCounts, readStats, readUsage } from './reads.js';

export interface PostgresStoreOptions {
  /** `postgres://user@host:port/database`. */
  url: string;
  /** The schema the tables live in; created when missing. @default "public" */
  schema?: string;
  /** Most connections this process opens. @default 10 */
  poolSize?: number;
  /** Encrypts provider API keys at rest (AES-256-GCM) when set. */
  secretKey?: string;
  /**
   * Listen for the other processes' messages on a dedicated connection. Off behind PgBouncer in
   * transaction mode (which cannot hold a LISTEN): the process then polls, and prepares no
   * statements (which that mode cannot keep either). @default true
   */
  listen?: boolean;
  /** How often the listening connection is checked, ms. @default 5000 */
  heartbeatMs?: number;
}

const LEASE_CLEAR = 'lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL';
// 64 bits of the server's strong random (gen_random_uuid), hashed to 16 hex characters: the
// same shape as SQLite's tokens.
const NEW_TOKEN = 'substr(md5(gen_random_uuid()::text), 1, 16)';
const PROVIDER_COLUMNS = [
  'name',
  'kind',
  'base_url',
  'api_key',
  'models',
  'model_map',
  'priority',
  'weight',
  'enabled',
  'timeout_ms',
  'max_concurrency',
  'rpm',
  'tpm',
  'breaker',
  'prices',
  'options',
  'created_at',
  'updated_at',
  'managed_by',
];
/**
 * The claim's update of the jobs a `due` CTE chose: running for `$4` until `$5`, started at `$2`
 * (now), with a new lease token. Both claims (claimSole, claimDue) use it.
 */
const TAKE_DUE = `UPDATE jobs j SET status = 'running', attempt = j.attempt + 1, lease_owner = $4, lease_token = ${NEW_TOKEN},
    lease_expires_at = $5, started_at = $2,
    queue_wait_ms = coalesce(j.queue_wait_ms, greatest(0, $2 - greatest(j.run_at, j.created_at)))
  FROM due WHERE j.seq = due.seq RETURNING j.*`;
/** An outcome's update of its job (see finishMany), from `v` (OUTCOME_NAMES) and `v_now`. */
const OUTCOME_SET = `output = CASE WHEN v.has_output THEN v.output ELSE j.output END,
  provider = CASE WHEN v.has_output THEN v.provider ELSE j.provider END,
  model = CASE WHEN v.has_output THEN v.model ELSE j.model END,
  status = v.status, attempt = v.attempt, error = v.error, run_at = coalesce(v.run_at, j.run_at),
  finished_at = coalesce(v.finished_at, j.finished_at), duration_ms = coalesce(v.duration_ms, j.duration_ms),
  ready = coalesce(v.run_at, j.run_at) <= v_now.now,
  ${LEASE_CLEAR}, input_tokens = j.input_tokens + v.in_t, output_tokens = j.output_tokens + v.out_t,
  cost_usd = j.cost_usd + v.cost`;
const OUTCOME_VALUES = `$1::int[], $2::text[], $3::text[], $4::boolean[], $5::text[], $6::text[], $7::text[], $8::text[],
  $9::int[], $10::text[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[], $16::float8[]`;
const OUTCOME_NAMES = `i, id, token, has_output, output, provider, model, status, attempt, error, run_at, finished_at, duration_ms,
  in_t, out_t, cost`;
/** Only the attempt that holds the lease writes its outcome. */
const OUTCOME_FENCE = `j.id = v.id AND j.lease_token = v.token AND j.status = 'running'`;
/** What the outcomes' update returns, per item `i` it wrote. */
interface OutcomeRow {
  i: number | null;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  progress: number | null;
}
/**
 * finishMany as one statement (finishStatement): the update, the cost of the calls of attempts
 * that lost their lease, the attempt rows (of attempts that did not complete, and `superseded`
 * ones for the lost), and the job counts moved by the rows the update wrote, with the changes of
 * the transaction's other writes ($27-$31), in slot $26.
 */
const FINISH_WITH = `v AS (SELECT * FROM unnest(${OUTCOME_VALUES}, $17::int[], $18::text[], $19::text[], $20::text[], $21::text[],
    $22::text[], $23::bigint[], $24::boolean[])
    AS v(${OUTCOME_NAMES}, number, outcome, code, message, att_provider, owner, started_at, has_calls)),
  v_now AS (SELECT $25::bigint AS now),
  upd AS (UPDATE jobs j SET ${OUTCOME_SET} FROM v, v_now WHERE ${OUTCOME_FENCE}
    RETURNING v.i, j.input_tokens, j.output_tokens, j.cost_usd, j.progress, j.tenant, j.type, j.status, j.duration_ms),
  lost AS (UPDATE jobs j SET input_tokens = j.input_tokens + v.in_t, output_tokens = j.output_tokens + v.out_t,
    cost_usd = j.cost_usd + v.cost FROM v WHERE j.id = v.id AND v.has_calls AND v.i NOT IN (SELECT i FROM upd)),
  att AS (INSERT INTO attempts (job_id, number, lease_token, owner, started_at, finished_at, outcome, error_code, error_message, provider)
    SELECT v.id, v.number, v.token, v.owner, v.started_at, v_now.now, CASE WHEN u.i IS NULL THEN 'superseded' ELSE v.outcome END,
      v.code, v.message, v.att_provider
    FROM v CROSS JOIN v_now LEFT JOIN upd u ON u.i = v.i
    WHERE CASE WHEN u.i IS NULL THEN NOT EXISTS (SELECT 1 FROM attempts a WHERE a.job_id = v.id AND a.lease_token = v.token)
      ELSE v.outcome <> 'completed' END),
  counted AS (INSERT INTO job_counts AS k (slot, tenant, type, status, n, duration_sum)
    SELECT $26, tenant, type, status, sum(n), sum(d) FROM (
      SELECT tenant, type, 'running', -1::bigint, 0::bigint FROM upd
      UNION ALL SELECT tenant, type, status, 1, coalesce(duration_ms, 0) FROM upd
      UNION ALL SELECT * FROM unnest($27::text[], $28::text[], $29::text[], $30::bigint[], $31::bigint[])
    ) AS x(tenant, type, status, n, d)
    GROUP BY tenant, type, status ORDER BY tenant, type, status
    ON CONFLICT (tenant, type, status, slot) DO UPDATE SET n = k.n + excluded.n, duration_sum = k.duration_sum + excluded.duration_sum)`;
/**
 * The claim while one tenant has all the ready jobs (claimSole): two probes of the claim index for
 * other tenants' jobs, each stopping at its first entry, and the earliest waiting job's time.
 */
const CLAIM_SOLE = `WITH o AS (SELECT EXISTS (SELECT 1 FROM jobs WHERE status = 'queued' AND ready AND tenant < $1)
            OR EXISTS (SELECT 1 FROM jobs WHERE status = 'queued' AND ready AND tenant > $1) AS others,
          (SELECT min(run_at) FROM jobs WHERE status = 'queued' AND NOT ready) AS next_run_at),
        due AS (
          SELECT seq FROM jobs WHERE status = 'queued' AND ready AND tenant = $1 AND run_at <= $2 AND NOT (SELECT others FROM o)
          ORDER BY priority DESC, run_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED),
        claimed AS (${TAKE_DUE}),
        counted AS (
          INSERT INTO job_counts AS k (slot, tenant, type, status, n, duration_sum)
          SELECT $6, tenant, type, s.status, s.sign * count(*), 0
          FROM claimed, (VALUES ('queued', -1), ('running', 1)) AS s(status, sign)
          GROUP BY tenant, type, s.status, s.sign ORDER BY tenant, type, s.status
          ON CONFLICT (tenant, type, status, slot) DO UPDATE SET n = k.n + excluded.n)
      SELECT claimed.*, o.others, o.next_run_at FROM o LEFT JOIN claimed ON true`;
/** Up to $3 of tenant $1's due jobs (claimDue). */
const CLAIM_DUE = `WITH due AS (
        SELECT seq FROM jobs WHERE status = 'queued' AND ready AND tenant = $1 AND run_at <= $2
        ORDER BY priority DESC, run_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED)
      ${TAKE_DUE}`;
const CLAIM_ORDER = (a: JobRow, b: JobRow) => b.priority - a.priority || a.run_at - b.run_at || a.seq - b.seq;

/** An attempt's outcome, to be written. */
interface Finish {
  ref: AttemptRef;
  result: AttemptResult;
}

/** The error an attempt row records. */
const attemptError = (r: AttemptResult) => (r.kind === 'retry' || r.kind === 'failed' || r.kind === 'deferred' ? r.error : null);
/** The provider an attempt row records: the one that answered, or the last one called. */
const attemptProvider = (r: AttemptResult) => pgText(r.kind === 'completed' ? r.provider : (r.calls.at(-1)?.provider ?? null));

/**
 * `ids` split into runs of indexes, in order, none holding one id twice: a new run starts at an id
 * the current run already has.
 */
function distinctRuns(ids: string[]): number[][] {
  const runs: number[][] = [];
  let seen = new Set<string>();
  for (const [i, id] of ids.entries()) {
    if (runs.length === 0 || seen.has(id)) {
      runs.push([]);
      seen = new Set();
    }
    seen.add(id);
    (runs.at(-1) as number[]).push(i);
  }
  return runs;
}

/** Longest a waiting job another process wrote may stay unpromoted after its time, ms. */
const PROMOTE_MS = 1000;

const closedError = () => new SwitchyardError('SWY_SHUTTING_DOWN', 'the store is closed');

export class PostgresStore implements Store {
  readonly batches: BatchStore;
  private closed = false;
  private readonly tallies = new Tallies();
  private readonly group: PgGroupCommit;
  /**
   * Claims commit on a queue of their own, beside the outcomes' (`group`): a claim then runs while
   * outcomes commit instead of after them, on another connection and another PostgreSQL backend, as
   * a second process's claim would. Each queue stages its own counter changes and writes them to its
   * own counter slot.
   */
  private readonly claimTallies = new Tallies();
  private readonly claims: PgGroupCommit;
  private readonly secrets: SecretBox;
  private readonly even = new FairShare(
    () => 1,
    () => undefined,
  );

  private readonly pgBus: PgBus;
  /** When the next claim promotes waiting jobs (see promoteDue). */
  private promoteAt = 0;
  /**
   * The earliest time of the waiting jobs, as the last one-statement claim read it (see
   * claimSole), for the scheduler's next-due question that follows it; used once.
   */
  private waitingAtClaim: { at: number; next: number | null } | undefined;
  /** Whether hot statements are prepared once per connection (see `prepared` in pool.ts). */
  private readonly prepare: boolean;
  /** The one tenant that had ready jobs at the last claim that looked, if only one did (see claimSole). */
  private soleTenant: string | undefined;
  /** Provider limits kept for every process on this database. */
  readonly limits: LimitLedger;

  private constructor(
    readonly pool: pg.Pool,
    secretKey: string | undefined,
    opts: PostgresStoreOptions,
  ) {
    const schema = opts.schema ?? 'public';
    // Listening off means PgBouncer in transaction mode, which cannot keep prepared statements either.
    this.prepare = opts.listen !== false;
    this.pgBus = new PgBus(
      pool,
      connectionConfig({ url: opts.url, schema }),
      `switchyard_${schema}`,
      opts.heartbeatMs ?? 5000,
      this.prepare,
    );
    this.group = new PgGroupCommit(pool, this.tallies, undefined, this.prepare);
    this.claims = new PgGroupCommit(pool, this.claimTallies, (this.group.slot + 1) % SLOTS, this.prepare);
    // Messages to the other processes go out with the next outcome or insert, or alone once due.
    this.group.carryFrom(this.pgBus);
    this.pgBus.due = () => this.group.dueNotes();
    this.limits = new PgLimitLedger(pool);
    this.secrets = new SecretBox(secretKey);
    this.batches = pgBatchStore(
      (sql, params) => this.read(sql, params),
      (fn) => this.write(fn),
    );
  }

  /** Connect, create the schema if needed and migrate it. */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    const pool = createPool({ url: opts.url, schema: opts.schema, max: opts.poolSize });
    const store = new PostgresStore(pool, opts.secretKey, opts);
    try {
      const client = await pool.connect();
      try {
        if (opts.schema !== undefined) {
          // Processes starting together race on the catalogue's unique index even with IF NOT
          // EXISTS: the loser finds the schema there, which is all it wanted.
          await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(opts.schema)}`).catch((err: { code?: string }) => {
            if (err.code !== '23505' && err.code !== '42P06') throw err;
          });
        }
        await migratePostgres(client);
      } finally {
        client.release();
      }
      await store.sealStoredSecrets();
      if (opts.listen !== false) await store.pgBus.start();
    } catch (err) {
      await pool.end().catch(() => {});
      const where = opts.url.replace(/\/\/[^@/]*@/, '//'); // without credentials
      throw new SwitchyardError('SWY_STORE_UNAVAILABLE', `cannot open the database at ${where}: ${(err as Error).message}`, { cause: err });
    }
    return store;
  }

  /** Note a job that waits until `runAt`, so that the claim after it promotes it. */
  private laterAt(runAt: number, now: number): void {
    if (runAt > now && runAt < this.promoteAt) this.promoteAt = runAt;
  }

  /**
   * Make the waiting jobs that fell due ready to claim (one probe of the delayed index when none
   * did). Done in the claim's transaction when a job this process knows of fell due, and at least
   * every PROMOTE_MS, for waiting jobs other processes wrote that it has not heard of.
   */
  private async promoteDue(c: pg.PoolClient, now: number): Promise<void> {
    if (now < this.promoteAt) return;
    this.promoteAt = now + PROMOTE_MS;
    await c.query(`UPDATE jobs SET ready = true WHERE status = 'queued' AND NOT ready AND run_at <= $1`, [now]);
  }

  /** Messages to and from the other processes on this database. */
  get bus(): StoreBus {
    return this.pgBus;
  }

  private guard(): void {
    if (this.closed) throw closedError();
  }

  /** A read through the pool; a hot one (`hot`) as a prepared statement (see `prepared` in pool.ts). */
  private async read<R extends pg.QueryResultRow>(sql: string, params: unknown[] = [], hot = false): Promise<R[]> {
    this.guard();
    try {
      return (await this.pool.query<R>(prepared(sql, params, hot && this.prepare))).rows;
    } catch (err) {
      throw pgFault(err, 'read');
    }
  }

  private write<T>(fn: Write<T>): Promise<T> {
    if (this.closed) return Promise.reject(closedError());
    return this.group.run(fn);
  }

  /** The insert of jobs without idempotency keys. */
  private insertPlain(jobs: NewJob[], now: number): Statement {
    return {
      sql: `INSERT INTO jobs (id, tenant, type, status, priority, max_attempts, timeout_ms, input, metadata, run_at, created_at, ready)
        SELECT id, tenant, type, 'queued', priority, max_attempts, timeout_ms, input, metadata, run_at, created_at, run_at <= $11
        FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::bigint[], $7::text[], $8::text[], $9::bigint[],
          $10::bigint[]) AS t(id, tenant, type, priority, max_attempts, timeout_ms, input, metadata, run_at, created_at)`,
      params: [
        jobs.map((j) => j.id),
        jobs.map((j) => j.tenant),
        jobs.map((j) => j.type),
        jobs.map((j) => j.priority),
        jobs.map((j) => j.maxAttempts),
        jobs.map((j) => j.timeoutMs),
        jobs.map((j) => JSON.stringify(j.input)),
        jobs.map((j) => (j.metadata === null ? null : JSON.stringify(j.metadata))),
        jobs.map((j) => j.runAt),
        jobs.map((j) => j.createdAt),
        now,
      ],
    };
  }

  async insertJobs(jobs: NewJob[]): Promise<InsertResult[]> {
    if (this.closed) throw closedError();
    const plain = jobs.filter((j) => j.idempotencyKey === null);
    // Without idempotency keys, every row is inserted: one statement whose result is known.
    if (plain.length === jobs.length) {
      return this.group.runStatement(() => {
        const now = Date.now();
        for (const j of jobs) {
          this.laterAt(j.runAt, now);
          this.tallies.job(j.tenant, j.type, 'queued', 1);
        }
        return { statement: this.insertPlain(jobs, now), result: jobs.map((j) => ({ job: newJobToJob(j), created: true })) };
      });
    }
    return this.write(async (c) => {
      const now = Date.now();
      for (const j of jobs) this.laterAt(j.runAt, now);
      const out: InsertResult[] = [];
      if (plain.length > 0) {
        const st = this.insertPlain(plain, now);
        await c.query(st.sql, st.params);
      }
      for (const j of jobs) {
        if (j.idempotencyKey === null) {
          this.tallies.job(j.tenant, j.type, 'queued', 1);
          out.push({ job: newJobToJob(j), created: true });
          continue;
        }
        const { rows } = await c.query<JobRow>(
          `INSERT INTO jobs (id, tenant, type, status, priority, max_attempts, timeout_ms, input, metadata, idempotency_key,
            request_hash, run_at, created_at, ready)
          VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, $10, $11::bigint, $12, $11::bigint <= $13::bigint)
          ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING *`,
          [
            j.id,
            j.tenant,
            j.type,
            j.priority,
            j.maxAttempts,
            j.timeoutMs,
            JSON.stringify(j.input),
            j.metadata === null ? null : JSON.stringify(j.metadata),
            j.idempotencyKey,
            j.requestHash,
            j.runAt,
            j.createdAt,
            now,
          ],
        );
        const row = rows[0];
        if (row) {
          this.tallies.job(row.tenant, row.type, 'queued', 1);
          out.push({ job: rowToJob(row), created: true });
          continue;
        }
        const existing = (
          await c.query<JobRow & { request_hash: string | null }>('SELECT * FROM jobs WHERE tenant = $1 AND idempotency_key = $2', [
            j.tenant,
            j.idempotencyKey,
          ])
        ).rows[0];
        if (!existing) throw new SwitchyardError('SWY_STORE_UNAVAILABLE', 'an idempotency key was taken and then deleted: try again');
        if (existing.request_hash !== null && existing.request_hash !== j.requestHash) {
          throw new SwitchyardError(
            'SWY_IDEMPOTENCY_CONFLICT',
            `idempotency key ${JSON.stringify(j.idempotencyKey)} was used with a different request`,
          );
        }
        out.push({ job: rowToJob(existing), created: false });
      }
      return out;
    });
  }

  async getJob(id: string): Promise<Job | undefined> {
    const [row] = await this.read<JobRow>('SELECT * FROM jobs WHERE id = $1', [id]);
    if (!row) return undefined;
    const job = rowToJob(row);
    const attempts = (
      await this.read<AttemptRow>(
        `SELECT number, started_at, finished_at, outcome, error_code, error_message, provider
        FROM attempts WHERE job_id = $1 ORDER BY id`,
        [id],
      )
    ).map(rowToAttempt);
    // The running attempt and the one that completed the job have no row: they are the job's own.
    if (row.status === 'running' || (row.status === 'completed' && attempts.at(-1)?.outcome !== 'completed')) {
      attempts.push(attemptOfJob(row));
    }
    job.attempts = attempts;
    return job;
  }

  async listJobs(q: ListJobsQuery): Promise<JobPage> {
    const params: unknown[] = [];
    const where: string[] = [];
    const ref = (value: unknown) => `$${params.push(value)}`;
    for (const [column, value] of [
      ['tenant', q.tenant],
      ['status', q.status],
      ['type', q.type],
      ['provider', q.provider],
    ] as const) {
      if (value !== undefined) where.push(`${column} = ${ref(value)}`);
    }
    // Unique per tenant: across tenants, each tenant that has jobs is one seek in that index.
    if (q.idempotencyKey !== undefined) {
      where.push(`idempotency_key = ${ref(q.idempotencyKey)}`);
      if (q.tenant === undefined) where.push('tenant IN (SELECT DISTINCT tenant FROM job_counts)');
    }
    if (q.createdFrom !== undefined) where.push(`created_at >= ${ref(q.createdFrom)}`);
    if (q.createdTo !== undefined) where.push(`created_at <= ${ref(q.createdTo)}`);
    if (q.metadata !== undefined) where.push(`metadata::jsonb ->> ${ref(q.metadata.key)} = ${ref(q.metadata.value)}`);
    const sql = `SELECT * FROM jobs WHERE ${[`seq >= $${params.length + 1} AND seq < $${params.length + 2}`, ...where].join(' AND ')}
      ORDER BY seq DESC LIMIT $${params.length + 3}`;
    const { rows, nextCursor } = await listPage<JobRow>(q, {
      range: async () => {
        const [r] = await this.read<{ min: number | null; max: number | null }>(
          'SELECT (SELECT min(seq) FROM jobs) AS min, (SELECT max(seq) FROM jobs) AS max',
        );
        return !r || r.min === null || r.max === null ? undefined : { min: Number(r.min), max: Number(r.max) };
      },
      createdAt: async (seq) => {
        const [r] = await this.read<{ created_at: number }>('SELECT created_at FROM jobs WHERE seq <= $1 ORDER BY seq DESC LIMIT 1', [seq]);
        return r === undefined ? undefined : Number(r.created_at);
      },
      rows: (from, before, limit) => this.read<JobRow>(sql, [...params, from, before, limit]),
    });
    return { data: rows.map(rowToJob), nextCursor };
  }

  async claimJobs(owner: string, limit: number, leaseMs: number, policy: ClaimPolicy = this.even): Promise<ClaimedJob[]> {
    if (this.closed) throw closedError();
    const sole = this.soleTenant;
    if (sole !== undefined && policy.cap(sole) === undefined && Date.now() < this.promoteAt) {
      const claimed = await this.claims.runAlone((c) => this.claimSole(c, sole, limit, owner, leaseMs));
      if (claimed) return claimed;
    }
    return this.claims.run(async (c) => {
      const now = Date.now();
      await this.promoteDue(c, now);
      // A loose index scan: one seek per distinct tenant with queued jobs, however long their queues.
      const { rows: tenantRows } = await c.query<{ tenant: string }>(
        prepared(
          `WITH RECURSIVE t(tenant) AS (
          SELECT (SELECT min(tenant) FROM jobs WHERE status = 'queued' AND ready)
          UNION ALL
          SELECT (SELECT min(tenant) FROM jobs WHERE status = 'queued' AND ready AND tenant > t.tenant) FROM t WHERE t.tenant IS NOT NULL)
        SELECT tenant FROM t WHERE tenant IS NOT NULL`,
          [],
          this.prepare,
        ),
      );
      const tenants = tenantRows.map((r) => r.tenant);
      this.soleTenant = tenants.length === 1 ? tenants[0] : undefined;
      if (tenants.length === 0) return [];
      const take = (tenant: string, n: number) => this.claimDue(c, tenant, n, owner, now, leaseMs);
      const rows =
        tenants.length === 1 && policy.cap(tenants[0] as string) === undefined
          ? await take(tenants[0] as string, limit)
          : await this.fairRows(c, tenants, limit, policy, take);
      return rows.map((r) => {
        this.claimTallies.move(r.tenant, r.type, 'queued', 'running');
        return { job: rowToJob(r), leaseToken: r.lease_token as string };
      });
    });
  }

  /**
   * The claim while one tenant has all the ready jobs (most often, the only tenant), in one
   * statement with its counters: no transaction block, no tenant scan, one round trip. Undefined
   * when another tenant has ready jobs now: then the claim shares between them as usual.
   */
  private async claimSole(c: pg.PoolClient, tenant: string, n: number, owner: string, leaseMs: number): Promise<ClaimedJob[] | undefined> {
    const now = Date.now();
    const { rows } = await c.query<JobRow & { others: boolean; next_run_at: number | null }>(
      prepared(CLAIM_SOLE, [tenant, now, n, owner, now + leaseMs, this.claims.slot], this.prepare),
    );
    if (rows[0]?.others) {
      this.soleTenant = undefined;
      return undefined;
    }
    this.waitingAtClaim = { at: now, next: rows[0]?.next_run_at ?? null };
    return rows
      .filter((r) => r.seq !== null)
      .sort(CLAIM_ORDER)
      .map((r) => ({ job: rowToJob(r), leaseToken: r.lease_token as string }));
  }

  /** Up to `n` of `tenant`'s due jobs, skipping those another process is claiming, now running for `owner`. */
  private async claimDue(c: pg.PoolClient, tenant: string, n: number, owner: string, now: number, leaseMs: number): Promise<JobRow[]> {
    const { rows } = await c.query<JobRow>(prepared(CLAIM_DUE, [tenant, now, n, owner, now + leaseMs], this.prepare));
    return rows.sort(CLAIM_ORDER);
  }

  private async fairRows(
    c: pg.PoolClient,
    tenants: string[],
    limit: number,
    policy: ClaimPolicy,
    take: (tenant: string, n: number) => Promise<JobRow[]>,
  ): Promise<JobRow[]> {
    const caps = tenants.map((t) => policy.cap(t));
    const running = new Map<string, number>();
    if (caps.some((cap) => cap !== undefined)) {
      // Capped tenants are claimed by one process at a time (a lock held until this transaction
      // commits, taken in tenant order), so that the running count read next is exact on every node.
      const capped = tenants.filter((_, i) => caps[i] !== undefined).sort();
      await c.query('SELECT pg_advisory_xact_lock(hashtextextended(t, 0)) FROM unnest($1::text[]) AS t', [capped]);
      const { rows } = await c.query<{ tenant: string; n: number }>(
        `SELECT tenant, sum(n) AS n FROM job_counts WHERE status = 'running' AND tenant = ANY($1::text[]) GROUP BY tenant`,
        [capped],
      );
      for (const r of rows) running.set(r.tenant, r.n);
      for (const [tenant, n] of this.claimTallies.pending('running')) running.set(tenant, (running.get(tenant) ?? 0) + n);
    }
    const demand: TenantDemand[] = tenants.map((tenant, i) => {
      const cap = caps[i];
      return { tenant, room: cap === undefined ? limit : Math.max(0, cap - (running.get(tenant) ?? 0)) };
    });
    const rows: JobRow[] = [];
    // A tenant that returns fewer jobs than its share has no more due: its slots go round again.
    while (rows.length < limit) {
      const quotas = policy.split(demand, limit - rows.length);
      if (quotas.size === 0) break;
      for (const d of demand) {
        const q = quotas.get(d.tenant);
        if (!q) continue;
        const got = await take(d.tenant, q);
        rows.push(...got);
        d.room = got.length < q ? 0 : d.room - got.length;
      }
    }
    return rows;
  }

  async setProgress(ref: AttemptRef, value: number): Promise<void> {
    await this.write((c) =>
      c.query('UPDATE jobs SET progress = $1 WHERE id = $2 AND lease_token = $3', [value, ref.job.id, ref.leaseToken]),
    );
  }

  renewLeases(owner: string, leaseMs: number): Promise<number> {
    return this.write(
      async (c) =>
        (
          await c.query(`UPDATE jobs SET lease_expires_at = $1 WHERE status = 'running' AND lease_owner = $2`, [
            Date.now() + leaseMs,
            owner,
          ])
        ).rowCount ?? 0,
    );
  }

  finishAttempt(ref: AttemptRef, result: AttemptResult): Promise<Job | undefined> {
    if (this.closed) return Promise.reject(closedError());
    return this.group.runMany(this.finishMany, { ref, result }, this.finishStatement);
  }

  /**
   * What the outcomes of `items` write: their usage rows' insert (staging the usage counters), the
   * outcomes, and the columns of OUTCOME_VALUES.
   */
  private outcomesOf(items: Finish[], now: number) {
    const { insert, totals: used } = this.usageRows(
      items.map((x) => ({ ref: x.ref, calls: x.result.calls })),
      now,
    );
    const outs = items.map(({ ref, result }) => {
      const o = outcomeOf(ref.job, result, now, Date.parse(ref.job.startedAt as string));
      if (o.runAt !== null) this.laterAt(o.runAt, now);
      return o.output === undefined ? o : { ...o, provider: pgText(o.provider), model: pgText(o.model) };
    });
    const col = <V>(f: (o: Outcome) => V) => outs.map(f);
    const columns = [
      items.map((_, i) => i),
      items.map((x) => x.ref.job.id),
      items.map((x) => x.ref.leaseToken),
      col((o) => o.output !== undefined),
      col((o) => o.output ?? null),
      col((o) => o.provider ?? null),
      col((o) => o.model ?? null),
      col((o) => o.status),
      col((o) => o.attempt),
      col((o) => o.error),
      col((o) => o.runAt),
      col((o) => o.finishedAt),
      col((o) => o.durationMs),
      used.map((u) => u.in),
      used.map((u) => u.out),
      used.map((u) => u.cost),
    ];
    return { insert, outs, columns };
  }

  /** The jobs after their outcomes, from the rows the fenced update returned (undefined: lease lost). */
  private afters(items: Finish[], outs: Outcome[], rows: OutcomeRow[]): (Job | undefined)[] {
    const written = new Map(rows.filter((r) => r.i !== null).map((r) => [r.i, r]));
    return items.map(({ ref, result }, i) => {
      const row = written.get(i);
      if (!row) return undefined;
      const totals = { inputTokens: row.input_tokens, outputTokens: row.output_tokens, costUsd: row.cost_usd };
      return applyOutcome(ref.job, outs[i] as Outcome, result, totals, row.progress);
    });
  }

  /**
   * The outcomes of many attempts inside a transaction: the statement of `outcomeStatement` once
   * for each run of items whose jobs are all different (one statement cannot update a row twice).
   */
  private readonly finishMany = async (c: pg.PoolClient, items: Finish[]): Promise<(Job | undefined)[]> => {
    const afters: (Job | undefined)[] = [];
    for (const run of distinctRuns(items.map((x) => x.ref.job.id))) {
      const made = this.outcomeStatement(run.map((i) => items[i] as Finish));
      const { parts, primary } = made.statement([], this.group.slot);
      const { rows } = await c.query(oneStatement(parts, this.prepare, primary));
      for (const [k, after] of made.results(rows).entries()) afters[run[k] as number] = after;
    }
    return afters;
  };

  /** finishMany as one statement for a commit of one-statement writes (see WriteManyStatement). */
  private readonly finishStatement = (items: Finish[]) =>
    new Set(items.map((x) => x.ref.job.id)).size < items.length ? undefined : this.outcomeStatement(items);

  /**
   * The outcomes of many attempts (of different jobs) as one statement, whatever their number:
   * their usage rows, the update of their jobs fenced by each attempt's lease token, and what
   * depends on the fence decided in SQL (FINISH_WITH): job counts from the rows the update wrote,
   * a lost attempt's call costs and its `superseded` row, and the rows of attempts that did not
   * complete (the completing attempt is read from the job's row, attemptOfJob, as on SQLite).
   */
  private outcomeStatement(items: Finish[]) {
    const now = Date.now();
    const { insert, outs, columns } = this.outcomesOf(items, now);
    const attemptColumns = [
      items.map((x) => x.ref.job.attempt),
      items.map((x) => ATTEMPT_OUTCOME[x.result.kind]),
      items.map((x) => pgText(attemptError(x.result)?.code ?? null)),
      items.map((x) => pgText(attemptError(x.result)?.message ?? null)),
      items.map((x) => attemptProvider(x.result)),
      items.map((x) => x.ref.owner),
      items.map((x) => Date.parse(x.ref.job.startedAt as string)),
      items.map((x) => x.result.calls.length > 0),
    ];
    return {
      statement: (jobs: JobSum[], slot: number) => ({
        parts: insert ? [insert] : [],
        primary: {
          with: FINISH_WITH,
          select: 'SELECT i, input_tokens, output_tokens, cost_usd, progress FROM upd',
          params: [...columns, ...attemptColumns, now, slot, ...jobColumns(jobs)],
        },
      }),
      results: (rows: pg.QueryResultRow[]) => this.afters(items, outs, rows as OutcomeRow[]),
    };
  }

  /**
   * The insert of one usage row per provider call of all the attempts (none when they made no
   * call), their counter changes, and each attempt's totals.
   */
  private usageRows(
    attempts: { ref: AttemptRef; calls: UsageRecord[] }[],
    now: number,
  ): { insert: Statement | undefined; totals: { in: number; out: number; cost: number }[] } {
    const totals = attempts.map(() => ({ in: 0, out: 0, cost: 0 }));
    // The sums kept for the rollups use the names as stored, so NUL is replaced before both.
    const flat = attempts.flatMap(({ ref, calls }, i) =>
      calls.map((call) => ({ job: ref.job, call: { ...call, provider: pgText(call.provider), model: pgText(call.model) }, i })),
    );
    if (flat.length === 0) return { insert: undefined, totals };
    for (const { job, call, i } of flat) {
      this.tallies.usage(call, job.tenant, job.type, now);
      const t = totals[i] as { in: number; out: number; cost: number };
      t.in += call.inputTokens;
      t.out += call.outputTokens;
      t.cost += call.costUsd;
    }
    const insert = {
      sql: `INSERT INTO usage (created_at, job_id, job_type, tenant, attempt, provider, model, outcome, error_code, latency_ms,
        input_tokens, output_tokens, cost_usd, cache_read_tokens, cache_write_tokens, estimated, unpriced)
      SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[],
        $10::bigint[], $11::bigint[], $12::bigint[], $13::float8[], $14::bigint[], $15::bigint[], $16::int[], $17::int[])`,
      params: [
        now,
        flat.map((x) => x.job.id),
        flat.map((x) => x.job.type),
        flat.map((x) => x.job.tenant),
        flat.map((x) => x.job.attempt),
        flat.map((x) => x.call.provider),
        flat.map((x) => x.call.model),
        flat.map((x) => x.call.outcome),
        flat.map((x) => pgText(x.call.errorCode)),
        flat.map((x) => x.call.latencyMs),
        flat.map((x) => x.call.inputTokens),
        flat.map((x) => x.call.outputTokens),
        flat.map((x) => x.call.costUsd),
        flat.map((x) => x.call.cacheReadTokens ?? 0),
        flat.map((x) => x.call.cacheWriteTokens ?? 0),
        flat.map((x) => (x.call.estimated ? 1 : 0)),
        flat.map((x) => (x.call.unpriced ? 1 : 0)),
      ],
    };
    return { insert, totals };
  }

  recordRun(job: NewJob, attempt: { leaseToken: string; owner: string; startedAt: number }, result: DirectResult): Promise<Job> {
    return this.write(async (c) => {
      const now = Date.now();
      const ref: AttemptRef = {
        job: { ...newJobToJob(job), attempt: 1, startedAt: isoTime(attempt.startedAt) },
        leaseToken: attempt.leaseToken,
        owner: attempt.owner,
      };
      // The usage rows' totals now; the rows themselves after the job's row, which they refer to.
      const { insert, totals } = this.usageRows([{ ref, calls: result.calls }], now);
      const used = totals[0] as { in: number; out: number; cost: number };
      // The same rules as an attempt of a claimed job: a deferred or released attempt does not count.
      const o = outcomeOf(ref.job, result, now, attempt.startedAt);
      const { rows } = await c.query<JobRow>(
        `INSERT INTO jobs (id, tenant, type, status, priority, attempt, max_attempts, timeout_ms, input, output, error, provider, model,
          input_tokens, output_tokens, cost_usd, metadata, run_at, created_at, started_at, finished_at, duration_ms, queue_wait_ms, ready)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18::bigint, $19, $20, $21, $22, 0, $18::bigint <= $23::bigint)
        RETURNING *`,
        [
          job.id,
          job.tenant,
          job.type,
          o.status,
          job.priority,
          o.attempt,
          job.maxAttempts,
          job.timeoutMs,
          JSON.stringify(job.input),
          o.output ?? null,
          o.error,
          pgText(o.provider ?? null),
          pgText(o.model ?? null),
          used.in,
          used.out,
          used.cost,
          job.metadata === null ? null : JSON.stringify(job.metadata),
          o.runAt ?? job.runAt,
          job.createdAt,
          attempt.startedAt,
          o.finishedAt,
          o.durationMs,
          now,
        ],
      );
      if (o.runAt !== null) this.laterAt(o.runAt, now);
      // The job's row first: its usage rows refer to it.
      if (insert) await c.query(insert.sql, insert.params);
      this.tallies.job(job.tenant, job.type, o.status, 1, o.durationMs ?? 0);
      if (result.kind !== 'completed') {
        const error = result.kind === 'released' ? null : result.error;
        await c.query(
          `INSERT INTO attempts (job_id, number, lease_token, owner, started_at, finished_at, outcome, error_code, error_message, provider)
          VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [
            job.id,
            attempt.leaseToken,
            attempt.owner,
            attempt.startedAt,
            now,
            result.kind === 'cancelled' ? 'cancelled' : ATTEMPT_OUTCOME[result.kind],
            pgText(error?.code ?? null),
            pgText(error?.message ?? null),
            pgText(result.calls.at(-1)?.provider ?? null),
          ],
        );
      }
      return rowToJob(rows[0] as JobRow);
    });
  }

  requeueExpired(): Promise<Job[]> {
    const error = { code: 'SWY_LEASE_EXPIRED', message: "the attempt's lease expired (its process stopped or stalled)", retryable: true };
    return this.write(async (c) => {
      const now = Date.now();
      const { rows } = await c.query<JobRow & { old_token: string; old_owner: string }>(
        `WITH x AS (SELECT seq, lease_token, lease_owner FROM jobs WHERE status = 'running' AND lease_expires_at < $1
          FOR UPDATE SKIP LOCKED)
        UPDATE jobs j SET status = CASE WHEN j.attempt >= j.max_attempts THEN 'failed' ELSE 'queued' END, error = $2, ready = true,
          finished_at = CASE WHEN j.attempt >= j.max_attempts THEN $1 ELSE NULL END, ${LEASE_CLEAR}
        FROM x WHERE j.seq = x.seq RETURNING j.*, x.lease_token AS old_token, x.lease_owner AS old_owner`,
        [now, JSON.stringify(error)],
      );
      for (const r of rows) this.tallies.move(r.tenant, r.type, 'running', r.status, 0, r.duration_ms ?? 0);
      if (rows.length > 0)
        await c.query(
          `INSERT INTO attempts (job_id, number, lease_token, owner, started_at, finished_at, outcome, error_code, error_message, provider)
          SELECT v.id, v.number, v.token, v.owner, v.started_at, $1, 'lease_expired', $2, $3, NULL
          FROM unnest($4::text[], $5::int[], $6::text[], $7::text[], $8::bigint[]) AS v(id, number, token, owner, started_at)`,
          [
            now,
            error.code,
            error.message,
            rows.map((r) => r.id),
            rows.map((r) => r.attempt),
            rows.map((r) => r.old_token),
            rows.map((r) => r.old_owner),
            rows.map((r) => r.started_at),
          ],
        );
      return rows.map(rowToJob);
    });
  }

  async cancelJob(id: string): Promise<Job> {
    const error = JSON.stringify({ code: 'SWY_CANCELLED', message: 'cancelled', retryable: false });
    const row = await this.write(async (c) => {
      const now = Date.now();
      const before = (await c.query<JobRow>('SELECT * FROM jobs WHERE id = $1 FOR UPDATE', [id])).rows[0];
      if (!before || (before.status !== 'queued' && before.status !== 'running')) return undefined;
      const { rows } = await c.query<JobRow>(
        `UPDATE jobs SET status = 'cancelled', error = $2, finished_at = $3, ${LEASE_CLEAR} WHERE id = $1 RETURNING *`,
        [id, error, now],
      );
      const cancelled = rows[0] as JobRow;
      this.tallies.move(before.tenant, before.type, before.status, 'cancelled', before.duration_ms ?? 0, cancelled.duration_ms ?? 0);
      if (before.status === 'running') {
        await c.query(
          `INSERT INTO attempts (job_id, number, lease_token, owner, started_at, finished_at, outcome, error_code, error_message, provider)
          VALUES ($1, $2, $3, $4, $5, $6, 'cancelled', 'SWY_CANCELLED', 'cancelled', NULL)`,
          [id, before.attempt, before.lease_token, before.lease_owner, before.started_at, now],
        );
      }
      return cancelled;
    });
    if (row) return rowToJob(row);
    return this.stateError(id, 'only a queued or running job can be cancelled');
  }

  async retryJob(id: string): Promise<Job> {
    const row = await this.write(async (c) => {
      const before = (await c.query<JobRow>('SELECT * FROM jobs WHERE id = $1 FOR UPDATE', [id])).rows[0];
      if (!before || (before.status !== 'failed' && before.status !== 'cancelled')) return undefined;
      const { rows } = await c.query<JobRow>(
        `UPDATE jobs SET status = 'queued', attempt = 0, run_at = $2, ready = true, error = NULL, output = NULL, finished_at = NULL,
          duration_ms = NULL
        WHERE id = $1 RETURNING *`,
        [id, Date.now()],
      );
      this.tallies.move(before.tenant, before.type, before.status, 'queued', before.duration_ms ?? 0, 0);
      return rows[0];
    });
    if (row) return rowToJob(row);
    return this.stateError(id, 'only a failed or cancelled job can be retried');
  }

  async eraseJob(id: string): Promise<Job> {
    const row = await this.write(
      async (c) =>
        (
          await c.query<JobRow>(
            `UPDATE jobs SET input = '{}', output = NULL,
              metadata = (coalesce(metadata, '{}')::jsonb || jsonb_build_object('erasedAt', $2::text))::text
            WHERE id = $1 AND status IN ('completed', 'failed', 'cancelled') RETURNING *`,
            [id, new Date().toISOString()],
          )
        ).rows[0],
    );
    if (row) return rowToJob(row);
    return this.stateError(id, 'only a finished job can be erased');
  }

  private async stateError(id: string, message: string): Promise<never> {
    const [existing] = await this.read<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [id]);
    if (!existing) throw new SwitchyardError('SWY_JOB_NOT_FOUND', `job ${id} not found`);
    throw new SwitchyardError('SWY_INVALID_STATE', `job ${id} is ${existing.status}: ${message}`);
  }

  prune(finishedBefore: number | null, failedBefore: number | null, limit: number): Promise<number> {
    return this.write(async (c) => {
      const { rows: victims } = await c.query<{ seq: number; id: string }>(
        `SELECT seq, id FROM jobs
        WHERE (status IN ('completed', 'cancelled') AND finished_at < $1) OR (status = 'failed' AND finished_at < $2)
        LIMIT $3 FOR UPDATE SKIP LOCKED`,
        [finishedBefore ?? -1, failedBefore ?? -1, limit],
      );
      const chosen = victims;
      if (chosen.length === 0) return 0;
      // The counters lose what the deleted rows added (SQLite's triggers do this there).
      const { rows: usage } = await c.query<{
        tenant: string;
        job_type: string;
        provider: string;
        model: string;
        outcome: 'ok' | 'error';
        error_code: string | null;
        latency_ms: number;
        input_tokens: number;
        output_tokens: number;
        cost_usd: number;
        cache_read_tokens: number;
        cache_write_tokens: number;
        estimated: number;
        unpriced: number;
        created_at: number;
      }>('DELETE FROM usage WHERE job_id = ANY($1::text[]) RETURNING *', [chosen.map((v) => v.id)]);
      for (const u of usage) {
        this.tallies.unusage(
          {
            provider: u.provider,
            model: u.model,
            outcome: u.outcome,
            errorCode: u.error_code,
            latencyMs: u.latency_ms,
            inputTokens: u.input_tokens,
            outputTokens: u.output_tokens,
            costUsd: u.cost_usd,
            cacheReadTokens: u.cache_read_tokens,
            cacheWriteTokens: u.cache_write_tokens,
            estimated: u.estimated === 1,
            unpriced: u.unpriced === 1,
          },
          u.tenant,
          u.job_type,
          u.created_at,
        );
      }
      const { rows: deleted } = await c.query<{ tenant: string; type: string; status: string; duration_ms: number | null }>(
        'DELETE FROM jobs WHERE seq = ANY($1::bigint[]) RETURNING tenant, type, status, duration_ms',
        [chosen.map((v) => v.seq)],
      );
      for (const d of deleted) this.tallies.job(d.tenant, d.type, d.status, -1, -(d.duration_ms ?? 0));
      return deleted.length;
    });
  }

  async takeTurn(task: string, owner: string, everyMs: number): Promise<boolean> {
    const now = Date.now();
    const rows = await this.read(
      `INSERT INTO maintenance AS m (task, owner, due_at) VALUES ($1, $2, $3::bigint + $4::bigint)
      ON CONFLICT (task) DO UPDATE SET owner = excluded.owner, due_at = excluded.due_at WHERE m.due_at <= $3
      RETURNING task`,
      [task, owner, now, everyMs],
    );
    return rows.length === 1;
  }

  async nextRunAt(after: number): Promise<number | null> {
    this.guard();
    // The scheduler asks right after a claim that came back short: the claim's statement has read it.
    const seen = this.waitingAtClaim;
    this.waitingAtClaim = undefined;
    if (seen && seen.at >= after && (seen.next === null || seen.next > after)) {
      if (seen.next !== null) this.laterAt(seen.next, after);
      return seen.next;
    }
    const [r] = await this.read<{ t: number | null }>(
      `SELECT min(run_at) AS t FROM jobs WHERE status = 'queued' AND NOT ready AND run_at > $1`,
      [after],
      true,
    );
    if (r?.t != null) this.laterAt(r.t, after);
    return r?.t ?? null;
  }

  async usage(query: UsageQuery): Promise<UsageReport> {
    this.guard();
    return readUsage(this.pool, query).catch((err: unknown) => {
      throw pgFault(err, 'read');
    });
  }

  async counts(): Promise<StatusCounts> {
    this.guard();
    return readCounts(this.pool).catch((err: unknown) => {
      throw pgFault(err, 'read');
    });
  }

  async stats(tenant?: string): Promise<Omit<Stats, 'throughput'>> {
    this.guard();
    return readStats(this.pool, tenant).catch((err: unknown) => {
      throw pgFault(err, 'read');
    });
  }

  async ping(): Promise<void> {
    await this.read('SELECT 1');
  }

  async heartbeat(owner: string): Promise<void> {
    await this.write((c) =>
      c.query('INSERT INTO heartbeats (owner, at) VALUES ($1, $2) ON CONFLICT (owner) DO UPDATE SET at = excluded.at', [owner, Date.now()]),
    );
  }

  async listKeys(): Promise<KeyRecord[]> {
    return (await this.read<KeyRow>('SELECT * FROM api_keys')).map(rowToKey);
  }

  async insertKey(k: KeyRecord): Promise<void> {
    await this.write((c) =>
      c.query(
        `INSERT INTO api_keys (id, name, hash, prefix, scopes, expires_at, rate_limit, daily_token_budget, daily_cost_budget,
          budget_action, max_concurrency, weight, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [
          k.id,
          k.name,
          k.hash,
          k.prefix,
          JSON.stringify(k.scopes),
          k.expiresAt === null ? null : Date.parse(k.expiresAt),
          k.rateLimit,
          k.dailyTokenBudget,
          k.dailyCostBudgetUsd,
          k.budgetAction,
          k.maxConcurrency,
          k.weight,
          Date.parse(k.createdAt),
        ],
      ),
    );
  }

  async revokeKey(id: string, at: number): Promise<void> {
    await this.write((c) => c.query('UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1', [id, at]));
  }

  async touchKey(id: string, at: number): Promise<void> {
    await this.write((c) => c.query('UPDATE api_keys SET last_used_at = greatest(coalesce(last_used_at, 0), $2) WHERE id = $1', [id, at]));
  }

  async openSession(session: SessionRecord, perKey: number, now: number): Promise<void> {
    await this.write(async (c) => {
      await c.query('DELETE FROM sessions WHERE expires_at <= $1', [now]);
      await c.query('INSERT INTO sessions (id_digest, key_digest, csrf, expires_at) VALUES ($1, $2, $3, $4)', [
        session.idDigest,
        session.keyDigest,
        session.csrf,
        session.expiresAt,
      ]);
      await c.query(
        `DELETE FROM sessions WHERE key_digest = $1 AND id_digest NOT IN
          (SELECT id_digest FROM sessions WHERE key_digest = $1 ORDER BY expires_at DESC LIMIT $2)`,
        [session.keyDigest, perKey],
      );
    });
  }

  async findSession(idDigest: string, now: number): Promise<SessionRecord | undefined> {
    const [r] = await this.read<{ id_digest: string; key_digest: string; csrf: string; expires_at: number }>(
      'SELECT * FROM sessions WHERE id_digest = $1 AND expires_at > $2',
      [idDigest, now],
    );
    return r && { idDigest: r.id_digest, keyDigest: r.key_digest, csrf: r.csrf, expiresAt: Number(r.expires_at) };
  }

  async closeSession(idDigest: string): Promise<void> {
    await this.write((c) => c.query('DELETE FROM sessions WHERE id_digest = $1', [idDigest]));
  }

  async tenantUsageSince(tenant: string, since: number): Promise<{ tokens: number; costUsd: number }> {
    const [r] = await this.read<{ tokens: number; costUsd: number }>(
      `SELECT coalesce(sum(input_tokens + output_tokens), 0) AS tokens, coalesce(sum(cost_usd), 0) AS "costUsd"
      FROM usage_hourly WHERE hour >= $1 AND tenant = $2`,
      [since, tenant],
    );
    return r ?? { tokens: 0, costUsd: 0 };
  }

  async listProviders(): Promise<ProviderConfig[]> {
    return (await this.read<ProviderRow>('SELECT * FROM providers ORDER BY priority DESC, name')).map((r) => this.readProvider(r));
  }

  async getProvider(name: string): Promise<ProviderConfig | undefined> {
    const [row] = await this.read<ProviderRow>('SELECT * FROM providers WHERE name = $1', [name]);
    return row && this.readProvider(row);
  }

  private readProvider(row: ProviderRow): ProviderConfig {
    const p = rowToProvider(row);
    const open = (v: string) => this.secrets.open(v, p.name) as string;
    return { ...p, apiKey: this.secrets.open(p.apiKey, p.name), options: mapHeaders(p.options, open) };
  }

  /** Provider secrets (the key, header values) are sealed on the way in; values in PROVIDER_COLUMNS order. */
  private providerValues(config: ProviderConfig): unknown[] {
    const seal = (v: string) => this.secrets.seal(v) as string;
    const params = providerToParams({ ...config, apiKey: this.secrets.seal(config.apiKey), options: mapHeaders(config.options, seal) });
    return PROVIDER_COLUMNS.map((col) => params[col]);
  }

  /** Every column but the creation time, set from `providerValues` with `created_at` taken out. */
  private static readonly UPDATE_PROVIDER = `UPDATE providers SET ${PROVIDER_COLUMNS.filter((col) => col !== 'created_at')
    .map((col, i) => `${col} = $${i + 1}`)
    .slice(1)
    .join(', ')} WHERE name = $1`;

  private updateValues(config: ProviderConfig): unknown[] {
    const values = this.providerValues(config);
    values.splice(PROVIDER_COLUMNS.indexOf('created_at'), 1);
    return values;
  }

  /** Secrets stored in clear before SWITCHYARD_SECRET_KEY was set are sealed now, once. */
  private async sealStoredSecrets(): Promise<void> {
    if (!this.secrets.sealing) return;
    const rows = (await this.pool.query<ProviderRow>('SELECT * FROM providers')).rows;
    for (const row of rows) {
      const p = rowToProvider(row);
      const headers = Object.values((p.options.headers ?? {}) as Record<string, string>);
      if ((p.apiKey === null || SecretBox.sealed(p.apiKey)) && headers.every((h) => SecretBox.sealed(h))) continue;
      await this.pool.query(PostgresStore.UPDATE_PROVIDER, this.updateValues(p));
    }
  }

  async insertProvider(config: ProviderConfig): Promise<ProviderConfig> {
    this.guard();
    try {
      await this.pool.query(
        `INSERT INTO providers (${PROVIDER_COLUMNS.join(', ')}) VALUES (${PROVIDER_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`,
        this.providerValues(config),
      );
    } catch (err) {
      if ((err as { code?: string }).code === '23505')
        throw new SwitchyardError('SWY_PROVIDER_EXISTS', `provider ${config.name} already exists`);
      throw pgFault(err, 'write');
    }
    return config;
  }

  async updateProvider(config: ProviderConfig): Promise<ProviderConfig> {
    this.guard();
    let changed: number;
    try {
      changed = (await this.pool.query(PostgresStore.UPDATE_PROVIDER, this.updateValues(config))).rowCount ?? 0;
    } catch (err) {
      throw pgFault(err, 'write');
    }
    if (changed === 0) throw new SwitchyardError('SWY_PROVIDER_NOT_FOUND', `provider ${config.name} not found`);
    return config;
  }

  async deleteProvider(name: string): Promise<boolean> {
    this.guard();
    try {
      return ((await this.pool.query('DELETE FROM providers WHERE name = $1', [name])).rowCount ?? 0) > 0;
    } catch (err) {
      throw pgFault(err, 'write');
    }
  }

  /** Commit what is pending and close the connections. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.group.drain(), this.claims.drain()]);
    await this.pgBus.stop();
    await this.pool.end();
  }
}
