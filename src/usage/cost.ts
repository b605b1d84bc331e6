/** Cost of a call from a provider's `prices` (USD per million tokens, per model or `*`). */
import type { Price } from '../providers/types.js';

export function priceFor(prices: Record<string, Price>, model: string): Price | undefined {
  return Object.hasOwn(prices, model) ? prices[model] : prices['*'];
}

export function costUsd(prices: Record<string, Price>, model: string, inputTokens: number, outputTokens: number): number {
  const p = priceFor(prices, model);
  if (!p) return 0;
  return (inputTokens * p.input + outputTokens * p.output) / 1_000_000;
}
