/**
 * The built-in `chat` job type; runs on the main thread (scheduler/inline.ts). Its input is a
 * Chat Completions request and its output the assistant's whole message. With a JSON response
 * format it checks the answer: it must be JSON and match the schema, or the attempt fails
 * (retryable — another answer may pass — and final once the attempts are spent). The schema is
 * compiled and checked off the main thread.
 */
import { SwitchyardError } from '../errors.js';
import type { AssistantMessage, ChatMessage, ChatParams, ChoiceLogprobs, ToolCall } from '../domain/chat.js';
import { schemaOf } from '../providers/request.js';
import type { LlmRequest } from '../domain/providers.js';
import type { SchemaChecker } from '../schema/checker.js';
import type { HandlerContext } from './context.js';

/** A chat job's input: a Chat Completions request (`model` optional: the provider's default). */
export interface ChatInput extends ChatParams {
  messages: ChatMessage[];
  model?: string;
  /** Same as `max_tokens`. */
  maxTokens?: number;
  /** Ask for JSON matching this schema (same as a `json_schema` response format). */
  responseSchema?: Record<string, unknown>;
  /** Stream the answer's tokens to whoever follows the job (`GET /v1/jobs/:id/stream`). */
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
}

/** A chat job's output: the answer's text, its JSON when a format asked for one, and the whole message. */
export interface ChatOutput {
  text: string;
  json?: unknown;
  finishReason: string;
  model: string;
  provider: string;
  /** The assistant message as OpenAI writes it: content, `tool_calls`, `refusal`. */
  message: AssistantMessage;
  toolCalls?: ToolCall[];
  refusal?: string;
  logprobs?: ChoiceLogprobs;
}

/** Pull a JSON value out of an answer, tolerating a Markdown code fence around it. */
function extractJson(text: string): unknown {
  const fenced = /```(?:json)?\s*([\s\S]*?)```/.exec(text);
  return JSON.parse((fenced?.[1] ?? text).trim());
}

/** The `chat` handler, checking answers with `schemas` (compiled and checked off the main thread). */
export function chatHandler(schemas: SchemaChecker) {
  return async function chat(input: ChatInput, ctx: HandlerContext): Promise<ChatOutput> {
    const { stream: _stream, stream_options: _options, ...request } = input;
    const schema = schemaOf(input);
    // Prepared before the call: a schema that cannot be used must not cost a provider call.
    const prepared = schema === undefined ? undefined : await schemas.prepare(schema, 'input.responseSchema');
    const res = await ctx.llm(request as LlmRequest);
    const out: ChatOutput = {
      text: res.text,
      finishReason: res.finishReason,
      model: res.model,
      provider: res.provider,
      message: res.message,
    };
    if (res.message.tool_calls?.length) out.toolCalls = res.message.tool_calls;
    if (res.message.refusal) out.refusal = res.message.refusal;
    if (res.logprobs) out.logprobs = res.logprobs;
    // An answer that calls tools or refuses has no JSON to check.
    const wantsJson = prepared !== undefined || input.response_format?.type === 'json_object';
    if (wantsJson && !out.toolCalls && !out.refusal) {
      let json: unknown;
      try {
        json = extractJson(res.text);
      } catch {
        throw new SwitchyardError('SWY_OUTPUT_INVALID', 'the answer is not valid JSON');
      }
      if (prepared) {
        const problem = await schemas.check(prepared, json);
        if (problem !== null) throw new SwitchyardError('SWY_OUTPUT_INVALID', `the answer fails its JSON Schema: ${problem}`);
      }
      out.json = json;
    }
    return out;
  };
}
