/**
 * One provider, one actor: it owns its adapter, its breaker (opossum) and its in-flight count.
 * The router only asks it whether it takes calls and hands it one.
 */
import CircuitBreaker from 'opossum';
import { SwitchyardError } from '../errors.js';
import { AnthropicAdapter } from './anthropic.js';
import { AzureAdapter } from './azure.js';
import { BedrockAdapter } from './bedrock.js';
import { GeminiAdapter } from './gemini.js';
import { MockAdapter, mockOptions } from './mock.js';
import { Limiter } from './limiter.js';
import type { Allowance } from './shared-limits.js';
import { OpenAIAdapter } from './openai.js';
import { answerLimit } from './request.js';
import { estimateTokens } from './tokens.js';
import type {
  Adapter,
  BreakerState,
  CallAbort,
  DeltaSink,
  LlmRequest,
  LlmResponse,
  NormalRequest,
  ProbeResult,
  ProviderConfig,
  ProviderState,
} from '../domain/providers.js';
import type { ProviderEnv } from './env.js';

const DEFAULT_MODELS = {
  openai: 'gpt-4o-mini',
  anthropic: 'claude-3-5-haiku-latest',
  gemini: 'gemini-2.5-flash',
  azure: 'gpt-4o-mini',
  bedrock: 'anthropic.claude-3-5-haiku-20241022-v1:0',
  mock: 'mock-1',
} as const;

type Call = (req: NormalRequest, abort: CallAbort, onDelta?: DeltaSink) => Promise<Omit<LlmResponse, 'provider'>>;

function createAdapter(config: ProviderConfig, env: ProviderEnv): Adapter {
  switch (config.kind) {
    case 'mock':
      return new MockAdapter(mockOptions(config.options), env.maxOutputBytes);
    case 'openai':
      return new OpenAIAdapter(config, env);
    case 'anthropic':
      return new AnthropicAdapter(config, env);
    case 'gemini':
      return new GeminiAdapter(config, env);
    case 'azure':
      return new AzureAdapter(config, env);
    case 'bedrock':
      return new BedrockAdapter(config, env);
  }
}

/**
 * Errors that must not count against the breaker: the job's own abort, a bad request (the
 * request's fault), and a 429 with Retry-After (the provider said how long to pause; it is paused
 * for exactly that long instead).
 */
function isNotProviderFault(err: unknown, _req: unknown, abort: CallAbort): boolean {
  if (abort.aborted) return true;
  const e = err as { code?: string; retryAfterMs?: number };
  if (e.code === 'SWY_PROVIDER_BAD_REQUEST') return true;
  return e.code === 'SWY_PROVIDER_RATE_LIMITED' && e.retryAfterMs !== undefined;
}

export class Provider {
  readonly config: ProviderConfig;
  private readonly env: ProviderEnv;
  private readonly adapter: Adapter;
  private readonly breaker: CircuitBreaker<Parameters<Call>, Awaited<ReturnType<Call>>>;
  private inFlight = 0;
  private lastError: ProviderState['lastError'] = null;
  private retired = false;
  private openedAt = 0;
  private pausedUntil = 0;
  private misconfigured = false;
  /** Half-open, waiting to hear whether this process sends the probe (see gateProbe). */
  private held = false;
  private readonly limiter: Limiter;
  /** This process's share of limits kept with other processes, when they are. */
  private readonly allowance: Allowance | undefined;
  private calls = 0;
  private successEwma = 1;
  private latencyEwma: number | null = null;

