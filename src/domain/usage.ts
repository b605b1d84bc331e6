/** Usage reports: provider calls grouped by provider, model, job type, day or hour. */

export const USAGE_GROUPS = ['provider', 'model', 'type', 'day', 'hour', 'tenant'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

export interface UsageQuery {
  /** Start, inclusive (ISO-8601 or epoch ms). @default 24 hours before `to` */
  from?: string | number;
  /** End, exclusive. @default now */
  to?: string | number;
  groupBy?: UsageGroup[];
  /** Only calls made by this tenant's jobs. */
  tenant?: string;
}

export interface UsageRow {
  tenant?: string;
  provider?: string;
  model?: string;
  type?: string;
  day?: string;
  hour?: string;
  calls: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  /** USD of the priced calls; null when no call of the row had a price (see `unpricedCalls`). */
  costUsd: number | null;
  /** Prompt tokens read from / written to providers' caches (part of `inputTokens`). */
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** Calls whose tokens were estimated (the provider reported none). */
  estimatedCalls: number;
  /** Calls whose model had no price (neither the provider's prices nor the catalogue): not in `costUsd`. */
  unpricedCalls: number;
  latencyMs: { p50: number; p95: number };
}

export interface UsageReport {
  from: string;
  to: string;
  groupBy: UsageGroup[];
  data: UsageRow[];
}
