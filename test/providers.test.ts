/** Provider behaviour through outages: pauses, misconfiguration, everyone down. */
import t from 'tap';
import Database from 'better-sqlite3';
import { createEngine } from '../src/engine.js';
import { chatJob, makeEngine, serve } from './helpers/engine.js';
import { addBackup, fakeOpenAI } from './helpers/fake-openai.js';
import { until } from './helpers/wait.js';

t.test('429 with Retry-After: 4 → no call reaches that provider for 4 s; others take the load', async (t) => {
  // Timed from before the submit, and with a pause long enough that a loaded CI machine running
  // the next five jobs cannot reach its end: the assertions below cannot depend on speed.
  const limited = await fakeOpenAI(t, { kind: 'status', status: 429, retryAfter: '4' });
  const engine = await makeEngine(t);
  await addBackup(t, engine);
  await engine.providers.add({ name: 'limited', kind: 'openai', baseUrl: limited.baseUrl, priority: 10 });
  const pausedAt = Date.now();
  const first = await engine.submit(chatJob('first'));
  const f = await engine.wait(first.id, { timeoutMs: 10_000 });
  t.equal(f.provider, 'backup', 'failed over at once');
  const state = engine.providers.get('limited').state;
  t.ok(state.pausedUntil && Date.parse(state.pausedUntil) - pausedAt >= 4000, `paused until ${state.pausedUntil}`);
  t.equal(state.healthy, false);
  t.equal(state.breaker, 'closed', 'a throttle with Retry-After does not count against the breaker');

  limited.behave({ kind: 'ok' });
  const during = await Promise.all(Array.from({ length: 5 }, (_, i) => engine.submit(chatJob(`during ${i}`))));
  const d = await Promise.all(during.map((j) => engine.wait(j.id, { timeoutMs: 10_000 })));
  t.ok(
    d.every((j) => j.provider === 'backup'),
    'while paused, the other provider served',
  );
  t.equal(limited.requests.length, 1, 'no call reached the paused provider');

  // The pause ends at an instant: wait past it (not a guess at how long anything takes).
  await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(state.pausedUntil as string) - Date.now() + 1)));
  const after = await engine.submit(chatJob('after'));
  t.equal((await engine.wait(after.id, { timeoutMs: 10_000 })).provider, 'limited', 'back after the pause');
  t.equal(limited.requests.length, 2);
});

t.test('a rejected key marks the provider misconfigured until its config changes', async (t) => {
  const fake = await fakeOpenAI(t, {
    kind: 'status',
    status: 401,
    body: { error: { message: 'Incorrect API key', type: 'invalid_request_error' } },
  });
  const engine = await makeEngine(t);
  await addBackup(t, engine);
  const api = await serve(t, engine);
  await engine.providers.add({ name: 'keyed', kind: 'openai', baseUrl: fake.baseUrl, apiKey: 'sk-wrong', priority: 10 });
  const j1 = await engine.submit(chatJob('one'));
  t.equal((await engine.wait(j1.id, { timeoutMs: 10_000 })).provider, 'backup');
  const p = await api.call('GET', '/v1/providers/keyed');
  t.equal(p.body.state.misconfigured, true);
  t.equal(p.body.state.lastError.code, 'SWY_PROVIDER_AUTH');
  const j2 = await engine.submit(chatJob('two'));
  await engine.wait(j2.id, { timeoutMs: 10_000 });
  t.equal(fake.requests.length, 1, 'no more calls with the rejected key');

  fake.behave({ kind: 'ok' });
  const patched = await api.call('PATCH', '/v1/providers/keyed', { apiKey: 'sk-right' });
  t.equal(patched.body.state.misconfigured, false, 'a config change clears it');
  const j3 = await engine.submit(chatJob('three'));
  t.equal((await engine.wait(j3.id, { timeoutMs: 10_000 })).provider, 'keyed');
  t.equal(fake.requests.at(-1)!.headers.authorization, 'Bearer sk-right', 'the next call uses the new key');
});