  /** `refused`: why its URL may not be called (a configuration stored before the rule); it then takes no calls. */
  constructor(
    config: ProviderConfig,
    env: ProviderEnv,
    private readonly onState: (p: Provider) => void,
    refused?: string,
  ) {
    this.config = config;
    this.adapter = createAdapter(config, env);
    if (refused !== undefined) {
      this.misconfigured = true;
      this.lastError = { code: 'SWY_PROVIDER_ADDRESS_FORBIDDEN', message: refused, at: new Date().toISOString() };
    }
    this.limiter = new Limiter(config.rpm, config.tpm);
    this.allowance = env.shared?.register(config);
    this.env = env;
    const b = config.breaker;
    this.breaker = new CircuitBreaker<Parameters<Call>, Awaited<ReturnType<Call>>>(
      (req, abort, onDelta) => this.adapter.chat(req, abort, onDelta),
      {
        timeout: false, // the adapter aborts its own call at the provider's timeoutMs
        errorThresholdPercentage: b.errorThresholdPercentage,
        volumeThreshold: b.volumeThreshold,
        resetTimeout: b.resetTimeoutMs,
        rollingCountTimeout: b.rollingWindowMs,
        rollingCountBuckets: 10,
        // Health uses its own moving averages, not opossum's latency percentiles. With them on, every
        // failure (and every snapshot) concatenates and sorts the latencies of the whole window:
        // 7.3 ms per failure after 100,000 calls (benchmarks/breaker-stats.mjs), so a failure storm
        // after busy traffic would stall the main thread.
        rollingPercentilesEnabled: false,
        enableSnapshots: false,
        // opossum passes the call's arguments after the error; its typings only declare the error.
        errorFilter: isNotProviderFault as (err: unknown) => boolean,
      },
    );
    this.breaker.on('open', () => {
      this.openedAt = Date.now();
      this.onState(this);
    });
    this.breaker.on('halfOpen', () => {
      this.onState(this);
      this.gateProbe();
    });
    this.breaker.on('close', () => this.onState(this));
  }

  get name(): string {
    return this.config.name;
  }

  /** The model to send when a job names none. */
  get defaultModel(): string {
    const configured = this.config.options.defaultModel;
    if (typeof configured === 'string') return configured;
    const first = this.config.models[0];
    if (first && !first.endsWith('*')) return first;
    return DEFAULT_MODELS[this.config.kind];
  }

  /**
   * Whether this provider is configured for `model`. An entry ending in `*` matches by prefix (`*`
   * alone matches any model), except that `mock-*` models belong to mock providers: a real
   * provider's wildcard never covers them. (The router also keeps mocks away from any model a real
   * provider serves: see `order()`.)
   */
  serves(model: string | undefined): boolean {
    if (model === undefined || Object.hasOwn(this.config.modelMap, model)) return true;
    const reserved = this.config.kind !== 'mock' && model.startsWith('mock-');
    for (const m of this.config.models) {
      if (m === model) return true;
      if (m.endsWith('*') && !reserved && model.startsWith(m.slice(0, -1))) return true;
    }
    return false;
  }

  /** This provider's name for a job's model (its alias, if it has one). */
  modelFor(model: string | undefined): string {
    if (model === undefined) return this.defaultModel;
    return Object.hasOwn(this.config.modelMap, model) ? (this.config.modelMap[model] as string) : model;
  }

  get inFlightCalls(): number {
    return this.inFlight;
  }

  get breakerState(): BreakerState {
    if (this.breaker.opened) return 'open';
    if (this.breaker.halfOpen) return 'half-open';
    return 'closed';
  }

  /**
   * Whether a call estimated at `tokens` would be attempted now: enabled, configured, not paused,
   * breaker not open, below its concurrency, rpm and tpm.
   */
  acceptsCalls(tokens = 0): boolean {
    return (
      this.config.enabled &&
      !this.retired &&
      !this.misconfigured &&
      !this.breaker.opened &&
      !this.held &&
      this.pausedUntil <= Date.now() &&
      this.inFlight < this.config.maxConcurrency &&
      this.limiter.allows(tokens) &&
      (this.allowance?.allows(tokens) ?? true)
    );
  }

