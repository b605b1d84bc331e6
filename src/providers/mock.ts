/** The built-in `mock` provider: answers in-process, with configurable latency, jitter and failure rate. */
import { SwitchyardError } from '../errors.js';
import type { Adapter, CallAbort, LlmRequest, LlmResponse } from './types.js';
import { estimateTokens } from './tokens.js';

export interface MockOptions {
  /** Base latency of every call, ms. @default 0 */
  latencyMs: number;
  /** Up to this much extra latency, uniformly random, ms. @default 0 */
  jitterMs: number;
  /** Share of calls that fail with a retryable server error, 0–1. @default 0 */
  failRate: number;
}

export function mockOptions(options: Record<string, unknown>): MockOptions {
  const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : d);
  return { latencyMs: num(options.latencyMs, 0), jitterMs: num(options.jitterMs, 0), failRate: Math.min(1, num(options.failRate, 0)) };
}

export class MockAdapter implements Adapter {
  /** `maxOutputBytes`: an answer that would be larger fails as an over-long answer from a real provider does. */
  constructor(private readonly opts: MockOptions, private readonly maxOutputBytes = 1_048_576) {}

  /**
   * The answer after the latency; an abort ends the wait with its reason. A plain timer listening
   * on the attempt, not `timers/promises` with a signal: that needs the attempt's AbortSignal, which
   * the attempt otherwise never builds (see LazyAbort); with 10,000 mock calls in flight, starting
   * them took 375–456 ms with it and 263–287 ms without (the llm benchmark, 3 runs each). The timer
   * settles the call itself, without an async frame waiting on a sleep: one promise hop and
   * ≈ 0.5 KB less per call in flight.
   */
  chat(req: LlmRequest & { model: string }, abort: CallAbort): Promise<Omit<LlmResponse, 'provider'>> {
    const delay = this.opts.latencyMs + Math.random() * this.opts.jitterMs;
    if (abort.aborted) return Promise.reject(abort.reason);
    // An executor that throws rejects its promise: answer() may (failRate).
    if (delay <= 0) return new Promise((resolve) => resolve(this.answer(req)));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(abort.reason);
      };
      const timer = setTimeout(() => {
        abort.offAbort(onAbort);
        try {
          resolve(this.answer(req));
        } catch (err) {
          reject(err);
        }
      }, delay);
      abort.onAbort(onAbort);
    });
  }

  private answer(req: LlmRequest & { model: string }): Omit<LlmResponse, 'provider'> {
    if (this.opts.failRate > 0 && Math.random() < this.opts.failRate) {
      throw new SwitchyardError('SWY_PROVIDER_SERVER', 'mock provider: injected failure');
    }
    const digest = fingerprint(req.messages);
    const text = req.responseSchema
      ? JSON.stringify(sampleFromSchema(req.responseSchema, digest, { left: this.maxOutputBytes }))
      : mockText(req, digest);
    const maxTokens = req.maxTokens ?? Infinity;
    const wanted = estimateTokens(text);
    const outputTokens = Math.min(wanted, maxTokens);
    return {
      text,
      finishReason: outputTokens < wanted ? 'length' : 'stop',
      model: req.model,
      usage: { inputTokens: estimateTokens(req.messages), outputTokens },
    };
  }

  async close(): Promise<void> {}
}

/**
 * Eight hex digits that tell prompts apart (FNV-1a, 32 bits): the mock's answers only need to differ
 * by prompt and repeat for the same one. (SHA-1 here was ≈ 4 % of a no-op job's time, profiled.)
 */
function fingerprint(messages: LlmRequest['messages']): string {
  let h = 0x811c9dc5;
  for (const m of messages) h = mix(mix(h, m.role), m.content);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** FNV-1a over `text`, then a separator above any UTF-16 unit ("ab","c" and "a","bc" differ). */
function mix(h: number, text: string): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return Math.imul(h ^ 0x10000, 0x01000193);
}

function mockText(req: LlmRequest, digest: string): string {
  const last = req.messages.findLast((m) => m.role === 'user') ?? req.messages.at(-1);
  // trim() drops the same whitespace as \s, so no empty words; the limit stops the split early.
  const words = (last?.content ?? '').trim().split(/\s+/, 12).join(' ');
  return `mock reply [${digest.slice(0, 8)}]: ${words}`;
}

/**
 * The smallest instance of a JSON Schema that validates, so that the mock can answer
 * `responseSchema` jobs. Written by hand: faker libraries generate random data and pull in a
 * large dependency for what is a dozen lines of type-driven recursion here.
 */
export function sampleFromSchema(schema: unknown, seed: string, budget = { left: 1_048_576 }, depth = 0): unknown {
  const s = (schema ?? {}) as Record<string, unknown>;
  if (depth > 8) return null;
  // A schema may ask for a huge instance (minLength 1e9): refused before it is built, not after.
  const spend = (n: number) => {
    budget.left -= n;
    if (budget.left < 0) throw new SwitchyardError('SWY_OUTPUT_TOO_LARGE', 'mock provider: the answer its schema asks for is larger than SWITCHYARD_MAX_OUTPUT_BYTES');
  };
  const sample = (sub: unknown) => sampleFromSchema(sub, seed, budget, depth + 1);
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  const pick = (Array.isArray(s.anyOf) && s.anyOf[0]) || (Array.isArray(s.oneOf) && s.oneOf[0]);
  if (pick) return sample(pick);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(props)) {
        spend(k.length + 4);
        out[k] = sample(v);
      }
      return out;
    }
    case 'array': {
      const n = typeof s.minItems === 'number' ? s.minItems : 1;
      spend(n);
      return Array.from({ length: n }, () => sample(s.items));
    }
    case 'string': {
      const min = typeof s.minLength === 'number' ? s.minLength : 0;
      spend(Math.max(min, 16));
      const base = `mock-${seed.slice(0, 8)}`;
      const str = base.padEnd(min, 'x');
      return typeof s.maxLength === 'number' ? str.slice(0, s.maxLength) : str;
    }
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 0;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return {};
  }
}
