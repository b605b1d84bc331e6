/**
 * A request as adapters receive it (its shorthands resolved, no nulls), and an answer assembled
 * from the pieces of a stream.
 */
import type { AssistantMessage, ChatDelta, ToolCall } from '../domain/chat.js';
import type { LlmRequest, NormalRequest } from '../domain/providers.js';

/**
 * `req` for `model`: `maxTokens` and `max_completion_tokens` become `max_tokens`, `responseSchema`
 * becomes a `json_schema` response format, and parameters set to null are left out.
 */
export function normalize(req: LlmRequest, model: string): NormalRequest {
  const {
    maxTokens,
    responseSchema,
    max_completion_tokens: mct,
    model: _asked,
    ...rest
  } = req as LlmRequest & { stream?: unknown; stream_options?: unknown };
  delete (rest as { stream?: unknown }).stream;
  delete (rest as { stream_options?: unknown }).stream_options;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) if (v !== null && v !== undefined) out[k] = v;
  const max = mct ?? req.max_tokens ?? maxTokens;
  if (max !== undefined && max !== null) out.max_tokens = max;
  if (responseSchema !== undefined && req.response_format === undefined) {
    out.response_format = { type: 'json_schema', json_schema: { name: 'response', schema: responseSchema } };
  }
  out.model = model;
  return out as NormalRequest;
}

/** The most tokens a request's answer may use, if it says. */
export const answerLimit = (req: LlmRequest): number | undefined =>
  req.max_completion_tokens ?? req.max_tokens ?? req.maxTokens ?? undefined;

/** The JSON Schema an answer must match, if the request asks for one (`responseSchema` or `response_format`). */
export function schemaOf(req: Pick<LlmRequest, 'responseSchema' | 'response_format'>): Record<string, unknown> | undefined {
  if (req.responseSchema !== undefined) return req.responseSchema;
  const f = req.response_format;
  if (f?.type === 'json_schema') return f.json_schema.schema ?? {};
  return undefined;
}

/** Builds the whole answer from the pieces of a stream, as they arrive. */
export class Assembler {
  content = '';
  refusal = '';
  private readonly calls: ToolCall[] = [];
  /** Whether any piece of the answer (text, refusal, a tool call) arrived. */
  started = false;

  add(d: ChatDelta): void {
    if (d.content) {
      this.content += d.content;
      this.started = true;
    }
    if (d.refusal) {
      this.refusal += d.refusal;
      this.started = true;
    }
    if (d.tool_calls) {
      this.started = true;
      for (const t of d.tool_calls) {
        let call = this.calls[t.index];
        if (!call) this.calls[t.index] = call = { id: '', type: 'function', function: { name: '', arguments: '' } };
        if (t.id) call.id = t.id;
        if (t.function?.name) call.function.name += t.function.name;
        if (t.function?.arguments) call.function.arguments += t.function.arguments;
      }
    }
  }

  /** The tool calls so far (a stream may number them sparsely). */
  get toolCalls(): ToolCall[] {
    return this.calls.filter((c) => c !== undefined);
  }

  /** Bytes of answer received so far. */
  get size(): number {
    let n = this.content.length + this.refusal.length;
    for (const c of this.toolCalls) n += c.function.name.length + c.function.arguments.length;
    return n;
  }

  message(): AssistantMessage {
    const calls = this.toolCalls;
    return {
      role: 'assistant',
      content: this.content === '' && (calls.length > 0 || this.refusal !== '') ? null : this.content,
      refusal: this.refusal === '' ? null : this.refusal,
      ...(calls.length > 0 && { tool_calls: calls }),
    };
  }
}
