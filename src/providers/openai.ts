/**
 * The `openai` adapter: any OpenAI-compatible `POST {baseUrl}/chat/completions` (OpenAI, vLLM,
 * Ollama, Groq, …). The request is the Chat Completions request already, so it is sent as it is;
 * streams ask for a usage chunk, and an answer that brings none is counted by estimate.
 */
import type { Agent } from 'undici';
import { SwitchyardError } from '../errors.js';
import type { AssistantMessage, ChatDelta, ChoiceLogprobs } from '../domain/chat.js';
import { callOf, postJson, postStream, providerAgent } from './http.js';
import { Assembler } from './request.js';
import { estimateTokens, textOf } from './tokens.js';
import type { Adapter, CallAbort, DeltaSink, LlmResponse, LlmUsage, NormalRequest, ProviderConfig } from '../domain/providers.js';
import type { ProviderEnv } from './env.js';

interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

interface ChatCompletion {
  model?: string;
  choices?: { message?: AssistantMessage; finish_reason?: string | null; logprobs?: ChoiceLogprobs | null }[];
  usage?: Usage | null;
}

interface ChatChunk {
  model?: string;
  choices?: { delta?: ChatDelta & { role?: string }; finish_reason?: string | null; logprobs?: ChoiceLogprobs | null }[];
  usage?: Usage | null;
  error?: { message?: string; type?: string; code?: string };
}

function usageOf(u: Usage | null | undefined): LlmUsage {
  const out: LlmUsage = { inputTokens: u?.prompt_tokens ?? 0, outputTokens: u?.completion_tokens ?? 0 };
  const cached = u?.prompt_tokens_details?.cached_tokens;
  if (cached) out.cacheReadTokens = cached;
  const reasoning = u?.completion_tokens_details?.reasoning_tokens;
  if (reasoning) out.reasoningTokens = reasoning;
  return out;
}

export class OpenAIAdapter implements Adapter {
  private readonly agent: Agent;
  protected readonly base: string;
  private readonly headers: Record<string, string>;

  constructor(
    protected readonly config: ProviderConfig,
    env: ProviderEnv,
  ) {
    if (!config.baseUrl) throw new SwitchyardError('SWY_INVALID_PROVIDER', `provider ${config.name}: baseUrl is required`);
    this.base = config.baseUrl.replace(/\/+$/, '');
    this.agent = providerAgent(config, env);
    const extra = (config.options.headers ?? {}) as Record<string, string>;
    this.headers = { ...extra, 'content-type': 'application/json', ...this.auth(config.apiKey) };
  }

  /** Where a chat call for `model` goes. */
  protected endpoint(_model: string): string {
    return `${this.base}/chat/completions`;
  }

  /** The header that carries the key. */
  protected auth(apiKey: string | null): Record<string, string> {
    return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
  }

  private post(body: NormalRequest, abort: CallAbort) {
    return callOf(this.config, this.agent, this.endpoint(body.model), this.headers, body, abort);
  }

  async chat(req: NormalRequest, abort: CallAbort, onDelta?: DeltaSink): Promise<Omit<LlmResponse, 'provider'>> {
    if (onDelta) return this.stream(req, abort, onDelta);
    const data = await postJson<ChatCompletion>(this.post(req, abort));
    const choice = data.choices?.[0];
    const message = choice?.message;
    if (!message || (typeof message.content !== 'string' && message.content !== null && message.content !== undefined)) {
      throw new SwitchyardError('SWY_PROVIDER_BAD_RESPONSE', `${this.config.name}: answer has no choices[0].message`);
    }
    if (message.content === undefined) message.content = null;
    return {
      text: textOf(message.content),
      message,
      finishReason: choice?.finish_reason ?? 'stop',
      ...(choice?.logprobs && { logprobs: choice.logprobs }),
      model: data.model ?? req.model,
      usage: usageOf(data.usage),
    };
  }

  private async stream(req: NormalRequest, abort: CallAbort, onDelta: DeltaSink): Promise<Omit<LlmResponse, 'provider'>> {
    const answer = new Assembler();
    let finishReason: string | null = null;
    let usage: Usage | null | undefined;
    let model: string | undefined;
    let logprobs: ChoiceLogprobs | undefined;
    let done = false;
    const body = { ...req, stream: true, stream_options: { include_usage: true } };
    await postStream(this.post(body, abort), ({ data }) => {
      if (data === '[DONE]') {
        done = true;
        return;
      }
      let chunk: ChatChunk;
      try {
        chunk = JSON.parse(data) as ChatChunk;
      } catch {
        throw new SwitchyardError('SWY_PROVIDER_BAD_RESPONSE', `${this.config.name}: a stream event is not JSON`);
      }
      if (chunk.error) {
        throw new SwitchyardError('SWY_PROVIDER_SERVER', `${this.config.name}: the stream ended with an error`, {
          ...(chunk.error.message && { detail: chunk.error.message.slice(0, 300) }),
        });
      }
      model ??= chunk.model;
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      if (!choice) return;
      if (choice.finish_reason) finishReason = choice.finish_reason;
      if (choice.logprobs?.content) {
        logprobs ??= { content: [] };
        logprobs.content?.push(...choice.logprobs.content);
      }
      const d = choice.delta;
      if (!d) return;
      const piece: ChatDelta = {};
      if (d.content) piece.content = d.content;
      if (d.refusal) piece.refusal = d.refusal;
      if (d.tool_calls) piece.tool_calls = d.tool_calls;
      if (piece.content === undefined && piece.refusal === undefined && piece.tool_calls === undefined) return;
      answer.add(piece);
      onDelta(piece);
    });
    if (!done && finishReason === null) {
      throw new SwitchyardError('SWY_PROVIDER_BAD_RESPONSE', `${this.config.name}: the stream ended before the answer did`);
    }
    const message = answer.message();
    let counted = usageOf(usage);
    if (!usage) {
      // The upstream sent no usage chunk (not every OpenAI-compatible server does): estimated, and said so.
      counted = { inputTokens: estimateTokens(req.messages, req.tools), outputTokens: Math.ceil(answer.size / 4), estimated: true };
    }
    return {
      text: textOf(message.content),
      message,
      finishReason: finishReason ?? 'stop',
      ...(logprobs && { logprobs }),
      model: model ?? req.model,
      usage: counted,
    };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
