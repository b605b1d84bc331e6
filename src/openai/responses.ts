/**
 * OpenAI's Responses API on the `chat` job: a request (its `input` items, `instructions`, function
 * tools, `text.format`, and the conversation of `previous_response_id`) becomes a chat job; the job
 * becomes a `response` object, or a stream of the Responses event types. A stored response is its
 * job: read back by `GET /v1/responses/:id`, its conversation carried on by the next request.
 */
import { SwitchyardError } from '../errors.js';
import type { ChatInput, ChatOutput } from '../jobs/chat.js';
import type { Job } from '../domain/jobs.js';
import type {
  AssistantMessage,
  ChatMessage,
  FunctionTool,
  ReasoningEffort,
  ResponseFormat,
  ToolCall,
  ToolChoice,
  UserContentPart,
} from '../domain/chat.js';
import { textOf } from '../providers/tokens.js';
import { messageOf } from './chat.js';

type InputPart =
  | { type: 'input_text'; text: string }
  | { type: 'input_image'; image_url?: string; file_id?: string; detail?: 'auto' | 'low' | 'high' }
  | { type: 'input_file'; file_data?: string; file_id?: string; filename?: string; file_url?: string }
  | { type: 'output_text'; text: string }
  | { type: 'refusal'; refusal: string };

type InputItem =
  | { type?: 'message'; role: 'user' | 'system' | 'developer' | 'assistant'; content: string | InputPart[]; id?: string; status?: string }
  | { type: 'function_call'; call_id: string; name: string; arguments: string; id?: string; status?: string }
  | { type: 'function_call_output'; call_id: string; output: string | InputPart[]; id?: string; status?: string }
  | { type: 'reasoning'; [k: string]: unknown };

interface ResponsesTool {
  type: 'function';
  name: string;
  description?: string | null;
  parameters?: Record<string, unknown> | null;
  strict?: boolean | null;
}

type ResponsesFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown>; description?: string; strict?: boolean | null };

/** A `POST /v1/responses` body (the parameters Switchyard reads). */
export interface ResponsesRequest {
  model: string;
  input?: string | InputItem[];
  instructions?: string | null;
  tools?: ResponsesTool[];
  tool_choice?: 'none' | 'auto' | 'required' | { type: 'function'; name: string };
  parallel_tool_calls?: boolean | null;
  text?: { format?: ResponsesFormat; verbosity?: 'low' | 'medium' | 'high' | null } | null;
  max_output_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_logprobs?: number | null;
  reasoning?: { effort?: ReasoningEffort | null; summary?: string | null } | null;
  metadata?: Record<string, string> | null;
  user?: string;
  store?: boolean | null;
  previous_response_id?: string | null;
  stream?: boolean | null;
  truncation?: 'disabled' | 'auto' | null;
  service_tier?: string | null;
  prompt_cache_key?: string;
  safety_identifier?: string;
}

const nullable = (schema: Record<string, unknown>) => ({ anyOf: [schema, { type: 'null' }] });
const part = {
  type: 'object',
  required: ['type'],
  properties: { type: { enum: ['input_text', 'input_image', 'input_file', 'output_text', 'refusal'] } },
} as const;