t.test('every provider down → jobs wait queued, spend no attempt, and complete when one returns', async (t) => {
  const only = await fakeOpenAI(t, { kind: 'status', status: 503 });
  const engine = await makeEngine(t);
  await engine.providers.update('mock', { enabled: false });
  await engine.providers.add({
    name: 'only',
    kind: 'openai',
    baseUrl: only.baseUrl,
    breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 1500 },
  });
  const deferred: number[] = [];
  engine.on('job:deferred', (j) => deferred.push(j.attempt));
  const jobs = await Promise.all(Array.from({ length: 4 }, (_, i) => engine.submit(chatJob(`down ${i}`, { maxAttempts: 3 }))));
  // Let the breaker open, then see jobs wait rather than fail.
  await until(engine, ['provider:state'], () => engine.providers.get('only').state.breaker === 'open');
  await until(engine, ['job:deferred'], () => deferred.length > 0);
  const waiting = await Promise.all(jobs.map((j) => engine.get(j.id)));
  t.ok(
    waiting.every((j) => j.status === 'queued' || j.status === 'running'),
    'nothing failed while every provider was down',
  );
  t.ok(deferred.length > 0, 'jobs were deferred');
  // Read as each job was deferred: by the time of a later read the breaker may have half-opened
  // (1.5 s) and its probe, a real call, spent an attempt.
  t.ok(
    deferred.every((attempt) => attempt <= 2),
    'waiting spent no attempts',
  );
  only.behave({ kind: 'ok' });
  const done = await Promise.all(jobs.map((j) => engine.wait(j.id, { timeoutMs: 15_000 })));
  t.ok(
    done.every((j) => j.status === 'completed'),
    'all completed once the provider came back',
  );
  t.ok(
    done.some((j) => j.attempts!.some((a) => a.outcome === 'deferred')),
    'the wait shows in the attempt history as deferred',
  );
  t.ok(
    done.every((j) => j.attempt <= 3),
    'within the attempt budget',
  );
  t.equal(engine.providers.get('only').state.breaker, 'closed', 'the half-open probe closed the breaker');
});

t.test("modelMap: a job's model name is sent as the provider's own name", async (t) => {
  const fake = await fakeOpenAI(t, { kind: 'ok' });
  const engine = await makeEngine(t);
  await engine.providers.add({
    name: 'groq',
    kind: 'openai',
    baseUrl: fake.baseUrl,
    priority: 10,
    models: ['llama-3.1-8b-instant'],
    modelMap: { fast: 'llama-3.1-8b-instant' },
  });
  const job = await engine.submit({ input: { messages: [{ role: 'user', content: 'hi' }], model: 'fast' } });
  const done = await engine.wait(job.id, { timeoutMs: 10_000 });
  t.equal(done.provider, 'groq');
  t.equal(fake.requests[0]!.body.model, 'llama-3.1-8b-instant');
  t.equal(done.model, 'llama-3.1-8b-instant');
});

t.test('least-inflight routing spreads concurrent calls over equal providers', async (t) => {
  // Both upstreams hold every call, so the calls in flight only grow: each call must go to the
  // provider with fewer, and 20 calls split exactly 10:10 (weighted random would split at chance).
  const a = await fakeOpenAI(t, { kind: 'hang' });
  const b = await fakeOpenAI(t, { kind: 'hang' });
  const engine = await makeEngine(t, { routing: 'least-inflight', concurrency: 20 });
  await engine.providers.update('mock', { enabled: false });
  await engine.providers.add({ name: 'a', kind: 'openai', baseUrl: a.baseUrl });
  await engine.providers.add({ name: 'b', kind: 'openai', baseUrl: b.baseUrl });
  const jobs = await engine.submitMany(Array.from({ length: 20 }, (_, i) => chatJob(`spread ${i}`)));
  await until(engine, ['job:started'], () => engine.load().running === 20);
  await Promise.all([a.received(10), b.received(10)]);
  t.equal(a.requests.length + b.requests.length, 20);
  t.equal(a.requests.length, 10, 'split 10:10');
  for (const j of jobs) await engine.cancel(j.id);
});

