/** Cancel, retries with backoff, timeouts, hung and crashed workers. */
import t from 'tap';
import { chatJob, makeEngine, serve } from './helpers/engine.js';
import { fakeOpenAI } from './helpers/fake-openai.js';
import { until } from './helpers/wait.js';

const fixture = (name: string) => new URL(`./fixtures/${name}.ts`, import.meta.url);

t.test('cancelling a running job aborts its handler', async (t) => {
  const engine = await makeEngine(t);
  engine.defineJobType('wait', fixture('wait-for-abort'));
  const api = await serve(t, engine);
  const progress: number[] = [];
  engine.on('job:progress', (e) => progress.push(e.value));
  const running = new Promise<void>((resolve) =>
    engine.on('job:progress', (e) => {
      if (e.value === 1) resolve();
    }),
  );
  const job = await engine.submit({ type: 'wait', input: {} });
  await running;
  // The aborted attempt's result comes back after the cancel, and is fenced off.
  const superseded = new Promise<void>((resolve) =>
    engine.on('job:superseded', (e) => {
      if (e.jobId === job.id) resolve();
    }),
  );
  const res = await api.call('POST', `/v1/jobs/${job.id}/cancel`);
  t.equal(res.status, 200);
  t.equal(res.body.status, 'cancelled');
  await new Promise<void>((resolve) => {
    if (progress.includes(-1)) resolve();
    engine.on('job:progress', (e) => {
      if (e.value === -1) resolve();
    });
  });
  t.same(progress, [1, -1], 'the handler saw its signal abort');
  const again = await api.call('POST', `/v1/jobs/${job.id}/cancel`);
  t.equal(again.status, 409);
  t.equal(again.body.error.code, 'SWY_INVALID_STATE');
  await superseded;
  const after = await engine.get(job.id);
  t.equal(after.status, 'cancelled', 'the aborted attempt did not overwrite the cancel');
  t.same(
    after.attempts?.map((a) => [a.number, a.outcome]),
    [[1, 'cancelled']],
  );
});

t.test("cancelling aborts the provider's HTTP call", async (t) => {
  const slow = await fakeOpenAI(t, { kind: 'hang' });
  const engine = await makeEngine(t);
  await engine.providers.add({ name: 'slow', kind: 'openai', baseUrl: slow.baseUrl, priority: 10 });
  const job = await engine.submit(chatJob('never answered'));
  await slow.received(1);
  await engine.cancel(job.id);
  // The aborted attempt ends after its call's in-flight count dropped, and its result is fenced
  // off by the cancel (job:superseded).
  await until(engine, ['job:superseded'], () => engine.providers.get('slow').state.inFlight === 0);
  t.equal(engine.providers.get('slow').state.inFlight, 0, 'the call was aborted');
  t.equal((await engine.get(job.id)).status, 'cancelled');
});

t.test('a queued job can be cancelled and retried', async (t) => {
  const engine = await makeEngine(t, { start: false });
  const api = await serve(t, engine);
  const job = await engine.submit(chatJob('later', { delayMs: 60_000 }));
  t.equal((await api.call('POST', `/v1/jobs/${job.id}/cancel`)).body.status, 'cancelled');
  const retried = await api.call('POST', `/v1/jobs/${job.id}/retry`);
  t.equal(retried.status, 200);
  t.equal(retried.body.status, 'queued');
  t.equal(retried.body.attempt, 0);
  const bad = await api.call('POST', `/v1/jobs/${job.id}/retry`);
  t.equal(bad.status, 409);
  t.equal(bad.body.error.code, 'SWY_INVALID_STATE');
  await engine.start();
  t.equal((await engine.wait(job.id, { timeoutMs: 10_000 })).status, 'completed', 'retried job runs at once');
});