export const responsesRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['model'],
  properties: {
    model: { type: 'string', minLength: 1, maxLength: 256 },
    input: {
      anyOf: [
        { type: 'string' },
        {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              type: { enum: ['message', 'function_call', 'function_call_output', 'reasoning', 'item_reference'] },
              role: { enum: ['user', 'system', 'developer', 'assistant'] },
              content: { anyOf: [{ type: 'string' }, { type: 'array', items: part }] },
            },
          },
        },
      ],
    },
    instructions: nullable({ type: 'string' }),
    tools: {
      type: 'array',
      maxItems: 128,
      items: {
        type: 'object',
        required: ['type'],
        properties: {
          type: { type: 'string' },
          name: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,64}$' },
          parameters: nullable({ type: 'object' }),
        },
      },
    },
    tool_choice: {
      anyOf: [
        { enum: ['none', 'auto', 'required'] },
        { type: 'object', required: ['type', 'name'], properties: { type: { const: 'function' }, name: { type: 'string', minLength: 1 } } },
      ],
    },
    parallel_tool_calls: nullable({ type: 'boolean' }),
    text: nullable({
      type: 'object',
      additionalProperties: false,
      properties: {
        format: {
          type: 'object',
          required: ['type'],
          properties: {
            type: { enum: ['text', 'json_object', 'json_schema'] },
            name: { type: 'string' },
            schema: { type: 'object' },
            strict: nullable({ type: 'boolean' }),
          },
        },
        verbosity: nullable({ enum: ['low', 'medium', 'high'] }),
      },
    }),
    max_output_tokens: nullable({ type: 'integer', minimum: 1 }),
    temperature: nullable({ type: 'number', minimum: 0, maximum: 2 }),
    top_p: nullable({ type: 'number', minimum: 0, maximum: 1 }),
    top_logprobs: nullable({ type: 'integer', minimum: 0, maximum: 20 }),
    reasoning: nullable({ type: 'object', properties: { effort: nullable({ enum: ['none', 'minimal', 'low', 'medium', 'high'] }) } }),
    metadata: nullable({ type: 'object', maxProperties: 16, additionalProperties: { type: 'string', maxLength: 512 } }),
    user: { type: 'string', maxLength: 256 },
    store: nullable({ type: 'boolean' }),
    previous_response_id: nullable({ type: 'string', minLength: 1, maxLength: 128 }),
    stream: nullable({ type: 'boolean' }),
    truncation: nullable({ enum: ['disabled', 'auto'] }),
    service_tier: nullable({ type: 'string' }),
    prompt_cache_key: { type: 'string', maxLength: 1024 },
    safety_identifier: { type: 'string', maxLength: 256 },
  },
} as const;

/** What a response's job keeps in its metadata to be read back as a response. */
export interface ResponsesMeta {
  source: 'responses';
  /** Leading messages of the input that are this request's instructions (not carried to the next response). */
  instructions: number;
  store: boolean;
  previous_response_id: string | null;
  metadata: Record<string, string> | null;
}

export const responseId = (jobId: string) => `resp_${jobId}`;

/** The job id of a response id; undefined for an id Switchyard did not make. */
export function jobIdOf(responseId: string): string | undefined {
  return responseId.startsWith('resp_') ? responseId.slice(5) : undefined;
}

export function responsesMeta(job: Job): ResponsesMeta | undefined {
  const m = job.metadata as { responses?: ResponsesMeta } | null;
  return m?.responses?.source === 'responses' ? m.responses : undefined;
}

/** Whether a job is a stored response that may be read (not `store: false`, not deleted: erased). */
export const readable = (job: Job) => {
  const m = responsesMeta(job);
  return m?.store && (job.metadata as { erasedAt?: unknown }).erasedAt === undefined;
};

function userPart(p: InputPart): UserContentPart {
  switch (p.type) {
    case 'input_text':
    case 'output_text':
      return { type: 'text', text: p.text };
    case 'input_image':
      if (!p.image_url)
        throw new SwitchyardError(
          'SWY_UNSUPPORTED_PARAMETER',
          'input_image needs image_url (a URL or a data URL): file ids are not stored here',
        );
      return { type: 'image_url', image_url: { url: p.image_url, ...(p.detail && { detail: p.detail }) } };
    case 'input_file':
      if (p.file_data === undefined)
        throw new SwitchyardError('SWY_UNSUPPORTED_PARAMETER', 'input_file needs file_data: file ids and URLs are not fetched here');
      return { type: 'file', file: { file_data: p.file_data, ...(p.filename && { filename: p.filename }) } };
    case 'refusal':
      return { type: 'text', text: p.refusal };
  }
}

