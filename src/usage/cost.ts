/** Cost of a call from a provider's `prices` (USD per million tokens, per model or `*`). */
import type { Price } from '../domain/providers.js';

export function priceFor(prices: Record<string, Price>, model: string): Price | undefined {
  return Object.hasOwn(prices, model) ? prices[model] : prices['*'];
}

/**
 * USD of a call. `inputTokens` is the whole prompt; the part of it read from or written to the
 * provider's cache is priced at `cacheRead` / `cacheWrite` when those are set (else as input).
 */
export function costUsd(
  prices: Record<string, Price>,
  model: string,
  inputTokens: number,
  outputTokens: number,
  cacheReadTokens = 0,
  cacheWriteTokens = 0,
): number {
  const p = priceFor(prices, model);
  if (!p) return 0;
  const plain = inputTokens - cacheReadTokens - cacheWriteTokens;
  return (
    (plain * p.input +
      cacheReadTokens * (p.cacheRead ?? p.input) +
      cacheWriteTokens * (p.cacheWrite ?? p.input) +
      outputTokens * p.output) /
    1_000_000
  );
}
