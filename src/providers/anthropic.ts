/**
 * The `anthropic` adapter: the Messages API (`POST {baseUrl}/messages`), plain and streamed. The
 * Chat Completions request is mapped (anthropic-map.ts); a stream's events are translated to
 * Chat Completions deltas as they arrive.
 */
import type { Agent } from 'undici';
import { SwitchyardError } from '../errors.js';
import type { ChatDelta } from '../domain/chat.js';
import {
  FINISH,
  THINKING_BUDGET,
  fromAnthropicContent,
  toAnthropicMessages,
  toAnthropicToolChoice,
  toAnthropicTools,
  type AnthropicBlock,
} from './anthropic-map.js';
import { callOf, postJson, postStream, providerAgent } from './http.js';
import { Assembler, schemaOf } from './request.js';
import { textOf } from './tokens.js';
import type { Adapter, CallAbort, DeltaSink, LlmResponse, LlmUsage, NormalRequest, ProviderConfig } from '../domain/providers.js';
import type { ProviderEnv } from './env.js';

interface Usage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  /** The cache writes by lifetime (5 minutes or 1 hour), priced apart. */
  cache_creation?: { ephemeral_5m_input_tokens?: number | null; ephemeral_1h_input_tokens?: number | null } | null;
}

interface AnthropicAnswer {
  model?: string;
  content?: AnthropicBlock[];
  stop_reason?: string | null;
  usage?: Usage;
}

/** Anthropic counts cached prompt tokens apart from `input_tokens`: the prompt is all three. */
function usageOf(u: Usage | undefined): LlmUsage {
  const read = u?.cache_read_input_tokens ?? 0;
  const write = u?.cache_creation_input_tokens ?? 0;
  const out: LlmUsage = { inputTokens: (u?.input_tokens ?? 0) + read + write, outputTokens: u?.output_tokens ?? 0 };
  if (read) out.cacheReadTokens = read;
  if (write) out.cacheWriteTokens = write;
  const hour = u?.cache_creation?.ephemeral_1h_input_tokens;
  if (hour) out.cacheWrite1hTokens = hour;
  return out;
}

export class AnthropicAdapter implements Adapter {
  private readonly agent: Agent;
  private readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly maxTokens: number;

  constructor(
    private readonly config: ProviderConfig,
    env: ProviderEnv,
  ) {
    if (!config.baseUrl) throw new SwitchyardError('SWY_INVALID_PROVIDER', `provider ${config.name}: baseUrl is required`);
    this.url = `${config.baseUrl.replace(/\/+$/, '')}/messages`;
    this.agent = providerAgent(config, env);
    const o = config.options as { headers?: Record<string, string>; maxTokens?: number; version?: string };
    this.maxTokens = o.maxTokens ?? 1024;
    this.headers = {
      ...o.headers,
      'content-type': 'application/json',
      'anthropic-version': o.version ?? '2023-06-01',
      ...(config.apiKey ? { 'x-api-key': config.apiKey } : {}),
    };
  }

  /** The Messages API request for a Chat Completions one (the parameters it cannot carry were refused before: capabilities.ts). */
  body(req: NormalRequest): Record<string, unknown> {
    const { system, messages } = toAnthropicMessages(req.messages);
    // The Messages API has no JSON-schema mode: the schema goes into the system prompt, and the
    // chat handler checks what comes back.
    const schema = schemaOf(req);
    const jsonNote =
      schema !== undefined
        ? `Respond with only a JSON value that matches this JSON Schema, and nothing else:\n${JSON.stringify(schema)}`
        : req.response_format?.type === 'json_object'
          ? 'Respond with only a JSON object, and nothing else.'
          : undefined;
    const answer = req.max_tokens ?? this.maxTokens;
    const effort = req.reasoning_effort;
    const budget = effort && effort !== 'none' ? THINKING_BUDGET[effort] : undefined;
    const body: Record<string, unknown> = { model: req.model, max_tokens: budget === undefined ? answer : answer + budget, messages };
    const sys = [system, jsonNote].filter(Boolean).join('\n\n');
    if (sys) body.system = sys;
    if (budget !== undefined) body.thinking = { type: 'enabled', budget_tokens: budget };
    if (req.temperature !== undefined) body.temperature = req.temperature;
    if (req.top_p !== undefined) body.top_p = req.top_p;
    if (req.top_k !== undefined) body.top_k = req.top_k;
    if (req.stop !== undefined) body.stop_sequences = typeof req.stop === 'string' ? [req.stop] : req.stop;
    if (req.user !== undefined) body.metadata = { user_id: req.user };
    if (req.tools?.length) body.tools = toAnthropicTools(req.tools);
    const choice = toAnthropicToolChoice(req.tool_choice, req.parallel_tool_calls);
    if (choice && (req.tools?.length || choice.type === 'none')) body.tool_choice = choice;
    return body;
  }