/** Responses input items → chat messages (consecutive function calls become one assistant message's tool calls). */
export function itemsToMessages(input: string | InputItem[] | undefined): ChatMessage[] {
  if (input === undefined) return [];
  if (typeof input === 'string') return [{ role: 'user', content: input }];
  const out: ChatMessage[] = [];
  for (const item of input) {
    const type = item.type ?? 'message';
    if (type === 'reasoning') continue; // a reasoning model's earlier thinking: not part of a chat conversation
    if (type === 'function_call') {
      const c = item as Extract<InputItem, { type: 'function_call' }>;
      const call: ToolCall = { id: c.call_id, type: 'function', function: { name: c.name, arguments: c.arguments } };
      const last = out.at(-1);
      if (last?.role === 'assistant') {
        last.tool_calls ??= [];
        last.tool_calls.push(call);
      } else out.push({ role: 'assistant', content: null, tool_calls: [call] });
      continue;
    }
    if (type === 'function_call_output') {
      const o = item as Extract<InputItem, { type: 'function_call_output' }>;
      out.push({
        role: 'tool',
        tool_call_id: o.call_id,
        content: typeof o.output === 'string' ? o.output : o.output.map((p) => textOf([userPart(p)])).join(''),
      });
      continue;
    }
    if (type !== 'message') throw new SwitchyardError('SWY_UNSUPPORTED_PARAMETER', `input items of type ${type} are not supported`);
    const m = item as Extract<InputItem, { role: string }>;
    const parts = typeof m.content === 'string' ? m.content : m.content.map(userPart);
    switch (m.role) {
      case 'user':
        out.push({ role: 'user', content: parts });
        break;
      case 'assistant':
        out.push({ role: 'assistant', content: textOf(parts) });
        break;
      default:
        out.push({ role: m.role, content: textOf(parts) });
    }
  }
  return out;
}

function tools(list: ResponsesTool[] | undefined): FunctionTool[] | undefined {
  if (!list?.length) return undefined;
  return list.map((t) => {
    if (t.type !== 'function')
      throw new SwitchyardError('SWY_UNSUPPORTED_PARAMETER', `tools of type ${t.type} are not supported (only function tools)`);
    return {
      type: 'function',
      function: {
        name: t.name,
        ...(t.description && { description: t.description }),
        ...(t.parameters && { parameters: t.parameters }),
        ...(t.strict !== undefined && t.strict !== null && { strict: t.strict }),
      },
    };
  });
}

function format(f: ResponsesFormat | undefined): ResponseFormat | undefined {
  if (!f || f.type === 'text') return undefined;
  if (f.type === 'json_object') return { type: 'json_object' };
  return {
    type: 'json_schema',
    json_schema: {
      name: f.name,
      schema: f.schema,
      ...(f.description && { description: f.description }),
      ...(f.strict !== undefined && f.strict !== null && { strict: f.strict }),
    },
  };
}

const choice = (c: ResponsesRequest['tool_choice']): ToolChoice | undefined =>
  c === undefined ? undefined : typeof c === 'string' ? c : { type: 'function', function: { name: c.name } };

/**
 * The chat job input and metadata for a request; `previous` is the stored response it continues
 * (its conversation, without its own instructions, then its answer, come first).
 */
export function toJob(req: ResponsesRequest, previous: Job | undefined, stream: boolean): { input: ChatInput; meta: ResponsesMeta } {
  const history: ChatMessage[] = [];
  if (previous) {
    const prevMeta = responsesMeta(previous) as ResponsesMeta;
    const prevInput = previous.input as ChatInput;
    history.push(...prevInput.messages.slice(prevMeta.instructions));
    if (previous.status === 'completed') history.push(messageOf(previous.output as ChatOutput));
  }
  const instructions: ChatMessage[] = req.instructions ? [{ role: 'system', content: req.instructions }] : [];
  const messages = [...instructions, ...history, ...itemsToMessages(req.input)];
  if (messages.length === 0) throw new SwitchyardError('SWY_VALIDATION', 'input is required');
  const input: ChatInput = { model: req.model, messages };
  const t = tools(req.tools);
  if (t) input.tools = t;
  const c = choice(req.tool_choice);
  if (c) input.tool_choice = c;
  if (typeof req.parallel_tool_calls === 'boolean') input.parallel_tool_calls = req.parallel_tool_calls;
  const f = format(req.text?.format);
  if (f) input.response_format = f;
  if (req.text?.verbosity) input.verbosity = req.text.verbosity;
  if (typeof req.max_output_tokens === 'number') input.max_tokens = req.max_output_tokens;
  if (typeof req.temperature === 'number') input.temperature = req.temperature;
  if (typeof req.top_p === 'number') input.top_p = req.top_p;
  if (typeof req.top_logprobs === 'number') {
    input.logprobs = true;
    input.top_logprobs = req.top_logprobs;
  }
  if (req.reasoning?.effort) input.reasoning_effort = req.reasoning.effort;
  if (req.user !== undefined) input.user = req.user;
  if (req.service_tier) input.service_tier = req.service_tier;
  if (req.prompt_cache_key !== undefined) input.prompt_cache_key = req.prompt_cache_key;
  if (req.safety_identifier !== undefined) input.safety_identifier = req.safety_identifier;
  if (stream) input.stream = true;
  const meta: ResponsesMeta = {
    source: 'responses',
    instructions: instructions.length,
    store: req.store !== false,
    previous_response_id: req.previous_response_id ?? null,
    metadata: req.metadata ?? null,
  };
  return { input, meta };
}

