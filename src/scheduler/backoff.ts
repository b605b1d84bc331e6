/** Retry delays: exponential backoff with full jitter, never shorter than a provider's Retry-After. */

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

/** Delay before the attempt after `attempt` (1-based), ms. */
export function retryDelay(attempt: number, opts: BackoffOptions, retryAfterMs?: number, random = Math.random): number {
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  return retryAfterMs === undefined ? jittered : Math.max(jittered, Math.ceil(retryAfterMs));
}
