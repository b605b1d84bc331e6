/** /v1/stats and /v1/usage on PostgreSQL: the same counters and rollups as SQLite, in its SQL dialect. */
import type pg from 'pg';
import type { Stats, StatusCounts } from '../../domain/jobs.js';
import type { UsageGroup, UsageQuery, UsageReport } from '../../domain/usage.js';
import { countsFrom, SAMPLE, statsFrom, type CountRow, type RecentRow, type UsageSums } from '../stats.js';
import { LATENCY_BOUNDS, planUsage, reportUsage } from '../usage.js';

const BUCKETS = LATENCY_BOUNDS.length + 1;
const utc = (ms: string, format: string) => `to_char(to_timestamp(${ms} / 1000.0) AT TIME ZONE 'UTC', '${format}')`;
/** Group expressions per source: a fixed table, so nothing from a request reaches the SQL text. */
const RAW: Record<UsageGroup, string> = {
  provider: 'provider',
  model: 'model',
  type: 'job_type',
  tenant: 'tenant',
  day: utc('created_at', 'YYYY-MM-DD'),
  hour: utc('created_at', 'YYYY-MM-DD"T"HH24:00"Z"'),
};
const ROLLUP: Record<UsageGroup, string> = { ...RAW, day: utc('hour', 'YYYY-MM-DD'), hour: utc('hour', 'YYYY-MM-DD"T"HH24:00"Z"') };
const bucketOf = `CASE ${LATENCY_BOUNDS.map((b, i) => `WHEN latency_ms <= ${b} THEN ${i}`).join(' ')} ELSE ${BUCKETS - 1} END`;

function usageSql(kind: 'raw' | 'rollup', groups: UsageGroup[], scoped: boolean): string {
  const expr = kind === 'raw' ? RAW : ROLLUP;
  const cols = groups.map((g) => `${expr[g]} AS "${g}"`);
  const tenant = scoped ? 'AND tenant = $3' : '';
  if (kind === 'raw') {
    return `SELECT ${[
      ...cols,
      `${bucketOf} AS b`,
      'count(*) AS calls',
      `count(*) FILTER (WHERE outcome = 'error') AS errors`,
      'sum(input_tokens) AS "inputTokens"',
      'sum(output_tokens) AS "outputTokens"',
      'sum(cost_usd) AS "costUsd"',
      'sum(cache_read_tokens) AS "cacheReadTokens"',
      'sum(cache_write_tokens) AS "cacheWriteTokens"',
      'sum(estimated) AS "estimatedCalls"',
      'sum(unpriced) AS "unpricedCalls"',
    ].join(', ')}
      FROM usage WHERE created_at >= $1 AND created_at < $2 ${tenant}
      GROUP BY ${[...groups.map((_, i) => i + 1), groups.length + 1].join(', ')}`;
  }
  const by = groups.length ? `GROUP BY ${groups.map((_, i) => i + 1).join(', ')}` : 'HAVING sum(calls) > 0';
  return `SELECT ${[
    ...cols,
    'sum(calls) AS calls',
    'sum(errors) AS errors',
    'sum(input_tokens) AS "inputTokens"',
    'sum(output_tokens) AS "outputTokens"',
    'sum(cost_usd) AS "costUsd"',
    'sum(cache_read_tokens) AS "cacheReadTokens"',
    'sum(cache_write_tokens) AS "cacheWriteTokens"',
    'sum(estimated_calls) AS "estimatedCalls"',
    'sum(unpriced_calls) AS "unpricedCalls"',
    ...Array.from({ length: BUCKETS }, (_, i) => `sum(h${i}) AS h${i}`),
  ].join(', ')}
    FROM usage_hourly WHERE hour >= $1 AND hour < $2 ${tenant} ${by}`;
}

export async function readUsage(pool: pg.Pool, query: UsageQuery): Promise<UsageReport> {
  const plan = planUsage(query);
  const parts = await Promise.all(
    plan.ranges.map(async (r) => {
      const params: unknown[] = [r.from, r.to];
      if (plan.scoped) params.push(query.tenant);
      const { rows } = await pool.query(usageSql(r.kind, plan.groups, plan.scoped), params);
      return { kind: r.kind, rows: rows as Record<string, unknown>[] };
    }),
  );
  return reportUsage(plan, parts);
}

const COUNT_ROWS = `SELECT type, status, n, duration_sum AS d FROM job_counts WHERE n != 0 AND ($1::text IS NULL OR tenant = $1)`;

export async function readCounts(pool: pg.Pool): Promise<StatusCounts> {
  return countsFrom((await pool.query<CountRow>(COUNT_ROWS, [null])).rows);
}

export async function readStats(pool: pg.Pool, tenant?: string): Promise<Omit<Stats, 'throughput'>> {
  const t = tenant ?? null;
  const [counts, scheduled, recent, usage] = await Promise.all([
    pool.query<CountRow>(COUNT_ROWS, [t]),
    pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM jobs WHERE status = 'queued' AND NOT ready AND run_at > $1 AND ($2::text IS NULL OR tenant = $2)`,
      [Date.now(), t],
    ),
    // As on SQLite: a tenant's percentiles come from its jobs among the last completed of all tenants.
    pool.query<RecentRow>(
      `SELECT d, w FROM (SELECT duration_ms AS d, queue_wait_ms AS w, tenant FROM jobs
        WHERE status = 'completed' AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT ${SAMPLE}) r
      WHERE $1::text IS NULL OR tenant = $1`,
      [t],
    ),
    pool.query<UsageSums>(
      `SELECT coalesce(sum(input_tokens), 0) AS i, coalesce(sum(output_tokens), 0) AS o, coalesce(sum(cost_usd), 0) AS c
      FROM usage_totals WHERE $1::text IS NULL OR tenant = $1`,
      [t],
    ),
  ]);
  return statsFrom({
    counts: counts.rows,
    scheduled: scheduled.rows[0]?.n ?? 0,
    recent: recent.rows,
    usage: usage.rows[0] ?? { i: 0, o: 0, c: 0 },
  });
}
