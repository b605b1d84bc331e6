/** Provider failover through a fake OpenAI-compatible server on 127.0.0.1. */
import t from 'tap';
import { chatJob, makeEngine, serve } from './helpers/engine.js';
import { addBackup, fakeOpenAI } from './helpers/fake-openai.js';

t.test('a primary answering 500 opens its breaker; jobs complete on the next provider', async (t) => {
  const primary = await fakeOpenAI(t, { kind: 'status', status: 500 });
  const engine = await makeEngine(t, { concurrency: 1 });
  await addBackup(t, engine);
  const api = await serve(t, engine);
  const created = await api.call('POST', '/v1/providers', {
    name: 'primary',
    kind: 'openai',
    baseUrl: primary.baseUrl,
    apiKey: 'sk-fake-secret',
    priority: 10,
    breaker: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 },
  });
  t.equal(created.status, 201);
  t.notOk('apiKey' in created.body, 'apiKey is never returned');
  t.equal(created.body.hasApiKey, true);

  const states: string[] = [];
  engine.on('provider:state', (e) => {
    if (e.name === 'primary') states.push(e.state.breaker);
  });
  const jobs = [];
  for (let i = 0; i < 8; i++) jobs.push((await api.call('POST', '/v1/jobs', chatJob(`failover ${i}`))).body.id as string);
  const done = await Promise.all(jobs.map((id) => engine.wait(id, { timeoutMs: 20_000 })));
  t.ok(
    done.every((j) => j.status === 'completed' && j.provider === 'backup'),
    'every job completed on the backup',
  );
  t.ok(
    done.every((j) => j.attempt === 1),
    'failover happened within the first attempt',
  );

  t.equal(primary.requests.length, 3, 'the breaker opened after its volume threshold and took no more calls');
  t.equal(primary.requests[0]!.headers.authorization, 'Bearer sk-fake-secret', 'the key reaches the provider');
  t.same(states, ['open']);

  const p = await api.call('GET', '/v1/providers/primary');
  t.equal(p.body.state.breaker, 'open');
  t.equal(p.body.state.healthy, false);
  t.equal(p.body.state.lastError.code, 'SWY_PROVIDER_SERVER');
  t.notOk(JSON.stringify(p.body).includes('sk-fake-secret'), 'the key appears nowhere in the answer');
  const all = await api.call('GET', '/v1/providers');
  t.notOk(JSON.stringify(all.body).includes('sk-fake-secret'));

  const metrics = await (await fetch(`${api.url}/metrics`)).text();
  t.match(metrics, /switchyard_provider_breaker_state\{provider="primary"\} 2/);
  t.match(metrics, /switchyard_failovers_total\{from="primary"\} 3/);
  t.match(metrics, /switchyard_provider_requests_total\{provider="primary",model="gpt-4o-mini",outcome="SWY_PROVIDER_SERVER"\} 3/);
});

t.test('a healthy primary serves the jobs, with its usage and cost', async (t) => {
  const primary = await fakeOpenAI(t, { kind: 'ok', promptTokens: 1000, completionTokens: 500 });
  const engine = await makeEngine(t);
  await engine.providers.add({
    name: 'primary',
    kind: 'openai',
    baseUrl: primary.baseUrl,
    priority: 10,
    models: ['gpt-4o-mini'],
    prices: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
  });
  const job = await engine.submit(
    chatJob('hello', { input: { messages: [{ role: 'user', content: 'hello' }], model: 'gpt-4o-mini', temperature: 0.2, maxTokens: 50 } }),
  );
  const done = await engine.wait(job.id, { timeoutMs: 10_000 });
  t.equal(done.status, 'completed');
  t.equal(done.provider, 'primary');
  t.equal((done.output as { text: string }).text, 'fake answer to: hello');
  t.same(done.usage, { inputTokens: 1000, outputTokens: 500, costUsd: (1000 * 0.15 + 500 * 0.6) / 1e6 });
  t.match(primary.requests[0]!.body, {
    model: 'gpt-4o-mini',
    temperature: 0.2,
    max_tokens: 50,
    messages: [{ role: 'user', content: 'hello' }],
  });
});

