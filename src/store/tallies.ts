/**
 * The store's counters (jobs per tenant, type and status; usage per tenant; usage per hour and
 * group) kept in code: each write adds its changes here, and the group commit writes the sums
 * once per transaction — a few upserts instead of a trigger per row. A write that fails drops its
 * own changes; a transaction that rolls back drops them all.
 */
import type Database from 'better-sqlite3';
import type { UsageRecord } from '../domain/jobs.js';
import { LATENCY_BOUNDS } from './usage.js';

/** One change to a counter, as a write made it. */
type Change =
  | { kind: 'job'; tenant: string; type: string; status: string; n: number; d: number }
  | { kind: 'usage'; call: UsageRecord; tenant: string; jobType: string; createdAt: number; sign: 1 | -1 };

export interface JobSum {
  tenant: string;
  type: string;
  status: string;
  n: number;
  d: number;
}
export interface HourSum {
  hour: number;
  tenant: string;
  provider: string;
  model: string;
  type: string;
  calls: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  estimatedCalls: number;
  unpricedCalls: number;
  hist: number[];
}
export interface TenantSum {
  tenant: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** The map under `key`, made empty the first time. */
function child<K, V>(map: Map<K, Map<string, V>>, key: K): Map<string, V> {
  let next = map.get(key);
  if (!next) {
    next = new Map();
    map.set(key, next);
  }
  return next;
}

const BUCKETS = LATENCY_BOUNDS.length + 1;
function bucket(ms: number): number {
  for (let i = 0; i < LATENCY_BOUNDS.length; i++) if (ms <= (LATENCY_BOUNDS[i] as number)) return i;
  return BUCKETS - 1;
}

export class Tallies {
  /**
   * Sums of the writes that succeeded in the current transaction, one entry per counter row. Job
   * sums are nested tenant → type → status, so that the four changes of each processed job build
   * no key string (joined keys were most of a job's garbage); usage sums, one
   * change per provider call, keep a joined key.
   */
  private jobs = new Map<string, Map<string, Map<string, JobSum>>>();
  private hours = new Map<string, HourSum>();
  private tenants = new Map<string, TenantSum>();
  /** Changes of the write running now. */
  private op: Change[] = [];
  /**
   * The hourly sum the last call was added to: consecutive calls nearly always share hour, tenant,
   * provider, model and job type, and then need no joined key (and make no garbage).
   */
  private lastHour: HourSum | undefined;
  private readonly s;

  /** Without `db`, the sums are taken (`take`) and written by the caller (the PostgreSQL store). */
  constructor(db?: Database.Database) {
    const h = Array.from({ length: BUCKETS }, (_, i) => `h${i}`);
    this.s = db && {
      jobs: db.prepare(`INSERT INTO job_counts (tenant, type, status, n, duration_sum) VALUES (@tenant, @type, @status, @n, @d)
        ON CONFLICT (tenant, type, status) DO UPDATE SET n = n + excluded.n, duration_sum = duration_sum + excluded.duration_sum`),
      hours:
        db.prepare(`INSERT INTO usage_hourly (hour, tenant, provider, model, job_type, calls, errors, input_tokens, output_tokens, cost_usd,
          cache_read_tokens, cache_write_tokens, estimated_calls, unpriced_calls, ${h.join(', ')})
        VALUES (@hour, @tenant, @provider, @model, @type, @calls, @errors, @inputTokens, @outputTokens, @costUsd,
          @cacheReadTokens, @cacheWriteTokens, @estimatedCalls, @unpricedCalls, ${h.map((c) => `@${c}`).join(', ')})
        ON CONFLICT (hour, tenant, provider, model, job_type) DO UPDATE SET calls = calls + excluded.calls, errors = errors + excluded.errors,
          input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
          cost_usd = cost_usd + excluded.cost_usd, cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
          cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens, estimated_calls = estimated_calls + excluded.estimated_calls,
          unpriced_calls = unpriced_calls + excluded.unpriced_calls, ${h.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`),
      tenants:
        db.prepare(`INSERT INTO usage_totals (tenant, input_tokens, output_tokens, cost_usd) VALUES (@tenant, @inputTokens, @outputTokens, @costUsd)
        ON CONFLICT (tenant) DO UPDATE SET input_tokens = input_tokens + excluded.input_tokens,
          output_tokens = output_tokens + excluded.output_tokens, cost_usd = cost_usd + excluded.cost_usd`),
    };
  }