t.test('rpm and maxConcurrency are never exceeded; the other provider takes the rest', async (t) => {
  const capped = await fakeOpenAI(t, { kind: 'ok', delayMs: 150 });
  const engine = await makeEngine(t, { concurrency: 40 });
  await addBackup(t, engine);
  await engine.providers.add({ name: 'capped', kind: 'openai', baseUrl: capped.baseUrl, priority: 10, rpm: 6, maxConcurrency: 2 });
  const jobs = await engine.submitMany(Array.from({ length: 30 }, (_, i) => chatJob(`capped ${i}`)));
  const done = await Promise.all(jobs.map((j) => engine.wait(j.id, { timeoutMs: 20_000 })));
  t.ok(
    done.every((j) => j.status === 'completed'),
    'all completed',
  );
  t.ok(capped.requests.length <= 6, `capped got ${capped.requests.length} calls in the minute (rpm 6)`);
  t.ok(capped.requests.length >= 2, 'and did take calls');
  t.ok(capped.peakConcurrency() <= 2, `never more than 2 at once (peak ${capped.peakConcurrency()})`);
  t.equal(done.filter((j) => j.provider === 'backup').length, 30 - capped.requests.length, 'the backup took the rest');
  t.ok(
    done.every((j) => j.attempt === 1),
    'skipping a provider at its limit costs no attempt',
  );
});

t.test('tpm: tokens are reserved before a call and corrected after', async (t) => {
  const fake = await fakeOpenAI(t, { kind: 'ok', promptTokens: 10, completionTokens: 10, delayMs: 50 });
  const engine = await makeEngine(t, { concurrency: 10 });
  // Each call is estimated at ~ (prompt + 256 answer) tokens; the fake reports 20. With tpm 600,
  // only two fit at once on the estimate, and after correction more fit in the minute.
  await engine.providers.update('mock', { enabled: false });
  await engine.providers.add({ name: 'tpm', kind: 'openai', baseUrl: fake.baseUrl, priority: 10, tpm: 600 });
  const jobs = await engine.submitMany(Array.from({ length: 10 }, (_, i) => chatJob(`t${i}`)));
  const done = await Promise.all(jobs.map((j) => engine.wait(j.id, { timeoutMs: 10_000 })));
  t.ok(
    done.every((j) => j.status === 'completed' && j.provider === 'tpm'),
    'all completed, waiting for room rather than failing',
  );
  t.ok(fake.peakConcurrency() <= 2, `reservations kept concurrent calls within tpm (peak ${fake.peakConcurrency()})`);
  t.ok(fake.requests.length > 2, `corrections freed room for more (${fake.requests.length} calls)`);
});

t.test('health: passive averages, active probes of open and misconfigured providers, and /check on demand', async (t) => {
  const fake = await fakeOpenAI(t, { kind: 'status', status: 500 });
  const engine = await makeEngine(t, { healthCheckMs: 200 });
  await addBackup(t, engine);
  const api = await serve(t, engine);
  await engine.providers.add({
    name: 'flaky',
    kind: 'openai',
    baseUrl: fake.baseUrl,
    priority: 10,
    breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 600_000 },
  });
  const jobs = await Promise.all([0, 1, 2].map((i) => engine.submit(chatJob(`h${i}`))));
  await Promise.all(jobs.map((j) => engine.wait(j.id, { timeoutMs: 10_000 })));
  const sick = engine.providers.get('flaky').state;
  t.equal(sick.breaker, 'open');
  t.ok(sick.successRate < 1, `passive success rate fell (${sick.successRate})`);
  t.ok(engine.providers.get('backup').state.latencyMs !== null, 'latency average of the healthy one');

  const check = await api.call('POST', '/v1/providers/flaky/check');
  t.equal(check.status, 200);
  t.equal(check.body.ok, false);
  t.equal(check.body.error.code, 'SWY_PROVIDER_SERVER');
  t.equal(check.body.state.breaker, 'open', 'a failed probe leaves it open');

  // It recovers: the periodic probe closes the breaker long before its 10-minute reset.
  fake.behave({ kind: 'ok' });
  await until(engine, ['provider:state'], () => engine.providers.get('flaky').state.breaker === 'closed');
  t.equal(engine.providers.get('flaky').state.breaker, 'closed', 'the active probe closed the breaker');
  t.match(fake.requests.at(-1)!.body, { max_tokens: 1, messages: [{ role: 'user', content: 'ping' }] }, 'probes are one tiny call');
  const after = await engine.submit(chatJob('after recovery'));
  t.equal((await engine.wait(after.id, { timeoutMs: 10_000 })).provider, 'flaky');
  t.equal((await api.call('POST', '/v1/providers/nope/check')).status, 404);
});

