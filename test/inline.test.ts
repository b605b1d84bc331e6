/** The built-in handler's main-thread runner: the same ctx and abort semantics as the pool. */
import t from 'tap';
import { SwitchyardError } from '../src/errors.js';
import type { Handler } from '../src/jobs/context.js';
import type { LlmResponse } from '../src/providers/types.js';
import { runInline } from '../src/scheduler/inline.js';

const answer: LlmResponse = { text: 'hi', finishReason: 'stop', model: 'm', provider: 'p', usage: { inputTokens: 1, outputTokens: 1 } };

function hooks(signal: AbortSignal, llm: () => Promise<LlmResponse> = async () => answer) {
  const seen = { progress: [] as number[], logs: [] as string[], calls: 0 };
  return {
    seen,
    hooks: {
      signal,
      llm: () => { seen.calls++; return llm(); },
      progress: (v: number) => seen.progress.push(v),
      log: (level: string, msg: string) => seen.logs.push(`${level}:${msg}`),
    },
  };
}

t.test('runs the handler with its ctx: llm, progress and log reach the hooks; undefined output is null', async (t) => {
  const { hooks: h, seen } = hooks(new AbortController().signal);
  const handler: Handler = async (input, ctx) => {
    ctx.progress(50);
    ctx.log.info(`job ${ctx.jobId} attempt ${ctx.attempt}`);
    ctx.log.warn('careful');
    const res = await ctx.llm({ messages: [{ role: 'user', content: String(input) }] });
    t.equal(res.text, 'hi');
    return undefined;
  };
  t.same(await runInline(handler, { jobId: 'j1', attempt: 2, input: 'x' }, h), { ok: true, output: null });
  t.same(seen, { progress: [50], logs: ['info:job j1 attempt 2', 'warn:careful'], calls: 1 });
});

t.test('a handler error comes back as data with its code', async (t) => {
  const { hooks: h } = hooks(new AbortController().signal);
  const handler: Handler = async () => { throw new SwitchyardError('SWY_OUTPUT_INVALID', 'bad answer'); };
  const r = await runInline(handler, { jobId: 'j', attempt: 1, input: null }, h);
  t.equal(r.ok, false);
  t.equal(!r.ok && r.error.code, 'SWY_OUTPUT_INVALID');
});

t.test('an abort ends the attempt with its reason even when the handler ignores it', async (t) => {
  const ac = new AbortController();
  const { hooks: h } = hooks(ac.signal);
  let release!: () => void;
  const handler: Handler = () => new Promise((resolve) => (release = () => resolve('too late')));
  const running = runInline(handler, { jobId: 'j', attempt: 1, input: null }, h);
  ac.abort(new SwitchyardError('SWY_TIMEOUT', 'attempt 1 exceeded its 10 ms timeout'));
  const r = await running;
  t.equal(!r.ok && r.error.code, 'SWY_TIMEOUT');
  release();
});

t.test('an attempt aborted before it starts makes no LLM call', async (t) => {
  const ac = new AbortController();
  ac.abort(new SwitchyardError('SWY_CANCELLED', 'cancelled'));
  const { hooks: h, seen } = hooks(ac.signal);
  const handler: Handler = async (_input, ctx) => ctx.llm({ messages: [{ role: 'user', content: 'x' }] });
  const r = await runInline(handler, { jobId: 'j', attempt: 1, input: null }, h);
  t.equal(!r.ok && r.error.code, 'SWY_CANCELLED');
  t.equal(seen.calls, 0);
});
