/**
 * Fair shares of a claim across tenants: smooth weighted round-robin (the nginx upstream
 * algorithm), one slot at a time, so that even a claim of one job alternates between tenants in
 * proportion to their weights, and a tenant's backlog cannot push another tenant's job back by
 * more than one round. Written by hand: queue libraries keep this inside their paid tiers and no
 * small library does weighted fair shares over a SQL claim.
 */

/** A tenant with queued jobs, and how many more of its jobs may start now (its cap's room). */
export interface TenantDemand {
  tenant: string;
  room: number;
}

/** How the store splits a claim: the scheduler's fairness, handed down. */
export interface ClaimPolicy {
  /** Most of `tenant`'s jobs running at once, or undefined for no cap. */
  cap(tenant: string): number | undefined;
  /** How many of `limit` slots each tenant gets now. */
  split(demand: TenantDemand[], limit: number): Map<string, number>;
}

export class FairShare implements ClaimPolicy {
  /** SWRR's running credit per tenant; kept between claims so that turns carry over. */
  private readonly credit = new Map<string, number>();

  constructor(
    private readonly weightOf: (tenant: string) => number,
    private readonly capOf: (tenant: string) => number | undefined,
  ) {}

  cap(tenant: string): number | undefined {
    return this.capOf(tenant);
  }

  split(demand: TenantDemand[], limit: number): Map<string, number> {
    const quota = new Map<string, number>();
    const open = demand.filter((d) => d.room > 0).map((d) => ({ ...d, weight: Math.max(1, this.weightOf(d.tenant)) }));
    const present = new Set(demand.map((d) => d.tenant));
    for (const t of this.credit.keys()) if (!present.has(t)) this.credit.delete(t);
    for (let slot = 0; slot < limit && open.length > 0; slot++) {
      let total = 0;
      let best: (typeof open)[number] | undefined;
      let bestCredit = -Infinity;
      for (const d of open) {
        total += d.weight;
        const c = (this.credit.get(d.tenant) ?? 0) + d.weight;
        this.credit.set(d.tenant, c);
        if (c > bestCredit) {
          bestCredit = c;
          best = d;
        }
      }
      const chosen = best as (typeof open)[number];
      this.credit.set(chosen.tenant, bestCredit - total);
      quota.set(chosen.tenant, (quota.get(chosen.tenant) ?? 0) + 1);
      if (--chosen.room === 0) open.splice(open.indexOf(chosen), 1);
    }
    return quota;
  }
}
