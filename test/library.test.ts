/**
 * The embedded library, with no HTTP: an in-memory database, a custom job type that calls the
 * LLM from the pool, typed events, wait with a timeout and a signal, provider CRUD, stats, usage;
 * then createServer() mounted on the same engine.
 */
import t from 'tap';
import { createEngine, createServer, type Job } from '../src/index.js';
import { API_KEY } from './helpers/engine.js';

t.test('a :memory: engine runs a custom job type that calls ctx.llm(); events fire; wait resolves', async (t) => {
  const engine = await createEngine({ database: ':memory:', threads: 1, concurrency: 8, retryBaseMs: 10, retryMaxMs: 20 });
  t.teardown(() => engine.stop());
  engine.defineJobType('two-calls', new URL('./fixtures/two-calls.ts', import.meta.url), {
    inputSchema: {
      type: 'object',
      required: ['topic'],
      properties: { topic: { type: 'string', minLength: 1 }, failFirst: { type: 'boolean' } },
    },
    maxAttempts: 2,
    timeoutMs: 30_000,
  });
  const seen: string[] = [];
  const progress: number[] = [];
  const calls: string[] = [];
  engine.on('job:queued', (j: Job) => seen.push(`queued:${j.type}`));
  engine.on('job:started', (j) => seen.push(`started:${j.attempt}`));
  engine.on('job:retrying', (j) => seen.push(`retrying:${j.error?.code}`));
  engine.on('job:completed', (j) => seen.push(`completed:${j.attempt}`));
  engine.on('job:progress', (e) => progress.push(e.value));
  engine.on('provider:call', (c) => calls.push(`${c.provider}:${c.outcome}`));
  await engine.start();

  await t.rejects(engine.submit({ type: 'two-calls', input: { topic: '' } }), { code: 'SWY_VALIDATION' }, 'input validated on submit');
  await t.rejects(engine.submit({ type: 'nope', input: {} }), { code: 'SWY_UNKNOWN_JOB_TYPE' });

  const job = await engine.submit({ type: 'two-calls', input: { topic: 'tides', failFirst: true } });
  const done = await engine.wait(job.id, { timeoutMs: 30_000 });
  t.equal(done.status, 'completed');
  const out = done.output as { outline: string; draft: string; attempt: number; aborted: boolean; jobId: string };
  t.equal(out.attempt, 2, 'ctx.attempt counts attempts: the first failed on purpose and was retried');
  t.equal(out.jobId, job.id);
  t.equal(out.aborted, false, 'ctx.signal is live and not aborted');
  t.match(out.outline, /^mock reply/, 'ctx.llm() answered through the router');
  t.same(progress, [50, 100], 'ctx.progress() values arrive as events');
  t.equal(done.progress, 100, 'and are kept on the job');
  t.same(calls, ['mock:ok', 'mock:ok']);
  t.same(seen, ['queued:two-calls', 'started:1', 'retrying:SWY_HANDLER_ERROR', 'started:2', 'completed:2']);
  t.equal(done.usage.inputTokens > 0, true, 'usage of both calls recorded');

  const ac = new AbortController();
  const slow = await engine.submit({ input: { messages: [{ role: 'user', content: 'x' }] }, runAt: Date.now() + 60_000 });
  const waited = engine.wait(slow.id, { timeoutMs: 60_000, signal: ac.signal });
  ac.abort();
  t.equal((await waited).status, 'queued', 'wait returns the job as it is when its signal aborts');
  t.equal((await engine.wait(slow.id, { timeoutMs: 20 })).status, 'queued', 'and when its timeout passes');
  t.equal((await engine.cancel(slow.id)).status, 'cancelled');
  t.equal((await engine.retry(slow.id)).status, 'queued');
  const page = await engine.list({ type: 'two-calls' });
  t.same(
    page.data.map((j) => j.id),
    [job.id],
  );

  const stats = await engine.stats();
  t.equal(stats.byType['two-calls']?.completed, 1);
  const usage = await engine.usage({ groupBy: ['type'] });
  t.equal(usage.data.find((r) => r.type === 'two-calls')?.calls, 2, 'the usage report holds the two calls of the attempt that made them');
});

t.test('provider CRUD and createServer() on the same engine', async (t) => {
  const engine = await createEngine({ database: ':memory:', threads: 1, seedProviders: false });
  t.teardown(() => engine.stop());
  t.same(engine.providers.list(), []);
  const added = await engine.providers.add({ name: 'local', kind: 'mock', models: ['*'], options: { latencyMs: 1 } });
  t.equal(added.name, 'local');
  t.equal((await engine.providers.update('local', { weight: 3 })).weight, 3);
  t.equal(engine.providers.get('local').weight, 3);
  await t.rejects(engine.providers.add({ name: 'local', kind: 'mock', models: ['*'] }), { code: 'SWY_PROVIDER_EXISTS' });
  await engine.start();
  const app = await createServer(engine, { apiKey: API_KEY });
  t.teardown(() => app.close());
  const res = await app.inject({
    method: 'POST',
    url: '/v1/jobs',
    headers: { authorization: `Bearer ${API_KEY}` },
    payload: { input: { messages: [{ role: 'user', content: 'hi' }] } },
  });
  t.equal(res.statusCode, 201);
  const done = await engine.wait(res.json<{ id: string }>().id, { timeoutMs: 10_000 });
  t.equal(done.provider, 'local', 'the HTTP job ran on the library-added provider');
  await engine.providers.remove('local');
  t.same(engine.providers.list(), []);
});

t.test("a built-in chat job's completed event carries the job as a read returns it", async (t) => {
  const engine = await createEngine({ database: ':memory:', threads: 1, concurrency: 4 });
  t.teardown(() => engine.stop());
  const completed = new Promise<Job>((resolve) => engine.once('job:completed', resolve));
  await engine.start();
  const job = await engine.submit({ type: 'chat', input: { messages: [{ role: 'user', content: 'Summarise: tides are slow waves.' }] } });
  const event = await completed;
  const { attempts: _a, ...read } = await engine.get(job.id);
  t.strictSame(event, read, 'same fields, same values');
  t.match(event.output, { text: /tides are slow waves/, finishReason: 'stop', provider: 'mock' });
});
