/**
 * Daily budgets enforced when tokens are spent, not only when jobs are submitted. Before each
 * provider call the call's worst case (its prompt's estimate plus its answer's limit, priced with
 * the provider's prices) is reserved against the tenant's budget; after it, the reservation is
 * replaced by what the call used. A call goes ahead only if today's spend plus every reservation,
 * its own included, fits the budget, or if the tenant is under budget with nothing else in flight.
 * So the overshoot is bounded by the calls in flight: what they use beyond their reservation
 * (prompt sizes are estimated), or one call whose worst case alone is more than what was left.
 *
 * The ledger is memory rebuilt from the store: today's spend is read from the hourly rollups when a
 * tenant is first seen each UTC day, and kept up to date as calls settle.
 */
import { SwitchyardError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { KeyRing } from './keyring.js';
import type { KeyRecord } from '../domain/keys.js';

const DAY_MS = 86_400_000;
/** How long a call that only waits for other calls' reservations to settle is put back, ms. */
const CONTENDED_MS = 250;

interface Ledger {
  day: number;
  tokens: number;
  costUsd: number;
  reservedTokens: number;
  reservedCostUsd: number;
  inFlight: number;
}

/** A reservation: settle it once, with what the call used (0 for a call that failed). */
export interface BudgetHold {
  settle(tokens: number, costUsd: number): void;
}

/** One tenant's budget, as a provider call sees it. */
export interface TenantBudget {
  /** Reserve a call's worst case; throws SWY_BUDGET_EXCEEDED when it does not fit. */
  reserve(tokens: number, costUsd: number): Promise<BudgetHold>;
}

const dayOf = (now: number) => now - (now % DAY_MS);

export class Budgets {
  private readonly ledgers = new Map<string, Ledger>();
  private readonly loading = new Map<string, Promise<Ledger>>();

  /** `onRoom`: a tenant whose calls in flight held all of its budget has room again (claim its jobs). */
  constructor(
    private readonly store: Store,
    private readonly keys: KeyRing,
    private readonly onRoom: () => void = () => undefined,
  ) {}

  /**
   * Whether `tenant`'s jobs should be claimed now: false while its calls in flight hold what is left
   * of its budget (their reservations may settle lower). The scheduler then leaves its jobs queued
   * instead of claiming them only to put them back, and claims again when a call settles.
   */
  claimable(tenant: string): boolean {
    const l = this.ledgers.get(tenant);
    if (l === undefined || l.inFlight === 0) return true;
    const k = this.limited(tenant);
    return k === undefined || !over(k, l.tokens + l.reservedTokens, l.costUsd + l.reservedCostUsd);
  }

  private limited(tenant: string): KeyRecord | undefined {
    const k = this.keys.record(tenant);
    return k && (k.dailyTokenBudget !== null || k.dailyCostBudgetUsd !== null) ? k : undefined;
  }

  /** Today's ledger of `tenant`, read from the store the first time each day. */
  private async ledger(tenant: string): Promise<Ledger> {
    const day = dayOf(Date.now());
    const have = this.ledgers.get(tenant);
    if (have?.day === day) return have;
    let pending = this.loading.get(tenant);
    if (!pending) {
      pending = this.store
        .tenantUsageSince(tenant, day)
        .then((spent) => {
          // Reservations in flight across midnight settle into the new day's ledger.
          const carried = this.ledgers.get(tenant);
          const l: Ledger = {
            day,
            tokens: spent.tokens,
            costUsd: spent.costUsd,
            reservedTokens: carried?.reservedTokens ?? 0,
            reservedCostUsd: carried?.reservedCostUsd ?? 0,
            inFlight: carried?.inFlight ?? 0,
          };
          this.ledgers.set(tenant, l);
          return l;
        })
        .finally(() => this.loading.delete(tenant));
      this.loading.set(tenant, pending);
    }
    return pending;
  }

  private exceeded(k: KeyRecord, l: Ledger, now: number, retryable: boolean): SwitchyardError {
    const err = new SwitchyardError(
      'SWY_BUDGET_EXCEEDED',
      `key ${k.id} spent its daily budget (${l.tokens} tokens, $${l.costUsd.toFixed(4)} today); spending resumes at 00:00 UTC`,
      { retryAfterMs: dayOf(now) + DAY_MS - now },
    );
    (err as { retryable: boolean }).retryable = retryable;
    return err;
  }

  /** Throws SWY_BUDGET_EXCEEDED (429 on submit) when `tenant` is a key that spent its daily budget. */
  async checkSubmit(tenant: string): Promise<void> {
    const k = this.limited(tenant);
    if (!k) return;
    const l = await this.ledger(tenant);
    if (over(k, l.tokens, l.costUsd)) throw this.exceeded(k, l, Date.now(), true);
  }

  /** The budget provider calls of `tenant` reserve against, or undefined when it has none. */
  of(tenant: string): TenantBudget | undefined {
    if (!this.limited(tenant)) return undefined;
    return { reserve: (tokens, costUsd) => this.reserve(tenant, tokens, costUsd) };
  }

  private async reserve(tenant: string, tokens: number, costUsd: number): Promise<BudgetHold> {
    const l = await this.ledger(tenant);
    const k = this.limited(tenant);
    if (k) {
      const now = Date.now();
      if (over(k, l.tokens, l.costUsd)) throw this.exceeded(k, l, now, k.budgetAction === 'wait');
      const fits = !over(k, l.tokens + l.reservedTokens + tokens, l.costUsd + l.reservedCostUsd + costUsd, true);
      if (!fits && l.inFlight > 0) {
        // Not spent, only promised to calls in flight: wait for them, whatever the key's action.
        throw new SwitchyardError('SWY_BUDGET_EXCEEDED', `key ${k.id}'s calls in flight hold what is left of its daily budget`, {
          retryAfterMs: CONTENDED_MS,
        });
      }
    }
    l.reservedTokens += tokens;
    l.reservedCostUsd += costUsd;
    l.inFlight++;
    let settled = false;
    return {
      settle: (usedTokens, usedCost) => {
        if (settled) return;
        settled = true;
        const blocked = !this.claimable(tenant);
        l.reservedTokens -= tokens;
        l.reservedCostUsd -= costUsd;
        l.inFlight--;
        l.tokens += usedTokens;
        l.costUsd += usedCost;
        if (blocked && this.claimable(tenant)) this.onRoom();
      },
    };
  }
}

/** Whether spend reaches the key's budget (`strict`: passes it). */
function over(k: KeyRecord, tokens: number, costUsd: number, strict = false): boolean {
  const t = k.dailyTokenBudget;
  const c = k.dailyCostBudgetUsd;
  return strict ? (t !== null && tokens > t) || (c !== null && costUsd > c) : (t !== null && tokens >= t) || (c !== null && costUsd >= c);
}
