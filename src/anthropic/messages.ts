/**
 * Anthropic's Messages API request ↔ the `chat` job: the request becomes a Chat Completions input
 * (anthropic-map.ts maps blocks, tools and tool choice), the finished job an Anthropic message.
 */
import type { ChatInput, ChatOutput } from '../jobs/chat.js';
import type { Job } from '../domain/jobs.js';
import {
  STOP,
  fromAnthropicMessages,
  fromAnthropicToolChoice,
  fromAnthropicTools,
  toAnthropicContent,
  type AnthropicBlock,
  type AnthropicMessage,
  type AnthropicTool,
  type AnthropicToolChoice,
} from '../providers/anthropic-map.js';
import type { ReasoningEffort } from '../domain/chat.js';
import { messageOf } from '../openai/chat.js';

/** A `POST /v1/messages` body. */
export interface MessagesRequest {
  model: string;
  max_tokens: number;
  messages: AnthropicMessage[];
  system?: string | AnthropicBlock[];
  metadata?: { user_id?: string | null };
  stop_sequences?: string[];
  stream?: boolean;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
  thinking?: { type: 'enabled'; budget_tokens: number } | { type: 'disabled' };
}

const block = {
  type: 'object',
  required: ['type'],
  properties: { type: { enum: ['text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking'] } },
} as const;

const messages = {
  type: 'array',
  minItems: 1,
  maxItems: 1_000_000,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['role', 'content'],
    properties: { role: { enum: ['user', 'assistant'] }, content: { anyOf: [{ type: 'string' }, { type: 'array', items: block }] } },
  },
} as const;

const tools = {
  type: 'array',
  maxItems: 128,
  items: {
    type: 'object',
    required: ['name', 'input_schema'],
    properties: {
      name: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,64}$' },
      description: { type: 'string' },
      input_schema: { type: 'object' },
      type: { enum: ['custom'] },
    },
  },
} as const;

const system = { anyOf: [{ type: 'string' }, { type: 'array', items: block }] } as const;

export const messagesRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['model', 'max_tokens', 'messages'],
  properties: {
    model: { type: 'string', minLength: 1, maxLength: 256 },
    max_tokens: { type: 'integer', minimum: 1, maximum: 10_000_000 },
    messages,
    system,
    metadata: { type: 'object', additionalProperties: false, properties: { user_id: { type: ['string', 'null'], maxLength: 256 } } },
    stop_sequences: { type: 'array', maxItems: 16, items: { type: 'string' } },
    stream: { type: 'boolean' },
    temperature: { type: 'number', minimum: 0, maximum: 1 },
    top_p: { type: 'number', minimum: 0, maximum: 1 },
    top_k: { type: 'integer', minimum: 1 },
    tools,
    tool_choice: {
      type: 'object',
      required: ['type'],
      properties: {
        type: { enum: ['auto', 'any', 'tool', 'none'] },
        name: { type: 'string' },
        disable_parallel_tool_use: { type: 'boolean' },
      },
    },
    thinking: {
      type: 'object',
      required: ['type'],
      properties: { type: { enum: ['enabled', 'disabled'] }, budget_tokens: { type: 'integer', minimum: 1024 } },
    },
  },
} as const;

/** `/v1/messages/count_tokens` takes the request without its answer's limit. */
export const countTokensSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['model', 'messages'],
  properties: {
    model: { type: 'string', minLength: 1, maxLength: 256 },
    messages,
    system,
    tools,
    tool_choice: { type: 'object' },
    thinking: { type: 'object' },
  },
} as const;

/** A thinking budget → the nearest reasoning effort (the `anthropic` adapter maps it back to a budget). */
function effortOf(budget: number): ReasoningEffort {
  if (budget <= 1024) return 'minimal';
  if (budget <= 2048) return 'low';
  if (budget <= 8192) return 'medium';
  return 'high';
}

/** The `chat` job input for a Messages API request. */
export function toChatInput(req: MessagesRequest, stream = false): ChatInput {
  const input: ChatInput = { model: req.model, messages: fromAnthropicMessages(req.system, req.messages), max_tokens: req.max_tokens };
  if (req.stop_sequences?.length) input.stop = req.stop_sequences.slice(0, 4);
  if (req.temperature !== undefined) input.temperature = req.temperature;
  if (req.top_p !== undefined) input.top_p = req.top_p;
  if (req.top_k !== undefined) input.top_k = req.top_k;
  if (req.tools?.length) input.tools = fromAnthropicTools(req.tools);
  Object.assign(input, fromAnthropicToolChoice(req.tool_choice));
  if (req.thinking?.type === 'enabled') input.reasoning_effort = effortOf(req.thinking.budget_tokens);
  if (req.metadata?.user_id) input.user = req.metadata.user_id;
  if (stream) input.stream = true;
  return input;
}

/** The Anthropic message of a completed chat job. */
export function toMessage(job: Job, requestedModel: string) {
  const out = job.output as ChatOutput;
  return {
    id: `msg_${job.id}`,
    type: 'message' as const,
    role: 'assistant' as const,
    model: out.model ?? requestedModel,
    content: toAnthropicContent(messageOf(out)),
    stop_reason: STOP[out.finishReason] ?? 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: job.usage.inputTokens,
      output_tokens: job.usage.outputTokens,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
    },
  };
}

/** Anthropic's error `type` for an HTTP status. */
export function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 503 || status === 529) return 'overloaded_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

/** An error body in Anthropic's shape; the SWY_* code leads the message. */
export function anthropicError(code: string, message: string, status: number) {
  return { type: 'error', error: { type: errorType(status), message: `${code}: ${message}` } };
}
