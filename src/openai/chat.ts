/**
 * OpenAI's Chat Completions request ↔ Switchyard's `chat` job. The job's input is the request
 * itself (the same schema validates both); the answer is built from the finished job, whole or as
 * `chat.completion.chunk`s.
 */
import { chatParamsProperties } from '../jobs/chat-schema.js';
import type { ChatInput, ChatOutput } from '../jobs/chat.js';
import type { Job } from '../domain/jobs.js';
import type { AssistantMessage, ChatDelta } from '../domain/chat.js';

/** Chat completions (and responses) run ahead of batch and ordinary jobs of the same tenant. */
export const CHAT_COMPLETION_PRIORITY = 1000;

/** A Chat Completions request as `/v1/chat/completions` takes it. */
export type ChatCompletionRequest = ChatInput & { model: string };

/** The request's schema: the `chat` job's input, with `model` required. */
export const chatCompletionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['model', 'messages'],
  properties: chatParamsProperties,
} as const;

/** The `chat` job input for a request: the request, whose shape is the input's. */
export function toChatInput(req: ChatCompletionRequest, stream = false): ChatInput {
  const input: ChatInput = { ...req };
  if (stream) input.stream = true;
  else delete input.stream;
  delete input.stream_options;
  return input;
}

const seconds = (iso: string | null) => Math.floor(Date.parse(iso ?? new Date().toISOString()) / 1000);

/** The job's assistant message (jobs recorded before outputs kept it have only their text). */
export function messageOf(out: ChatOutput): AssistantMessage {
  return out.message ?? { role: 'assistant', content: out.text, refusal: null };
}

/** The usage object of a finished job. */
export function usageOf(job: Job) {
  return {
    prompt_tokens: job.usage.inputTokens,
    completion_tokens: job.usage.outputTokens,
    total_tokens: job.usage.inputTokens + job.usage.outputTokens,
  };
}

/** OpenAI's `chat.completion` for a completed chat job. */
export function toCompletion(job: Job, requestedModel: string) {
  const out = job.output as ChatOutput;
  const message = messageOf(out);
  return {
    id: `chatcmpl-${job.id}`,
    object: 'chat.completion' as const,
    created: seconds(job.createdAt),
    model: out.model ?? requestedModel,
    choices: [
      {
        index: 0,
        message: { ...message, content: message.content ?? null, refusal: message.refusal ?? null },
        logprobs: out.logprobs ?? null,
        finish_reason: out.finishReason,
      },
    ],
    usage: usageOf(job),
    system_fingerprint: null,
    service_tier: null,
  };
}

/** The parts of every chunk of one answer. */
export interface ChunkBase {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  system_fingerprint: null;
}

export function chunkBase(jobId: string, model: string): ChunkBase {
  return {
    id: `chatcmpl-${jobId}`,
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: null,
  };
}

/** A chunk carrying `delta` (OpenAI's delta shape already; the thinking of reasoning models is left out). */
export function deltaChunk(base: ChunkBase, delta: ChatDelta | { role: 'assistant'; content: '' }, finish: string | null = null) {
  const { reasoning: _reasoning, ...wire } = delta as ChatDelta;
  return { ...base, choices: [{ index: 0, delta: wire, logprobs: null, finish_reason: finish }] };
}

/** The pieces of a whole answer, for a job that finished without streaming (a job that did not stream its call). */
export function wholeDeltas(out: ChatOutput): ChatDelta[] {
  const message = messageOf(out);
  const deltas: ChatDelta[] = [];
  if (typeof message.content === 'string' && message.content !== '') deltas.push({ content: message.content });
  if (message.refusal) deltas.push({ refusal: message.refusal });
  for (const [index, c] of (message.tool_calls ?? []).entries()) deltas.push({ tool_calls: [{ index, ...c }] });
  return deltas;
}
