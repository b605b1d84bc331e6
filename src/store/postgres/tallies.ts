/**
 * The counters' sums (see ../tallies.ts) written to PostgreSQL: one upsert per table, rows in key
 * order, all in one statement, into the writing process's slot.
 */
import { LATENCY_BOUNDS } from '../usage.js';
import type { JobSum, Tallies } from '../tallies.js';
import type { Statement } from './pool.js';

const HIST = Array.from({ length: LATENCY_BOUNDS.length + 1 }, (_, i) => `h${i}`);
const HOUR_COLUMNS = [
  'hour',
  'tenant',
  'provider',
  'model',
  'job_type',
  'calls',
  'errors',
  'input_tokens',
  'output_tokens',
  'cost_usd',
  'cache_read_tokens',
  'cache_write_tokens',
  'estimated_calls',
  'unpriced_calls',
  ...HIST,
];
const HOUR_TYPES = [
  'bigint',
  'text',
  'text',
  'text',
  'text',
  'bigint',
  'bigint',
  'bigint',
  'bigint',
  'float8',
  'bigint',
  'bigint',
  'bigint',
  'bigint',
];

const JOBS = `INSERT INTO job_counts AS c (slot, tenant, type, status, n, duration_sum)
  SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
  ON CONFLICT (tenant, type, status, slot) DO UPDATE SET n = c.n + excluded.n, duration_sum = c.duration_sum + excluded.duration_sum`;
const HOURS = `INSERT INTO usage_hourly AS u (slot, ${HOUR_COLUMNS.join(', ')})
  SELECT $1, * FROM unnest(${HOUR_COLUMNS.map((_, i) => `$${i + 2}::${HOUR_TYPES[i] ?? 'bigint'}[]`).join(', ')})
  ON CONFLICT (hour, tenant, provider, model, job_type, slot) DO UPDATE SET
  ${HOUR_COLUMNS.slice(5)
    .map((c) => `${c} = u.${c} + excluded.${c}`)
    .join(', ')}`;
const TENANTS = `INSERT INTO usage_totals AS t (slot, tenant, input_tokens, output_tokens, cost_usd)
  SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::float8[])
  ON CONFLICT (tenant, slot) DO UPDATE SET input_tokens = t.input_tokens + excluded.input_tokens,
    output_tokens = t.output_tokens + excluded.output_tokens, cost_usd = t.cost_usd + excluded.cost_usd`;

/** How many counter rows each counter is spread over (migration 003). */
export const SLOTS = 64;

/** The upserts of the transaction's counter changes (taken from `tallies`), none when there are none. */
export function tallyStatements(tallies: Tallies, slot: number): Statement[] {
  const { jobs, usage } = takeTallies(tallies, slot);
  return jobs.length > 0 ? [{ sql: JOBS, params: [slot, ...jobColumns(jobs)] }, ...usage] : usage;
}

/** Job counter changes as the columns of JOBS's unnest: tenant, type, status, n, duration. */
export function jobColumns(jobs: JobSum[]): unknown[][] {
  return [jobs.map((j) => j.tenant), jobs.map((j) => j.type), jobs.map((j) => j.status), jobs.map((j) => j.n), jobs.map((j) => j.d)];
}

/**
 * The transaction's counter changes (taken from `tallies`): the job counts' as they are, for a
 * statement that upserts them with changes of its own (one statement cannot upsert a row twice),
 * and the usage sums' upserts.
 */
export function takeTallies(tallies: Tallies, slot: number): { jobs: JobSum[]; usage: Statement[] } {
  const { jobs, hours, tenants } = tallies.take();
  const parts: Statement[] = [];
  if (hours.length > 0) {
    parts.push({
      sql: HOURS,
      params: [
        slot,
        hours.map((h) => h.hour),
        hours.map((h) => h.tenant),
        hours.map((h) => h.provider),
        hours.map((h) => h.model),
        hours.map((h) => h.type),
        hours.map((h) => h.calls),
        hours.map((h) => h.errors),
        hours.map((h) => h.inputTokens),
        hours.map((h) => h.outputTokens),
        hours.map((h) => h.costUsd),
        hours.map((h) => h.cacheReadTokens),
        hours.map((h) => h.cacheWriteTokens),
        hours.map((h) => h.estimatedCalls),
        hours.map((h) => h.unpricedCalls),
        ...HIST.map((_, i) => hours.map((h) => h.hist[i])),
      ],
    });
  }
  if (tenants.length > 0) {
    parts.push({
      sql: TENANTS,
      params: [
        slot,
        tenants.map((t) => t.tenant),
        tenants.map((t) => t.inputTokens),
        tenants.map((t) => t.outputTokens),
        tenants.map((t) => t.costUsd),
      ],
    });
  }
  return { jobs, usage: parts };
}
