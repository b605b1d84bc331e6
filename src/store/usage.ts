/** `GET /v1/usage` in SQL: one row per group of provider calls, with nearest-rank latency percentiles. */
import type Database from 'better-sqlite3';
import type { UsageGroup, UsageQuery, UsageReport, UsageRow } from '../usage/types.js';

/** Column expressions per group name: a fixed table, so nothing from a request reaches the SQL text. */
const EXPR: Record<UsageGroup, string> = {
  provider: 'provider',
  model: 'model',
  type: 'job_type',
  day: `strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')`,
  hour: `strftime('%Y-%m-%dT%H:00Z', created_at / 1000, 'unixepoch')`,
};

export class UsageReader {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  private statement(groups: UsageGroup[]): Database.Statement {
    const key = groups.join(',');
    let stmt = this.statements.get(key);
    if (stmt) return stmt;
    const cols = groups.map((g) => `${EXPR[g]} AS ${g}`);
    const part = groups.length ? groups.join(', ') : '1';
    stmt = this.db.prepare(`
      WITH u AS (
        SELECT ${[...cols, 'outcome', 'latency_ms', 'input_tokens', 'output_tokens', 'cost_usd'].join(', ')}
        FROM usage INDEXED BY usage_created WHERE created_at >= @from AND created_at < @to
      ), r AS (
        SELECT *, row_number() OVER (PARTITION BY ${part} ORDER BY latency_ms) AS rn,
          count(*) OVER (PARTITION BY ${part}) AS cnt FROM u
      )
      SELECT ${[...groups, 'count(*) AS calls', `sum(outcome = 'error') AS errors`,
        'sum(input_tokens) AS inputTokens', 'sum(output_tokens) AS outputTokens', 'sum(cost_usd) AS costUsd',
        'min(CASE WHEN rn * 100 >= cnt * 50 THEN latency_ms END) AS p50',
        'min(CASE WHEN rn * 100 >= cnt * 95 THEN latency_ms END) AS p95'].join(', ')}
      FROM r ${groups.length ? `GROUP BY ${part} ORDER BY ${part}` : 'HAVING count(*) > 0'}`);
    this.statements.set(key, stmt);
    return stmt;
  }

  read(query: UsageQuery): UsageReport {
    const to = query.to === undefined ? Date.now() : new Date(query.to).getTime();
    const from = query.from === undefined ? to - 86_400_000 : new Date(query.from).getTime();
    const groups = [...new Set(query.groupBy ?? [])];
    const rows = this.statement(groups).all({ from, to }) as (Record<string, unknown> & { p50: number; p95: number })[];
    const data = rows.map(({ p50, p95, ...rest }) => ({
      ...rest,
      costUsd: Math.round((rest.costUsd as number) * 1e9) / 1e9,
      latencyMs: { p50, p95 },
    })) as UsageRow[];
    return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), groupBy: groups, data };
  }
}
