/**
 * Cost of a call: from the provider's own `prices` (USD per million tokens, per model or `*`) when
 * it has one for the model, else from the price catalogue (@pydantic/genai-prices, bundled, so no
 * network at run time). A model found in neither has no cost: `null` ("unpriced"), never $0.
 */
import { calcPrice, type ModelPrice, type TieredPrices } from '@pydantic/genai-prices';
import type { Price, ProviderKind } from '../domain/providers.js';

/** What a call used, as priced. `inputTokens` is the whole prompt, cache reads and writes included. */
export interface PricedUsage {
  inputTokens: number;
  outputTokens: number;
  /** Prompt tokens read from the provider's cache. */
  cacheReadTokens?: number | undefined;
  /** Prompt tokens written to the provider's cache (all of them, of either lifetime). */
  cacheWriteTokens?: number | undefined;
  /** Of `cacheWriteTokens`, those written for an hour (Anthropic's 1-hour cache, priced higher). */
  cacheWrite1hTokens?: number | undefined;
}

/** Where a price is looked up: the provider's kind, its own prices and its URL. */
export interface PriceSource {
  kind: ProviderKind;
  prices: Record<string, Price>;
  baseUrl: string | null;
}

/**
 * OpenAI, Anthropic and Google price their batch APIs at half the standard rates; the catalogue
 * lists the standard ones only.
 */
export const BATCH_DISCOUNT = 0.5;

/** The catalogue's provider for each kind (an `openai` provider elsewhere than OpenAI is matched by its URL). */
const CATALOGUE_PROVIDER: Record<ProviderKind, string | undefined> = {
  openai: 'openai',
  anthropic: 'anthropic',
  gemini: 'google',
  azure: 'azure',
  bedrock: 'aws',
  mock: undefined,
};

export function priceFor(prices: Record<string, Price>, model: string): Price | undefined {
  return Object.hasOwn(prices, model) ? prices[model] : prices['*'];
}

/** USD of a call at a provider's own prices. Cache reads and writes are priced as input unless their prices are set. */
export function ownCost(p: Price, u: PricedUsage): number {
  const read = u.cacheReadTokens ?? 0;
  const write = u.cacheWriteTokens ?? 0;
  const plain = u.inputTokens - read - write;
  return (plain * p.input + read * (p.cacheRead ?? p.input) + write * (p.cacheWrite ?? p.input) + u.outputTokens * p.output) / 1_000_000;
}

/** A catalogue rate for a prompt of `prompt` tokens: tiers (long-context rates) apply to the whole call once the prompt passes their start. */
function rate(price: number | TieredPrices | undefined, prompt: number): number | undefined {
  if (price === undefined || typeof price === 'number') return price;
  let r = price.base;
  for (const tier of price.tiers) if (prompt > tier.start) r = tier.price;
  return r;
}

/** USD of a call at catalogue rates (the same arithmetic as the catalogue's own calcPrice, without its model search per call). */
export function catalogueCost(mp: ModelPrice, u: PricedUsage): number {
  const prompt = u.inputTokens;
  const input = rate(mp.input_mtok, prompt) ?? 0;
  const read = u.cacheReadTokens ?? 0;
  const write = u.cacheWriteTokens ?? 0;
  const write1h = Math.min(u.cacheWrite1hTokens ?? 0, write);
  const readRate = rate(mp.cache_read_mtok, prompt) ?? input;
  const writeRate = rate(mp.cache_write_mtok, prompt) ?? input;
  const write1hRate = rate(mp.cache_write_1h_mtok, prompt) ?? writeRate;
  const plain = prompt - read - write;
  return (
    (plain * input +
      read * readRate +
      (write - write1h) * writeRate +
      write1h * write1hRate +
      u.outputTokens * (rate(mp.output_mtok, prompt) ?? 0)) /
    1_000_000
  );
}

/** How long a catalogue answer is reused: its prices may depend on the date (introductory rates). */
const CACHE_MS = 3_600_000;
/** Most models remembered (they are the models that providers were asked for). */
const CACHE_SIZE = 10_000;
const found = new Map<string, { at: number; price: ModelPrice | null }>();

/** The catalogue's prices of `model` at the provider `source`, or null when the catalogue has none. */
export function cataloguePrice(source: Pick<PriceSource, 'kind' | 'baseUrl'>, model: string): ModelPrice | null {
  const key = `${source.kind}\n${source.baseUrl ?? ''}\n${model}`;
  const now = Date.now();
  const hit = found.get(key);
  if (hit && now - hit.at < CACHE_MS) return hit.price;
  const providerId = CATALOGUE_PROVIDER[source.kind];
  let price: ModelPrice | null = null;
  if (source.kind !== 'mock') {
    // The provider's own URL first (Groq, Together, OpenRouter... all speak `openai`), then its kind.
    const probe = { input_tokens: 1, output_tokens: 1 };
    const byUrl = source.baseUrl ? calcPrice(probe, model, { providerApiUrl: source.baseUrl }) : null;
    const byKind = byUrl ?? (providerId ? calcPrice(probe, model, { providerId }) : null);
    price = byKind?.model_price ?? null;
  }
  if (found.size >= CACHE_SIZE) found.clear();
  found.set(key, { at: now, price });
  return price;
}

/**
 * USD of a call, or null when its model has no price: the provider's own prices win, then the
 * catalogue. The mock is free unless it is given prices. `batch`: at batch rates.
 */
export function costUsd(source: PriceSource, model: string, usage: PricedUsage, batch = false): number | null {
  const own = priceFor(source.prices, model);
  let cost: number | null;
  if (own) cost = ownCost(own, usage);
  else if (source.kind === 'mock') cost = 0;
  else {
    const mp = cataloguePrice(source, model);
    cost = mp && catalogueCost(mp, usage);
  }
  return cost !== null && batch ? cost * BATCH_DISCOUNT : cost;
}
