/**
 * Which parameters each kind of provider carries. A request goes only to providers that carry
 * every parameter it sets; when none serving its model can, it is refused with 400
 * SWY_UNSUPPORTED_PARAMETER naming the parameter: a parameter is never dropped in silence.
 */
import { OPENAI_ONLY, type ChatParams, type UserContentPart } from '../domain/chat.js';
import type { LlmRequest, ProviderKind } from '../domain/providers.js';

const set = (v: unknown) => v !== undefined && v !== null;

/** Parameters the Anthropic Messages API has no counterpart for. */
const NOT_ANTHROPIC = [
  'seed',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'logprobs',
  'top_logprobs',
  'metadata',
  ...OPENAI_ONLY,
] as const satisfies readonly (keyof ChatParams)[];

/** The first parameter of `req` that a provider of `kind` cannot carry, by its request name; undefined if it carries them all. */
export function unsupportedParameter(kind: ProviderKind, req: LlmRequest): string | undefined {
  if (set(req.n) && req.n !== 1) return 'n';
  switch (kind) {
    case 'openai':
      return set(req.top_k) ? 'top_k' : undefined;
    case 'mock':
      // The mock stands in for any provider: it takes every parameter (sampling ones change nothing
      // in a fake answer), but makes no audio.
      return set(req.audio) || req.modalities?.includes('audio') ? 'audio' : undefined;
    case 'anthropic': {
      for (const p of NOT_ANTHROPIC) {
        if (p === 'modalities' && req.modalities?.every((m) => m === 'text')) continue;
        if (p === 'logprobs' && req.logprobs === false) continue;
        if (set(req[p])) return p;
      }
      if (set(req.temperature) && (req.temperature as number) > 1) return 'temperature';
      for (const m of req.messages) {
        if (m.role !== 'user' || typeof m.content === 'string') continue;
        for (const part of m.content as UserContentPart[]) {
          if (part.type === 'input_audio') return 'messages[].content[].input_audio';
          if (part.type === 'file' && part.file.file_data === undefined) return 'messages[].content[].file.file_id';
        }
      }
      return undefined;
    }
  }
}
