/**
 * Which parameters each kind of provider carries. A request goes only to providers that carry
 * every parameter it sets; when none serving its model can, it is refused with 400
 * SWY_UNSUPPORTED_PARAMETER naming the parameter: a parameter is never dropped in silence.
 */
import { OPENAI_ONLY, type ChatParams, type UserContentPart } from '../domain/chat.js';
import type { LlmRequest, ProviderKind } from '../domain/providers.js';

const set = (v: unknown) => v !== undefined && v !== null;

type Params = readonly (keyof ChatParams)[];

/** Parameters no API but OpenAI's has a counterpart for: token biases and log probabilities, OpenAI's metadata, its own features. */
const OPENAI_SHAPED = ['logit_bias', 'logprobs', 'top_logprobs', 'metadata', ...OPENAI_ONLY] as const satisfies Params;

/** Parameters the Anthropic Messages API has no counterpart for. */
const NOT_ANTHROPIC = ['seed', 'presence_penalty', 'frequency_penalty', ...OPENAI_SHAPED] as const satisfies Params;

/** Parameters the Gemini API has no counterpart for. */
const NOT_GEMINI = ['user', ...OPENAI_SHAPED] as const satisfies Params;

/** Parameters Bedrock's Converse API has no counterpart for (its `user` is not Anthropic's metadata). */
const NOT_BEDROCK = [...NOT_ANTHROPIC, 'user', 'top_k', 'reasoning_effort'] as const satisfies Params;

/** The first of `params` that `req` sets (a text-only `modalities` and `logprobs: false` set nothing). */
function firstSet(req: LlmRequest, params: readonly (keyof ChatParams)[]): string | undefined {
  for (const p of params) {
    if (p === 'modalities' && req.modalities?.every((m) => m === 'text')) continue;
    if (p === 'logprobs' && req.logprobs === false) continue;
    if (set(req[p])) return p;
  }
  return undefined;
}

/**
 * The first content part that a provider taking only inline bytes cannot carry: audio, a file
 * given by id, or (`remote`) an image given by URL rather than as a data URL.
 */
function unsupportedPart(req: LlmRequest, audio: boolean, remote: boolean): string | undefined {
  for (const m of req.messages) {
    if (m.role !== 'user' || typeof m.content === 'string') continue;
    for (const part of m.content as UserContentPart[]) {
      if (!audio && part.type === 'input_audio') return 'messages[].content[].input_audio';
      if (part.type === 'file' && part.file.file_data === undefined) return 'messages[].content[].file.file_id';
      if (!remote && part.type === 'image_url' && !part.image_url.url.startsWith('data:')) return 'messages[].content[].image_url.url';
    }
  }
  return undefined;
}

/** The first parameter of `req` that a provider of `kind` cannot carry, by its request name; undefined if it carries them all. */
export function unsupportedParameter(kind: ProviderKind, req: LlmRequest): string | undefined {
  if (set(req.n) && req.n !== 1) return 'n';
  switch (kind) {
    case 'openai':
    case 'azure':
      return set(req.top_k) ? 'top_k' : undefined;
    case 'mock':
      // The mock stands in for any provider: it takes every parameter (sampling ones change nothing
      // in a fake answer), but makes no audio.
      return set(req.audio) || req.modalities?.includes('audio') ? 'audio' : undefined;
    case 'anthropic': {
      const p = firstSet(req, NOT_ANTHROPIC);
      if (p) return p;
      if (set(req.temperature) && (req.temperature as number) > 1) return 'temperature';
      return unsupportedPart(req, false, true);
    }
    case 'gemini': {
      const p = firstSet(req, NOT_GEMINI);
      if (p) return p;
      if (req.parallel_tool_calls === false) return 'parallel_tool_calls';
      return unsupportedPart(req, true, false);
    }
    case 'bedrock': {
      const p = firstSet(req, NOT_BEDROCK);
      if (p) return p;
      if (req.parallel_tool_calls === false) return 'parallel_tool_calls';
      if (req.tool_choice === 'none') return 'tool_choice';
      return unsupportedPart(req, false, false);
    }
  }
}