  /** When this provider may take such a call again (epoch ms), if that time is known. */
  reopensAt(tokens = 0): number | undefined {
    const times: number[] = [];
    if (this.breaker.opened) times.push(this.openedAt + this.config.breaker.resetTimeoutMs);
    // Asking whose turn the probe is: the answer wakes the scheduler; this is the fallback.
    if (this.held) times.push(Date.now() + 250);
    if (this.pausedUntil > Date.now()) times.push(this.pausedUntil);
    if (this.allowance && !this.allowance.fits(tokens)) times.push(this.allowance.reopensAt());
    const free = this.limiter.freeAt(tokens);
    // Calls in flight may settle below their reservation and free room sooner: look again soon.
    if (free !== undefined) times.push(this.inFlight > 0 ? Math.min(free, Date.now() + 250) : free);
    return times.length ? Math.max(...times) : undefined;
  }

  /** Tokens a request may use: its prompt, plus its answer's limit (or a typical answer). */
  static estimate(req: LlmRequest): number {
    return estimateTokens(req.messages, req.tools) + (answerLimit(req) ?? 256);
  }

  /**
   * One call through the breaker; `tokens` is the request's estimate when the caller has it
   * already. With `onDelta` the call streams.
   */
  async call(req: NormalRequest, abort: CallAbort, tokens = Provider.estimate(req), onDelta?: DeltaSink): Promise<LlmResponse> {
    this.inFlight++;
    const reservation = this.limiter.take(tokens);
    this.allowance?.take(tokens);
    let used = tokens;
    const started = performance.now();
    try {
      const res = await this.breaker.fire(req, abort, onDelta);
      used = res.usage.inputTokens + res.usage.outputTokens;
      this.limiter.settle(reservation, used);
      this.observe(true, performance.now() - started);
      // Adapters answer with a fresh object: naming the provider on it saves a copy per call.
      const answer = res as LlmResponse;
      answer.provider = this.config.name;
      return answer;
    } catch (err) {
      const e =
        (err as { code?: string }).code === 'EOPENBREAKER'
          ? new SwitchyardError('SWY_PROVIDER_BREAKER_OPEN', `${this.config.name}: breaker is open`)
          : err;
      if (!abort.aborted) {
        if ((e as { code?: string }).code !== 'SWY_PROVIDER_BREAKER_OPEN') this.observe(false, 0);
        this.noteError(e as { code?: string; message?: string; retryAfterMs?: number });
      }
      throw e;
    } finally {
      this.inFlight--;
      this.allowance?.settle(tokens, used);
      if (this.retired && this.inFlight === 0) void this.dispose();
    }
  }

  /**
   * With other processes: the breaker just went half-open, and only one process may send the trial
   * call. Hold calls until the database says whose turn it is; on losing, open again (the winner's
   * success closes this breaker too, through the cluster; its failure leaves it for the next round).
   */
  private gateProbe(): void {
    const turn = this.env.probeTurn;
    if (!turn) return;
    this.held = true;
    const settle = (mine: boolean) => {
      this.held = false;
      if (!mine && this.breaker.halfOpen) this.breaker.open();
      this.onState(this);
    };
    // When the database cannot say, the probe is sent from here.
    turn(this.config.name, this.config.breaker.resetTimeoutMs).then(settle, () => settle(true));
  }

  /** Another process's probe succeeded: close this breaker too. */
  closeBreaker(): void {
    if (!this.breaker.closed) this.breaker.close();
  }

  /** Passive health: moving averages of success and latency (weights favour the last ~10 calls). */
  private observe(ok: boolean, latencyMs: number): void {
    this.calls++;
    this.successEwma = this.successEwma * 0.9 + (ok ? 0.1 : 0);
    if (ok) this.latencyEwma = this.latencyEwma === null ? latencyMs : this.latencyEwma * 0.8 + latencyMs * 0.2;
  }

