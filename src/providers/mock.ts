/**
 * The built-in `mock` provider: answers in-process, with configurable latency, jitter, failure rate
 * and token pacing. It answers tools with a deterministic call, response formats with JSON that
 * matches their schema, and streams its answers token by token, so that every path a real provider
 * takes can be run, tested and benchmarked without one.
 */
import { SwitchyardError } from '../errors.js';
import type { ChatDelta, ChatMessage, ChoiceLogprobs, FunctionTool, ToolCall } from '../domain/chat.js';
import { schemaOf } from './request.js';
import type { Adapter, CallAbort, DeltaSink, LlmResponse, NormalRequest } from '../domain/providers.js';
import { estimateTokens, textOf } from './tokens.js';

export interface MockOptions {
  /** Base latency of every call (until the first token of a stream), ms. @default 0 */
  latencyMs: number;
  /** Up to this much extra latency, uniformly random, ms. @default 0 */
  jitterMs: number;
  /** Share of calls that fail with a retryable server error, 0–1. @default 0 */
  failRate: number;
  /** Tokens a second after the first, streamed or not; 0 answers whole at once. @default 0 */
  tokensPerSecond: number;
}

export function mockOptions(options: Record<string, unknown>): MockOptions {
  const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : d);
  return {
    latencyMs: num(options.latencyMs, 0),
    jitterMs: num(options.jitterMs, 0),
    failRate: Math.min(1, num(options.failRate, 0)),
    tokensPerSecond: num(options.tokensPerSecond, 0),
  };
}

type Answer = Omit<LlmResponse, 'provider'>;

/** Whether the mock answers `req` with a tool call: asked to (required, or a named tool), or free to and the user spoke last. */
function callsTool(req: NormalRequest): FunctionTool | undefined {
  const tools = req.tools;
  if (!tools?.length || req.tool_choice === 'none') return undefined;
  const choice = req.tool_choice;
  if (typeof choice === 'object') return tools.find((t) => t.function.name === choice.function.name) ?? tools[0];
  if (choice === 'required') return tools[0];
  return req.messages.at(-1)?.role === 'user' ? tools[0] : undefined;
}

/** The pieces a stream of `message` is sent in: words of its text, or a tool call's id and name, then its arguments. */
function pieces(message: { content?: unknown; tool_calls?: ToolCall[] }): ChatDelta[] {
  const out: ChatDelta[] = [];
  const text = textOf(message.content ?? '');
  for (const word of text.match(/\S+\s*|\s+/g) ?? []) out.push({ content: word });
  (message.tool_calls ?? []).forEach((c, index) => {
    out.push({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.function.name, arguments: '' } }] });
    for (let i = 0; i < c.function.arguments.length; i += 8) {
      out.push({ tool_calls: [{ index, function: { arguments: c.function.arguments.slice(i, i + 8) } }] });
    }
  });
  return out;
}

export class MockAdapter implements Adapter {
  /** `maxOutputBytes`: an answer that would be larger fails as an over-long answer from a real provider does. */
  constructor(
    private readonly opts: MockOptions,
    private readonly maxOutputBytes = 1_048_576,
  ) {}

