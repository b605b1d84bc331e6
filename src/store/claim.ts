/**
 * The claim in SQL: which due jobs this process takes next. With one tenant waiting it is one
 * indexed query in priority order; with several, the claim policy splits the slots between them
 * (fair shares, per-tenant caps) and each tenant's queue is read in its own priority order.
 */
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { ClaimedJob } from '../domain/jobs.js';
import { FairShare, type ClaimPolicy, type TenantDemand } from './fair-share.js';
import { CLAIM_COLUMNS, COL, claimedJob, isoTime, type ClaimRow } from './rows.js';
import type { Tallies } from './tallies.js';

export class Claimer {
  private readonly tenants;
  private readonly due;
  private readonly running;
  private readonly claim;
  /** Equal shares when the caller has no policy of its own. */
  private readonly even = new FairShare(
    () => 1,
    () => undefined,
  );

  constructor(
    db: Database.Database,
    private readonly tallies: Tallies,
  ) {
    // A loose index scan: one seek per distinct tenant with queued jobs, however long their queues.
    this.tenants = db
      .prepare(`WITH RECURSIVE t(tenant) AS (
        SELECT (SELECT min(tenant) FROM jobs INDEXED BY jobs_claim WHERE status = 'queued')
        UNION ALL
        SELECT (SELECT min(tenant) FROM jobs INDEXED BY jobs_claim WHERE status = 'queued' AND tenant > t.tenant)
          FROM t WHERE t.tenant IS NOT NULL)
      SELECT tenant FROM t WHERE tenant IS NOT NULL`)
      .pluck();
    // Select, then update by key: an UPDATE with `seq IN (subquery … LIMIT)`, or UPDATE … RETURNING *
    // per row, costs more than reading the rows first.
    this.due = db
      .prepare(`SELECT ${CLAIM_COLUMNS} FROM jobs INDEXED BY jobs_claim WHERE status = 'queued' AND tenant = ?
      AND run_at <= ? ORDER BY priority DESC, run_at, seq LIMIT ?`)
      .raw(true);
    // From the counters (committed by every process) plus this transaction's changes not yet
    // written to them: exact while this process holds the write lock.
    this.running = db.prepare(`SELECT tenant, sum(n) AS n FROM job_counts WHERE status = 'running' GROUP BY tenant`);
    this.claim = db.prepare(`UPDATE jobs SET status = 'running', attempt = ?, lease_owner = ?, lease_token = ?,
        lease_expires_at = ?, started_at = ?, queue_wait_ms = ? WHERE seq = ?`);
  }

  /** Claim up to `limit` due jobs for `owner`; call inside a transaction. */
  run(owner: string, limit: number, leaseMs: number, policy: ClaimPolicy = this.even): ClaimedJob[] {
    const now = Date.now();
    const tenants = this.tenants.all() as string[];
    if (tenants.length === 0) return [];
    const rows =
      tenants.length === 1 && policy.cap(tenants[0] as string) === undefined
        ? (this.due.all(tenants[0], now, limit) as ClaimRow[])
        : this.fairRows(tenants, now, limit, policy);
    // Lease tokens are fencing tokens: unique and unguessable by another process, 64 random bits.
    const tokens = randomBytes(8 * rows.length).toString('hex');
    const startedAt = isoTime(now);
    return rows.map((r, i) => {
      const leaseToken = tokens.slice(i * 16, i * 16 + 16);
      const attempt = r[COL.attempt] + 1;
      // From when it could first run: a runAt in the past (1970) is not a wait.
      const queueWaitMs = r[COL.queue_wait_ms] ?? Math.max(0, now - Math.max(r[COL.run_at], r[COL.created_at]));
      this.claim.run(attempt, owner, leaseToken, now + leaseMs, now, queueWaitMs, r[COL.seq]);
      this.tallies.move(r[COL.tenant], r[COL.type], 'queued', 'running');
      return { job: claimedJob(r, attempt, startedAt), leaseToken };
    });
  }

  private fairRows(tenants: string[], now: number, limit: number, policy: ClaimPolicy): ClaimRow[] {
    const caps = tenants.map((t) => policy.cap(t));
    const running = new Map<string, number>();
    if (caps.some((c) => c !== undefined)) {
      for (const r of this.running.all() as { tenant: string; n: number }[]) running.set(r.tenant, r.n);
      for (const [tenant, n] of this.tallies.pending('running')) running.set(tenant, (running.get(tenant) ?? 0) + n);
    }
    const demand: TenantDemand[] = tenants.map((tenant, i) => {
      const cap = caps[i];
      return { tenant, room: cap === undefined ? limit : Math.max(0, cap - (running.get(tenant) ?? 0)) };
    });
    const rows: ClaimRow[] = [];
    // A tenant that returns fewer jobs than its share has no more due: its slots go round again.
    while (rows.length < limit) {
      const quotas = policy.split(demand, limit - rows.length);
      if (quotas.size === 0) break;
      for (const d of demand) {
        const q = quotas.get(d.tenant);
        if (!q) continue;
        const got = this.due.all(d.tenant, now, q) as ClaimRow[];
        rows.push(...got);
        d.room = got.length < q ? 0 : d.room - got.length;
      }
    }
    return rows;
  }
}
