/**
 * `GET /v1/usage` in SQL. Whole hours come from the trigger-kept `usage_hourly` rollups, the
 * partial hours at either edge of the range from raw usage rows; both are merged per group.
 * Counts, tokens and cost are exact; latency percentiles come from a histogram, reported as the
 * upper bound of the bucket that holds them.
 */
import type Database from 'better-sqlite3';
import type { UsageGroup, UsageQuery, UsageReport, UsageRow } from '../domain/usage.js';

const HOUR = 3_600_000;
/** Upper bounds of the latency buckets, ms (the last bucket is everything above). Same as migration 007. */
export const LATENCY_BOUNDS = [25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 120_000, 300_000];
const BUCKETS = LATENCY_BOUNDS.length + 1;

/** Group expressions per source: a fixed table, so nothing from a request reaches the SQL text. */
const RAW: Record<UsageGroup, string> = {
  provider: 'provider',
  model: 'model',
  type: 'job_type',
  tenant: 'tenant',
  day: `strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')`,
  hour: `strftime('%Y-%m-%dT%H:00Z', created_at / 1000, 'unixepoch')`,
};
const ROLLUP: Record<UsageGroup, string> = {
  ...RAW,
  day: `strftime('%Y-%m-%d', hour / 1000, 'unixepoch')`,
  hour: `strftime('%Y-%m-%dT%H:00Z', hour / 1000, 'unixepoch')`,
};

const bucketOf = `CASE ${LATENCY_BOUNDS.map((b, i) => `WHEN latency_ms <= ${b} THEN ${i}`).join(' ')} ELSE ${BUCKETS - 1} END`;
const hist = Array.from({ length: BUCKETS }, (_, i) => `sum(h${i}) AS h${i}`).join(', ');

interface Acc {
  keys: Record<string, unknown>;
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

function percentile(h: number[], calls: number, p: number): number {
  let seen = 0;
  for (let i = 0; i < h.length; i++) {
    seen += h[i] as number;
    if (seen * 100 >= calls * p) return LATENCY_BOUNDS[i] ?? (LATENCY_BOUNDS.at(-1) as number);
  }
  return 0;
}

export class UsageReader {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  private prepared(kind: 'raw' | 'rollup', groups: UsageGroup[], tenant: boolean): Database.Statement {
    const key = `${kind}:${groups.join(',')}:${tenant}`;
    let stmt = this.statements.get(key);
    if (stmt) return stmt;
    const expr = kind === 'raw' ? RAW : ROLLUP;
    const cols = groups.map((g) => `${expr[g]} AS ${g}`);
    const by = groups.length ? `GROUP BY ${groups.join(', ')}` : '';
    stmt =
      kind === 'raw'
        ? this.db.prepare(`SELECT ${[
            ...cols,
            `${bucketOf} AS b`,
            'count(*) AS calls',
            `sum(outcome = 'error') AS errors`,
            'sum(input_tokens) AS inputTokens',
            'sum(output_tokens) AS outputTokens',
            'sum(cost_usd) AS costUsd',
            'sum(cache_read_tokens) AS cacheReadTokens',
            'sum(cache_write_tokens) AS cacheWriteTokens',
            'sum(estimated) AS estimatedCalls',
            'sum(unpriced) AS unpricedCalls',
          ].join(', ')}
        FROM usage INDEXED BY ${tenant ? 'usage_tenant' : 'usage_created'} WHERE created_at >= @from AND created_at < @to
          ${tenant ? 'AND tenant = @tenant' : ''}
        GROUP BY ${[...groups, 'b'].join(', ')}`)
        : this.db.prepare(`SELECT ${[
            ...cols,
            'sum(calls) AS calls',
            'sum(errors) AS errors',
            'sum(input_tokens) AS inputTokens',
            'sum(output_tokens) AS outputTokens',
            'sum(cost_usd) AS costUsd',
            'sum(cache_read_tokens) AS cacheReadTokens',
            'sum(cache_write_tokens) AS cacheWriteTokens',
            'sum(estimated_calls) AS estimatedCalls',
            'sum(unpriced_calls) AS unpricedCalls',
            hist,
          ].join(', ')}
        FROM usage_hourly WHERE hour >= @from AND hour < @to ${tenant ? 'AND tenant = @tenant' : ''} ${by} ${groups.length ? '' : 'HAVING sum(calls) > 0'}`);
    this.statements.set(key, stmt);
    return stmt;
  }

