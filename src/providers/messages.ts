/** Pieces every adapter's mapping of Chat Completions messages needs, whatever the vendor's format. */
import type { AssistantMessage, ToolCall } from '../domain/chat.js';

/** A data URL's media type and base64 data; undefined for any other URL. */
export function parseDataUrl(url: string): { mediaType: string; data: string } | undefined {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  return m ? { mediaType: m[1] as string, data: m[2] as string } : undefined;
}

/** A tool call's arguments as a JSON value: a model's malformed arguments, sent back in a conversation, are kept as text rather than lost. */
export function toolArguments(c: ToolCall): unknown {
  try {
    return JSON.parse(c.function.arguments || '{}');
  } catch {
    return { arguments: c.function.arguments };
  }
}

/** The assistant message of an answer's text and tool calls, as OpenAI writes it. */
export function assistantMessage(text: string, calls: ToolCall[]): AssistantMessage {
  return {
    role: 'assistant',
    content: text === '' && calls.length > 0 ? null : text,
    refusal: null,
    ...(calls.length > 0 && { tool_calls: calls }),
  };
}
