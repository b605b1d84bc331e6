/**
 * The router chooses among providers, nothing more: for a job's model, the enabled providers whose
 * breaker is not open, highest priority first, weighted random among equals; on a retryable error
 * it fails over to the next one within the same attempt.
 */
import { SwitchyardError } from '../errors.js';
import type { UsageRecord } from '../jobs/types.js';
import type { TenantBudget } from '../keys/budgets.js';
import { costUsd } from '../usage/cost.js';
import { Provider } from './provider.js';
import { estimateTokens } from './tokens.js';
import type { CallAbort, LlmRequest, LlmResponse } from './types.js';

/** Observers of each call (usage accounting, metrics). */
export interface CallObserver {
  onCall(record: UsageRecord): void;
  onFailover(from: string, to: string | undefined): void;
}

/** Weighted random order (Efraimidis–Spirakis keys): a provider of weight w is first w times as often. */
function weightedShuffle(group: Provider[]): Provider[] {
  return group
    .map((p) => ({ p, key: p.config.weight > 0 ? Math.random() ** (1 / p.config.weight) : -1 }))
    .sort((a, b) => b.key - a.key)
    .map((x) => x.p);
}

/** Among equal priority: fewest calls in flight first, then the higher weight. */
function leastInFlight(group: Provider[]): Provider[] {
  return [...group].sort((a, b) => a.inFlightCalls - b.inFlightCalls || b.config.weight - a.config.weight);
}

/** How the router orders providers of equal priority. */
export type RoutingStrategy = 'weighted' | 'least-inflight';

/** Candidates in the order they are tried. */
export function order(providers: readonly Provider[], model: string | undefined, strategy: RoutingStrategy = 'weighted'): Provider[] {
  const serving = providers.filter((p) => p.config.enabled && p.serves(model));
  if (serving.length < 2) return serving;
  const byPriority = new Map<number, Provider[]>();
  for (const p of serving) {
    const g = byPriority.get(p.config.priority);
    if (g) g.push(p);
    else byPriority.set(p.config.priority, [p]);
  }
  const within = strategy === 'least-inflight' ? leastInFlight : weightedShuffle;
  return [...byPriority.keys()].sort((a, b) => b - a).flatMap((k) => within(byPriority.get(k) as Provider[]));
}

export class Router {
  /**
   * `reserveTokens`: the answer's size a budget reserves for a call that sets no `maxTokens`
   * (budgetReserveTokens).
   */
  constructor(
    private readonly providers: () => readonly Provider[],
    private readonly observer: CallObserver,
    private readonly strategy: RoutingStrategy = 'weighted',
    private readonly reserveTokens = 4096,
  ) {}

  /**
   * Make one LLM call for an attempt; every provider call made is appended to `calls`. With a
   * `budget`, each provider call first reserves its worst case against it (throws SWY_BUDGET_EXCEEDED).
   */
  async call(req: LlmRequest, abort: CallAbort, calls: UsageRecord[], budget?: TenantBudget): Promise<LlmResponse> {
    const candidates = order(this.providers(), req.model, this.strategy);
    if (candidates.length === 0) {
      throw new SwitchyardError('SWY_NO_PROVIDER', `no enabled provider serves model ${req.model ?? '(default)'}`);
    }
    let lastError: unknown;
    let earliestReopen = Infinity;
    const tokens = Provider.estimate(req);
    for (let i = 0; i < candidates.length; i++) {
      const p = candidates[i] as Provider;
      if (!p.acceptsCalls(tokens)) {
        earliestReopen = Math.min(earliestReopen, p.reopensAt(tokens) ?? Infinity);
        continue;
      }
      const model = p.modelFor(req.model);
      let hold: Awaited<ReturnType<TenantBudget['reserve']>> | undefined;
      if (budget) {
        const prompt = estimateTokens(req.messages);
        const answer = req.maxTokens ?? this.reserveTokens;
        hold = await budget.reserve(prompt + answer, costUsd(p.config.prices, model, prompt, answer));
      }
      const started = performance.now();
      try {
        const res = await p.call({ ...req, model }, abort, tokens);
        const record = this.record(calls, p, res.model, started, null, res.usage.inputTokens, res.usage.outputTokens);
        hold?.settle(record.inputTokens + record.outputTokens, record.costUsd);
        return res;
      } catch (err) {
        hold?.settle(0, 0);
        if (abort.aborted) throw abort.reason;
        const e = err as { code?: string; retryable?: boolean };
        if (e.code === 'SWY_PROVIDER_UNAVAILABLE') {
          earliestReopen = Math.min(earliestReopen, p.reopensAt() ?? Infinity);
        } else {
          this.record(calls, p, model, started, e.code ?? 'SWY_PROVIDER_NETWORK', 0, 0);
        }
        lastError = err;
        if (e.retryable !== true) throw err;
        this.observer.onFailover(p.name, candidates.slice(i + 1).find((c) => c.acceptsCalls(tokens))?.name);
      }
    }
    if (lastError && (lastError as { code?: string }).code !== 'SWY_PROVIDER_UNAVAILABLE') throw lastError;
    const wait = Number.isFinite(earliestReopen) ? Math.max(0, earliestReopen - Date.now()) : undefined;
    throw new SwitchyardError(
      'SWY_PROVIDERS_UNAVAILABLE',
      `every provider serving model ${req.model ?? '(default)'} is unavailable (paused, breaker open, misconfigured or at its limit)`,
      wait === undefined ? {} : { retryAfterMs: wait },
    );
  }

  private record(
    calls: UsageRecord[], p: Provider, model: string, started: number,
    errorCode: string | null, inputTokens: number, outputTokens: number,
  ): UsageRecord {
    const record: UsageRecord = {
      provider: p.name,
      model,
      outcome: errorCode === null ? 'ok' : 'error',
      errorCode,
      latencyMs: Math.round(performance.now() - started),
      inputTokens,
      outputTokens,
      costUsd: costUsd(p.config.prices, model, inputTokens, outputTokens),
    };
    calls.push(record);
    this.observer.onCall(record);
    return record;
  }
}
