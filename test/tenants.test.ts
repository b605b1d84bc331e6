/**
 * Tenants over a real socket: a key sees, cancels, retries and accounts only its own jobs (foreign
 * ids answer exactly like unknown ones); one tenant's backlog cannot hold back another's job;
 * per-tenant caps; daily budgets.
 */
import t from 'tap';
import type { Engine } from '../src/engine.js';
import { chatJob, makeEngine, serve, type Served } from './helpers/engine.js';
import { until } from './helpers/wait.js';

type Db = { prepare(sql: string): { get(...a: unknown[]): any; all(...a: unknown[]): any[] } };
const dbOf = (engine: Engine) => (engine as unknown as { store: { db: Db } }).store.db;

async function tenantKey(api: Served, extra: Record<string, unknown> = {}) {
  const r = await api.call('POST', '/v1/keys', { scopes: ['jobs:write', 'jobs:read', 'usage:read'], ...extra });
  return { id: r.body.id as string, api: api.as(r.body.secret as string) };
}

t.test("tenant isolation: B cannot read, list, wait on, cancel, retry or count A's jobs, nor see its usage", async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine, { eventHeartbeatMs: 60_000 });
  const a = await tenantKey(api);
  const b = await tenantKey(api);

  const submitted = await a.api.call('POST', '/v1/jobs', chatJob('secret plans of A', { idempotencyKey: 'same-key' }));
  t.equal(submitted.status, 201);
  t.equal(submitted.body.tenant, a.id, 'the job belongs to the key that submitted it');
  const jobA = submitted.body.id as string;
  const done = await a.api.call('GET', `/v1/jobs/${jobA}?waitMs=10000`);
  t.equal(done.body.status, 'completed');

  const unknown = await b.api.call('GET', '/v1/jobs/00000000-0000-4000-8000-000000000000');
  const foreign = await b.api.call('GET', `/v1/jobs/${jobA}`);
  t.equal(foreign.status, 404);
  t.same(
    { ...foreign.body, error: { ...foreign.body.error, message: '' } },
    { ...unknown.body, error: { ...unknown.body.error, message: '' } },
    'a foreign id answers exactly like an unknown one',
  );
  t.match(foreign.body.error.message, /^job \S+ not found$/);
  t.equal((await b.api.call('GET', `/v1/jobs/${jobA}?waitMs=50`)).status, 404, 'wait');
  t.equal((await b.api.call('POST', `/v1/jobs/${jobA}/cancel`)).status, 404, 'cancel');
  t.equal((await b.api.call('POST', `/v1/jobs/${jobA}/retry`)).status, 404, 'retry');
  t.equal((await b.api.call('GET', '/v1/jobs')).body.data.length, 0, 'list');
  t.equal((await b.api.call('GET', `/v1/jobs?tenant=${a.id}`)).body.data.length, 0, 'a non-admin cannot pick another tenant');

  // The same idempotency key in another tenant is another job.
  const bJob = await b.api.call('POST', '/v1/jobs', chatJob("B's own", { idempotencyKey: 'same-key' }));
  t.equal(bJob.status, 201, 'idempotency keys are per tenant');
  t.not(bJob.body.id, jobA);
  await b.api.call('GET', `/v1/jobs/${bJob.body.id}?waitMs=10000`);

  const statsB = (await b.api.call('GET', '/v1/stats')).body;
  t.equal(statsB.total, 1, "B's stats count B's job only");
  const statsAll = (await api.call('GET', '/v1/stats')).body;
  t.equal(statsAll.total, 2, 'the admin sees both');
  const usageA = (await a.api.call('GET', '/v1/usage?groupBy=provider')).body;
  const usageB = (await b.api.call('GET', '/v1/usage?groupBy=tenant')).body;
  t.equal(usageA.data[0].calls, 1);
  t.same(
    usageB.data.map((r: { tenant: string }) => r.tenant),
    [b.id],
    "B's usage holds only B",
  );
  const usageAll = (await api.call('GET', '/v1/usage?groupBy=tenant')).body;
  t.same(usageAll.data.map((r: { tenant: string }) => r.tenant).sort(), [a.id, b.id].sort(), 'the admin groups by tenant');
  t.equal((await api.call('GET', `/v1/usage?tenant=${a.id}`)).body.data[0].calls, 1, 'the admin can pick a tenant');

  const adminView = await api.call('GET', `/v1/jobs/${jobA}`);
  t.equal(adminView.status, 200, 'the admin sees every tenant');
  t.equal((await api.call('GET', `/v1/jobs?tenant=${a.id}`)).body.data.length, 1, 'the admin filters by tenant');
  t.equal((await a.api.call('POST', `/v1/jobs/${jobA}/retry`)).status, 409, 'A may act on its own job (finished: invalid state)');
});

