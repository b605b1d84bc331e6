/**
 * /v1/stats from the store: counts and sums come from the counter tables (kept in the same
 * transactions as the rows: see tallies.ts; a few rows
 * however many jobs there are); percentiles from the last 10,000 completed jobs by an index.
 */
import type Database from 'better-sqlite3';
import type { JobStatus, Percentiles, Stats, StatusCounts } from '../domain/jobs.js';
import { JOB_STATUSES } from '../domain/jobs.js';

/** How many of the last completed jobs the percentiles are read from. */
export const SAMPLE = 10_000;

function emptyCounts(): StatusCounts {
  return { queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
}

/** Nearest-rank percentiles of an ascending array. */
export function percentiles(sorted: number[]): Percentiles {
  const at = (p: number) => (sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number));
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

export class StatsReader {
  private readonly countRows;
  private readonly scheduled;
  private readonly recent;
  private readonly usage;

  // `@tenant IS NULL` reads every tenant: one statement serves the admin and a tenant's key.
  constructor(db: Database.Database) {
    this.countRows = db.prepare(`SELECT type, status, n, duration_sum AS d FROM job_counts
      WHERE n != 0 AND (@tenant IS NULL OR tenant = @tenant)`);
    this.scheduled = db
      .prepare(`SELECT count(*) AS n FROM jobs INDEXED BY jobs_due WHERE status = 'queued' AND run_at > @now
      AND (@tenant IS NULL OR tenant = @tenant)`)
      .pluck();
    // A tenant's percentiles come from its jobs among the last 10,000 completed of all tenants:
    // a bounded read, at the price of a thinner sample for a small tenant beside a busy one.
    this.recent = db.prepare(`SELECT d, w FROM (SELECT duration_ms AS d, queue_wait_ms AS w, tenant FROM jobs INDEXED BY jobs_finished
      WHERE status = 'completed' AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT ${SAMPLE})
      WHERE @tenant IS NULL OR tenant = @tenant`);
    this.usage = db.prepare(`SELECT coalesce(sum(input_tokens), 0) AS i, coalesce(sum(output_tokens), 0) AS o,
      coalesce(sum(cost_usd), 0) AS c FROM usage_totals WHERE @tenant IS NULL OR tenant = @tenant`);
  }

  /** Jobs per status, from the counter table only (what a metrics scrape needs). */
  counts(): StatusCounts {
    return countsFrom(this.countRows.all({ tenant: null }) as CountRow[]);
  }

  /** Stats of one tenant, or of all when `tenant` is undefined. */
  read(tenant?: string): Omit<Stats, 'throughput'> {
    const p = { tenant: tenant ?? null };
    return statsFrom({
      counts: this.countRows.all(p) as CountRow[],
      scheduled: this.scheduled.get({ ...p, now: Date.now() }) as number,
      recent: this.recent.all(p) as RecentRow[],
      usage: this.usage.get(p) as UsageSums,
    });
  }
}

export interface CountRow {
  type: string;
  status: JobStatus;
  n: number;
  d: number;
}
export interface RecentRow {
  d: number | null;
  w: number | null;
}
export interface UsageSums {
  i: number;
  o: number;
  c: number;
}

/** Stats from what the store read: counter rows, the scheduled count, the recent sample, usage sums. */
export function statsFrom(r: { counts: CountRow[]; scheduled: number; recent: RecentRow[]; usage: UsageSums }): Omit<Stats, 'throughput'> {
  const all = emptyCounts();
  const byType: Record<string, StatusCounts & { total: number }> = {};
  let durationSum = 0;
  for (const row of r.counts) {
    all[row.status] += row.n;
    byType[row.type] ??= { ...emptyCounts(), total: 0 };
    const t = byType[row.type] as StatusCounts & { total: number };
    t[row.status] += row.n;
    t.total += row.n;
    if (row.status === 'completed') durationSum += row.d;
  }
  const total = JOB_STATUSES.reduce((sum, s) => sum + all[s], 0);
  const finished = all.completed + all.failed;
  const durations = r.recent.map((x) => x.d ?? 0).sort((a, b) => a - b);
  const waits = r.recent
    .filter((x) => x.w !== null)
    .map((x) => x.w as number)
    .sort((a, b) => a - b);
  const u = r.usage;
  return {
    total,
    ...all,
    scheduled: r.scheduled,
    successRate: finished === 0 ? 0 : Math.round((all.completed / finished) * 10000) / 100,
    avgProcessingTime: all.completed === 0 ? 0 : Math.round(durationSum / all.completed),
    processingTime: percentiles(durations),
    queueWait: percentiles(waits),
    byType,
    usage: { inputTokens: u.i, outputTokens: u.o, costUsd: Math.round(u.c * 1e9) / 1e9 },
  };
}

/** Jobs per status from counter rows. */
export function countsFrom(rows: { status: JobStatus; n: number }[]): StatusCounts {
  const all = emptyCounts();
  for (const r of rows) all[r.status] += r.n;
  return all;
}
