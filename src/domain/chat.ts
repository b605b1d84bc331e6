/**
 * The Chat Completions request and answer as Switchyard carries them: OpenAI's wire shapes (field
 * names included), which every front translates to and every adapter translates from. Written
 * here rather than taken from the `openai` package, which is a client, not a dependency of the
 * engine.
 */

export interface TextPart {
  type: 'text';
  text: string;
}

export interface ImagePart {
  type: 'image_url';
  image_url: { url: string; detail?: 'auto' | 'low' | 'high' };
}

export interface AudioPart {
  type: 'input_audio';
  input_audio: { data: string; format: 'wav' | 'mp3' };
}

export interface FilePart {
  type: 'file';
  file: { file_data?: string; file_id?: string; filename?: string };
}

export interface RefusalPart {
  type: 'refusal';
  refusal: string;
}

export type UserContentPart = TextPart | ImagePart | AudioPart | FilePart;

/** A tool call the model asked for: `arguments` is JSON text, as the model wrote it. */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface SystemMessage {
  role: 'system' | 'developer';
  content: string | TextPart[];
  name?: string;
}

export interface UserMessage {
  role: 'user';
  content: string | UserContentPart[];
  name?: string;
}

export interface AssistantMessage {
  role: 'assistant';
  content?: string | (TextPart | RefusalPart)[] | null;
  refusal?: string | null;
  tool_calls?: ToolCall[];
  name?: string;
  /** An earlier audio answer, by id (OpenAI only). */
  audio?: { id: string } | null;
}

export interface ToolMessage {
  role: 'tool';
  content: string | TextPart[];
  tool_call_id: string;
}

export type ChatMessage = SystemMessage | UserMessage | AssistantMessage | ToolMessage;

export interface FunctionTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean | null };
}

export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name: string; description?: string; schema?: Record<string, unknown>; strict?: boolean | null } };

/** What reasoning models may spend on thinking before they answer. */
export type ReasoningEffort = 'none' | 'minimal' | 'low' | 'medium' | 'high';

/**
 * The parameters of a Chat Completions request (everything but `messages`, `model` and the
 * stream options), by OpenAI's names. `top_k` is Anthropic's, carried only to Anthropic.
 */
export interface ChatParams {
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  stop?: string | string[] | null;
  seed?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  reasoning_effort?: ReasoningEffort | null;
  user?: string;
  metadata?: Record<string, string> | null;
  tools?: FunctionTool[];
  tool_choice?: ToolChoice;
  parallel_tool_calls?: boolean;
  response_format?: ResponseFormat;
  n?: number | null;
  /** OpenAI-only parameters, carried as they are to OpenAI-compatible providers. */
  audio?: Record<string, unknown> | null;
  modalities?: string[] | null;
  prediction?: Record<string, unknown> | null;
  prompt_cache_key?: string;
  prompt_cache_retention?: string | null;
  safety_identifier?: string;
  service_tier?: string | null;
  store?: boolean | null;
  verbosity?: string | null;
  web_search_options?: Record<string, unknown>;
}

/** The parameters that only OpenAI-compatible providers take (named when another kind is asked for them). */
export const OPENAI_ONLY = [
  'audio',
  'modalities',
  'prediction',
  'prompt_cache_key',
  'prompt_cache_retention',
  'safety_identifier',
  'service_tier',
  'store',
  'verbosity',
  'web_search_options',
] as const satisfies readonly (keyof ChatParams)[];

/** A token's log probability, as OpenAI reports it. */
export interface TokenLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
  top_logprobs?: { token: string; logprob: number; bytes: number[] | null }[];
}

export interface ChoiceLogprobs {
  content: TokenLogprob[] | null;
  refusal?: TokenLogprob[] | null;
}

/**
 * A piece of an answer as it streams, in the shape of an OpenAI chunk's `delta`: text, refusal
 * text, or a piece of a tool call (its id and name come first, its arguments in pieces after).
 */
export interface ChatDelta {
  content?: string;
  refusal?: string;
  /** Thinking text of a reasoning model (Anthropic's thinking blocks); not part of the answer. */
  reasoning?: string;
  tool_calls?: { index: number; id?: string; type?: 'function'; function?: { name?: string; arguments?: string } }[];
}
