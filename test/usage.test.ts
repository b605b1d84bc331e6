/** Tokens and cost are exact in /v1/usage and in the metrics. */
import t, { type Test } from 'tap';
import Database from 'better-sqlite3';
import { Tallies } from '../src/store/tallies.js';
import { makeEngine, serve } from './helpers/engine.js';
import { fakeOpenAI } from './helpers/fake-openai.js';

t.test('known usage and prices → exact tokens, cost, calls and errors per group', async (t) => {
  const fake = await fakeOpenAI(t, { kind: 'ok', promptTokens: 1200, completionTokens: 300 });
  const engine = await makeEngine(t, { concurrency: 4 });
  const api = await serve(t, engine);
  await engine.providers.update('mock', { prices: { '*': { input: 1, output: 2 } } });
  await engine.providers.add({
    name: 'fake',
    kind: 'openai',
    baseUrl: fake.baseUrl,
    priority: 10,
    models: ['gpt-4o-mini'],
    prices: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
  });
  const viaFake = await engine.submitMany(
    Array.from({ length: 5 }, (_, i) => ({ input: { messages: [{ role: 'user' as const, content: `f${i}` }], model: 'gpt-4o-mini' } })),
  );
  const viaMock = await engine.submitMany(
    Array.from({ length: 3 }, (_, i) => ({ input: { messages: [{ role: 'user' as const, content: `m${i}` }], model: 'mock-1' } })),
  );
  const done = await Promise.all([...viaFake, ...viaMock].map((j) => engine.wait(j.id, { timeoutMs: 10_000 })));
  // One failing call on the fake, failed over to a second real provider: counted as an error of the fake.
  const backup = await fakeOpenAI(t, { kind: 'ok', promptTokens: 100, completionTokens: 50 });
  await engine.providers.add({ name: 'backup', kind: 'openai', baseUrl: backup.baseUrl, models: ['gpt-4o-mini'] });
  fake.behave({ kind: 'status', status: 500 });
  const failedOver = await engine.submit({ input: { messages: [{ role: 'user', content: 'x' }], model: 'gpt-4o-mini' } });
  const fo = await engine.wait(failedOver.id, { timeoutMs: 10_000 });
  t.equal(fo.provider, 'backup');

  const mockIn = done.slice(5).reduce((s, j) => s + j.usage.inputTokens, 0);
  const mockOut = done.slice(5).reduce((s, j) => s + j.usage.outputTokens, 0);
  const res = await api.call('GET', '/v1/usage?groupBy=provider,model');
  t.equal(res.status, 200);
  t.same(res.body.groupBy, ['provider', 'model']);
  const rows = Object.fromEntries(res.body.data.map((r: { provider: string; model: string }) => [`${r.provider}/${r.model}`, r]));
  t.match(rows['fake/gpt-4o-mini'], {
    calls: 6,
    errors: 1,
    inputTokens: 5 * 1200,
    outputTokens: 5 * 300,
    costUsd: (5 * 1200 * 0.15 + 5 * 300 * 0.6) / 1e6,
    unpricedCalls: 0,
  });
  // The backup has no prices of its own: gpt-4o-mini is priced from the catalogue (0.15 / 0.60).
  t.match(rows['backup/gpt-4o-mini'], { calls: 1, errors: 0, inputTokens: 100, outputTokens: 50, costUsd: (100 * 0.15 + 50 * 0.6) / 1e6 });
  t.match(rows['mock/mock-1'], { calls: 3, errors: 0, inputTokens: mockIn });
  t.equal(
    Math.round(rows['mock/mock-1'].costUsd * 1e9),
    Math.round(((mockIn * 1 + mockOut * 2) / 1e6) * 1e9),
    'mock cost from its * price',
  );
  t.ok(rows['fake/gpt-4o-mini'].latencyMs.p50 <= rows['fake/gpt-4o-mini'].latencyMs.p95);

  const byType = await api.call('GET', '/v1/usage?groupBy=type,day');
  t.equal(byType.body.data.length, 1);
  t.match(byType.body.data[0], { type: 'chat', day: new Date().toISOString().slice(0, 10), calls: 10, errors: 1 });
  const none = await api.call('GET', `/v1/usage?from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z`);
  t.same(none.body.data, []);
  t.equal((await api.call('GET', '/v1/usage?groupBy=provider;DROP TABLE jobs')).status, 400);

  // The job's own usage equals its rows; the metrics show the same totals.
  t.same(done[0]!.usage, { inputTokens: 1200, outputTokens: 300, costUsd: (1200 * 0.15 + 300 * 0.6) / 1e6 });
  const metrics = await (await fetch(`${api.url}/metrics`)).text();
  t.match(metrics, /switchyard_provider_tokens_total\{provider="fake",model="gpt-4o-mini",direction="input"\} 6000/);
  t.match(metrics, /switchyard_provider_tokens_total\{provider="fake",model="gpt-4o-mini",direction="output"\} 1500/);
  t.match(
    metrics,
    new RegExp(`switchyard_provider_cost_usd_total\\{provider="fake",model="gpt-4o-mini"\\} ${(5 * 1200 * 0.15 + 5 * 300 * 0.6) / 1e6}`),
  );
  t.match(metrics, /switchyard_provider_requests_total\{provider="fake",model="gpt-4o-mini",outcome="SWY_PROVIDER_SERVER"\} 1/);
});

