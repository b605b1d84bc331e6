/** The whole path over a real socket: submit → store → scheduler → worker thread → mock provider → result. */
import t from 'tap';
import { chatJob, makeEngine, serve } from './helpers/engine.js';

t.test("a submitted job completes with the mock provider's output", async (t) => {
  const engine = await makeEngine(t, { threads: 2 });
  const api = await serve(t, engine);
  const created = await api.call('POST', '/v1/jobs', chatJob('summarise the quarterly report', { metadata: { team: 'finance' } }));
  t.equal(created.status, 201);
  t.equal(created.body.status, 'queued');
  t.same(created.body.metadata, { team: 'finance' });

  const done = await api.call('GET', `/v1/jobs/${created.body.id}?waitMs=10000`);
  t.equal(done.status, 200);
  t.equal(done.body.status, 'completed');
  t.equal(done.body.attempt, 1);
  t.equal(done.body.provider, 'mock');
  t.equal(done.body.model, 'mock-1');
  t.match(done.body.output.text, /^mock reply \[[0-9a-f]{8}\]: summarise the quarterly report$/);
  t.equal(done.body.output.finishReason, 'stop');
  t.ok(done.body.usage.inputTokens > 0 && done.body.usage.outputTokens > 0, 'tokens counted');
  t.type(done.body.durationMs, 'number');
  t.same(
    done.body.attempts.map((a: { number: number; outcome: string; provider: string }) => [a.number, a.outcome, a.provider]),
    [[1, 'completed', 'mock']],
  );
  t.ok(Date.parse(done.body.finishedAt) >= Date.parse(done.body.startedAt));
});

t.test('the mock answers deterministically from the prompt', async (t) => {
  const engine = await makeEngine(t);
  const [a, b, c] = await engine.submitMany([chatJob('same prompt'), chatJob('same prompt'), chatJob('other prompt')]);
  const [da, db, dc] = await Promise.all([a, b, c].map((j) => engine.wait(j!.id, { timeoutMs: 10_000 })));
  t.same(da!.output, db!.output);
  t.not((da!.output as { text: string }).text, (dc!.output as { text: string }).text);
});

t.test('200 concurrent submits all complete and /v1/stats counts them exactly', async (t) => {
  const engine = await makeEngine(t, { threads: 2, concurrency: 50 });
  const api = await serve(t, engine);
  const submits = await Promise.all(Array.from({ length: 200 }, (_, i) => api.call('POST', '/v1/jobs', chatJob(`job ${i}`))));
  t.ok(
    submits.every((r) => r.status === 201),
    'all accepted',
  );
  const ids = new Set(submits.map((r) => r.body.id as string));
  t.equal(ids.size, 200, 'distinct ids');
  const finals = await Promise.all([...ids].map((id) => api.call('GET', `/v1/jobs/${id}?waitMs=30000`)));
  t.ok(
    finals.every((r) => r.body.status === 'completed'),
    'all completed',
  );

  const stats = await api.call('GET', '/v1/stats');
  t.equal(stats.status, 200);
  t.match(stats.body, { total: 200, completed: 200, failed: 0, queued: 0, running: 0, cancelled: 0, successRate: 100 });
  t.type(stats.body.avgProcessingTime, 'number');

  const page1 = await api.call('GET', '/v1/jobs?status=completed&limit=150');
  t.equal(page1.body.data.length, 150);
  t.type(page1.body.nextCursor, 'string');
  const page2 = await api.call('GET', `/v1/jobs?status=completed&limit=150&cursor=${page1.body.nextCursor}`);
  t.equal(page2.body.data.length, 50);
  t.equal(page2.body.nextCursor, null);
  const listed = new Set([...page1.body.data, ...page2.body.data].map((j: { id: string }) => j.id));
  t.same([...listed].sort(), [...ids].sort(), 'pages cover every job once');
});