t.test('retryable failures are retried with backoff up to maxAttempts', async (t) => {
  const engine = await makeEngine(t, { retryBaseMs: 50, retryMaxMs: 1000 });
  await engine.providers.update('mock', { options: { failRate: 1 } });
  const delays: number[] = [];
  engine.on('job:retrying', (j) => delays.push(Date.parse(j.runAt) - Date.now()));
  const job = await engine.submit(chatJob('always fails', { maxAttempts: 3 }));
  const done = await engine.wait(job.id, { timeoutMs: 10_000 });
  t.equal(done.status, 'failed');
  t.equal(done.attempt, 3, 'three attempts');
  t.equal(delays.length, 2, 'two retries scheduled');
  t.ok(
    delays.every((d) => d >= -5 && d <= 1000),
    `delays within the backoff ceiling: ${delays}`,
  );
  t.equal(done.error?.code, 'SWY_PROVIDER_SERVER', 'the final error explains the last failure');
  t.same(
    done.attempts?.map((a) => [a.number, a.outcome, a.error?.code, a.provider]),
    [
      [1, 'retried', 'SWY_PROVIDER_SERVER', 'mock'],
      [2, 'retried', 'SWY_PROVIDER_SERVER', 'mock'],
      [3, 'failed', 'SWY_PROVIDER_SERVER', 'mock'],
    ],
    'every attempt is kept',
  );
  t.ok(done.attempts!.every((a) => a.finishedAt !== null && Date.parse(a.finishedAt) >= Date.parse(a.startedAt)));
  t.match(done.error?.message, /injected failure/);
  const stats = await engine.stats();
  t.equal(stats.failed, 1);
  t.equal(stats.successRate, 0);
});

t.test('a job that times out is aborted and its attempt fails with SWY_TIMEOUT', async (t) => {
  const engine = await makeEngine(t);
  // The provider would take a minute: finishing in well under that is not a speed claim.
  await engine.providers.update('mock', { options: { latencyMs: 60_000 } });
  const started = Date.now();
  const job = await engine.submit(chatJob('too slow', { timeoutMs: 200, maxAttempts: 1 }));
  const done = await engine.wait(job.id, { timeoutMs: 30_000 });
  t.equal(done.status, 'failed');
  t.equal(done.error?.code, 'SWY_TIMEOUT');
  t.ok(Date.now() - started < 30_000, 'did not wait for the provider');
});

t.test("a job's timeout aborts the provider's HTTP call", async (t) => {
  const slow = await fakeOpenAI(t, { kind: 'hang' });
  const engine = await makeEngine(t);
  // Warm the pool first: a cold worker thread may take longer to boot than this job's timeout.
  const warm = await engine.submit(chatJob('warm up'));
  await engine.wait(warm.id, { timeoutMs: 10_000 });
  await engine.providers.update('mock', { enabled: false });
  await engine.providers.add({ name: 'slow', kind: 'openai', baseUrl: slow.baseUrl, timeoutMs: 60_000 });
  const job = await engine.submit(chatJob('hangs', { timeoutMs: 300, maxAttempts: 1 }));
  const done = await engine.wait(job.id, { timeoutMs: 10_000 });
  t.equal(done.status, 'failed');
  t.equal(done.error?.code, 'SWY_TIMEOUT');
  if (slow.aborted() === 0) await slow.nextAbort();
  t.equal(slow.aborted(), 1, 'the provider saw its request aborted');
  t.equal(engine.providers.get('slow').state.inFlight, 0);
  t.equal(engine.providers.get('slow').state.breaker, 'closed', "the job's own timeout does not count against the provider");
});

t.test('a handler stuck in a busy loop is cut off and the pool keeps serving', async (t) => {
  const engine = await makeEngine(t, { threads: 1, abortGraceMs: 200 });
  engine.defineJobType('busy', fixture('busy-loop'));
  const stuck = await engine.submit({ type: 'busy', input: {}, timeoutMs: 300, maxAttempts: 1 });
  const done = await engine.wait(stuck.id, { timeoutMs: 15_000 });
  t.equal(done.status, 'failed');
  t.equal(done.error?.code, 'SWY_TIMEOUT');
  t.match(done.error?.message, /terminated/);
  const next = await engine.submit(chatJob('after the stuck one'));
  t.equal((await engine.wait(next.id, { timeoutMs: 15_000 })).status, 'completed', 'the replaced thread runs the next job');
});