t.test('apiKey is encrypted at rest with SWITCHYARD_SECRET_KEY and unreadable without it', async (t) => {
  const fake = await fakeOpenAI(t, { kind: 'ok' });
  const secretKey = 'a-long-secret-of-at-least-32-characters!';
  const engine = await makeEngine(t, { secretKey });
  await engine.providers.add({ name: 'sealed', kind: 'openai', baseUrl: fake.baseUrl, apiKey: 'sk-plain-secret', priority: 10 });
  const raw = new Database(engine.config.database, { readonly: true });
  const stored = (raw.prepare('SELECT api_key FROM providers WHERE name = ?').get('sealed') as { api_key: string }).api_key;
  raw.close();
  t.match(stored, /^enc:v1:/);
  t.notOk(stored.includes('sk-plain-secret'), 'the plain key is not in the database');
  const job = await engine.submit(chatJob('sealed call'));
  await engine.wait(job.id, { timeoutMs: 10_000 });
  t.equal(fake.requests[0]!.headers.authorization, 'Bearer sk-plain-secret', 'decrypted for the call');
  const database = engine.config.database;
  await engine.stop();

  await t.rejects(createEngine({ database }), { code: 'SWY_INVALID_OPTIONS', message: /set SWITCHYARD_SECRET_KEY/ });
  await t.rejects(createEngine({ database, secretKey: 'another-secret-of-32-characters-or-more' }), {
    code: 'SWY_INVALID_OPTIONS',
    message: /cannot be decrypted/,
  });
  const again = await createEngine({ database, secretKey });
  t.teardown(() => again.stop());
  t.equal(again.providers.get('sealed').hasApiKey, true, 'the right key reads it back');
});

t.test('config changes (baseUrl, disabled) apply to the next call without dropping the one in flight', async (t) => {
  const a = await fakeOpenAI(t, { kind: 'ok', text: 'from a', delayMs: 400 });
  const b = await fakeOpenAI(t, { kind: 'ok', text: 'from b' });
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  await api.call('POST', '/v1/providers', { name: 'live', kind: 'openai', baseUrl: a.baseUrl, priority: 10 });
  const inFlight = await engine.submit(chatJob('slow one'));
  await a.received(1);
  const moved = await api.call('PATCH', '/v1/providers/live', { baseUrl: b.baseUrl });
  t.equal(moved.status, 200);
  const next = await engine.submit(chatJob('next one'));
  const [first, second] = await Promise.all([inFlight, next].map((j) => engine.wait(j.id, { timeoutMs: 10_000 })));
  t.equal((first!.output as { text: string }).text, 'from a', 'the call in flight finished on the old config');
  t.equal((second!.output as { text: string }).text, 'from b', 'the next call used the new baseUrl');

  t.equal((await api.call('PATCH', '/v1/providers/live', { enabled: false })).status, 200);
  const third = await engine.submit(chatJob('after disable'));
  t.equal((await engine.wait(third.id, { timeoutMs: 10_000 })).provider, 'mock', 'a disabled provider takes no calls');
  t.equal(b.requests.length, 1);
  t.equal((await api.call('DELETE', '/v1/providers/live')).status, 204);
  t.equal((await api.call('GET', '/v1/providers/live')).status, 404);
});
