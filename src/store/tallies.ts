/**
 * The store's counters (jobs per tenant, type and status; usage per tenant; usage per hour and
 * group) kept in code: each write adds its changes here, and the group commit writes the sums
 * once per transaction — a few upserts instead of a trigger per row. A write that fails drops its
 * own changes; a transaction that rolls back drops them all.
 */
import type Database from 'better-sqlite3';
import { LATENCY_BOUNDS } from './usage.js';

interface JobTally { tenant: string; type: string; status: string; n: number; d: number }
interface HourTally {
  hour: number; tenant: string; provider: string; model: string; type: string;
  calls: number; errors: number; inputTokens: number; outputTokens: number; costUsd: number; hist: number[];
}
interface TenantTally { tenant: string; inputTokens: number; outputTokens: number; costUsd: number }

/** What one usage row adds to the rollups. */
export interface UsageFact {
  tenant: string;
  jobType: string;
  provider: string;
  model: string;
  outcome: string;
  latencyMs: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  createdAt: number;
}

const BUCKETS = LATENCY_BOUNDS.length + 1;
const bucket = (ms: number) => {
  const i = LATENCY_BOUNDS.findIndex((b) => ms <= b);
  return i === -1 ? BUCKETS - 1 : i;
};

class Sums {
  jobs = new Map<string, JobTally>();
  hours = new Map<string, HourTally>();
  tenants = new Map<string, TenantTally>();
}

export class Tallies {
  private committed = new Sums();
  private op = new Sums();
  private readonly s;

  constructor(db: Database.Database) {
    const h = Array.from({ length: BUCKETS }, (_, i) => `h${i}`);
    this.s = {
      jobs: db.prepare(`INSERT INTO job_counts (tenant, type, status, n, duration_sum) VALUES (@tenant, @type, @status, @n, @d)
        ON CONFLICT (tenant, type, status) DO UPDATE SET n = n + excluded.n, duration_sum = duration_sum + excluded.duration_sum`),
      hours: db.prepare(`INSERT INTO usage_hourly (hour, tenant, provider, model, job_type, calls, errors, input_tokens, output_tokens, cost_usd, ${h.join(', ')})
        VALUES (@hour, @tenant, @provider, @model, @type, @calls, @errors, @inputTokens, @outputTokens, @costUsd, ${h.map((c) => `@${c}`).join(', ')})
        ON CONFLICT (hour, tenant, provider, model, job_type) DO UPDATE SET calls = calls + excluded.calls, errors = errors + excluded.errors,
          input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
          cost_usd = cost_usd + excluded.cost_usd, ${h.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`),
      tenants: db.prepare(`INSERT INTO usage_totals (tenant, input_tokens, output_tokens, cost_usd) VALUES (@tenant, @inputTokens, @outputTokens, @costUsd)
        ON CONFLICT (tenant) DO UPDATE SET input_tokens = input_tokens + excluded.input_tokens,
          output_tokens = output_tokens + excluded.output_tokens, cost_usd = cost_usd + excluded.cost_usd`),
    };
  }

  /** `n` jobs of `tenant`/`type` entered (n > 0) or left (n < 0) `status`, with `d` ms of duration. */
  job(tenant: string, type: string, status: string, n: number, d = 0): void {
    const key = `${tenant}\u0000${type}\u0000${status}`;
    const t = this.op.jobs.get(key);
    if (t) {
      t.n += n;
      t.d += d;
    } else {
      this.op.jobs.set(key, { tenant, type, status, n, d });
    }
  }

  /** A job moved from one status to another. */
  move(tenant: string, type: string, from: string, to: string, dFrom = 0, dTo = 0): void {
    this.job(tenant, type, from, -1, -dFrom);
    this.job(tenant, type, to, 1, dTo);
  }