/** An answer's output items (a message item for text or a refusal, a function_call item per tool call). */
export function outputItems(jobId: string, message: AssistantMessage, status: 'completed' | 'in_progress' = 'completed'): unknown[] {
  const items: unknown[] = [];
  const text = textOf(message.content ?? '');
  if (text !== '' || message.refusal || !message.tool_calls?.length) {
    const content = message.refusal
      ? [{ type: 'refusal', refusal: message.refusal }]
      : [{ type: 'output_text', text, annotations: [], logprobs: [] }];
    items.push({ type: 'message', id: `msg_${jobId}`, status, role: 'assistant', content });
  }
  for (const [i, c] of (message.tool_calls ?? []).entries()) {
    items.push({
      type: 'function_call',
      id: `fc_${jobId}_${i}`,
      call_id: c.id,
      name: c.function.name,
      arguments: c.function.arguments,
      status,
    });
  }
  return items;
}

const STATUS: Record<Job['status'], string> = {
  queued: 'queued',
  running: 'in_progress',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
};

/** A `response` object for the job (as it is now: in progress, or finished). */
export function toResponse(job: Job, req?: Pick<ResponsesRequest, 'tools' | 'tool_choice' | 'text'>) {
  const meta = responsesMeta(job);
  const input = job.input as Partial<ChatInput>;
  const out = job.output as ChatOutput | null;
  const truncated = job.status === 'completed' && out?.finishReason === 'length';
  return {
    id: responseId(job.id),
    object: 'response' as const,
    created_at: Math.floor(Date.parse(job.createdAt) / 1000),
    status: truncated ? 'incomplete' : STATUS[job.status],
    error:
      job.status === 'failed' ? { code: job.error?.code ?? 'SWY_INTERNAL', message: job.error?.message ?? 'the response failed' } : null,
    incomplete_details: truncated ? { reason: 'max_output_tokens' } : null,
    instructions: meta && meta.instructions > 0 ? textOf((input.messages?.[0] as { content?: unknown } | undefined)?.content ?? '') : null,
    max_output_tokens: input.max_tokens ?? null,
    model: out?.model ?? input.model ?? '',
    output: job.status === 'completed' && out ? outputItems(job.id, messageOf(out)) : [],
    parallel_tool_calls: input.parallel_tool_calls ?? true,
    previous_response_id: meta?.previous_response_id ?? null,
    reasoning: { effort: input.reasoning_effort ?? null, summary: null },
    store: meta?.store ?? true,
    temperature: input.temperature ?? 1,
    text: req?.text ?? { format: { type: 'text' } },
    tool_choice: req?.tool_choice ?? 'auto',
    tools: req?.tools ?? [],
    top_p: input.top_p ?? 1,
    truncation: 'disabled',
    usage:
      job.status === 'completed' || job.status === 'failed'
        ? {
            input_tokens: job.usage.inputTokens,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens: job.usage.outputTokens,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: job.usage.inputTokens + job.usage.outputTokens,
          }
        : null,
    user: input.user ?? null,
    metadata: meta?.metadata ?? {},
  };
}
