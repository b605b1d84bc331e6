/**
 * Chat Completions → Google's Gemini API (`generateContent`), and its answers back: system
 * messages become `systemInstruction`, turns become `contents` of `user` and `model` roles, tool
 * calls `functionCall` parts and tool results `functionResponse` parts, sampling parameters the
 * `generationConfig`.
 */
import type { AssistantMessage, ChatMessage, FunctionTool, ToolCall, ToolChoice, UserContentPart } from '../domain/chat.js';
import type { LlmUsage, NormalRequest } from '../domain/providers.js';
import { THINKING_BUDGET } from './anthropic-map.js';
import { schemaOf } from './request.js';
import { assistantMessage, parseDataUrl, toolArguments } from './messages.js';
import { textOf } from './tokens.js';

export type GeminiPart =
  | { text: string; thought?: boolean }
  | { inlineData: { mimeType: string; data: string } }
  | { fileData: { fileUri: string; mimeType?: string } }
  | { functionCall: { name: string; args?: unknown; id?: string } }
  | { functionResponse: { name: string; response: unknown; id?: string } };

export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

export interface GeminiUsage {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  cachedContentTokenCount?: number;
  toolUsePromptTokenCount?: number;
}

export interface GeminiAnswer {
  candidates?: { content?: { parts?: GeminiPart[]; role?: string }; finishReason?: string }[];
  usageMetadata?: GeminiUsage;
  modelVersion?: string;
  promptFeedback?: { blockReason?: string };
}

/** Gemini's finish reason → OpenAI's (a blocked or filtered answer is a content filter). */
export function finishOf(reason: string | undefined, calledTools: boolean): string {
  if (reason === undefined || reason === 'STOP' || reason === 'FINISH_REASON_UNSPECIFIED') return calledTools ? 'tool_calls' : 'stop';
  if (reason === 'MAX_TOKENS') return 'length';
  if (reason === 'MALFORMED_FUNCTION_CALL' || reason === 'UNEXPECTED_TOOL_CALL') return 'stop';
  return 'content_filter';
}

/** Gemini counts the model's thinking apart from its answer: both are billed as output. */
export function usageOf(u: GeminiUsage | undefined): LlmUsage {
  const out: LlmUsage = {
    inputTokens: (u?.promptTokenCount ?? 0) + (u?.toolUsePromptTokenCount ?? 0),
    outputTokens: (u?.candidatesTokenCount ?? 0) + (u?.thoughtsTokenCount ?? 0),
  };
  if (u?.cachedContentTokenCount) out.cacheReadTokens = u.cachedContentTokenCount;
  if (u?.thoughtsTokenCount) out.reasoningTokens = u.thoughtsTokenCount;
  return out;
}

function dataUrl(url: string): { mimeType: string; data: string } | undefined {
  const d = parseDataUrl(url);
  return d && { mimeType: d.mediaType, data: d.data };
}

function userParts(content: string | UserContentPart[]): GeminiPart[] {
  if (typeof content === 'string') return [{ text: content }];
  return content.map((p): GeminiPart => {
    switch (p.type) {
      case 'text':
        return { text: p.text };
      case 'image_url': {
        const inline = dataUrl(p.image_url.url);
        return inline ? { inlineData: inline } : { fileData: { fileUri: p.image_url.url } };
      }
      case 'file': {
        const raw = p.file.file_data ?? '';
        return { inlineData: dataUrl(raw) ?? { mimeType: 'application/pdf', data: raw } };
      }
      default:
        return { inlineData: { mimeType: `audio/${p.input_audio.format}`, data: p.input_audio.data } };
    }
  });
}

/**
 * OpenAI messages → Gemini's: a tool message's `functionResponse` needs the function's name, which
 * OpenAI gives only on the assistant's call: it is found by the call's id. Consecutive turns of one
 * role are joined, as the API wants them alternating.
 */
