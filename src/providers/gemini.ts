/**
 * The `gemini` adapter: Google's Gemini API, `POST {baseUrl}/models/{model}:generateContent` and,
 * streamed, `:streamGenerateContent?alt=sse` (each event a partial answer). The key goes in the
 * `x-goog-api-key` header. The request is mapped in gemini-map.ts.
 */
import { randomUUID } from 'node:crypto';
import type { Agent } from 'undici';
import { SwitchyardError } from '../errors.js';
import type { Adapter, CallAbort, DeltaSink, LlmResponse, NormalRequest, ProviderConfig } from '../domain/providers.js';
import type { ProviderEnv } from './env.js';
import { type GeminiAnswer, finishOf, fromGeminiParts, toGeminiRequest, usageOf } from './gemini-map.js';
import { callOf, postJson, postStream, providerAgent } from './http.js';
import { Assembler } from './request.js';
import { textOf } from './tokens.js';

/** Where Google serves the Gemini API when `baseUrl` is not set. */
export const GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com/v1beta';

const callId = () => `call_${randomUUID().replaceAll('-', '').slice(0, 24)}`;

export class GeminiAdapter implements Adapter {
  private readonly agent: Agent;
  private readonly base: string;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly config: ProviderConfig,
    env: ProviderEnv,
  ) {
    this.base = (config.baseUrl ?? GEMINI_BASE_URL).replace(/\/+$/, '');
    this.agent = providerAgent(config, env);
    const extra = (config.options.headers ?? {}) as Record<string, string>;
    this.headers = { ...extra, 'content-type': 'application/json', ...(config.apiKey ? { 'x-goog-api-key': config.apiKey } : {}) };
  }

  private post(model: string, method: string, body: unknown, abort: CallAbort) {
    return callOf(this.config, this.agent, `${this.base}/models/${encodeURIComponent(model)}:${method}`, this.headers, body, abort);
  }

  async chat(req: NormalRequest, abort: CallAbort, onDelta?: DeltaSink): Promise<Omit<LlmResponse, 'provider'>> {
    if (onDelta) return this.stream(req, abort, onDelta);
    const data = await postJson<GeminiAnswer>(this.post(req.model, 'generateContent', toGeminiRequest(req), abort));
    const candidate = data.candidates?.[0];
    if (!candidate) {
      // A prompt blocked before any answer: no candidate, a block reason.
      if (data.promptFeedback?.blockReason) {
        return {
          text: '',
          message: { role: 'assistant', content: '', refusal: null },
          finishReason: 'content_filter',
          model: data.modelVersion ?? req.model,
          usage: usageOf(data.usageMetadata),
        };
      }
      throw new SwitchyardError('SWY_PROVIDER_BAD_RESPONSE', `${this.config.name}: answer has no candidates`);
    }
    const message = fromGeminiParts(candidate.content?.parts ?? [], callId);
    return {
      text: textOf(message.content ?? ''),
      message,
      finishReason: finishOf(candidate.finishReason, message.tool_calls !== undefined),
      model: data.modelVersion ?? req.model,
      usage: usageOf(data.usageMetadata),
    };
  }

  /** Each event is a partial answer: its text parts are pieces of the text, its function calls whole calls. */
  private async stream(req: NormalRequest, abort: CallAbort, onDelta: DeltaSink): Promise<Omit<LlmResponse, 'provider'>> {
    const answer = new Assembler();
    let last: GeminiAnswer = {};
    let finish: string | undefined;
    let calls = 0;
    await postStream(this.post(req.model, 'streamGenerateContent?alt=sse', toGeminiRequest(req), abort), ({ data }) => {
      let chunk: GeminiAnswer & { error?: { message?: string; status?: string } };
      try {
        chunk = JSON.parse(data);
      } catch {
        throw new SwitchyardError('SWY_PROVIDER_BAD_RESPONSE', `${this.config.name}: a stream event is not JSON`);
      }
      if (chunk.error) {
        throw new SwitchyardError('SWY_PROVIDER_SERVER', `${this.config.name}: the stream ended with an error`, {
          ...(chunk.error.message && { detail: chunk.error.message.slice(0, 300) }),
        });
      }
      last = { ...last, ...chunk };
      const candidate = chunk.candidates?.[0];
      if (candidate?.finishReason) finish = candidate.finishReason;
      for (const p of candidate?.content?.parts ?? []) {
        if ('text' in p) {
          if (p.thought) onDelta({ reasoning: p.text });
          else if (p.text) {
            answer.add({ content: p.text });
            onDelta({ content: p.text });
          }
        } else if ('functionCall' in p) {
          const d = {
            tool_calls: [
              {
                index: calls++,
                id: p.functionCall.id ?? callId(),
                type: 'function' as const,
                function: { name: p.functionCall.name, arguments: JSON.stringify(p.functionCall.args ?? {}) },
              },
            ],
          };
          answer.add(d);
          onDelta(d);
        }
      }
    });
    if (finish === undefined) {
      throw new SwitchyardError('SWY_PROVIDER_BAD_RESPONSE', `${this.config.name}: the stream ended before the answer did`);
    }
    const message = answer.message();
    return {
      text: textOf(message.content ?? ''),
      message,
      finishReason: finishOf(finish, calls > 0),
      model: last.modelVersion ?? req.model,
      usage: usageOf(last.usageMetadata),
    };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
