/**
 * Chat Completions ↔ Anthropic's Messages API, both ways: requests to Anthropic's shape (for the
 * `anthropic` adapter), and Anthropic requests to the Chat Completions shape (for the Messages
 * API front), with the answers mapped back each way.
 */
import type {
  AssistantMessage,
  ChatMessage,
  FunctionTool,
  ReasoningEffort,
  ToolCall,
  ToolChoice,
  UserContentPart,
} from '../domain/chat.js';
import { assistantMessage, parseDataUrl, toolArguments } from './messages.js';
import { textOf } from './tokens.js';

/** A content block of the Messages API. */
export type AnthropicBlock =
  | { type: 'text'; text: string }
  | { type: 'image'; source: { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string } }
  | {
      type: 'document';
      source:
        | { type: 'base64'; media_type: string; data: string }
        | { type: 'text'; media_type: 'text/plain'; data: string }
        | { type: 'url'; url: string };
      title?: string;
    }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; tool_use_id: string; content?: string | AnthropicBlock[]; is_error?: boolean }
  | { type: 'thinking'; thinking: string; signature?: string }
  | { type: 'redacted_thinking'; data: string };

export interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: string | AnthropicBlock[];
}

export interface AnthropicTool {
  name: string;
  description?: string;
  input_schema: Record<string, unknown>;
}

export type AnthropicToolChoice =
  | { type: 'auto' | 'any' | 'none'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean };

/** Anthropic's stop reason → OpenAI's finish reason. */
export const FINISH: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
  pause_turn: 'stop',
};
/** OpenAI's finish reason → Anthropic's stop reason. */
export const STOP: Record<string, string> = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use', content_filter: 'refusal' };

/** Thinking budgets for OpenAI's reasoning efforts (Anthropic's minimum budget is 1,024 tokens). */
export const THINKING_BUDGET: Record<Exclude<ReasoningEffort, 'none'>, number> = { minimal: 1024, low: 2048, medium: 8192, high: 24_576 };

/** A data URL as a base64 source's fields. */
function dataUrl(url: string): { media_type: string; data: string } | undefined {
  const d = parseDataUrl(url);
  return d && { media_type: d.mediaType, data: d.data };
}

function userBlocks(content: string | UserContentPart[]): string | AnthropicBlock[] {
  if (typeof content === 'string') return content;
  return content.map((p): AnthropicBlock => {
    switch (p.type) {
      case 'text':
        return { type: 'text', text: p.text };
      case 'image_url': {
        const inline = dataUrl(p.image_url.url);
        return { type: 'image', source: inline ? { type: 'base64', ...inline } : { type: 'url', url: p.image_url.url } };
      }
      case 'file': {
        const raw = p.file.file_data ?? '';
        const inline = dataUrl(raw);
        return {
          type: 'document',
          source: { type: 'base64', media_type: inline?.media_type ?? 'application/pdf', data: inline?.data ?? raw },
          ...(p.file.filename && { title: p.file.filename }),
        };
      }
      default:
        // input_audio: refused before a call (capabilities.ts).
        return { type: 'text', text: '' };
    }
  });
}

function toolUse(c: ToolCall): AnthropicBlock {
  return { type: 'tool_use', id: c.id, name: c.function.name, input: toolArguments(c) };
}

/**
 * OpenAI messages → Anthropic's: system messages become the top-level `system`; assistant tool
 * calls become `tool_use` blocks, tool messages `tool_result` blocks of a user turn; consecutive
 * turns of one role are joined, as the API wants them alternating.
 */
export function toAnthropicMessages(messages: ChatMessage[]): { system: string | undefined; messages: AnthropicMessage[] } {
  const system: string[] = [];
  const turns: AnthropicMessage[] = [];
  const push = (role: 'user' | 'assistant', content: string | AnthropicBlock[]) => {
    const last = turns.at(-1);
    if (last?.role !== role) {
      turns.push({ role, content });
      return;
    }
    const blocks = (c: string | AnthropicBlock[]): AnthropicBlock[] => (typeof c === 'string' ? [{ type: 'text', text: c }] : c);
    last.content = [...blocks(last.content), ...blocks(content)];
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
        const blocks: AnthropicBlock[] = [];
        const text = textOf(m.content ?? '') || (m.refusal ?? '');
        if (text) blocks.push({ type: 'text', text });
        for (const c of m.tool_calls ?? []) blocks.push(toolUse(c));
        push('assistant', blocks.length === 1 && blocks[0]?.type === 'text' ? text : blocks);
        break;
      }
      case 'tool':
        push('user', [{ type: 'tool_result', tool_use_id: m.tool_call_id, content: textOf(m.content) }]);
        break;
    }
  }
  return { system: system.length ? system.join('\n\n') : undefined, messages: turns };
}

export const toAnthropicTools = (tools: FunctionTool[]): AnthropicTool[] =>
  tools.map((t) => ({
    name: t.function.name,
    ...(t.function.description !== undefined && { description: t.function.description }),
    input_schema: t.function.parameters ?? { type: 'object', properties: {} },
  }));

