/** API keys, scopes and the principal a request acts as. */

/** What a key may do. `admin` implies every other scope and sees every tenant's jobs. */
export type Scope = 'jobs:write' | 'jobs:read' | 'providers:admin' | 'usage:read' | 'admin';

export const SCOPES: readonly Scope[] = ['jobs:write', 'jobs:read', 'providers:admin', 'usage:read', 'admin'];

/** What a job does when its tenant's daily budget is spent. */
export type BudgetAction = 'fail' | 'wait';

/** The tenant of the admin key from the environment and of jobs submitted through the library. */
export const DEFAULT_TENANT = 'default';

/** What `POST /v1/keys` (or `engine.keys.create`) takes. */
export interface KeyInput {
  /** A label for people; not unique. */
  name?: string;
  scopes: Scope[];
  /** After this time (ISO-8601) the key is refused. */
  expiresAt?: string;
  /** Requests per minute this key may make. @default the server's SWITCHYARD_RATE_LIMIT_KEY */
  rateLimit?: number;
  /** Provider tokens (input + output) its jobs may spend per UTC day before submits get 429. */
  dailyTokenBudget?: number;
  /** Provider cost in USD its jobs may spend per UTC day before submits get 429. */
  dailyCostBudgetUsd?: number;
  /**
   * What happens to a job whose provider call would pass the budget: `fail` with
   * SWY_BUDGET_EXCEEDED, or `wait` (queued, no attempt spent) until the budget resets at 00:00 UTC.
   * @default "fail"
   */
  budgetAction?: BudgetAction;
  /** Most of its jobs running at once. */
  maxConcurrency?: number;
  /** Its share of the claim when several tenants have jobs waiting (weighted round-robin). @default 1 */
  weight?: number;
}

/** A key as listed: never its secret, never its hash. Its id is also its tenant. */
export interface ApiKey {
  id: string;
  name: string | null;
  /** The first characters of the secret, to recognise it. */
  prefix: string;
  scopes: Scope[];
  expiresAt: string | null;
  rateLimit: number | null;
  dailyTokenBudget: number | null;
  dailyCostBudgetUsd: number | null;
  budgetAction: BudgetAction;
  maxConcurrency: number | null;
  weight: number;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

/** A key as the store keeps it. */
export interface KeyRecord extends ApiKey {
  hash: string;
}

/** Who a request acts as. */
export interface Principal {
  /** The key's id, or `admin` for the key from the environment. */
  keyId: string;
  /** Whose jobs it submits. */
  tenant: string;
  /** Sees and manages every tenant's jobs. */
  admin: boolean;
  scopes: ReadonlySet<Scope>;
  /** Requests per minute; undefined: the server default; null: unlimited. */
  rateLimit: number | null | undefined;
}

/** Which tenant's data a call may see: undefined sees every tenant (admin, library). */
export interface TenantScope {
  tenant?: string;
}
