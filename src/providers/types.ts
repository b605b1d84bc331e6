/** Provider configuration and the normalised request/response every adapter speaks. */

export type ProviderKind = 'openai' | 'anthropic' | 'mock';
export const PROVIDER_KINDS: readonly ProviderKind[] = ['openai', 'anthropic', 'mock'];

/** USD per million tokens. */
export interface Price {
  input: number;
  output: number;
}

/** Breaker settings (opossum). Defaults never trip on a single failure. */
export interface BreakerSettings {
  /** Failure percentage over the rolling window that opens the breaker. @default 50 */
  errorThresholdPercentage: number;
  /** Calls in the window before the failure rate counts. @default 5 */
  volumeThreshold: number;
  /** How long the breaker stays open before a half-open probe, ms. @default 30000 */
  resetTimeoutMs: number;
  /** Length of the rolling window, ms. @default 10000 */
  rollingWindowMs: number;
}

/** A provider as stored and as configured through the API. `apiKey` is never returned. */
export interface ProviderConfig {
  name: string;
  kind: ProviderKind;
  baseUrl: string | null;
  apiKey: string | null;
  /** Model names served, or `["*"]` for any. */
  models: string[];
  /** Aliases: a job's model name → this provider's name for it (served even if not in `models`). */
  modelMap: Record<string, string>;
  /** Higher is tried first. */
  priority: number;
  /** Share among providers of equal priority. */
  weight: number;
  enabled: boolean;
  /** Per-call limit, ms. */
  timeoutMs: number;
  maxConcurrency: number;
  rpm: number | null;
  tpm: number | null;
  breaker: BreakerSettings;
  /** Per model name or `*`. */
  prices: Record<string, Price>;
  /**
   * Kind-specific: for `mock`, `latencyMs`, `jitterMs`, `failRate`; for `openai` and `anthropic`,
   * `headers`; for `anthropic`, `maxTokens` (its API requires one) and `version`.
   */
  options: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

/**
 * What the API returns for a provider: the config without its secrets, plus live state. The key
 * and header values are write-only: `hasApiKey` and `secretHeaders` (the header names) say what is set.
 */
export type PublicProvider = Omit<ProviderConfig, 'apiKey'> & { hasApiKey: boolean; secretHeaders: string[]; state: ProviderState };

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface ProviderState {
  breaker: BreakerState;
  healthy: boolean;
  inFlight: number;
  lastError: { code: string; message: string; at: string } | null;
  /** Paused by a 429 with Retry-After until this time, if in the future. */
  pausedUntil: string | null;
  /** It rejected its credentials: it takes no calls until its config changes or a probe passes. */
  misconfigured: boolean;
  /** Calls made since this config took effect. */
  calls: number;
  /** Share of recent calls that succeeded (moving average, 0–1; 1 before any call). */
  successRate: number;
  /** Moving average of successful calls' latency, ms (null before any). */
  latencyMs: number | null;
}

/** The answer of an active health probe. */
export interface ProbeResult {
  ok: boolean;
  latencyMs: number;
  error: { code: string; message: string } | null;
  state: ProviderState;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
}

/** The normalised request a handler sends through `ctx.llm()`. */
export interface LlmRequest {
  messages: ChatMessage[];
  model?: string;
  temperature?: number;
  maxTokens?: number;
  /** Ask for JSON output matching this schema. */
  responseSchema?: Record<string, unknown>;
}

/** The normalised answer of every adapter. */
export interface LlmResponse {
  text: string;
  finishReason: string;
  model: string;
  provider: string;
  usage: { inputTokens: number; outputTokens: number };
}

/**
 * What aborts a provider call: an attempt (timeout, cancel, shutdown) or a probe's timeout. Code
 * that only needs to know checks `aborted` or listens with `onAbort`; `signal` is for what needs
 * an AbortSignal (an HTTP request): an attempt builds its signal only when that is first read
 * (see LazyAbort).
 */
export interface CallAbort {
  readonly aborted: boolean;
  readonly reason: unknown;
  readonly signal: AbortSignal;
  /** Call `fn` once when aborted, or at once if it is. */
  onAbort(fn: () => void): void;
  offAbort(fn: () => void): void;
}

/** A CallAbort over an existing AbortSignal. */
export function signalAbort(signal: AbortSignal): CallAbort {
  return {
    get aborted() { return signal.aborted; },
    get reason(): unknown { return signal.reason; },
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

/** What every provider of an engine shares: the bound on answers and where calls may go. */
export interface ProviderEnv {
  /** Largest answer body, bytes (SWITCHYARD_MAX_OUTPUT_BYTES). */
  maxOutputBytes: number;
  hosts: import('./addresses.js').HostPolicy;
}

/** What an adapter implements: one call, abortable. Errors are SwitchyardErrors with provider codes. */
export interface Adapter {
  chat(request: LlmRequest & { model: string }, abort: CallAbort): Promise<Omit<LlmResponse, 'provider'>>;
  close(): Promise<void>;
}