  private post(body: unknown, abort: CallAbort) {
    return callOf(this.config, this.agent, this.url, this.headers, body, abort);
  }

  async chat(req: NormalRequest, abort: CallAbort, onDelta?: DeltaSink): Promise<Omit<LlmResponse, 'provider'>> {
    if (onDelta) return this.stream(req, abort, onDelta);
    const data = await postJson<AnthropicAnswer>(this.post(this.body(req), abort));
    if (!Array.isArray(data.content)) {
      throw new SwitchyardError('SWY_PROVIDER_BAD_RESPONSE', `${this.config.name}: answer has no content`);
    }
    const message = fromAnthropicContent(data.content);
    return {
      text: textOf(message.content ?? ''),
      message,
      finishReason: FINISH[data.stop_reason ?? 'end_turn'] ?? (data.stop_reason as string),
      model: data.model ?? req.model,
      usage: usageOf(data.usage),
    };
  }

  /** Anthropic's stream events, translated to Chat Completions deltas as they arrive. */
  private async stream(req: NormalRequest, abort: CallAbort, onDelta: DeltaSink): Promise<Omit<LlmResponse, 'provider'>> {
    const answer = new Assembler();
    let usage: Usage = {};
    let model: string | undefined;
    let stop: string | null = null;
    let stopped = false;
    /** Content block index → tool call index (OpenAI numbers tool calls from 0). */
    const toolIndex = new Map<number, number>();
    const emit = (d: ChatDelta) => {
      answer.add(d);
      onDelta(d);
    };
    await postStream(this.post({ ...this.body(req), stream: true }, abort), ({ event, data }) => {
      // biome-ignore lint/suspicious/noExplicitAny: Anthropic's stream events are many shapes, each field checked where read
      const e = JSON.parse(data) as Record<string, any>;
      switch (event ?? e.type) {
        case 'message_start':
          model = e.message?.model;
          usage = { ...e.message?.usage };
          break;
        case 'content_block_start': {
          const block = e.content_block as AnthropicBlock;
          if (block.type === 'tool_use') {
            const index = toolIndex.size;
            toolIndex.set(e.index as number, index);
            emit({ tool_calls: [{ index, id: block.id, type: 'function', function: { name: block.name, arguments: '' } }] });
          } else if (block.type === 'text' && block.text) {
            emit({ content: block.text });
          }
          break;
        }
        case 'content_block_delta': {
          const d = e.delta as { type: string; text?: string; partial_json?: string; thinking?: string };
          if (d.type === 'text_delta' && d.text) emit({ content: d.text });
          else if (d.type === 'input_json_delta' && d.partial_json) {
            emit({ tool_calls: [{ index: toolIndex.get(e.index as number) ?? 0, function: { arguments: d.partial_json } }] });
          } else if (d.type === 'thinking_delta' && d.thinking) onDelta({ reasoning: d.thinking });
          break;
        }
        case 'message_delta':
          stop = e.delta?.stop_reason ?? stop;
          usage = { ...usage, ...e.usage };
          break;
        case 'message_stop':
          stopped = true;
          break;
        case 'error':
          throw new SwitchyardError(
            e.error?.type === 'overloaded_error' ? 'SWY_PROVIDER_OVERLOADED' : 'SWY_PROVIDER_SERVER',
            `${this.config.name}: the stream ended with an error`,
            { ...(e.error?.message && { detail: String(e.error.message).slice(0, 300) }) },
          );
        default:
          break; // ping, content_block_stop
      }
    });
    if (!stopped) throw new SwitchyardError('SWY_PROVIDER_BAD_RESPONSE', `${this.config.name}: the stream ended before the answer did`);
    const message = answer.message();
    return {
      text: textOf(message.content ?? ''),
      message,
      finishReason: FINISH[stop ?? 'end_turn'] ?? (stop as unknown as string),
      model: model ?? req.model,
      usage: usageOf(usage),
    };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