  usage(u: UsageFact): void {
    const hour = Math.floor(u.createdAt / 3_600_000) * 3_600_000;
    const key = `${hour}\u0000${u.tenant}\u0000${u.provider}\u0000${u.model}\u0000${u.jobType}`;
    let h = this.op.hours.get(key);
    if (!h) {
      h = { hour, tenant: u.tenant, provider: u.provider, model: u.model, type: u.jobType, calls: 0, errors: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, hist: new Array<number>(BUCKETS).fill(0) };
      this.op.hours.set(key, h);
    }
    h.calls++;
    if (u.outcome === 'error') h.errors++;
    h.inputTokens += u.inputTokens;
    h.outputTokens += u.outputTokens;
    h.costUsd += u.costUsd;
    const b = bucket(u.latencyMs);
    h.hist[b] = (h.hist[b] as number) + 1;
    let t = this.op.tenants.get(u.tenant);
    if (!t) this.op.tenants.set(u.tenant, (t = { tenant: u.tenant, inputTokens: 0, outputTokens: 0, costUsd: 0 }));
    t.inputTokens += u.inputTokens;
    t.outputTokens += u.outputTokens;
    t.costUsd += u.costUsd;
  }

  /** The write that just succeeded keeps its changes. */
  keep(): void {
    for (const [k, v] of this.op.jobs) {
      const c = this.committed.jobs.get(k);
      if (c) {
        c.n += v.n;
        c.d += v.d;
      } else {
        this.committed.jobs.set(k, v);
      }
    }
    for (const [k, v] of this.op.hours) {
      const c = this.committed.hours.get(k);
      if (!c) {
        this.committed.hours.set(k, v);
        continue;
      }
      c.calls += v.calls;
      c.errors += v.errors;
      c.inputTokens += v.inputTokens;
      c.outputTokens += v.outputTokens;
      c.costUsd += v.costUsd;
      v.hist.forEach((x, i) => (c.hist[i] = (c.hist[i] as number) + x));
    }
    for (const [k, v] of this.op.tenants) {
      const c = this.committed.tenants.get(k);
      if (!c) {
        this.committed.tenants.set(k, v);
        continue;
      }
      c.inputTokens += v.inputTokens;
      c.outputTokens += v.outputTokens;
      c.costUsd += v.costUsd;
    }
    this.op = new Sums();
  }

  /** The write that just failed leaves no trace. */
  drop(): void {
    this.op = new Sums();
  }

  /** Write the kept sums; call inside the transaction, before it commits. */
  write(): void {
    const c = this.committed;
    this.committed = new Sums();
    for (const t of c.jobs.values()) if (t.n !== 0 || t.d !== 0) this.s.jobs.run(t);
    for (const h of c.hours.values()) {
      const { hist, ...rest } = h;
      this.s.hours.run({ ...rest, ...Object.fromEntries(hist.map((x, i) => [`h${i}`, x])) });
    }
    for (const t of c.tenants.values()) this.s.tenants.run(t);
  }

  /**
   * Recompute every counter from the rows (for rows written by hand, outside the store). Slow on a
   * big database: a full scan of jobs and usage.
   */
  static rebuild(db: Database.Database): void {
    const h = LATENCY_BOUNDS.map((b, i) => (i === 0 ? `sum(latency_ms <= ${b})` : `sum(latency_ms > ${LATENCY_BOUNDS[i - 1]} AND latency_ms <= ${b})`));
    h.push(`sum(latency_ms > ${LATENCY_BOUNDS.at(-1)})`);
    db.transaction(() => {
      db.exec(`DELETE FROM job_counts; DELETE FROM usage_totals; DELETE FROM usage_hourly;
        INSERT INTO job_counts (tenant, type, status, n, duration_sum)
          SELECT tenant, type, status, count(*), coalesce(sum(duration_ms), 0) FROM jobs GROUP BY 1, 2, 3;
        INSERT INTO usage_totals (tenant, input_tokens, output_tokens, cost_usd)
          SELECT tenant, sum(input_tokens), sum(output_tokens), sum(cost_usd) FROM usage GROUP BY 1;
        INSERT INTO usage_hourly (hour, tenant, provider, model, job_type, calls, errors, input_tokens, output_tokens, cost_usd,
            ${h.map((_, i) => `h${i}`).join(', ')})
          SELECT (created_at / 3600000) * 3600000, tenant, provider, model, job_type, count(*), sum(outcome = 'error'),
            sum(input_tokens), sum(output_tokens), sum(cost_usd), ${h.join(', ')}
          FROM usage GROUP BY 1, 2, 3, 4, 5;`);
    }).immediate();
  }

  /** The transaction rolled back: forget everything. */
  reset(): void {
    this.committed = new Sums();
    this.op = new Sums();
  }
}
