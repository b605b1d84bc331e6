/**
 * The store's counters (jobs per tenant, type and status; usage per tenant; usage per hour and
 * group) kept in code: each write adds its changes here, and the group commit writes the sums
 * once per transaction — a few upserts instead of a trigger per row. A write that fails drops its
 * own changes; a transaction that rolls back drops them all.
 */
import type Database from 'better-sqlite3';
import { LATENCY_BOUNDS } from './usage.js';

/** One change to a counter, as a write made it. */
type Change =
  | { kind: 'job'; tenant: string; type: string; status: string; n: number; d: number }
  | ({ kind: 'usage' } & UsageFact);

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

/** Add `fields` of `add` into the entry of `map` at `key`, creating it from `add` the first time. */
function accumulate<T extends object>(map: Map<string, T>, key: string, add: T, fields: (keyof T)[]): T {
  const have = map.get(key);
  if (!have) {
    map.set(key, add);
    return add;
  }
  for (const f of fields) (have[f] as number) += add[f] as number;
  return have;
}

export class Tallies {
  /** Changes of the writes that succeeded in the current transaction. */
  private kept: Change[] = [];
  /** Changes of the write running now. */
  private op: Change[] = [];
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
    this.op.push({ kind: 'job', tenant, type, status, n, d });
  }

  /** A job moved from one status to another. */
  move(tenant: string, type: string, from: string, to: string, dFrom = 0, dTo = 0): void {
    this.job(tenant, type, from, -1, -dFrom);
    this.job(tenant, type, to, 1, dTo);
  }

  usage(u: UsageFact): void {
    this.op.push({ kind: 'usage', ...u });
  }

  /** The write that just succeeded keeps its changes. */
  keep(): void {
    for (const c of this.op) this.kept.push(c);
    this.op = [];
  }

  /** The write that just failed leaves no trace. */
  drop(): void {
    this.op = [];
  }

  /** Sum the kept changes per counter row and write each sum once; call inside the transaction, before it commits. */
  write(): void {
    const changes = this.kept;
    this.kept = [];
    const jobs = new Map<string, { tenant: string; type: string; status: string; n: number; d: number }>();
    const hours = new Map<string, {
      hour: number; tenant: string; provider: string; model: string; type: string;
      calls: number; errors: number; inputTokens: number; outputTokens: number; costUsd: number; hist: number[];
    }>();
    const tenants = new Map<string, { tenant: string; inputTokens: number; outputTokens: number; costUsd: number }>();
    for (const c of changes) {
      if (c.kind === 'job') {
        accumulate(jobs, `${c.tenant}\u0000${c.type}\u0000${c.status}`, { tenant: c.tenant, type: c.type, status: c.status, n: c.n, d: c.d }, ['n', 'd']);
        continue;
      }
      const hour = Math.floor(c.createdAt / 3_600_000) * 3_600_000;
      const hist = new Array<number>(BUCKETS).fill(0);
      hist[bucket(c.latencyMs)] = 1;
      const h = accumulate(hours, `${hour}\u0000${c.tenant}\u0000${c.provider}\u0000${c.model}\u0000${c.jobType}`, {
        hour, tenant: c.tenant, provider: c.provider, model: c.model, type: c.jobType, calls: 1, errors: c.outcome === 'error' ? 1 : 0,
        inputTokens: c.inputTokens, outputTokens: c.outputTokens, costUsd: c.costUsd, hist,
      }, ['calls', 'errors', 'inputTokens', 'outputTokens', 'costUsd']);
      if (h.hist !== hist) h.hist[bucket(c.latencyMs)] = (h.hist[bucket(c.latencyMs)] as number) + 1;
      accumulate(tenants, c.tenant, { tenant: c.tenant, inputTokens: c.inputTokens, outputTokens: c.outputTokens, costUsd: c.costUsd },
        ['inputTokens', 'outputTokens', 'costUsd']);
    }
    for (const t of jobs.values()) if (t.n !== 0 || t.d !== 0) this.s.jobs.run(t);
    for (const { hist, ...rest } of hours.values()) this.s.hours.run({ ...rest, ...Object.fromEntries(hist.map((x, i) => [`h${i}`, x])) });
    for (const t of tenants.values()) this.s.tenants.run(t);
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
    this.kept = [];
    this.op = [];
  }
}