t.test("the event stream carries only the key's own jobs", async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine, { eventHeartbeatMs: 60_000 });
  const created = await Promise.all([1, 2].map(() => api.call('POST', '/v1/keys', { scopes: ['jobs:write', 'jobs:read'] })));
  const [a, b] = created.map((r) => ({ id: r.body.id as string, secret: r.body.secret as string })) as [
    { id: string; secret: string },
    { id: string; secret: string },
  ];
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const res = await fetch(`${api.url}/v1/events`, { headers: { authorization: `Bearer ${b.secret}` }, signal: ac.signal });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  let sawCompleted = () => {};
  const completed = new Promise<void>((resolve) => {
    sawCompleted = resolve;
  });
  const read = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      text += new TextDecoder().decode(value);
      if (text.includes('job:completed')) sawCompleted();
    }
  })();
  const jobA = (await api.as(a.secret).call('POST', '/v1/jobs', chatJob('A only'))).body.id as string;
  const jobB = (await api.as(b.secret).call('POST', '/v1/jobs', chatJob('B only'))).body.id as string;
  await engine.wait(jobA, { timeoutMs: 10_000 });
  await engine.wait(jobB, { timeoutMs: 10_000 });
  await completed;
  ac.abort();
  await read;
  t.ok(text.includes(jobB), 'B sees its own job');
  t.notOk(text.includes(jobA), "B never sees A's job");
});

t.test("fairness: with tenant A's 20,000-job backlog queued, tenant B's new job starts within one round of freed slots", async (t) => {
  const concurrency = 4;
  const engine = await makeEngine(t, { concurrency, threads: 1 });
  await engine.providers.update('mock', { options: { latencyMs: 20 } });
  const api = await serve(t, engine);
  const a = await tenantKey(api);
  const b = await tenantKey(api);
  const backlog = 20_000;
  for (let i = 0; i < backlog; i += 1000) {
    await engine.submitMany(
      Array.from({ length: 1000 }, (_, j) => chatJob(`A ${i + j}`)),
      { tenant: a.id },
    );
  }
  // Let A's backlog run for a while (a few rounds of every slot), so that every slot is busy with A
  // when B arrives.
  let finished = 0;
  engine.on('job:completed', () => finished++);
  await until(engine, ['job:completed', 'job:started'], () => finished >= 3 * concurrency && engine.load().running >= concurrency);
  // Starts in the order the engine made them, counted from the commit of B's job.
  const starts: string[] = [];
  let queuedAt = -1;
  engine.on('job:started', (job) => starts.push(job.tenant));
  engine.on('job:queued', (job) => {
    if (job.tenant === b.id) queuedAt = starts.length;
  });
  const submittedAt = Date.now();
  const jobB = (await b.api.call('POST', '/v1/jobs', chatJob('B, arriving late'))).body.id as string;
  const done = await engine.wait(jobB, { timeoutMs: 60_000 });
  t.equal(done.status, 'completed');
  t.ok(queuedAt >= 0 && starts.includes(b.id), "B's submit and start were seen");
  const aStartsBetween = starts.indexOf(b.id) - queuedAt;
  const db = dbOf(engine);
  const aQueued = db.prepare(`SELECT count(*) AS n FROM jobs WHERE tenant = ? AND status = 'queued'`).get(a.id).n as number;
  t.comment(
    `B started after ${aStartsBetween} of A's jobs and ${Date.parse(done.startedAt as string) - submittedAt} ms; A still had ${aQueued} queued`,
  );
  t.ok(aQueued > backlog - 2000, "A's backlog was still there: in FIFO order B would have waited behind it");
  t.ok(aStartsBetween <= concurrency, `B's job started before A got more than ${concurrency} more starts (got ${aStartsBetween})`);
});