  /** `n` jobs of `tenant`/`type` entered (n > 0) or left (n < 0) `status`, with `d` ms of duration. */
  job(tenant: string, type: string, status: string, n: number, d = 0): void {
    this.op.push({ kind: 'job', tenant, type, status, n, d });
  }

  /** A job moved from one status to another. */
  move(tenant: string, type: string, from: string, to: string, dFrom = 0, dTo = 0): void {
    this.job(tenant, type, from, -1, -dFrom);
    this.job(tenant, type, to, 1, dTo);
  }

  /** One provider call of a `jobType` job of `tenant`, recorded at `createdAt`. */
  usage(call: UsageRecord, tenant: string, jobType: string, createdAt: number): void {
    this.op.push({ kind: 'usage', call, tenant, jobType, createdAt, sign: 1 });
  }

  /** A call's usage row was deleted (retention): its sums are taken back. */
  unusage(call: UsageRecord, tenant: string, jobType: string, createdAt: number): void {
    this.op.push({ kind: 'usage', call, tenant, jobType, createdAt, sign: -1 });
  }

  /** The write that just succeeded keeps its changes: they are added to the sums. */
  keep(): void {
    for (const c of this.op) {
      if (c.kind === 'job') this.addJob(c);
      else this.addUsage(c);
    }
    this.op = [];
  }

  private addJob(c: JobSum): void {
    const byStatus = child(child(this.jobs, c.tenant), c.type);
    let have = byStatus.get(c.status);
    if (!have) {
      have = { tenant: c.tenant, type: c.type, status: c.status, n: 0, d: 0 };
      byStatus.set(c.status, have);
    }
    have.n += c.n;
    have.d += c.d;
  }

  private addUsage({ call: c, tenant, jobType, createdAt, sign }: Extract<Change, { kind: 'usage' }>): void {
    const hour = Math.floor(createdAt / 3_600_000) * 3_600_000;
    let h = this.lastHour;
    if (h?.hour !== hour || h.tenant !== tenant || h.provider !== c.provider || h.model !== c.model || h.type !== jobType) {
      const key = `${hour}\u0000${tenant}\u0000${c.provider}\u0000${c.model}\u0000${jobType}`;
      h = this.hours.get(key);
      if (!h) {
        h = {
          hour,
          tenant,
          provider: c.provider,
          model: c.model,
          type: jobType,
          calls: 0,
          errors: 0,
          inputTokens: 0,
          outputTokens: 0,
          costUsd: 0,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
          estimatedCalls: 0,
          unpricedCalls: 0,
          hist: new Array<number>(BUCKETS).fill(0),
        };
        this.hours.set(key, h);
      }
      this.lastHour = h;
    }
    h.calls += sign;
    if (c.outcome === 'error') h.errors += sign;
    h.inputTokens += sign * c.inputTokens;
    h.outputTokens += sign * c.outputTokens;
    h.costUsd += sign * c.costUsd;
    if (c.cacheReadTokens) h.cacheReadTokens += sign * c.cacheReadTokens;
    if (c.cacheWriteTokens) h.cacheWriteTokens += sign * c.cacheWriteTokens;
    if (c.estimated) h.estimatedCalls += sign;
    if (c.unpriced) h.unpricedCalls += sign;
    (h.hist[bucket(c.latencyMs)] as number) += sign;
    let t = this.tenants.get(tenant);
    if (!t) {
      t = { tenant, inputTokens: 0, outputTokens: 0, costUsd: 0 };
      this.tenants.set(tenant, t);
    }
    t.inputTokens += sign * c.inputTokens;
    t.outputTokens += sign * c.outputTokens;
    t.costUsd += sign * c.costUsd;
  }

  /**
   * Per tenant, the jobs that entered (or left, negative) `status` in the writes kept so far in this
   * transaction, not yet written to the counters. The running write's own changes are not included.
   */
  pending(status: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const [tenant, byType] of this.jobs) {
      let n = 0;
      for (const byStatus of byType.values()) n += byStatus.get(status)?.n ?? 0;
      if (n !== 0) out.set(tenant, n);
    }
    return out;
  }

