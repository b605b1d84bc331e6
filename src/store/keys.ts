/** The `api_keys` table: rows ↔ key records. */
import type Database from 'better-sqlite3';
import type { KeyRecord, Scope } from '../domain/keys.js';
import { iso } from './rows.js';

export interface KeyRow {
  id: string;
  name: string | null;
  hash: string;
  prefix: string;
  scopes: string;
  expires_at: number | null;
  rate_limit: number | null;
  daily_token_budget: number | null;
  daily_cost_budget: number | null;
  budget_action: string;
  max_concurrency: number | null;
  weight: number;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
}

const ms = (s: string | null): number | null => (s === null ? null : Date.parse(s));

export function rowToKey(r: KeyRow): KeyRecord {
  return {
    id: r.id,
    name: r.name,
    hash: r.hash,
    prefix: r.prefix,
    scopes: JSON.parse(r.scopes) as Scope[],
    expiresAt: iso(r.expires_at),
    rateLimit: r.rate_limit,
    dailyTokenBudget: r.daily_token_budget,
    dailyCostBudgetUsd: r.daily_cost_budget,
    budgetAction: r.budget_action === 'wait' ? 'wait' : 'fail',
    maxConcurrency: r.max_concurrency,
    weight: r.weight,
    createdAt: new Date(r.created_at).toISOString(),
    revokedAt: iso(r.revoked_at),
    lastUsedAt: iso(r.last_used_at),
  };
}

export class KeyTable {
  private readonly s;

  constructor(db: Database.Database) {
    this.s = {
      insert: db.prepare(`INSERT INTO api_keys (id, name, hash, prefix, scopes, expires_at, rate_limit, daily_token_budget,
          daily_cost_budget, budget_action, max_concurrency, weight, created_at)
        VALUES (@id, @name, @hash, @prefix, @scopes, @expires_at, @rate_limit, @daily_token_budget, @daily_cost_budget,
          @budget_action, @max_concurrency, @weight, @created_at)`),
      all: db.prepare('SELECT * FROM api_keys'),
      revoke: db.prepare('UPDATE api_keys SET revoked_at = coalesce(revoked_at, @at) WHERE id = @id'),
      touch: db.prepare('UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), @at) WHERE id = @id'),
      // Today's spend from the hourly rollups: a few rows per tenant and hour.
      spent: db.prepare(`SELECT coalesce(sum(input_tokens + output_tokens), 0) AS tokens, coalesce(sum(cost_usd), 0) AS costUsd
        FROM usage_hourly WHERE hour >= @since AND tenant = @tenant`),
    };
  }

  insert(k: KeyRecord): void {
    this.s.insert.run({
      id: k.id,
      name: k.name,
      hash: k.hash,
      prefix: k.prefix,
      scopes: JSON.stringify(k.scopes),
      expires_at: ms(k.expiresAt),
      rate_limit: k.rateLimit,
      daily_token_budget: k.dailyTokenBudget,
      daily_cost_budget: k.dailyCostBudgetUsd,
      budget_action: k.budgetAction,
      max_concurrency: k.maxConcurrency,
      weight: k.weight,
      created_at: Date.parse(k.createdAt),
    });
  }

  all(): KeyRecord[] {
    return (this.s.all.all() as KeyRow[]).map(rowToKey);
  }

  revoke(id: string, at: number): void {
    this.s.revoke.run({ id, at });
  }

  touch(id: string, at: number): void {
    this.s.touch.run({ id, at });
  }

  /** Tokens and cost `tenant`'s jobs spent since `since` (epoch ms, on an hour boundary). */
  spent(tenant: string, since: number): { tokens: number; costUsd: number } {
    return this.s.spent.get({ tenant, since }) as { tokens: number; costUsd: number };
  }
}
