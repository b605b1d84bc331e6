/** Token estimates for providers that report none (the mock) and for limits checked before a call. */
import type { ChatMessage } from './types.js';

/** About four characters a token, plus a few tokens of framing per message (OpenAI's rule of thumb). */
export function estimateTokens(input: string | ChatMessage[]): number {
  if (typeof input === 'string') return Math.ceil(input.length / 4);
  let n = 2;
  for (const m of input) n += 4 + Math.ceil(m.content.length / 4);
  return n;
}
