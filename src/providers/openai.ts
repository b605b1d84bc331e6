/** The `openai` adapter: any OpenAI-compatible `POST {baseUrl}/chat/completions` (OpenAI, vLLM, Ollama, Groq, …). */
import { Agent } from 'undici';
import { SwitchyardError } from '../errors.js';
import { postJson } from './http.js';
import type { Adapter, CallAbort, ProviderEnv, LlmRequest, LlmResponse, ProviderConfig } from './types.js';

interface ChatCompletion {
  model?: string;
  choices?: { message?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

export class OpenAIAdapter implements Adapter {
  private readonly agent: Agent;
  private readonly url: string;
  private readonly headers: Record<string, string>;

  constructor(private readonly config: ProviderConfig, env: ProviderEnv) {
    if (!config.baseUrl) throw new SwitchyardError('SWY_INVALID_PROVIDER', `provider ${config.name}: baseUrl is required`);
    this.url = `${config.baseUrl.replace(/\/+$/, '')}/chat/completions`;
    this.agent = new Agent({
      connections: config.maxConcurrency, keepAliveTimeout: 10_000, maxResponseSize: env.maxOutputBytes, connect: { lookup: env.hosts.lookup },
    });
    const extra = (config.options.headers ?? {}) as Record<string, string>;
    this.headers = {
      ...extra,
      'content-type': 'application/json',
      ...(config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {}),
    };
  }

  async chat(req: LlmRequest & { model: string }, abort: CallAbort): Promise<Omit<LlmResponse, 'provider'>> {
    const body: Record<string, unknown> = { model: req.model, messages: req.messages };
    if (req.temperature !== undefined) body.temperature = req.temperature;
    if (req.maxTokens !== undefined) body.max_tokens = req.maxTokens;
    if (req.responseSchema) {
      body.response_format = { type: 'json_schema', json_schema: { name: 'response', schema: req.responseSchema } };
    }
    const data = await postJson<ChatCompletion>({
      provider: this.config.name, url: this.url, headers: this.headers, body, agent: this.agent, signal: abort.signal, timeoutMs: this.config.timeoutMs,
    });
    return parseCompletion(this.config.name, req.model, data);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function parseCompletion(provider: string, model: string, data: ChatCompletion): Omit<LlmResponse, 'provider'> {
  const choice = data.choices?.[0];
  const content = choice?.message?.content;
  if (typeof content !== 'string') {
    throw new SwitchyardError('SWY_PROVIDER_BAD_RESPONSE', `${provider}: answer has no choices[0].message.content`);
  }
  return {
    text: content,
    finishReason: choice?.finish_reason ?? 'stop',
    model: data.model ?? model,
    usage: { inputTokens: data.usage?.prompt_tokens ?? 0, outputTokens: data.usage?.completion_tokens ?? 0 },
  };
}