t.test('a model with no price is unpriced, not free: in /v1/usage and in the metrics', async (t) => {
  const fake = await fakeOpenAI(t, { kind: 'ok', promptTokens: 100, completionTokens: 20 });
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  await engine.providers.add({ name: 'local', kind: 'openai', baseUrl: fake.baseUrl, models: ['my-local-llama', 'gpt-4o-mini'] });
  const jobs = await engine.submitMany(
    ['my-local-llama', 'my-local-llama', 'gpt-4o-mini'].map((model) => ({
      input: { messages: [{ role: 'user' as const, content: 'x' }], model },
    })),
  );
  await Promise.all(jobs.map((j) => engine.wait(j.id, { timeoutMs: 10_000 })));
  const rows = (await api.call('GET', '/v1/usage?groupBy=model')).body.data as {
    model: string;
    costUsd: number | null;
    unpricedCalls: number;
  }[];
  t.match(
    rows.find((r) => r.model === 'my-local-llama'),
    { calls: 2, inputTokens: 200, costUsd: null, unpricedCalls: 2 },
  );
  t.match(
    rows.find((r) => r.model === 'gpt-4o-mini'),
    { calls: 1, costUsd: (100 * 0.15 + 20 * 0.6) / 1e6, unpricedCalls: 0 },
  );
  const all = (await api.call('GET', '/v1/usage')).body.data[0];
  t.match(
    all,
    { calls: 3, unpricedCalls: 2, costUsd: (100 * 0.15 + 20 * 0.6) / 1e6 },
    'a total over both: the priced sum, and the unpriced count',
  );
  const metrics = await (await fetch(`${api.url}/metrics`)).text();
  t.match(metrics, /switchyard_provider_unpriced_calls_total\{provider="local",model="my-local-llama"\} 2/);
});

const H = 3_600_000;

/** An engine that is not started, one job to hang usage rows on, and its database opened beside it. */
async function withUsageRows(t: Test) {
  const engine = await makeEngine(t, { start: false });
  const job = await engine.submit({ input: { messages: [{ role: 'user', content: 'x' }] } });
  const db = new Database(engine.config.database);
  t.teardown(() => db.close());
  return { engine, job, db };
}