t.test('a crashed worker fails only that attempt, which is retried', async (t) => {
  const engine = await makeEngine(t, { threads: 1 });
  engine.defineJobType('crash', fixture('crash'));
  const job = await engine.submit({ type: 'crash', input: { crash: true }, maxAttempts: 2 });
  const done = await engine.wait(job.id, { timeoutMs: 15_000 });
  t.equal(done.status, 'failed');
  t.equal(done.attempt, 2, 'the crash was retryable');
  t.equal(done.error?.code, 'SWY_WORKER_CRASHED');
  const ok = await engine.submit({ type: 'crash', input: { crash: false } });
  t.same((await engine.wait(ok.id, { timeoutMs: 15_000 })).output, { survived: true });
});

t.test('responseSchema: valid JSON is parsed, invalid output fails after its attempts', async (t) => {
  const fake = await fakeOpenAI(t, { kind: 'ok', text: '{"label": 7}' });
  const engine = await makeEngine(t);
  const schema = { type: 'object', required: ['label'], properties: { label: { type: 'string', enum: ['spam', 'ham'] } } };
  const good = await engine.submit({ input: { messages: [{ role: 'user', content: 'classify' }], responseSchema: schema } });
  const g = await engine.wait(good.id, { timeoutMs: 10_000 });
  t.equal(g.status, 'completed');
  t.same((g.output as { json: unknown }).json, { label: 'spam' }, 'the mock produced schema-valid JSON');

  await engine.providers.add({ name: 'fake', kind: 'openai', baseUrl: fake.baseUrl, priority: 10 });
  const bad = await engine.submit({ input: { messages: [{ role: 'user', content: 'classify' }], responseSchema: schema }, maxAttempts: 2 });
  const b = await engine.wait(bad.id, { timeoutMs: 10_000 });
  t.equal(b.status, 'failed');
  t.equal(b.attempt, 2);
  t.equal(b.error?.code, 'SWY_OUTPUT_INVALID');
  t.equal(
    b.error?.message,
    'the answer fails its JSON Schema: answer.label must be of type string',
    'the field named, in the one path style',
  );
  t.match(fake.requests[0]!.body.response_format, { type: 'json_schema', json_schema: { schema } }, 'JSON was asked for');
});

t.test('slots freed below the refill batch are refilled while the other attempts keep running', async (t) => {
  // 64 slots: the scheduler refills in batches of 8 while attempts are in flight. 61 attempts hold
  // their slots for a minute; 3 end quickly, leaving 3 free slots, fewer than a batch.
  const engine = await makeEngine(t, { concurrency: 64, threads: 1, timeoutMs: 120_000 });
  await engine.providers.remove('mock');
  await engine.providers.add({ name: 'slow', kind: 'mock', models: ['slow'], maxConcurrency: 100, options: { latencyMs: 60_000 } });
  await engine.providers.add({ name: 'fast', kind: 'mock', models: ['fast'], maxConcurrency: 100, options: { latencyMs: 20 } });
  const job = (model: string) => ({ input: { messages: [{ role: 'user' as const, content: model }], model } });
  await engine.submitMany([...Array.from({ length: 61 }, () => job('slow')), ...Array.from({ length: 3 }, () => job('fast'))]);
  await engine.start();
  await until(engine, ['job:started'], () => engine.load().running >= 64);
  const waiting = await engine.submitMany(Array.from({ length: 3 }, () => job('fast')));
  const done = await Promise.all(waiting.map((j) => engine.wait(j.id, { timeoutMs: 30_000 })));
  t.same(
    done.map((j) => j.status),
    ['completed', 'completed', 'completed'],
    'they ran without waiting for a slow attempt to end',
  );
  t.equal(engine.load().running, 61, 'the slow attempts were still running');
  await engine.stop({ timeoutMs: 0 });
});
