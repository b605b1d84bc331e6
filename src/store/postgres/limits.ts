/**
 * Provider limits shared through PostgreSQL. A process leases concurrency slots for a few slice
 * lengths at a time, and takes the per-minute limits in slices: each slice is a row dated when it
 * was granted, whose calls must start within `SLICE_MS`. A slice counts against the minute until
 * 60 s plus a slice length after its grant, so every call is counted for at least the 60 s after
 * it started, whichever process made it: the upstream never sees more than the limit in any minute.
 * What a slice did not use is given back with the next one.
 */
import type pg from 'pg';
import type { LimitGrant, LimitLedger, LimitRequest } from '../store.js';

/** How long a slice of the per-minute limits may be used, ms. */
export const SLICE_MS = 1000;
/** How long a lease of concurrency slots lasts without being renewed, ms (a dead process's slots come back after it). */
const LEASE_MS = 5000;
const MINUTE = 60_000;

export class PgLimitLedger implements LimitLedger {
  readonly sliceMs = SLICE_MS;

  constructor(private readonly pool: pg.Pool) {}

  async lease(node: string, requests: LimitRequest[]): Promise<LimitGrant[]> {
    const out: LimitGrant[] = [];
    for (const r of requests) out.push(await this.leaseOne(node, r));
    return out;
  }

  private async leaseOne(node: string, r: LimitRequest): Promise<LimitGrant> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // One process at a time per provider, until this transaction ends.
      await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('switchyard-limit:' || $1, 0))`, [r.provider]);
      const now = Date.now();
      if (r.previous) {
        await client.query('UPDATE provider_grants SET calls = calls - $2, tokens = tokens - $3 + $4 WHERE id = $1', [
          r.previous.grant,
          r.previous.unusedCalls,
          r.previous.unusedTokens,
          r.previous.tokenCorrection,
        ]);
      }
      const { rows: others } = await client.query<{ n: number }>(
        'SELECT coalesce(sum(slots), 0) AS n FROM provider_leases WHERE provider = $1 AND node <> $2 AND expires_at > $3',
        [r.provider, node, now],
      );
      const free = Math.max(0, r.maxConcurrency - (others[0]?.n ?? 0));
      const slots = Math.max(r.slotsInUse, Math.min(r.slots, free));
      await client.query(
        `INSERT INTO provider_leases (provider, node, slots, expires_at) VALUES ($1, $2, $3, $4)
        ON CONFLICT (provider, node) DO UPDATE SET slots = excluded.slots, expires_at = excluded.expires_at`,
        [r.provider, node, slots, now + LEASE_MS],
      );
      // Without a slot no call can start: its slice would hold calls others could make.
      let calls = slots === 0 ? 0 : r.calls;
      let tokens = slots === 0 ? 0 : r.tokens;
      if (r.rpm !== null || r.tpm !== null) {
        const { rows } = await client.query<{ calls: number; tokens: number }>(
          'SELECT coalesce(sum(calls), 0) AS calls, coalesce(sum(tokens), 0) AS tokens FROM provider_grants WHERE provider = $1 AND at > $2',
          [r.provider, now - MINUTE - SLICE_MS],
        );
        const used = rows[0] ?? { calls: 0, tokens: 0 };
        if (r.rpm !== null) calls = Math.max(0, Math.min(calls, r.rpm - used.calls));
        if (r.tpm !== null) tokens = Math.max(0, Math.min(tokens, r.tpm - used.tokens));
        if (calls === 0) tokens = 0;
        if (tokens === 0 && r.tpm !== null) calls = 0;
      }
      const { rows: granted } = await client.query<{ id: number }>(
        'INSERT INTO provider_grants (provider, node, at, calls, tokens) VALUES ($1, $2, $3, $4, $5) RETURNING id',
        [r.provider, node, now, calls, tokens],
      );
      // Slices past counting are no longer needed.
      await client.query('DELETE FROM provider_grants WHERE provider = $1 AND at < $2', [r.provider, now - 2 * MINUTE]);
      await client.query('COMMIT');
      return { provider: r.provider, slots, calls, tokens, grant: granted[0]?.id ?? 0, until: now + SLICE_MS };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async release(node: string): Promise<void> {
    await this.pool.query('DELETE FROM provider_leases WHERE node = $1', [node]);
  }
}