t.test('the list filters by provider, creation time and metadata over HTTP', async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  const tagged = await api.call('POST', '/v1/jobs', chatJob('tagged', { metadata: { customer: 'acme', ticket: 42 } }));
  const other = await api.call('POST', '/v1/jobs', chatJob('other', { metadata: { customer: 'globex' } }));
  for (const r of [tagged, other]) t.equal((await api.call('GET', `/v1/jobs/${r.body.id}?waitMs=30000`)).body.status, 'completed');
  const list = async (query: string) => ((await api.call('GET', `/v1/jobs?${query}`)).body.data as { id: string }[]).map((j) => j.id);
  t.same(await list('metadata=customer%3Dacme'), [tagged.body.id]);
  t.same(await list('metadata=ticket%3D42'), [tagged.body.id]);
  t.same(await list('provider=mock'), [other.body.id, tagged.body.id], 'both ran on the mock provider');
  t.same(await list('provider=elsewhere'), []);
  const keyed = await api.call('POST', '/v1/jobs', chatJob('keyed', { idempotencyKey: 'order 7' }));
  t.same(await list('idempotencyKey=order%207'), [keyed.body.id], 'found by its idempotency key');
  const created = Date.parse(tagged.body.createdAt);
  t.same(await list(`to=${new Date(created - 1).toISOString()}`), [], 'nothing was created before the first job');
  t.same((await list(`from=${new Date(created).toISOString()}`)).sort(), [tagged.body.id, other.body.id, keyed.body.id].sort());
});

t.test('a batch is stored in one go and runs', async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  const res = await api.call('POST', '/v1/jobs/batch', { jobs: [chatJob('a'), chatJob('b', { priority: 5 })] });
  t.equal(res.status, 201);
  t.equal(res.body.jobs.length, 2);
  t.equal(res.body.jobs[1].priority, 5);
  const bad = await api.call('POST', '/v1/jobs/batch', { jobs: [chatJob('c'), { type: 'nope', input: {} }] });
  t.equal(bad.status, 400);
  t.equal(bad.body.error.code, 'SWY_UNKNOWN_JOB_TYPE');
  t.equal((await engine.stats()).total, 2, 'all or nothing: the bad batch stored nothing');
});

t.test('an idempotency key returns the existing job', async (t) => {
  const engine = await makeEngine(t, { start: false });
  const api = await serve(t, engine);
  const first = await api.call('POST', '/v1/jobs', chatJob('once', { idempotencyKey: 'order-42' }));
  const again = await api.call('POST', '/v1/jobs', chatJob('once', { idempotencyKey: 'order-42' }));
  t.equal(first.status, 201);
  t.equal(again.status, 200);
  t.equal(again.body.id, first.body.id);
  const other = await api.call('POST', '/v1/jobs', chatJob('another request', { idempotencyKey: 'order-42' }));
  t.equal(other.status, 409, 'the same key with a different request is a conflict');
  t.equal(other.body.error.code, 'SWY_IDEMPOTENCY_CONFLICT');
  t.equal((await engine.stats()).total, 1);
});

t.test('50 concurrent submits with one idempotency key create one job', async (t) => {
  const engine = await makeEngine(t, { start: false });
  const api = await serve(t, engine);
  const answers = await Promise.all(
    Array.from({ length: 50 }, () => api.call('POST', '/v1/jobs', chatJob('race', { idempotencyKey: 'race-1' }))),
  );
  t.equal(answers.filter((a) => a.status === 201).length, 1, 'one created');
  t.equal(answers.filter((a) => a.status === 200).length, 49, 'the rest got it back');
  t.equal(new Set(answers.map((a) => a.body.id)).size, 1, 'all name the same job');
  t.equal((await engine.stats()).total, 1);
});