t.test('ranges over many hours: rollups for whole hours, raw rows at the edges, exact sums either way', async (t) => {
  const { engine, job, db } = await withUsageRows(t);
  const base = Math.floor(Date.now() / H) * H - 10 * H;
  const ins = db.prepare(`INSERT INTO usage (job_id, job_type, attempt, provider, model, outcome, error_code, latency_ms,
    input_tokens, output_tokens, cost_usd, created_at) VALUES (?, 'chat', 1, ?, 'm', ?, NULL, ?, ?, ?, ?, ?)`);
  db.transaction(() => {
    for (let i = 0; i < 600; i++) {
      const at = base + Math.floor((i / 600) * 6 * H);
      ins.run(job.id, i % 3 ? 'p1' : 'p2', i % 7 ? 'ok' : 'error', 10 + (i % 400), 100 + i, i % 50, 0.001 * (i % 5), at);
    }
  })();
  // Rows written by hand bypass the store's counters: rebuild them from the rows.
  Tallies.rebuild(db);
  const from = base + 0.5 * H + 123;
  const to = base + 4 * H + 600_000;
  const direct = db
    .prepare(`SELECT provider, count(*) AS calls, sum(outcome = 'error') AS errors, sum(input_tokens) AS i,
    sum(output_tokens) AS o, round(sum(cost_usd), 9) AS c FROM usage WHERE created_at >= ? AND created_at < ? GROUP BY provider ORDER BY provider`)
    .all(from, to);
  const report = await engine.usage({ from, to, groupBy: ['provider'] });
  t.same(
    report.data.map((r) => ({ provider: r.provider, calls: r.calls, errors: r.errors, i: r.inputTokens, o: r.outputTokens, c: r.costUsd })),
    direct,
  );
  const hours = await engine.usage({ from, to, groupBy: ['hour'] });
  t.equal(hours.data.length, 5, 'partial first hour, three whole hours, partial last hour');
  t.equal(
    hours.data.reduce((s, r) => s + r.calls, 0),
    (direct as { calls: number }[]).reduce((s, r) => s + r.calls, 0),
  );
  for (const r of report.data)
    t.ok(r.latencyMs.p50 <= r.latencyMs.p95 && [25, 50, 100, 250, 500].includes(r.latencyMs.p95), `bucketed p95 ${r.latencyMs.p95}`);

  // Deletes (retention) leave the rollups in step.
  db.prepare('DELETE FROM usage WHERE created_at < ?').run(base + 2 * H);
  const after = await engine.usage({ from, to, groupBy: ['provider'] });
  const directAfter = db.prepare(`SELECT count(*) AS n FROM usage WHERE created_at >= ? AND created_at < ?`).get(from, to) as { n: number };
  t.equal(
    after.data.reduce((s, r) => s + r.calls, 0),
    directAfter.n,
  );
});

t.test("raw rows of several tenants: the whole report and each tenant's equal the rows, at the edges too", async (t) => {
  const { engine, job, db } = await withUsageRows(t);
  const base = Math.floor(Date.now() / H) * H - 6 * H;
  const ins = db.prepare(`INSERT INTO usage (job_id, job_type, tenant, attempt, provider, model, outcome, error_code, latency_ms,
    input_tokens, output_tokens, cost_usd, created_at) VALUES (?, 'chat', ?, 1, ?, 'm', 'ok', NULL, 20, ?, 1, 0, ?)`);
  const tenants = ['acme', 'default', 'zeta'];
  db.transaction(() => {
    for (let i = 0; i < 300; i++) ins.run(job.id, tenants[i % 3], i % 2 ? 'p1' : 'p2', i + 1, base + Math.floor((i / 300) * 3 * H));
  })();
  Tallies.rebuild(db);
  // Within one hour (raw rows only) and across hours (raw rows at both edges).
  for (const [from, to] of [
    [base + 0.2 * H, base + 0.7 * H],
    [base + 0.5 * H + 7, base + 2.5 * H],
  ] as const) {
    const direct = db
      .prepare(`SELECT tenant, provider, count(*) AS calls, sum(input_tokens) AS i FROM usage
      WHERE created_at >= ? AND created_at < ? GROUP BY tenant, provider ORDER BY tenant, provider`)
      .all(from, to);
    t.ok((direct as unknown[]).length === 6, 'every tenant and provider has rows in the range');
    const all = await engine.usage({ from, to, groupBy: ['tenant', 'provider'] });
    t.same(
      all.data.map((r) => ({ tenant: r.tenant, provider: r.provider, calls: r.calls, i: r.inputTokens })),
      direct,
      'across tenants',
    );
    for (const tenant of tenants) {
      const one = await engine.usage({ from, to, groupBy: ['provider'], tenant });
      t.same(
        one.data.map((r) => ({ tenant, provider: r.provider, calls: r.calls, i: r.inputTokens })),
        (direct as { tenant: string }[]).filter((r) => r.tenant === tenant),
        `tenant ${tenant} alone`,
      );
    }
  }
});
