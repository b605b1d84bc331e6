/**
 * Chat Completions → AWS Bedrock's Converse API, and its answers back: system messages become
 * `system` blocks, turns `messages` of `user` and `assistant` roles with content blocks (`text`,
 * `image`, `document`, `toolUse`, `toolResult`), sampling parameters the `inferenceConfig`.
 */
import type { AssistantMessage, ChatMessage, FunctionTool, ToolCall, ToolChoice, UserContentPart } from '../domain/chat.js';
import type { LlmUsage, NormalRequest } from '../domain/providers.js';
import { schemaOf } from './request.js';
import { assistantMessage, parseDataUrl, toolArguments } from './messages.js';
import { textOf } from './tokens.js';

export type BedrockBlock =
  | { text: string }
  | { image: { format: string; source: { bytes: string } } }
  | { document: { format: string; name: string; source: { bytes: string } } }
  | { toolUse: { toolUseId: string; name: string; input: unknown } }
  | { toolResult: { toolUseId: string; content: { text: string }[]; status?: 'success' | 'error' } }
  | { reasoningContent: { reasoningText?: { text: string } } };

export interface BedrockMessage {
  role: 'user' | 'assistant';
  content: BedrockBlock[];
}

export interface BedrockUsage {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

export interface ConverseAnswer {
  output?: { message?: { role?: string; content?: BedrockBlock[] } };
  stopReason?: string;
  usage?: BedrockUsage;
}

/** Bedrock's stop reason → OpenAI's finish reason. */
const FINISH: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  content_filtered: 'content_filter',
  guardrail_intervened: 'content_filter',
};
export const finishOf = (reason: string | undefined): string => FINISH[reason ?? 'end_turn'] ?? 'stop';

/** Bedrock counts cached prompt tokens apart from `inputTokens`: the prompt is all three. */
export function usageOf(u: BedrockUsage | undefined): LlmUsage {
  const read = u?.cacheReadInputTokens ?? 0;
  const write = u?.cacheWriteInputTokens ?? 0;
  const out: LlmUsage = { inputTokens: (u?.inputTokens ?? 0) + read + write, outputTokens: u?.outputTokens ?? 0 };
  if (read) out.cacheReadTokens = read;
  if (write) out.cacheWriteTokens = write;
  return out;
}

/** An image's or document's format as Bedrock names it, from a media type (`image/png` → `png`). */
function format(mediaType: string): string {
  const sub = mediaType.split('/')[1] ?? mediaType;
  return sub === 'jpg' ? 'jpeg' : sub === 'plain' ? 'txt' : sub;
}

function userBlocks(content: string | UserContentPart[]): BedrockBlock[] {
  if (typeof content === 'string') return [{ text: content }];
  return content.map((p, i): BedrockBlock => {
    switch (p.type) {
      case 'text':
        return { text: p.text };
      case 'image_url': {
        // Remote URLs are refused before a call (capabilities.ts): Bedrock takes bytes only.
        const d = parseDataUrl(p.image_url.url);
        return { image: { format: format(d?.mediaType ?? 'image/png'), source: { bytes: d?.data ?? '' } } };
      }
      case 'file': {
        const raw = p.file.file_data ?? '';
        const d = parseDataUrl(raw);
        const name = (p.file.filename ?? `document-${i + 1}`).replace(/[^A-Za-z0-9 ()[\]-]/g, '-');
        return { document: { format: format(d?.mediaType ?? 'application/pdf'), name, source: { bytes: d?.data ?? raw } } };
      }
      default:
        // input_audio: refused before a call (capabilities.ts).
        return { text: '' };
    }
  });
}

/** OpenAI messages → Converse's; consecutive turns of one role are joined, as the API wants them alternating. */
export function toConverseMessages(messages: ChatMessage[]): { system: string[]; messages: BedrockMessage[] } {
  const system: string[] = [];
  const turns: BedrockMessage[] = [];
  const push = (role: 'user' | 'assistant', content: BedrockBlock[]) => {
    const last = turns.at(-1);
    if (last?.role === role) last.content.push(...content);
    else turns.push({ role, content });
  };
  for (const m of messages) {
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(textOf(m.content));
        break;
      case 'user':
        push('user', userBlocks(m.content));
        break;
      case 'assistant': {
        const blocks: BedrockBlock[] = [];
        const text = textOf(m.content ?? '') || (m.refusal ?? '');
        if (text) blocks.push({ text });
        for (const c of m.tool_calls ?? []) blocks.push({ toolUse: { toolUseId: c.id, name: c.function.name, input: toolArguments(c) } });
        if (blocks.length > 0) push('assistant', blocks);
        break;
      }
      case 'tool':
        push('user', [{ toolResult: { toolUseId: m.tool_call_id, content: [{ text: textOf(m.content) }] } }]);
        break;
    }
  }
  return { system, messages: turns };
}

function toolChoice(choice: ToolChoice | undefined): Record<string, unknown> | undefined {
  if (choice === undefined || choice === 'auto') return { auto: {} };
  if (choice === 'required') return { any: {} };
  if (choice === 'none') return undefined; // refused before a call (capabilities.ts)
  return { tool: { name: choice.function.name } };
}

const toolSpecs = (tools: FunctionTool[]) =>
  tools.map((t) => ({
    toolSpec: {
      name: t.function.name,
      ...(t.function.description !== undefined && { description: t.function.description }),
      inputSchema: { json: t.function.parameters ?? { type: 'object', properties: {} } },
    },
  }));

/** The Converse request for a Chat Completions one (what it cannot carry was refused before: capabilities.ts). */
export function toConverseRequest(req: NormalRequest): Record<string, unknown> {
  const { system, messages } = toConverseMessages(req.messages);
  // Converse has no JSON-schema mode: the schema goes into the system prompt, and the chat handler
  // checks what comes back.
  const schema = schemaOf(req);
  if (schema !== undefined)
    system.push(`Respond with only a JSON value that matches this JSON Schema, and nothing else:\n${JSON.stringify(schema)}`);
  else if (req.response_format?.type === 'json_object') system.push('Respond with only a JSON object, and nothing else.');
  const body: Record<string, unknown> = { messages };
  if (system.length > 0) body.system = system.map((text) => ({ text }));
  const inference: Record<string, unknown> = {};
  if (req.max_tokens != null) inference.maxTokens = req.max_tokens;
  if (req.temperature != null) inference.temperature = req.temperature;
  if (req.top_p != null) inference.topP = req.top_p;
  if (req.stop != null) inference.stopSequences = typeof req.stop === 'string' ? [req.stop] : req.stop;
  if (Object.keys(inference).length > 0) body.inferenceConfig = inference;
  if (req.tools?.length) body.toolConfig = { tools: toolSpecs(req.tools), toolChoice: toolChoice(req.tool_choice) };
  return body;
}

/** The content of an answer → the assistant message (reasoning left out: it is not the answer). */
export function fromConverseContent(content: BedrockBlock[]): AssistantMessage {
  let text = '';
  const calls: ToolCall[] = [];
  for (const b of content) {
    if ('text' in b) text += b.text;
    else if ('toolUse' in b) {
      calls.push({
        id: b.toolUse.toolUseId,
        type: 'function',
        function: { name: b.toolUse.name, arguments: JSON.stringify(b.toolUse.input ?? {}) },
      });
    }
  }
  return assistantMessage(text, calls);
}