  /**
   * Active health check: one tiny call straight to the adapter (past the breaker and limits).
   * Success clears a misconfiguration and closes an open breaker; failure is recorded.
   */
  async probe(): Promise<ProbeResult> {
    const started = performance.now();
    try {
      await this.adapter.chat(
        { messages: [{ role: 'user', content: 'ping' }], model: this.defaultModel, max_tokens: 1 },
        signalAbort(AbortSignal.timeout(this.config.timeoutMs)),
      );
      const changed = this.misconfigured || !this.breaker.closed;
      this.misconfigured = false;
      if (!this.breaker.closed) this.breaker.close();
      if (changed) this.onState(this);
      return { ok: true, latencyMs: Math.round(performance.now() - started), error: null, state: this.state() };
    } catch (err) {
      const e = err as { code?: string; message?: string; retryAfterMs?: number };
      this.noteError(e);
      return {
        ok: false,
        latencyMs: Math.round(performance.now() - started),
        error: { code: e.code ?? 'SWY_PROVIDER_NETWORK', message: e.message ?? String(err) },
        state: this.state(),
      };
    }
  }

  /** Whether an active probe is worth making: its breaker is open or it is misconfigured. */
  get needsProbe(): boolean {
    return this.config.enabled && !this.retired && (this.breaker.opened || this.misconfigured);
  }

  /** Operators see what the upstream said (`detail`); jobs and tenants only ever see the code and status. */
  private noteError(e: { code?: string; message?: string; retryAfterMs?: number; detail?: string }): void {
    const message = e.detail === undefined ? (e.message ?? String(e)) : `${e.message ?? ''}: ${e.detail}`;
    this.lastError = { code: e.code ?? 'SWY_PROVIDER_NETWORK', message, at: new Date().toISOString() };
    if (e.code === 'SWY_PROVIDER_RATE_LIMITED' && e.retryAfterMs !== undefined) {
      this.pausedUntil = Math.max(this.pausedUntil, Date.now() + e.retryAfterMs);
      this.onState(this);
    } else if ((e.code === 'SWY_PROVIDER_AUTH' || e.code === 'SWY_PROVIDER_ADDRESS_FORBIDDEN') && !this.misconfigured) {
      this.misconfigured = true;
      this.onState(this);
    }
  }

  /** Pause until `until` (epoch ms), as another process was told by a 429 with Retry-After. */
  pauseUntil(until: number): void {
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    this.onState(this);
  }

  state(): ProviderState {
    const breaker = this.breakerState;
    const paused = this.pausedUntil > Date.now();
    return {
      breaker,
      healthy: this.config.enabled && breaker === 'closed' && !paused && !this.misconfigured,
      inFlight: this.inFlight,
      lastError: this.lastError,
      pausedUntil: paused ? new Date(this.pausedUntil).toISOString() : null,
      misconfigured: this.misconfigured,
      calls: this.calls,
      successRate: Math.round(this.successEwma * 1000) / 1000,
      latencyMs: this.latencyEwma === null ? null : Math.round(this.latencyEwma),
      halfOpenAt: breaker === 'open' ? new Date(this.openedAt + this.config.breaker.resetTimeoutMs).toISOString() : null,
      lastMinute: this.limiter.used(),
    };
  }

  /** Stop taking calls; release the adapter once the calls in flight have finished. */
  retire(): void {
    this.retired = true;
    if (this.allowance) this.env.shared?.unregister(this.allowance);
    if (this.inFlight === 0) void this.dispose();
  }

  private async dispose(): Promise<void> {
    this.breaker.shutdown();
    await this.adapter.close();
  }
}

/** A CallAbort over an existing AbortSignal. */
export function signalAbort(signal: AbortSignal): CallAbort {
  return {
    get aborted() {
      return signal.aborted;
    },
    get reason(): unknown {
      return signal.reason;
    },
    signal,
    onAbort(fn) {
      if (signal.aborted) fn();
      else signal.addEventListener('abort', fn, { once: true });
    },
    offAbort(fn) {
      signal.removeEventListener('abort', fn);
    },
  };
}
