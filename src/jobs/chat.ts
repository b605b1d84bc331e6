/**
 * The built-in `chat` job type; runs on the main thread (scheduler/inline.ts). With
 * `responseSchema` it asks the provider for JSON, parses the answer and validates it: output that
 * fails its schema fails the attempt (retryable — another answer may pass — and final once the
 * attempts are spent).
 */
import { SwitchyardError } from '../errors.js';
import type { ChatMessage } from '../providers/types.js';
import type { SchemaChecker } from '../schema/checker.js';
import type { HandlerContext } from './context.js';

export interface ChatInput {
  messages: ChatMessage[];
  model?: string;
  temperature?: number;
  maxTokens?: number;
  responseSchema?: Record<string, unknown>;
}

export interface ChatOutput {
  text: string;
  json?: unknown;
  finishReason: string;
  model: string;
  provider: string;
}

/** Pull a JSON value out of an answer, tolerating a Markdown code fence around it. */
function extractJson(text: string): unknown {
  const fenced = /```(?:json)?\s*([\s\S]*?)```/.exec(text);
  return JSON.parse((fenced?.[1] ?? text).trim());
}

/** The `chat` handler, checking answers with `schemas` (compiled and checked off the main thread). */
export function chatHandler(schemas: SchemaChecker) {
  return async function chat(input: ChatInput, ctx: HandlerContext): Promise<ChatOutput> {
    // Prepared before the call: a schema that cannot be used must not cost a provider call.
    const schema = input.responseSchema === undefined ? undefined : await schemas.prepare(input.responseSchema, 'input.responseSchema');
    const res = await ctx.llm({
      messages: input.messages,
      ...(input.model !== undefined && { model: input.model }),
      ...(input.temperature !== undefined && { temperature: input.temperature }),
      ...(input.maxTokens !== undefined && { maxTokens: input.maxTokens }),
      ...(input.responseSchema !== undefined && { responseSchema: input.responseSchema }),
    });
    const out: ChatOutput = { text: res.text, finishReason: res.finishReason, model: res.model, provider: res.provider };
    if (schema) {
      let json: unknown;
      try {
        json = extractJson(res.text);
      } catch {
        throw new SwitchyardError('SWY_OUTPUT_INVALID', 'the answer is not valid JSON');
      }
      const problem = await schemas.check(schema, json);
      if (problem !== null) throw new SwitchyardError('SWY_OUTPUT_INVALID', `the answer fails its responseSchema: ${problem}`);
      out.json = json;
    }
    return out;
  };
}