t.test('/health, /ready and /metrics are public; metrics show the traffic', async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  const j = await engine.submit(chatJob('metrics please'));
  await engine.wait(j.id, { timeoutMs: 10_000 });
  for (const path of ['/health', '/ready', '/metrics']) {
    const res = await fetch(api.url + path);
    t.equal(res.status, 200, `${path} answers without a key`);
  }
  const text = await (await fetch(`${api.url}/metrics`)).text();
  t.match(text, /switchyard_jobs_submitted_total\{type="chat"\} 1/);
  t.match(text, /switchyard_jobs_finished_total\{type="chat",status="completed"\} 1/);
  t.match(text, /switchyard_job_duration_seconds_bucket\{le="600",type="chat",status="completed"\} 1/);
  t.match(text, /switchyard_jobs\{status="completed"\} 1/);
  t.match(text, /switchyard_provider_requests_total\{provider="mock",model="mock-1",outcome="ok"\} 1/);
  t.match(text, /switchyard_provider_request_duration_seconds_count\{provider="mock",model="mock-1"\} 1/);
  t.match(text, /switchyard_provider_breaker_state\{provider="mock"\} 0/);
  t.match(text, /process_cpu_seconds_total/);
  t.match(text, /switchyard_job_queue_wait_seconds_count\{type="chat"\} 1/);
  t.match(text, /switchyard_pool_queue_size \d+/);
  t.match(text, /nodejs_eventloop_lag_seconds/, 'event-loop lag');
  // Every sample line is `name{labels} value`: what a Prometheus server parses.
  const samples = text.split('\n').filter((l) => l && !l.startsWith('#'));
  // (Go's ParseFloat, which Prometheus uses, takes NaN in any case.)
  const bad = samples.filter((l) => !/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.e+-]+|nan|[+-]inf)$/i.test(l));
  t.same(bad, [], 'valid exposition lines');
});

t.test('the example Grafana dashboard only uses metrics the server exports', async (t) => {
  const { readFileSync } = await import('node:fs');
  const dashboard = JSON.parse(readFileSync(new URL('../docs/grafana-dashboard.json', import.meta.url), 'utf8'));
  const exprs: string[] = dashboard.panels.flatMap((p: { targets: { expr: string }[] }) => p.targets.map((x) => x.expr));
  const used = new Set(
    exprs.flatMap((e) => e.match(/\b(switchyard|nodejs)_[a-z0-9_]+/g) ?? []).map((m) => m.replace(/_(bucket|count|sum)$/, '')),
  );
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  const j = await engine.submit(chatJob('for the dashboard'));
  await engine.wait(j.id, { timeoutMs: 10_000 });
  const text = await (await fetch(`${api.url}/metrics`)).text();
  const exported = new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
  t.same(
    [...used].filter((m) => !exported.has(m)),
    [],
    'every metric in the dashboard exists',
  );
  t.ok(used.size >= 15);
});

t.test('counters only go up between scrapes', async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  const scrape = async () => {
    const text = await (await fetch(`${api.url}/metrics`)).text();
    return new Map(
      text
        .split('\n')
        .filter((l) => /^switchyard_\S+_total[{ ]/.test(l))
        .map((l) => {
          const i = l.lastIndexOf(' ');
          return [l.slice(0, i), Number(l.slice(i + 1))] as const;
        }),
    );
  };
  const run = async (n: number) => {
    const jobs = await engine.submitMany(Array.from({ length: n }, (_, i) => chatJob(`c${i}`)));
    await Promise.all(jobs.map((j) => engine.wait(j.id, { timeoutMs: 10_000 })));
  };
  await run(3);
  const first = await scrape();
  await run(4);
  const second = await scrape();
  t.ok(first.size >= 3, 'counters present after traffic');
  const wentDown = [...first].filter(([k, v]) => (second.get(k) ?? -1) < v);
  t.same(wentDown, []);
  t.equal(second.get('switchyard_jobs_submitted_total{type="chat"}'), 7);
  // A retried job was submitted once: retrying it is not another submit.
  const later = await engine.submit({ ...chatJob('later'), delayMs: 3_600_000 });
  await engine.cancel(later.id);
  await engine.retry(later.id);
  t.equal((await scrape()).get('switchyard_jobs_submitted_total{type="chat"}'), 8, 'a retry is not counted as a submit');
});
