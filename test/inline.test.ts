/** The built-in handler's main-thread runner: the same ctx and abort semantics as the pool. */
import t from 'tap';
import { SwitchyardError } from '../src/errors.js';
import type { Handler } from '../src/jobs/context.js';
import { signalAbort } from '../src/providers/provider.js';
import type { LlmResponse } from '../src/domain/providers.js';
import { LazyAbort } from '../src/scheduler/abort.js';
import { runInline } from '../src/scheduler/inline.js';

const answer: LlmResponse = {
  text: 'hi',
  message: { role: 'assistant', content: 'hi' },
  finishReason: 'stop',
  model: 'm',
  provider: 'p',
  usage: { inputTokens: 1, outputTokens: 1 },
};

/** An attempt's hooks around the real LazyAbort; the calls they receive are recorded in `seen`. */
class Hooks extends LazyAbort {
  readonly seen = { progress: [] as number[], logs: [] as string[], calls: 0 };
  llm(): Promise<LlmResponse> {
    this.seen.calls++;
    return Promise.resolve(answer);
  }
  progress(v: number): void {
    this.seen.progress.push(v);
  }
  log(level: string, msg: string): void {
    this.seen.logs.push(`${level}:${msg}`);
  }
}

function hooks() {
  const h = new Hooks();
  return { hooks: h, seen: h.seen, ac: h };
}

t.test('runs the handler with its ctx: llm, progress and log reach the hooks; undefined output is null', async (t) => {
  const { hooks: h, seen } = hooks();
  const handler: Handler = async (input, ctx) => {
    ctx.progress(50);
    ctx.log.info(`job ${ctx.jobId} attempt ${ctx.attempt}`);
    ctx.log.warn('careful');
    const res = await ctx.llm({ messages: [{ role: 'user', content: String(input) }] });
    t.equal(res.text, 'hi');
    return undefined;
  };
  t.same(
    await runInline(handler, { jobId: 'j1', attempt: 2, input: 'x' }, h),
    { ok: true, output: null, outputIsJson: true },
    'a JSON value (built-in handlers return one)',
  );
  t.same(seen, { progress: [50], logs: ['info:job j1 attempt 2', 'warn:careful'], calls: 1 });
});

t.test('a handler error comes back as data with its code', async (t) => {
  const { hooks: h } = hooks();
  const handler: Handler = async () => {
    throw new SwitchyardError('SWY_OUTPUT_INVALID', 'bad answer');
  };
  const r = await runInline(handler, { jobId: 'j', attempt: 1, input: null }, h);
  t.equal(r.ok, false);
  t.equal(!r.ok && r.error.code, 'SWY_OUTPUT_INVALID');
});

t.test('an abort ends the attempt with its reason even when the handler ignores it', async (t) => {
  const { hooks: h, ac } = hooks();
  let release!: () => void;
  const handler: Handler = () => new Promise((resolve) => (release = () => resolve('too late')));
  const running = runInline(handler, { jobId: 'j', attempt: 1, input: null }, h);
  ac.abort(new SwitchyardError('SWY_TIMEOUT', 'attempt 1 exceeded its 10 ms timeout'));
  const r = await running;
  t.equal(!r.ok && r.error.code, 'SWY_TIMEOUT');
  release();
});

t.test('an attempt aborted before it starts makes no LLM call', async (t) => {
  const { hooks: h, seen, ac } = hooks();
  ac.abort(new SwitchyardError('SWY_CANCELLED', 'cancelled'));
  const handler: Handler = async (_input, ctx) => ctx.llm({ messages: [{ role: 'user', content: 'x' }] });
  const r = await runInline(handler, { jobId: 'j', attempt: 1, input: null }, h);
  t.equal(!r.ok && r.error.code, 'SWY_CANCELLED');
  t.equal(seen.calls, 0);
});

t.test("a handler that reads ctx.signal gets a real AbortSignal, aborted with the attempt's reason", async (t) => {
  const { hooks: h, ac } = hooks();
  let seen: AbortSignal | undefined;
  const handler: Handler = (_input, ctx) => {
    seen = ctx.signal;
    return new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
  };
  const running = runInline(handler, { jobId: 'j', attempt: 1, input: null }, h);
  t.equal(seen?.aborted, false);
  ac.abort(new SwitchyardError('SWY_CANCELLED', 'cancelled'));
  t.equal(seen?.aborted, true);
  t.equal((seen?.reason as SwitchyardError | undefined)?.code, 'SWY_CANCELLED');
  const r = await running;
  t.equal(!r.ok && r.error.code, 'SWY_CANCELLED');
});

t.test('LazyAbort: no signal until asked; one built after the abort is already aborted; the first reason stays', async (t) => {
  const a = new LazyAbort();
  t.equal((a as unknown as { controller?: AbortController }).controller, undefined, 'no AbortController before .signal is read');
  const fired: string[] = [];
  const removed = () => fired.push('removed');
  a.onAbort(() => fired.push('first'));
  a.onAbort(removed);
  a.onAbort(() => fired.push('second'));
  a.offAbort(removed);
  a.offAbort(() => undefined); // not a listener: nothing happens
  a.abort(new SwitchyardError('SWY_TIMEOUT', 'late'));
  a.abort(new SwitchyardError('SWY_CANCELLED', 'again'));
  t.same(fired, ['first', 'second'], 'each listener fired once, in order; the removed one not');
  t.equal((a.reason as SwitchyardError).code, 'SWY_TIMEOUT', 'the first reason stays');
  t.equal(a.signal.aborted, true, 'a signal built after the abort is aborted');
  t.equal((a.signal.reason as SwitchyardError).code, 'SWY_TIMEOUT');
  a.onAbort(() => fired.push('late'));
  t.same(fired, ['first', 'second', 'late'], 'a listener added after the abort runs at once');

  const b = new LazyAbort();
  t.equal((b as unknown as { controller?: AbortController }).controller, undefined);
  const early = b.signal;
  t.type(
    (b as unknown as { controller?: AbortController }).controller,
    AbortController,
    'reading .signal builds the controller (the probe above sees it)',
  );
  b.abort(new SwitchyardError('SWY_CANCELLED', 'cancelled'));
  t.equal(early.aborted, true, 'a signal built before the abort is aborted by it');
  t.equal((early.reason as SwitchyardError).code, 'SWY_CANCELLED');

  const c = new LazyAbort();
  const built = c.signal;
  c.onAbort(() => {
    throw new Error('listener failed');
  });
  t.throws(() => c.abort(new SwitchyardError('SWY_TIMEOUT', 'late')), { message: 'listener failed' });
  t.equal(built.aborted, true, 'a listener that throws does not keep the signal from aborting');
});

t.test('signalAbort: the same listening over an AbortSignal', async (t) => {
  const ac = new AbortController();
  const a = signalAbort(ac.signal);
  let calls = 0;
  const off = () => calls++;
  a.onAbort(() => calls++);
  a.onAbort(off);
  a.offAbort(off);
  t.equal(a.aborted, false);
  ac.abort(new SwitchyardError('SWY_TIMEOUT', 'probe timed out'));
  t.equal(calls, 1, 'the remaining listener fired once');
  t.equal(a.aborted, true);
  t.equal((a.reason as SwitchyardError).code, 'SWY_TIMEOUT');
  a.onAbort(() => calls++);
  t.equal(calls, 2, 'a listener added after the abort runs at once');
});