  /**
   * The answer after the latency; an abort ends the wait with its reason. A plain timer listening
   * on the attempt, not `timers/promises` with a signal: that needs the attempt's AbortSignal, which
   * the attempt otherwise never builds (see LazyAbort), which slowed the start of many calls in
   * flight. The timer settles the call itself, without an async frame waiting on a sleep: one
   * promise hop and its memory less per call in flight.
   */
  chat(req: NormalRequest, abort: CallAbort, onDelta?: DeltaSink): Promise<Answer> {
    const delay = this.opts.latencyMs + Math.random() * this.opts.jitterMs;
    if (abort.aborted) return Promise.reject(abort.reason);
    if (onDelta || this.opts.tokensPerSecond > 0) return this.paced(req, abort, delay, onDelta);
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

  /** The answer token by token: the first after `delay`, the rest at `tokensPerSecond` (streamed to `onDelta`). */
  private async paced(req: NormalRequest, abort: CallAbort, delay: number, onDelta: DeltaSink | undefined): Promise<Answer> {
    const wait = (ms: number) =>
      new Promise<void>((resolve, reject) => {
        if (abort.aborted) return reject(abort.reason);
        const onAbort = () => {
          clearTimeout(timer);
          reject(abort.reason);
        };
        const timer = setTimeout(() => {
          abort.offAbort(onAbort);
          resolve();
        }, ms);
        abort.onAbort(onAbort);
      });
    if (delay > 0) await wait(delay);
    const answer = this.answer(req);
    const gap = this.opts.tokensPerSecond > 0 ? 1000 / this.opts.tokensPerSecond : 0;
    let first = true;
    for (const piece of pieces(answer.message)) {
      if (!first && gap > 0) await wait(gap);
      first = false;
      onDelta?.(piece);
    }
    return answer;
  }

  private answer(req: NormalRequest): Answer {
    if (this.opts.failRate > 0 && Math.random() < this.opts.failRate) {
      throw new SwitchyardError('SWY_PROVIDER_SERVER', 'mock provider: injected failure');
    }
    const digest = fingerprint(req.messages);
    const tool = callsTool(req);
    const inputTokens = estimateTokens(req.messages, req.tools);
    if (tool) {
      const args = JSON.stringify(sampleFromSchema(tool.function.parameters ?? { type: 'object' }, digest, { left: this.maxOutputBytes }));
      const call: ToolCall = { id: `call_${digest}`, type: 'function', function: { name: tool.function.name, arguments: args } };
      return {
        text: '',
        message: { role: 'assistant', content: null, refusal: null, tool_calls: [call] },
        finishReason: 'tool_calls',
        model: req.model,
        usage: { inputTokens, outputTokens: estimateTokens(args) + 4 },
      };
    }
    const schema = schemaOf(req);
    const text =
      schema !== undefined
        ? JSON.stringify(sampleFromSchema(schema, digest, { left: this.maxOutputBytes }))
        : req.response_format?.type === 'json_object'
          ? JSON.stringify({ answer: mockText(req.messages, digest) })
          : mockText(req.messages, digest);
    const maxTokens = req.max_tokens ?? Infinity;
    const wanted = estimateTokens(text);
    const outputTokens = Math.min(wanted, maxTokens);
    const answer: Answer = {
      text,
      message: { role: 'assistant', content: text, refusal: null },
      finishReason: outputTokens < wanted ? 'length' : 'stop',
      model: req.model,
      usage: { inputTokens, outputTokens },
    };
    if (req.logprobs) answer.logprobs = mockLogprobs(text, req.top_logprobs ?? 0);
    return answer;
  }

  async close(): Promise<void> {}
}

/** Log probabilities of a mock answer: each word certain (0), with `top` made-up alternatives. */
function mockLogprobs(text: string, top: number): ChoiceLogprobs {
  const content = (text.match(/\S+\s*/g) ?? []).map((token) => ({
    token,
    logprob: 0,
    bytes: [...Buffer.from(token)],
    top_logprobs: [
      { token, logprob: 0, bytes: [...Buffer.from(token)] },
      ...Array.from({ length: Math.max(0, top - 1) }, (_, i) => ({ token: `alt${i}`, logprob: -5 - i, bytes: null })),
    ].slice(0, top),
  }));
  return { content, refusal: null };
}

/**
 * Eight hex digits that tell prompts apart (FNV-1a, 32 bits): the mock's answers only need to differ
 * by prompt and repeat for the same one; a cryptographic hash showed up in a no-op job's profile.
 */
function fingerprint(messages: ChatMessage[]): string {
  let h = 0x811c9dc5;
  for (const m of messages) {
    const content = (m as { content?: unknown }).content;
    h = mix(mix(h, m.role), typeof content === 'string' ? content : JSON.stringify(content ?? ''));
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** FNV-1a over `text`, then a separator above any UTF-16 unit ("ab","c" and "a","bc" differ). */
function mix(h: number, text: string): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return Math.imul(h ^ 0x10000, 0x01000193);
}

function mockText(messages: ChatMessage[], digest: string): string {
  const last = messages.findLast((m) => m.role === 'user' || m.role === 'tool') ?? messages.at(-1);
  // trim() drops the same whitespace as \s, so no empty words; the limit stops the split early.
  const words = textOf((last as { content?: unknown } | undefined)?.content ?? '')
    .trim()
    .split(/\s+/, 12)
    .join(' ');
  return `mock reply [${digest.slice(0, 8)}]: ${words}`;
}

/** Sample values for string formats: each valid for its format. */
const FORMATS: Record<string, string> = {
  'date-time': '2026-01-01T00:00:00Z',
  date: '2026-01-01',
  time: '00:00:00Z',
  email: 'mock@example.com',
  uri: 'https://example.com/mock',
  url: 'https://example.com/mock',
  uuid: '00000000-0000-4000-8000-000000000000',
  ipv4: '192.0.2.1',
  ipv6: '2001:db8::1',
  hostname: 'example.com',
  duration: 'P1D',
};

/** A local `$ref` (`#/$defs/x`, `#/definitions/x`) resolved against the schema's root. */
function resolveRef(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return {};
  let node: unknown = root;
  for (const part of ref.slice(1).split('/').filter(Boolean)) {
    node = (node as Record<string, unknown> | undefined)?.[decodeURIComponent(part).replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  return node ?? {};
}

/**
 * The smallest instance of a JSON Schema that validates, so that the mock can answer response
 * formats and tools: types, required and optional properties, enums and consts, local `$ref`s,
 * `allOf`, the first of `anyOf`/`oneOf`, numeric and length bounds, tuples, and common string
 * formats. (Not `pattern`: no instance is made to match a regular expression.) Written by hand:
 * faker libraries generate random data and pull in a large dependency for what is a page of
 * type-driven recursion here.
 */
export function sampleFromSchema(schema: unknown, seed: string, budget = { left: 1_048_576 }, depth = 0, root: unknown = schema): unknown {
  let s = (schema ?? {}) as Record<string, unknown>;
  if (depth > 16) return null;
  // A schema may ask for a huge instance (minLength 1e9): refused before it is built, not after.
  const spend = (n: number) => {
    budget.left -= n;
    if (budget.left < 0)
      throw new SwitchyardError(
        'SWY_OUTPUT_TOO_LARGE',
        'mock provider: the answer its schema asks for is larger than SWITCHYARD_MAX_OUTPUT_BYTES',
      );
  };
  const sample = (sub: unknown) => sampleFromSchema(sub, seed, budget, depth + 1, root);
  if (typeof s.$ref === 'string') s = { ...(resolveRef(root, s.$ref) as Record<string, unknown>), ...s, $ref: undefined };
  if (Array.isArray(s.allOf))
    s = Object.assign(
      {},
      ...(s.allOf as object[]).map((x) =>
        typeof (x as { $ref?: unknown }).$ref === 'string' ? resolveRef(root, (x as { $ref: string }).$ref) : x,
      ),
      { ...s, allOf: undefined },
    );
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  const pick = (Array.isArray(s.anyOf) && s.anyOf[0]) || (Array.isArray(s.oneOf) && s.oneOf[0]);
  if (pick) return sample(pick);
  const type = Array.isArray(s.type) ? (s.type.find((t) => t !== 'null') ?? s.type[0]) : (s.type ?? (s.properties ? 'object' : undefined));
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
      const tuple = Array.isArray(s.prefixItems) ? (s.prefixItems as unknown[]) : Array.isArray(s.items) ? (s.items as unknown[]) : [];
      const n = Math.max(
        tuple.length,
        typeof s.minItems === 'number' ? s.minItems : Math.min(1, typeof s.maxItems === 'number' ? s.maxItems : 1),
      );
      spend(n);
      return Array.from({ length: n }, (_, i) => sample(i < tuple.length ? tuple[i] : Array.isArray(s.items) ? {} : s.items));
    }
    case 'string': {
      const min = typeof s.minLength === 'number' ? s.minLength : 0;
      spend(Math.max(min, 16));
      const formatted = typeof s.format === 'string' ? FORMATS[s.format] : undefined;
      if (formatted !== undefined) return formatted;
      const base = `mock-${seed.slice(0, 8)}`;
      const str = base.padEnd(min, 'x');
      return typeof s.maxLength === 'number' ? str.slice(0, s.maxLength) : str;
    }
    case 'integer':
    case 'number': {
      const lo =
        typeof s.minimum === 'number'
          ? s.minimum
          : typeof s.exclusiveMinimum === 'number'
            ? s.exclusiveMinimum + (type === 'integer' ? 1 : 0.5)
            : 0;
      const hi =
        typeof s.maximum === 'number'
          ? s.maximum
          : typeof s.exclusiveMaximum === 'number'
            ? s.exclusiveMaximum - (type === 'integer' ? 1 : 0.5)
            : Infinity;
      let n = Math.min(Math.max(0, lo), hi);
      if (type === 'integer') n = Math.ceil(n);
      if (typeof s.multipleOf === 'number' && s.multipleOf > 0) n = Math.ceil(n / s.multipleOf) * s.multipleOf;
      return n;
    }
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return {};
  }
}
