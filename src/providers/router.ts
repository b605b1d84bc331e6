/**
 * The router chooses among providers, nothing more: for a job's model, the enabled providers whose
 * breaker is not open, highest priority first, weighted random among equals; on a retryable error
 * it fails over to the next one within the same attempt.
 */
import { SwitchyardError } from '../errors.js';
import type { UsageRecord } from '../domain/jobs.js';
import type { TenantBudget } from '../keys/budgets.js';
import { costUsd } from '../usage/cost.js';
import { unsupportedParameter } from './capabilities.js';
import { Provider } from './provider.js';
import { Assembler, answerLimit, normalize } from './request.js';
import { estimateTokens } from './tokens.js';
import type { CallAbort, DeltaSink, LlmRequest, LlmResponse, LlmUsage } from '../domain/providers.js';

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

/**
 * The enabled providers configured for `model`. A mock never stands in for a real model: where an
 * enabled real provider serves the model, mocks are left out, so they are never a failover target
 * for it (the real provider's errors reach the job instead of a demo answer).
 */
export function servingProviders(providers: readonly Provider[], model: string | undefined): Provider[] {
  const all = providers.filter((p) => p.config.enabled && p.serves(model));
  return all.some((p) => p.config.kind !== 'mock') ? all.filter((p) => p.config.kind !== 'mock') : all;
}

/** Candidates in the order they are tried. */
export function order(providers: readonly Provider[], model: string | undefined, strategy: RoutingStrategy = 'weighted'): Provider[] {
  const serving = servingProviders(providers, model);
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

/** A stream broke after its first piece was passed on: no failover, no retry (the client has part of an answer). */
function interrupted(err: unknown): unknown {
  const e = err as { code?: string; message?: string; detail?: string };
  if (!(err instanceof SwitchyardError)) return err;
  const broken = new SwitchyardError(err.code, `${e.message ?? 'the stream failed'} (after the answer had begun streaming: not retried)`, {
    cause: err,
    ...(e.detail !== undefined && { detail: e.detail }),
  });
  (broken as { retryable: boolean }).retryable = false;
  return broken;
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
   * The first parameter of `req` that no enabled provider serving its model can carry, or
   * undefined when one can (requests are refused with it at submit, before any call).
   */
  unsupported(req: LlmRequest): string | undefined {
    let refused: string | undefined;
    for (const p of servingProviders(this.providers(), req.model)) {
      const param = unsupportedParameter(p.config.kind, req);
      if (param === undefined) return undefined;
      refused ??= param;
    }
    return refused;
  }

  /**
   * Make one LLM call for an attempt; every provider call made is appended to `calls`. With a
   * `budget`, each provider call first reserves its worst case against it (throws
   * SWY_BUDGET_EXCEEDED). With `onDelta` the call streams: failover stays possible until the first
   * piece of the answer has been passed on, and a stream that breaks after that ends the call
   * with a non-retryable error (its usage still recorded, estimated from what arrived).
   */
  async call(req: LlmRequest, abort: CallAbort, calls: UsageRecord[], budget?: TenantBudget, onDelta?: DeltaSink): Promise<LlmResponse> {
    const serving = order(this.providers(), req.model, this.strategy);
    const candidates = serving.filter((p) => unsupportedParameter(p.config.kind, req) === undefined);
    if (candidates.length === 0) {
      if (serving.length > 0) {
        const param = unsupportedParameter((serving[0] as Provider).config.kind, req) as string;
        throw new SwitchyardError(
          'SWY_UNSUPPORTED_PARAMETER',
          `no provider serving model ${req.model ?? '(default)'} can carry the parameter ${param}`,
        );
      }
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
        const prompt = estimateTokens(req.messages, req.tools);
        const answer = answerLimit(req) ?? this.reserveTokens;
        hold = await budget.reserve(prompt + answer, costUsd(p.config, model, { inputTokens: prompt, outputTokens: answer }) ?? 0);
      }
      const started = performance.now();
      const received = onDelta ? new Assembler() : undefined;
      const gate: DeltaSink | undefined =
        onDelta &&
        ((d) => {
          received?.add(d);
          onDelta(d);
        });
      try {
        const res = await p.call(normalize(req, model), abort, tokens, gate);
        const record = this.record(calls, p, res.model, started, null, res.usage);
        hold?.settle(record.inputTokens + record.outputTokens, record.costUsd);
        return res;
      } catch (err) {
        const e = err as { code?: string; retryable?: boolean };
        if (received?.started) {
          // Part of the answer reached the client: what it cost is estimated from what arrived.
          const usage = {
            inputTokens: estimateTokens(req.messages, req.tools),
            outputTokens: Math.ceil(received.size / 4),
            estimated: true,
          };
          const record = this.record(calls, p, model, started, abort.aborted ? 'SWY_CANCELLED' : (e.code ?? 'SWY_PROVIDER_NETWORK'), usage);
          hold?.settle(record.inputTokens + record.outputTokens, record.costUsd);
          throw abort.aborted ? abort.reason : interrupted(err);
        }
        hold?.settle(0, 0);
        if (abort.aborted) throw abort.reason;
        if (e.code === 'SWY_PROVIDER_BREAKER_OPEN') {
          earliestReopen = Math.min(earliestReopen, p.reopensAt() ?? Infinity);
        } else {
          this.record(calls, p, model, started, e.code ?? 'SWY_PROVIDER_NETWORK', { inputTokens: 0, outputTokens: 0 });
        }
        lastError = err;
        if (e.retryable !== true) throw err;
        this.observer.onFailover(p.name, candidates.slice(i + 1).find((c) => c.acceptsCalls(tokens))?.name);
      }
    }
    if (lastError && (lastError as { code?: string }).code !== 'SWY_PROVIDER_BREAKER_OPEN') throw lastError;
    const wait = Number.isFinite(earliestReopen) ? Math.max(0, earliestReopen - Date.now()) : undefined;
    throw new SwitchyardError(
      'SWY_NO_PROVIDER_AVAILABLE',
      `every provider serving model ${req.model ?? '(default)'} is unavailable (paused, breaker open, misconfigured or at its limit)`,
      wait === undefined ? {} : { retryAfterMs: wait },
    );
  }

  private record(
    calls: UsageRecord[],
    p: Provider,
    model: string,
    started: number,
    errorCode: string | null,
    usage: LlmUsage,
  ): UsageRecord {
    const record: UsageRecord = {
      provider: p.name,
      model,
      outcome: errorCode === null ? 'ok' : 'error',
      errorCode,
      latencyMs: Math.round(performance.now() - started),
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      costUsd: 0,
    };
    const cost = costUsd(p.config, model, usage);
    if (cost === null) record.unpriced = true;
    else record.costUsd = cost;
    if (usage.cacheReadTokens) record.cacheReadTokens = usage.cacheReadTokens;
    if (usage.cacheWriteTokens) record.cacheWriteTokens = usage.cacheWriteTokens;
    if (usage.estimated) record.estimated = true;
    calls.push(record);
    this.observer.onCall(record);
    return record;
  }
}
