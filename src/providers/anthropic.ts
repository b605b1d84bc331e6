/** The `anthropic` adapter: the Messages API (`POST {baseUrl}/messages`). */
import { Agent } from 'undici';
import { SwitchyardError } from '../errors.js';
import { postJson } from './http.js';
import type { Adapter, CallAbort, ProviderEnv, ChatMessage, LlmRequest, LlmResponse, ProviderConfig } from './types.js';

interface AnthropicMessage {
  model?: string;
  content?: { type: string; text?: string }[];
  stop_reason?: string | null;
  usage?: { input_tokens?: number; output_tokens?: number };
}

const FINISH: Record<string, string> = { end_turn: 'stop', stop_sequence: 'stop', max_tokens: 'length', tool_use: 'tool_calls' };

/**
 * System messages go to the top-level `system`; the rest must alternate user/assistant, so tool
 * results count as user turns and consecutive turns of one role are joined.
 */
export function toAnthropic(messages: ChatMessage[]): { system: string | undefined; messages: { role: 'user' | 'assistant'; content: string }[] } {
  const system = messages.filter((m) => m.role === 'system').map((m) => m.content);
  const turns: { role: 'user' | 'assistant'; content: string }[] = [];
  for (const m of messages) {
    if (m.role === 'system') continue;
    const role = m.role === 'assistant' ? 'assistant' : 'user';
    const last = turns.at(-1);
    if (last && last.role === role) last.content += `\n\n${m.content}`;
    else turns.push({ role, content: m.content });
  }
  return { system: system.length ? system.join('\n\n') : undefined, messages: turns };
}

export class AnthropicAdapter implements Adapter {
  private readonly agent: Agent;
  private readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly maxTokens: number;

  constructor(private readonly config: ProviderConfig, env: ProviderEnv) {
    if (!config.baseUrl) throw new SwitchyardError('SWY_INVALID_PROVIDER', `provider ${config.name}: baseUrl is required`);
    this.url = `${config.baseUrl.replace(/\/+$/, '')}/messages`;
    this.agent = new Agent({
      connections: config.maxConcurrency, keepAliveTimeout: 10_000, maxResponseSize: env.maxOutputBytes, connect: { lookup: env.hosts.lookup },
    });
    const o = config.options as { headers?: Record<string, string>; maxTokens?: number; version?: string };
    this.maxTokens = o.maxTokens ?? 1024;
    this.headers = {
      ...o.headers,
      'content-type': 'application/json',
      'anthropic-version': o.version ?? '2023-06-01',
      ...(config.apiKey ? { 'x-api-key': config.apiKey } : {}),
    };
  }

  async chat(req: LlmRequest & { model: string }, abort: CallAbort): Promise<Omit<LlmResponse, 'provider'>> {
    const { system, messages } = toAnthropic(req.messages);
    // The Messages API has no JSON-schema mode: the schema goes into the system prompt, and the
    // chat handler validates what comes back.
    const schemaNote = req.responseSchema
      ? `Respond with only a JSON value that matches this JSON Schema, and nothing else:\n${JSON.stringify(req.responseSchema)}`
      : undefined;
    const body: Record<string, unknown> = { model: req.model, max_tokens: req.maxTokens ?? this.maxTokens, messages };
    const sys = [system, schemaNote].filter(Boolean).join('\n\n');
    if (sys) body.system = sys;
    if (req.temperature !== undefined) body.temperature = Math.min(1, req.temperature);
    const data = await postJson<AnthropicMessage>({
      provider: this.config.name, url: this.url, headers: this.headers, body, agent: this.agent, signal: abort.signal, timeoutMs: this.config.timeoutMs,
    });
    if (!Array.isArray(data.content)) {
      throw new SwitchyardError('SWY_PROVIDER_BAD_RESPONSE', `${this.config.name}: answer has no content`);
    }
    return {
      text: data.content.filter((c) => c.type === 'text').map((c) => c.text ?? '').join(''),
      finishReason: FINISH[data.stop_reason ?? 'end_turn'] ?? (data.stop_reason as string),
      model: data.model ?? req.model,
      usage: { inputTokens: data.usage?.input_tokens ?? 0, outputTokens: data.usage?.output_tokens ?? 0 },
    };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
