/** Token estimates for providers that report none (the mock, a stream without usage) and for limits checked before a call. */
import type { ChatMessage, FunctionTool } from '../domain/chat.js';

/** What an image or a file in a prompt is counted as: OpenAI bills a low-detail image 85 tokens. */
const ATTACHMENT_TOKENS = 85;

/** The text of a message's content: a string, or its text (and refusal) parts joined. */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const p of content as { type?: string; text?: unknown; refusal?: unknown }[]) {
    if (typeof p.text === 'string') text += p.text;
    else if (typeof p.refusal === 'string') text += p.refusal;
  }
  return text;
}

/** About four characters a token, plus a few tokens of framing per message (OpenAI's rule of thumb). */
export function estimateTokens(input: string | ChatMessage[], tools?: FunctionTool[]): number {
  if (typeof input === 'string') return Math.ceil(input.length / 4);
  let n = 2;
  for (const m of input) {
    n += 4;
    const content = (m as { content?: unknown }).content;
    if (typeof content === 'string') n += Math.ceil(content.length / 4);
    else if (Array.isArray(content)) {
      for (const p of content as { type?: string; text?: string }[]) {
        n += typeof p.text === 'string' ? Math.ceil(p.text.length / 4) : ATTACHMENT_TOKENS;
      }
    }
    const calls = (m as { tool_calls?: { function: { name: string; arguments: string } }[] }).tool_calls;
    if (calls) for (const c of calls) n += 4 + Math.ceil((c.function.name.length + c.function.arguments.length) / 4);
  }
  if (tools) for (const t of tools) n += 8 + Math.ceil(JSON.stringify(t.function).length / 4);
  return n;
}
