/**
 * OpenAI's chat completion request ↔ Switchyard's `chat` job. The request is validated by its own
 * schema (OpenAI parameters Switchyard does not use are accepted and ignored, as clients send
 * them by default); the answer is built from the finished job.
 */
import type { ChatInput, ChatOutput } from '../jobs/chat.js';
import type { Job } from '../jobs/types.js';

/** The parts of OpenAI's request that Switchyard reads. */
export interface ChatCompletionRequest {
  model: string;
  messages: { role: string; content: string | { type: string; text?: string }[] | null }[];
  temperature?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  n?: number | null;
  response_format?: { type: 'text' | 'json_object' | 'json_schema'; json_schema?: { name?: string; schema?: Record<string, unknown> } };
}

const contentPart = {
  type: 'object',
  required: ['type'],
  properties: { type: { type: 'string' }, text: { type: 'string' } },
} as const;

export const chatCompletionSchema = {
  type: 'object',
  required: ['model', 'messages'],
  properties: {
    model: { type: 'string', minLength: 1, maxLength: 256 },
    messages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['role'],
        properties: {
          role: { type: 'string', enum: ['system', 'developer', 'user', 'assistant', 'tool'] },
          content: { anyOf: [{ type: 'string' }, { type: 'array', items: contentPart }, { type: 'null' }] },
        },
      },
    },
    temperature: { type: ['number', 'null'], minimum: 0, maximum: 2 },
    max_tokens: { type: ['integer', 'null'], minimum: 1 },
    max_completion_tokens: { type: ['integer', 'null'], minimum: 1 },
    stream: { type: ['boolean', 'null'] },
    stream_options: { anyOf: [{ type: 'object', properties: { include_usage: { type: 'boolean' } } }, { type: 'null' }] },
    n: { type: ['integer', 'null'], minimum: 1, maximum: 1 },
    response_format: {
      type: 'object',
      required: ['type'],
      properties: {
        type: { enum: ['text', 'json_object', 'json_schema'] },
        json_schema: { type: 'object', properties: { name: { type: 'string' }, schema: { type: 'object' } } },
      },
    },
  },
} as const;

/** The `chat` job input for an OpenAI request. */
export function toChatInput(req: ChatCompletionRequest): ChatInput {
  const messages = req.messages.map((m) => ({
    role: (m.role === 'developer' ? 'system' : m.role) as ChatInput['messages'][number]['role'],
    content: typeof m.content === 'string'
      ? m.content
      : (m.content ?? []).map((p) => (p.type === 'text' ? p.text ?? '' : '')).join(''),
  }));
  const maxTokens = req.max_completion_tokens ?? req.max_tokens;
  const format = req.response_format;
  const schema = format?.type === 'json_schema' ? format.json_schema?.schema ?? { type: 'object' }
    : format?.type === 'json_object' ? { type: 'object' } : undefined;
  return {
    messages,
    model: req.model,
    ...(typeof req.temperature === 'number' && { temperature: req.temperature }),
    ...(typeof maxTokens === 'number' && { maxTokens }),
    ...(schema !== undefined && { responseSchema: schema }),
  };
}

const seconds = (iso: string | null) => Math.floor(Date.parse(iso ?? new Date().toISOString()) / 1000);

/** OpenAI's `chat.completion` for a completed chat job. */
export function toCompletion(job: Job, requestedModel: string) {
  const out = job.output as ChatOutput;
  return {
    id: `chatcmpl-${job.id}`,
    object: 'chat.completion' as const,
    created: seconds(job.createdAt),
    model: out.model ?? requestedModel,
    choices: [{
      index: 0,
      message: { role: 'assistant' as const, content: out.text, refusal: null },
      logprobs: null,
      finish_reason: out.finishReason,
    }],
    usage: {
      prompt_tokens: job.usage.inputTokens,
      completion_tokens: job.usage.outputTokens,
      total_tokens: job.usage.inputTokens + job.usage.outputTokens,
    },
    system_fingerprint: null,
    service_tier: null,
  };
}

/** The `chat.completion.chunk`s of a finished answer: role, content, finish, then usage if asked. */
export function toChunks(job: Job, requestedModel: string, includeUsage: boolean): unknown[] {
  const done = toCompletion(job, requestedModel);
  const base = { id: done.id, object: 'chat.completion.chunk', created: done.created, model: done.model, system_fingerprint: null };
  const choice = (delta: Record<string, unknown>, finish: string | null) => ({
    ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  const chunks: unknown[] = [
    choice({ content: done.choices[0]?.message.content ?? '' }, null),
    choice({}, done.choices[0]?.finish_reason ?? 'stop'),
  ];
  if (includeUsage) chunks.push({ ...base, choices: [], usage: done.usage });
  return chunks;
}

/** The first chunk, sent before the job has run: the role of the answer. */
export function firstChunk(jobId: string, model: string): unknown {
  return {
    id: `chatcmpl-${jobId}`, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model, system_fingerprint: null,
    choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
  };
}