export function toGeminiContents(messages: ChatMessage[]): { system: string | undefined; contents: GeminiContent[] } {
  const system: string[] = [];
  const contents: GeminiContent[] = [];
  const names = new Map<string, string>();
  const push = (role: 'user' | 'model', parts: GeminiPart[]) => {
    const last = contents.at(-1);
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };
  for (const m of messages) {
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(textOf(m.content));
        break;
      case 'user':
        push('user', userParts(m.content));
        break;
      case 'assistant': {
        const parts: GeminiPart[] = [];
        const text = textOf(m.content ?? '') || (m.refusal ?? '');
        if (text) parts.push({ text });
        for (const c of m.tool_calls ?? []) {
          names.set(c.id, c.function.name);
          parts.push({ functionCall: { name: c.function.name, args: toolArguments(c) } });
        }
        if (parts.length > 0) push('model', parts);
        break;
      }
      case 'tool':
        push('user', [
          { functionResponse: { name: names.get(m.tool_call_id) ?? m.tool_call_id, response: { content: textOf(m.content) } } },
        ]);
        break;
    }
  }
  return { system: system.length ? system.join('\n\n') : undefined, contents };
}

function toolConfig(choice: ToolChoice | undefined): Record<string, unknown> | undefined {
  if (choice === undefined) return undefined;
  if (choice === 'auto') return { functionCallingConfig: { mode: 'AUTO' } };
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
}

const toGeminiTools = (tools: FunctionTool[]) => [
  {
    functionDeclarations: tools.map((t) => ({
      name: t.function.name,
      ...(t.function.description !== undefined && { description: t.function.description }),
      parametersJsonSchema: t.function.parameters ?? { type: 'object', properties: {} },
    })),
  },
];

/** The `generateContent` request for a Chat Completions one (what it cannot carry was refused before: capabilities.ts). */
export function toGeminiRequest(req: NormalRequest): Record<string, unknown> {
  const { system, contents } = toGeminiContents(req.messages);
  const body: Record<string, unknown> = { contents };
  if (system) body.systemInstruction = { parts: [{ text: system }] };
  const gen: Record<string, unknown> = {};
  if (req.temperature != null) gen.temperature = req.temperature;
  if (req.top_p != null) gen.topP = req.top_p;
  if (req.top_k != null) gen.topK = req.top_k;
  if (req.max_tokens != null) gen.maxOutputTokens = req.max_tokens;
  if (req.stop != null) gen.stopSequences = typeof req.stop === 'string' ? [req.stop] : req.stop;
  if (req.seed != null) gen.seed = req.seed;
  if (req.presence_penalty != null) gen.presencePenalty = req.presence_penalty;
  if (req.frequency_penalty != null) gen.frequencyPenalty = req.frequency_penalty;
  const schema = schemaOf(req);
  if (schema !== undefined) {
    gen.responseMimeType = 'application/json';
    gen.responseJsonSchema = schema;
  } else if (req.response_format?.type === 'json_object') gen.responseMimeType = 'application/json';
  const effort = req.reasoning_effort;
  if (effort === 'none') gen.thinkingConfig = { thinkingBudget: 0 };
  else if (effort) gen.thinkingConfig = { thinkingBudget: THINKING_BUDGET[effort] };
  if (Object.keys(gen).length > 0) body.generationConfig = gen;
  if (req.tools?.length) body.tools = toGeminiTools(req.tools);
  const config = toolConfig(req.tool_choice);
  if (config) body.toolConfig = config;
  return body;
}

/** The parts of an answer → the assistant message (thinking left out: it is not the answer). Tool calls get ids of their own. */
export function fromGeminiParts(parts: GeminiPart[], callId: (i: number) => string): AssistantMessage {
  let text = '';
  const calls: ToolCall[] = [];
  for (const p of parts) {
    if ('text' in p && !p.thought) text += p.text;
    else if ('functionCall' in p) {
      calls.push({
        id: p.functionCall.id ?? callId(calls.length),
        type: 'function',
        function: { name: p.functionCall.name, arguments: JSON.stringify(p.functionCall.args ?? {}) },
      });
    }
  }
  return assistantMessage(text, calls);
}