  read(query: UsageQuery): UsageReport {
    const plan = planUsage(query);
    const parts = plan.ranges.map((r) => ({
      kind: r.kind,
      rows: this.prepared(r.kind, plan.groups, plan.scoped).all({ from: r.from, to: r.to, tenant: query.tenant }) as Record<
        string,
        unknown
      >[],
    }));
    return reportUsage(plan, parts);
  }
}

/** What a usage query reads: raw rows for the partial hours at either edge, rollups for the whole hours. */
export interface UsagePlan {
  from: number;
  to: number;
  groups: UsageGroup[];
  scoped: boolean;
  ranges: { kind: 'raw' | 'rollup'; from: number; to: number }[];
}

export function planUsage(query: UsageQuery): UsagePlan {
  // The range's end is exclusive: by default it is just past now, so calls recorded in this very
  // millisecond are in it.
  const to = query.to === undefined ? Date.now() + 1 : new Date(query.to).getTime();
  const from = query.from === undefined ? to - 86_400_000 : new Date(query.from).getTime();
  const groups = [...new Set(query.groupBy ?? [])];
  const firstHour = Math.ceil(from / HOUR) * HOUR;
  const lastHour = Math.floor(to / HOUR) * HOUR;
  const ranges: UsagePlan['ranges'] = [];
  const raw = (f: number, t: number) => {
    if (f < t) ranges.push({ kind: 'raw', from: f, to: t });
  };
  if (firstHour < lastHour) {
    raw(from, firstHour);
    ranges.push({ kind: 'rollup', from: firstHour, to: lastHour });
    raw(lastHour, to);
  } else {
    raw(from, to);
  }
  return { from, to, groups, scoped: query.tenant !== undefined, ranges };
}

/**
 * The report from the rows each range read, merged per group. Raw rows carry their latency bucket
 * `b` (one row per group and bucket); rollup rows carry the histogram `h0`…`h13`.
 */
export function reportUsage(plan: UsagePlan, parts: { kind: 'raw' | 'rollup'; rows: Record<string, unknown>[] }[]): UsageReport {
  const { groups } = plan;
  const acc = new Map<string, Acc>();
  const slot = (row: Record<string, unknown>): Acc => {
    const keys = Object.fromEntries(groups.map((g) => [g, row[g]]));
    const k = JSON.stringify(keys);
    let a = acc.get(k);
    if (!a) {
      a = {
        keys,
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
      acc.set(k, a);
    }
    a.calls += row.calls as number;
    a.errors += row.errors as number;
    a.inputTokens += row.inputTokens as number;
    a.outputTokens += row.outputTokens as number;
    a.costUsd += row.costUsd as number;
    a.cacheReadTokens += (row.cacheReadTokens as number | null) ?? 0;
    a.cacheWriteTokens += (row.cacheWriteTokens as number | null) ?? 0;
    a.estimatedCalls += (row.estimatedCalls as number | null) ?? 0;
    a.unpricedCalls += (row.unpricedCalls as number | null) ?? 0;
    return a;
  };
  for (const part of parts) {
    for (const row of part.rows) {
      const a = slot(row);
      if (part.kind === 'raw') {
        const b = row.b as number;
        a.hist[b] = (a.hist[b] as number) + (row.calls as number);
      } else {
        for (let i = 0; i < BUCKETS; i++) a.hist[i] = (a.hist[i] as number) + (row[`h${i}`] as number);
      }
    }
  }
  const data = [...acc.values()]
    .filter((a) => a.calls > 0)
    .sort((x, y) => JSON.stringify(Object.values(x.keys)).localeCompare(JSON.stringify(Object.values(y.keys))))
    .map(
      (a): UsageRow => ({
        ...a.keys,
        calls: a.calls,
        errors: a.errors,
        inputTokens: a.inputTokens,
        outputTokens: a.outputTokens,
        // Unknown when no call of the row had a price; else what the priced calls cost.
        costUsd: a.unpricedCalls === a.calls ? null : Math.round(a.costUsd * 1e9) / 1e9,
        cacheReadTokens: a.cacheReadTokens,
        cacheWriteTokens: a.cacheWriteTokens,
        estimatedCalls: a.estimatedCalls,
        unpricedCalls: a.unpricedCalls,
        latencyMs: { p50: percentile(a.hist, a.calls, 50), p95: percentile(a.hist, a.calls, 95) },
      }),
    );
  return { from: new Date(plan.from).toISOString(), to: new Date(plan.to).toISOString(), groupBy: groups, data };
}
