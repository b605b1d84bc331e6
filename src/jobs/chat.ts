/**
 * The built-in `chat` job type; runs on the main thread (scheduler/inline.ts). With
 * `responseSchema` it asks the provider for JSON, parses the answer and validates it: output that
 * fails its schema fails the attempt (retryable — another answer may pass — and final once the
 * attempts are spent).
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { SwitchyardError } from '../errors.js';
import type { ChatMessage } from '../providers/types.js';
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

const ajv = new Ajv({ strict: false });
const validators = new Map<string, ValidateFunction>();

function validatorFor(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let v = validators.get(key);
  if (!v) {
    try {
      v = ajv.compile(schema);
    } catch (err) {
      throw new SwitchyardError('SWY_VALIDATION', `responseSchema cannot be compiled: ${(err as Error).message}`);
    }
    if (validators.size > 1000) validators.clear();
    validators.set(key, v);
  }
  return v;
}

/** Pull a JSON value out of an answer, tolerating a Markdown code fence around it. */
function extractJson(text: string): unknown {
  const fenced = /```(?:json)?\s*([\s\S]*?)```/.exec(text);
  return JSON.parse((fenced?.[1] ?? text).trim());
}

export default async function chat(input: ChatInput, ctx: HandlerContext): Promise<ChatOutput> {
  const res = await ctx.llm({
    messages: input.messages,
    ...(input.model !== undefined && { model: input.model }),
    ...(input.temperature !== undefined && { temperature: input.temperature }),
    ...(input.maxTokens !== undefined && { maxTokens: input.maxTokens }),
    ...(input.responseSchema !== undefined && { responseSchema: input.responseSchema }),
  });
  const out: ChatOutput = { text: res.text, finishReason: res.finishReason, model: res.model, provider: res.provider };
  if (input.responseSchema) {
    let json: unknown;
    try {
      json = extractJson(res.text);
    } catch {
      throw new SwitchyardError('SWY_OUTPUT_INVALID', 'the answer is not valid JSON');
    }
    const validate = validatorFor(input.responseSchema);
    if (!validate(json)) {
      const e = validate.errors?.[0];
      throw new SwitchyardError('SWY_OUTPUT_INVALID', `the answer fails its responseSchema: ${e?.instancePath || '/'} ${e?.message ?? ''}`.trim());
    }
    out.json = json;
  }
  return out;
}