export function toAnthropicToolChoice(choice: ToolChoice | undefined, parallel: boolean | undefined): AnthropicToolChoice | undefined {
  const noParallel = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined) return parallel === false ? { type: 'auto', ...noParallel } : undefined;
  if (choice === 'auto') return { type: 'auto', ...noParallel };
  if (choice === 'required') return { type: 'any', ...noParallel };
  if (choice === 'none') return { type: 'none' };
  return { type: 'tool', name: choice.function.name, ...noParallel };
}

/** An Anthropic answer's content → the assistant message (thinking left out: it is not the answer). */
export function fromAnthropicContent(content: AnthropicBlock[]): AssistantMessage {
  let text = '';
  const calls: ToolCall[] = [];
  for (const b of content) {
    if (b.type === 'text') text += b.text;
    else if (b.type === 'tool_use')
      calls.push({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } });
  }
  return assistantMessage(text, calls);
}

// ----- the other way: Anthropic's requests (the Messages API front) to Chat Completions ------

function blockText(content: string | AnthropicBlock[] | undefined): string {
  if (content === undefined) return '';
  if (typeof content === 'string') return content;
  return content.map((b) => (b.type === 'text' ? b.text : '')).join('');
}

function toUserPart(b: AnthropicBlock): UserContentPart | undefined {
  switch (b.type) {
    case 'text':
      return { type: 'text', text: b.text };
    case 'image':
      return {
        type: 'image_url',
        image_url: { url: b.source.type === 'url' ? b.source.url : `data:${b.source.media_type};base64,${b.source.data}` },
      };
    case 'document':
      if (b.source.type === 'text') return { type: 'text', text: b.source.data };
      if (b.source.type === 'url') return { type: 'text', text: b.source.url };
      return {
        type: 'file',
        file: { file_data: `data:${b.source.media_type};base64,${b.source.data}`, ...(b.title && { filename: b.title }) },
      };
    default:
      return undefined;
  }
}

/** Anthropic messages (and `system`) → OpenAI messages. */
export function fromAnthropicMessages(system: string | AnthropicBlock[] | undefined, messages: AnthropicMessage[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  const sys = blockText(system);
  if (sys) out.push({ role: 'system', content: sys });
  for (const m of messages) {
    if (typeof m.content === 'string') {
      out.push(m.role === 'user' ? { role: 'user', content: m.content } : { role: 'assistant', content: m.content });
      continue;
    }
    if (m.role === 'assistant') {
      const text = m.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
      const calls = m.content
        .filter((b): b is Extract<AnthropicBlock, { type: 'tool_use' }> => b.type === 'tool_use')
        .map((b): ToolCall => ({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } }));
      out.push({
        role: 'assistant',
        content: text === '' && calls.length > 0 ? null : text,
        ...(calls.length > 0 && { tool_calls: calls }),
      });
      continue;
    }
    // A user turn: its tool results become tool messages (first, as OpenAI wants them right after
    // the assistant's calls), the rest one user message.
    const parts: UserContentPart[] = [];
    for (const b of m.content) {
      if (b.type === 'tool_result') {
        const text = blockText(b.content);
        out.push({ role: 'tool', tool_call_id: b.tool_use_id, content: b.is_error ? `Error: ${text}` : text });
      } else {
        const part = toUserPart(b);
        if (part) parts.push(part);
      }
    }
    if (parts.length > 0)
      out.push({
        role: 'user',
        content: parts.every((p) => p.type === 'text') ? parts.map((p) => (p as { text: string }).text).join('') : parts,
      });
  }
  return out;
}

export const fromAnthropicTools = (tools: AnthropicTool[]): FunctionTool[] =>
  tools.map((t) => ({
    type: 'function',
    function: { name: t.name, ...(t.description !== undefined && { description: t.description }), parameters: t.input_schema },
  }));

export function fromAnthropicToolChoice(c: AnthropicToolChoice | undefined): { tool_choice?: ToolChoice; parallel_tool_calls?: boolean } {
  if (c === undefined) return {};
  const parallel = c.disable_parallel_tool_use ? { parallel_tool_calls: false } : {};
  switch (c.type) {
    case 'auto':
      return { tool_choice: 'auto', ...parallel };
    case 'any':
      return { tool_choice: 'required', ...parallel };
    case 'none':
      return { tool_choice: 'none' };
    case 'tool':
      return { tool_choice: { type: 'function', function: { name: c.name } }, ...parallel };
  }
}

/** An assistant message → Anthropic content blocks. */
export function toAnthropicContent(message: AssistantMessage): AnthropicBlock[] {
  const blocks: AnthropicBlock[] = [];
  const text = textOf(message.content ?? '') || (message.refusal ?? '');
  if (text) blocks.push({ type: 'text', text });
  for (const c of message.tool_calls ?? []) blocks.push(toolUse(c));
  return blocks;
}