t.test("a tenant's concurrency cap holds while other tenants use the free slots", async (t) => {
  const engine = await makeEngine(t, { concurrency: 16, threads: 1 });
  await engine.providers.update('mock', { options: { latencyMs: 30 } });
  const api = await serve(t, engine);
  const capped = await tenantKey(api, { maxConcurrency: 2 });
  const free = await tenantKey(api);
  const running = new Map<string, number>();
  const peak = new Map<string, number>();
  engine.on('job:started', (j) => {
    running.set(j.tenant, (running.get(j.tenant) ?? 0) + 1);
    peak.set(j.tenant, Math.max(peak.get(j.tenant) ?? 0, running.get(j.tenant) as number));
  });
  const finish = (j: { tenant: string }) => running.set(j.tenant, (running.get(j.tenant) ?? 0) - 1);
  engine.on('job:completed', finish);
  engine.on('job:failed', finish);
  const jobsCapped = await engine.submitMany(
    Array.from({ length: 20 }, (_, i) => chatJob(`capped ${i}`)),
    { tenant: capped.id },
  );
  const jobsFree = await engine.submitMany(
    Array.from({ length: 20 }, (_, i) => chatJob(`free ${i}`)),
    { tenant: free.id },
  );
  for (const j of [...jobsCapped, ...jobsFree]) t.equal((await engine.wait(j.id, { timeoutMs: 30_000 })).status, 'completed');
  t.ok((peak.get(capped.id) ?? 0) <= 2, `the capped tenant never ran more than 2 at once (peak ${peak.get(capped.id)})`);
  t.ok((peak.get(free.id) ?? 0) > 2, `the other tenant used the free slots (peak ${peak.get(free.id)})`);
});

t.test('a key over its daily token budget gets 429 SWY_BUDGET_EXCEEDED with Retry-After until midnight UTC', async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  const k = await tenantKey(api, { dailyTokenBudget: 5 });
  const first = await k.api.call('POST', '/v1/jobs', chatJob('this prompt spends more than five tokens of the budget'));
  t.equal(first.status, 201, 'under budget: accepted');
  await k.api.call('GET', `/v1/jobs/${first.body.id}?waitMs=10000`);
  const over = await k.api.call('POST', '/v1/jobs', chatJob('one more'));
  t.equal(over.status, 429);
  t.equal(over.body.error.code, 'SWY_BUDGET_EXCEEDED');
  const retryAfter = Number(over.headers.get('retry-after'));
  const now = Date.now();
  const untilMidnight = Math.ceil((86_400_000 - (now % 86_400_000)) / 1000);
  t.ok(retryAfter > 0 && retryAfter <= untilMidnight + 1, `Retry-After ${retryAfter} s is the time to 00:00 UTC (${untilMidnight} s)`);
  t.equal((await k.api.call('POST', '/v1/jobs/batch', { jobs: [chatJob('x')] })).body.error.code, 'SWY_BUDGET_EXCEEDED', 'batches too');
  t.equal((await k.api.call('GET', '/v1/jobs')).status, 200, 'reads still work');
  t.equal((await api.call('POST', '/v1/jobs', chatJob('admin'))).status, 201, 'other tenants are not affected');

  const broke = await tenantKey(api, { dailyCostBudgetUsd: 0 });
  t.equal(
    (await broke.api.call('POST', '/v1/jobs', chatJob('x'))).body.error.code,
    'SWY_BUDGET_EXCEEDED',
    'a zero cost budget admits nothing',
  );
  t.equal(
    dbOf(engine).prepare(`SELECT count(*) AS n FROM jobs WHERE tenant IN (?, ?)`).get(k.id, broke.id).n,
    1,
    'refused submits left no rows',
  );
});