  /** The write that just failed leaves no trace. */
  drop(): void {
    this.op = [];
  }

  /** Write each sum once; call inside the transaction, before it commits. */
  write(): void {
    const s = this.s;
    if (!s) throw new Error('these tallies have no database: take() them');
    for (const byType of this.jobs.values()) {
      for (const byStatus of byType.values()) for (const t of byStatus.values()) if (t.n !== 0 || t.d !== 0) s.jobs.run(t);
    }
    for (const { hist, ...rest } of this.hours.values()) s.hours.run({ ...rest, ...Object.fromEntries(hist.map((x, i) => [`h${i}`, x])) });
    for (const t of this.tenants.values()) s.tenants.run(t);
    this.clear();
  }

  /**
   * The sums kept so far, each list sorted by its counter's key (so that transactions of several
   * processes lock counter rows in one order, and cannot deadlock on them), and forgotten.
   */
  take(): { jobs: JobSum[]; hours: HourSum[]; tenants: TenantSum[] } {
    const jobs: JobSum[] = [];
    for (const byType of this.jobs.values()) for (const byStatus of byType.values()) for (const t of byStatus.values()) jobs.push(t);
    const key = (...parts: (string | number)[]) => parts.join('\u0000');
    const byKey =
      <T>(f: (x: T) => string) =>
      (a: T, b: T) =>
        f(a) < f(b) ? -1 : f(a) > f(b) ? 1 : 0;
    const out = {
      jobs: jobs.filter((t) => t.n !== 0 || t.d !== 0).sort(byKey((t) => key(t.tenant, t.type, t.status))),
      hours: [...this.hours.values()].sort(byKey((h) => key(h.hour, h.tenant, h.provider, h.model, h.type))),
      tenants: [...this.tenants.values()].sort(byKey((t) => t.tenant)),
    };
    this.clear();
    return out;
  }

  private clear(): void {
    this.jobs = new Map();
    this.hours = new Map();
    this.tenants = new Map();
    this.lastHour = undefined;
  }

  /**
   * Recompute every counter from the rows (for rows written by hand, outside the store). Slow on a
   * big database: a full scan of jobs and usage.
   */
  static rebuild(db: Database.Database): void {
    const h = LATENCY_BOUNDS.map((b, i) =>
      i === 0 ? `sum(latency_ms <= ${b})` : `sum(latency_ms > ${LATENCY_BOUNDS[i - 1]} AND latency_ms <= ${b})`,
    );
    h.push(`sum(latency_ms > ${LATENCY_BOUNDS.at(-1)})`);
    db.transaction(() => {
      db.exec(`DELETE FROM job_counts; DELETE FROM usage_totals; DELETE FROM usage_hourly;
        INSERT INTO job_counts (tenant, type, status, n, duration_sum)
          SELECT tenant, type, status, count(*), coalesce(sum(duration_ms), 0) FROM jobs GROUP BY 1, 2, 3;
        INSERT INTO usage_totals (tenant, input_tokens, output_tokens, cost_usd)
          SELECT tenant, sum(input_tokens), sum(output_tokens), sum(cost_usd) FROM usage GROUP BY 1;
        INSERT INTO usage_hourly (hour, tenant, provider, model, job_type, calls, errors, input_tokens, output_tokens, cost_usd,
            cache_read_tokens, cache_write_tokens, estimated_calls, unpriced_calls, ${h.map((_, i) => `h${i}`).join(', ')})
          SELECT (created_at / 3600000) * 3600000, tenant, provider, model, job_type, count(*), sum(outcome = 'error'),
            sum(input_tokens), sum(output_tokens), sum(cost_usd), sum(cache_read_tokens), sum(cache_write_tokens), sum(estimated), sum(unpriced), ${h.join(', ')}
          FROM usage GROUP BY 1, 2, 3, 4, 5;`);
    }).immediate();
  }

  /** The transaction rolled back: forget everything. */
  reset(): void {
    this.clear();
    this.op = [];
  }
}
