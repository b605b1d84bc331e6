/** Provider configuration and the normalised request/response every adapter speaks. */
import type { AssistantMessage, ChatDelta, ChatMessage, ChatParams, ChoiceLogprobs } from './chat.js';

export type ProviderKind = 'openai' | 'anthropic' | 'gemini' | 'azure' | 'bedrock' | 'mock';
export const PROVIDER_KINDS: readonly ProviderKind[] = ['openai', 'anthropic', 'gemini', 'azure', 'bedrock', 'mock'];

/** USD per million tokens. Cached prompt tokens are priced as input unless their own prices are set. */
export interface Price {
  input: number;
  output: number;
  /** Prompt tokens read from the provider's cache. */
  cacheRead?: number;
  /** Prompt tokens written to the provider's cache. */
  cacheWrite?: number;
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
  /**
   * Set by the providers file or `createEngine({ providers })` (`config`) or the environment (`env`) on every start, which then
   * override what the API changed; `null` for a provider added through the API (docs/providers.md).
   */
  managedBy: 'config' | 'env' | null;
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
  /** When an open breaker lets a probe through (half-open), or null when it is not open. */
  halfOpenAt: string | null;
  /**
   * Calls this process started and tokens it counted against `rpm` and `tpm` in the last 60 s:
   * the headroom is the limit less these. Counted only when the provider has an `rpm` or `tpm`.
   */
  lastMinute: { requests: number; tokens: number };
}

/** The answer of an active health probe. */
export interface ProbeResult {
  ok: boolean;
  latencyMs: number;
  error: { code: string; message: string } | null;
  state: ProviderState;
}

export type { ChatMessage } from './chat.js';

/**
 * The request a handler sends through `ctx.llm()`: a Chat Completions request by OpenAI's names
 * (`messages` as OpenAI writes them: text or content parts, tool calls and tool results), with
 * two shorthands kept from earlier versions: `maxTokens` (max_tokens) and `responseSchema` (a
 * `json_schema` response format).
 */
export interface LlmRequest extends ChatParams {
  messages: ChatMessage[];
  model?: string;
  /** Same as `max_tokens`. */
  maxTokens?: number;
  /** Ask for JSON matching this schema (same as `response_format: {type: "json_schema", …}`). */
  responseSchema?: Record<string, unknown>;
}

/** What a call used. Token counts are the provider's, or estimated when it reported none (`estimated`). */
export interface LlmUsage {
  inputTokens: number;
  outputTokens: number;
  /** Prompt tokens read from the provider's cache (OpenAI `cached_tokens`, Anthropic `cache_read_input_tokens`). */
  cacheReadTokens?: number;
  /** Prompt tokens written to the provider's cache (Anthropic `cache_creation_input_tokens`). */
  cacheWriteTokens?: number;
  /** Of `cacheWriteTokens`, those written to Anthropic's 1-hour cache (`cache_creation.ephemeral_1h_input_tokens`). */
  cacheWrite1hTokens?: number;
  /** Output tokens spent thinking (reasoning models), included in `outputTokens`. */
  reasoningTokens?: number;
  /** The provider reported no usage (a stream without a usage chunk): the counts are estimates. */
  estimated?: boolean;
}

/** The normalised answer of every adapter: the assistant's whole message and what it cost. */
export interface LlmResponse {
  /** The message's text (`''` when it has none, e.g. only tool calls). */
  text: string;
  /** The assistant message as OpenAI writes it: content, `tool_calls`, `refusal`. */
  message: AssistantMessage;
  /** `stop`, `length`, `tool_calls`, `content_filter`. */
  finishReason: string;
  logprobs?: ChoiceLogprobs | null;
  model: string;
  provider: string;
  usage: LlmUsage;
}

/** Receives an answer's pieces as they stream; never called for an answer that is not streamed. */
export type DeltaSink = (delta: ChatDelta) => void;

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

/**
 * What an adapter implements: one call, abortable, normalised (see request.ts). With `onDelta` the
 * call streams: each piece goes to it as it arrives, and the promise resolves with the whole
 * answer. Errors are SwitchyardErrors with provider codes.
 */
export interface Adapter {
  chat(request: NormalRequest, abort: CallAbort, onDelta?: DeltaSink): Promise<Omit<LlmResponse, 'provider'>>;
  close(): Promise<void>;
}

/** A request with its shorthands resolved and its model chosen: what adapters receive. */
export type NormalRequest = Omit<LlmRequest, 'maxTokens' | 'responseSchema' | 'max_completion_tokens' | 'model'> & { model: string };