t.test('a 400 from the provider fails the job without retry or failover', async (t) => {
  const primary = await fakeOpenAI(t, {
    kind: 'status',
    status: 400,
    body: { error: { message: 'bad param', type: 'invalid_request_error' } },
  });
  const engine = await makeEngine(t);
  await engine.providers.add({ name: 'primary', kind: 'openai', baseUrl: primary.baseUrl, priority: 10 });
  const job = await engine.submit(chatJob('bad'));
  const done = await engine.wait(job.id, { timeoutMs: 10_000 });
  t.equal(done.status, 'failed');
  t.equal(done.attempt, 1);
  t.equal(done.error?.code, 'SWY_PROVIDER_BAD_REQUEST');
  t.notMatch(done.error?.message, /bad param/, "the upstream's own text is not in the job (tenants read jobs)");
  t.match(engine.providers.get('primary').state.lastError?.message, /bad param/, "it is in the provider's last error, for operators");
  t.equal(primary.requests.length, 1);
  t.equal(engine.providers.get('primary').state.breaker, 'closed', 'bad requests do not count against the breaker');
});

t.test('a hanging provider times out and the call fails over', async (t) => {
  const primary = await fakeOpenAI(t, { kind: 'hang' });
  const engine = await makeEngine(t);
  await addBackup(t, engine);
  await engine.providers.add({ name: 'primary', kind: 'openai', baseUrl: primary.baseUrl, priority: 10, timeoutMs: 300 });
  const job = await engine.submit(chatJob('slow'));
  const done = await engine.wait(job.id, { timeoutMs: 10_000 });
  t.equal(done.status, 'completed');
  t.equal(done.provider, 'backup');
  t.equal(engine.providers.get('primary').state.lastError?.code, 'SWY_PROVIDER_TIMEOUT');
  // No wall-clock bound (CI machines are loaded): the proof is structural. The first attempt
  // completed — the hang did not eat the attempt — and the hanging call was cut off from our side.
  t.equal(done.attempt, 1, 'failed over within the first attempt');
  if (primary.aborted() === 0) await primary.nextAbort();
  t.equal(primary.aborted(), 1, 'the hanging call was aborted by the provider timeout');
});

t.test('a reset connection and a malformed body fail over, with their own codes', async (t) => {
  const primary = await fakeOpenAI(t, { kind: 'reset' });
  const engine = await makeEngine(t);
  await addBackup(t, engine);
  await engine.providers.add({ name: 'primary', kind: 'openai', baseUrl: primary.baseUrl, priority: 10 });
  const a = await engine.submit(chatJob('reset'));
  t.equal((await engine.wait(a.id, { timeoutMs: 10_000 })).provider, 'backup');
  t.equal(engine.providers.get('primary').state.lastError?.code, 'SWY_PROVIDER_NETWORK');
  primary.behave({ kind: 'malformed' });
  const b = await engine.submit(chatJob('malformed'));
  t.equal((await engine.wait(b.id, { timeoutMs: 10_000 })).provider, 'backup');
  t.equal(engine.providers.get('primary').state.lastError?.code, 'SWY_PROVIDER_BAD_RESPONSE');
});

t.test('429 with Retry-After: the job waits at least that long before its next attempt', async (t) => {
  const only = await fakeOpenAI(t, { kind: 'status', status: 429, retryAfter: '1' });
  const engine = await makeEngine(t);
  await engine.providers.update('mock', { enabled: false });
  await engine.providers.add({ name: 'only', kind: 'openai', baseUrl: only.baseUrl, priority: 10 });
  const retrying: number[] = [];
  engine.on('job:retrying', (j) => retrying.push(Date.parse(j.runAt) - Date.now()));
  const retried = new Promise<number>((resolve) => engine.once('job:retrying', () => resolve(Date.now())));
  const job = await engine.submit(chatJob('throttled', { maxAttempts: 2 }));
  const first = await retried;
  only.behave({ kind: 'ok' });
  const done = await engine.wait(job.id, { timeoutMs: 10_000 });
  t.equal(done.status, 'completed');
  t.equal(done.attempt, 2);
  t.ok(retrying[0]! >= 900, `next attempt scheduled ≥ 1 s later (${retrying[0]} ms)`);
  t.ok(Date.parse(done.startedAt!) - first >= 900, 'and not started before');
});
