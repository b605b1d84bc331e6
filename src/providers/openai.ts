/** The `openai` adapter: any OpenAI-compatible `POST {baseUrl}/chat/completions` (OpenAI, vLLM, Ollama, Groq, …). */
import { Agent, request } from 'undici';
import { SwitchyardError } from '../errors.js';
import { httpError, transportError } from './http-errors.js';
import type { Adapter, LlmRequest, LlmResponse, ProviderConfig } from './types.js';

interface ChatCompletion {
  model?: string;
  choices?: { message?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

export class OpenAIAdapter implements Adapter {
  private readonly agent: Agent;
  private readonly url: string;
  private readonly headers: Record<string, string>;

  constructor(private readonly config: ProviderConfig) {
    if (!config.baseUrl) throw new SwitchyardError('SWY_INVALID_PROVIDER', `provider ${config.name}: baseUrl is required`);
    this.url = `${config.baseUrl.replace(/\/+$/, '')}/chat/completions`;
    this.agent = new Agent({ connections: config.maxConcurrency, keepAliveTimeout: 10_000 });
    const extra = (config.options.headers ?? {}) as Record<string, string>;
    this.headers = {
      ...extra,
      'content-type': 'application/json',
      ...(config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {}),
    };
  }

  async chat(req: LlmRequest & { model: string }, signal: AbortSignal): Promise<Omit<LlmResponse, 'provider'>> {
    const callSignal = AbortSignal.timeout(this.config.timeoutMs);
    const both = AbortSignal.any([signal, callSignal]);
    const body: Record<string, unknown> = { model: req.model, messages: req.messages };
    if (req.temperature !== undefined) body.temperature = req.temperature;
    if (req.maxTokens !== undefined) body.max_tokens = req.maxTokens;
    if (req.responseSchema) {
      body.response_format = { type: 'json_schema', json_schema: { name: 'response', schema: req.responseSchema } };
    }
    let status: number;
    let headers: Record<string, string | string[] | undefined>;
    let text: string;
    try {
      const res = await request(this.url, {
        method: 'POST', headers: this.headers, body: JSON.stringify(body), signal: both, dispatcher: this.agent,
      });
      status = res.statusCode;
      headers = res.headers;
      text = await res.body.text();
    } catch (err) {
      throw transportError(this.config.name, err, signal, callSignal);
    }
    if (status < 200 || status >= 300) throw httpError(this.config.name, status, headers, text);
    return parseCompletion(this.config.name, req.model, text);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function parseCompletion(provider: string, model: string, text: string): Omit<LlmResponse, 'provider'> {
  let data: ChatCompletion;
  try {
    data = JSON.parse(text) as ChatCompletion;
  } catch {
    throw new SwitchyardError('SWY_PROVIDER_BAD_RESPONSE', `${provider}: answer is not JSON`);
  }
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
