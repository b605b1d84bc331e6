/**
 * Provider limits across processes: three engines on one PostgreSQL schema call one upstream whose
 * provider has `rpm: 60` and `maxConcurrency: 2`. The upstream (a fake OpenAI server counting what
 * it gets) must never see more: 60 calls in the minute, at most 2 at once, whichever node calls.
 * A 429 with Retry-After seen by one node pauses the provider on all of them.
 */
import pg from 'pg';
import t, { type Test } from 'tap';
import { createEngine, type Engine } from '../src/index.js';
import { fakeOpenAI } from './helpers/fake-openai.js';
import { freshSchema, PG_URL, requirePostgres } from './helpers/postgres.js';

const chat = (content: string) => ({ input: { model: 'm', messages: [{ role: 'user', content }] } });

async function node(t: Test, schema: string): Promise<Engine> {
  const engine = await createEngine({ database: PG_URL, databaseSchema: schema, threads: 1, concurrency: 32, seedProviders: false });
  t.teardown(() => engine.stop());
  await engine.start();
  return engine;
}

t.test('rpm 60 and maxConcurrency 2 hold across three nodes', async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema(t);
  const upstream = await fakeOpenAI(t, { kind: 'ok', text: 'fine', delayMs: 20 });
  const nodes = [await node(t, schema), await node(t, schema), await node(t, schema)];
  await nodes[0]!.providers.add({ name: 'up', kind: 'openai', baseUrl: upstream.baseUrl, rpm: 60, maxConcurrency: 2 });
  // The other nodes hear of the new provider (LISTEN/NOTIFY) before jobs are given to them.
  for (const n of nodes) {
    await new Promise<void>((resolve) => {
      const check = () => (n.providers.list().some((p) => p.name === 'up') ? resolve() : setImmediate(check));
      check();
    });
  }
  await Promise.all(nodes.map((n, i) => n.submitMany(Array.from({ length: 50 }, (_, j) => chat(`node ${i} job ${j}`)))));
  await upstream.received(60);

  // Waiting on state: until every job not yet done has been turned away at least twice (each node
  // asked the ledger again and was refused), so that any call past the limit would have been made.
  const admin = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await admin.connect();
  t.teardown(() => admin.end());
  for (;;) {
    const { rows } = await admin.query(`SELECT count(*)::int AS done,
        (SELECT count(*)::int FROM jobs j WHERE j.status != 'completed'
          AND (SELECT count(*) FROM attempts a WHERE a.job_id = j.id AND a.outcome = 'deferred') < 2) AS pending
      FROM jobs WHERE status = 'completed'`);
    if (rows[0].done === 60 && rows[0].pending === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(upstream.requests.length, 60, 'the upstream saw exactly 60 calls in the minute, from three nodes');
  t.ok(upstream.peakConcurrency() <= 2, `never more than 2 at once (peak ${upstream.peakConcurrency()})`);
  const { rows: rest } = await admin.query(`SELECT count(*)::int AS n FROM jobs WHERE status != 'completed'
      AND error::jsonb->>'code' = 'SWY_NO_PROVIDER_AVAILABLE'`);
  t.equal(rest[0].n, 90, 'the other 90 wait for the next minute, turned away for want of a provider');
});

t.test('a 429 with Retry-After seen by one node pauses the provider on every node', async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema(t);
  const upstream = await fakeOpenAI(t, { kind: 'status', status: 429, retryAfter: '3600' });
  const a = await node(t, schema);
  const b = await node(t, schema);
  await a.providers.add({ name: 'up', kind: 'openai', baseUrl: upstream.baseUrl });
  await new Promise<void>((resolve) => {
    const check = () => (b.providers.list().some((p) => p.name === 'up') ? resolve() : setImmediate(check));
    check();
  });
  const paused = new Promise<void>((resolve) => {
    b.on('provider:state', (e) => {
      if (e.name === 'up' && e.state.pausedUntil !== null) resolve();
    });
  });
  const job = await a.submit(chat('throttled'));
  await upstream.received(1);
  await paused;
  const state = b.providers.get('up').state;
  t.ok(
    state.pausedUntil !== null && Date.parse(state.pausedUntil) > Date.now() + 3_000_000,
    'node b paused it for the hour the upstream asked',
  );
  t.equal(upstream.requests.length, 1, 'one call: the one that was told to wait');
  await a.cancel(job.id);
});

t.test(
  'after a provider failed on every node, one node sends the half-open probe; its success closes the breaker everywhere',
  async (t) => {
    if (!(await requirePostgres(t))) return;
    const schema = freshSchema(t);
    const upstream = await fakeOpenAI(t, { kind: 'status', status: 500 });
    const nodes = [await node(t, schema), await node(t, schema), await node(t, schema)];
    const breaker = { volumeThreshold: 1, errorThresholdPercentage: 50, resetTimeoutMs: 2000, rollingWindowMs: 60_000 };
    await nodes[0]!.providers.add({ name: 'up', kind: 'openai', baseUrl: upstream.baseUrl, timeoutMs: 1000, breaker });
    for (const n of nodes) {
      await new Promise<void>((resolve) => {
        const check = () => (n.providers.list().some((p) => p.name === 'up') ? resolve() : setImmediate(check));
        check();
      });
    }
    // Each node's own failing call opens its breaker (at nearly the same moment, so their half-open
    // times fall in one round).
    const seen: string[][] = nodes.map(() => []);
    for (const [i, n] of nodes.entries()) {
      n.on('provider:state', (e) => {
        if (e.name === 'up') seen[i]!.push(e.state.breaker);
      });
    }
    // run() starts the job on the node it is given to, at once.
    const failing = await Promise.all(nodes.map((n, i) => n.run({ ...chat(`fails on node ${i}`), maxAttempts: 1 })));
    await Promise.all(failing.map((job, i) => nodes[i]!.wait(job.id)));
    t.same(
      nodes.map((n) => n.providers.get('up').state.breaker),
      ['open', 'open', 'open'],
    );
    // Now the upstream answers nothing: a probe hangs, so any second probe would be seen.
    upstream.behave({ kind: 'hang' });
    const before = upstream.requests.length;
    for (const s of seen) s.length = 0;
    const jobs = (
      await Promise.all(nodes.map((n, i) => n.submitMany([0, 1].map((j) => ({ ...chat(`node ${i} job ${j}`), maxAttempts: 50 })))))
    ).flat();
    // Waiting on state: every node has gone half-open and heard whose turn the probe is (the
    // losers open again at once).
    const decided = () => seen.filter((s) => s.includes('half-open')).length === 3 && seen.filter((s) => s.at(-1) === 'open').length >= 2;
    while (!decided()) await new Promise((r) => setTimeout(r, 20));
    t.equal(seen.filter((s) => s.at(-1) === 'open' && s.includes('half-open')).length, 2, 'two nodes lost the turn and opened again');
    await upstream.received(before + 1);
    t.equal(upstream.requests.length, before + 1, 'one probe reached the upstream in the round');
    // The hanging probe times out; the next round's probe succeeds and closes every breaker.
    upstream.behave({ kind: 'ok', text: 'fine' });
    for (const job of jobs) t.equal((await nodes[0]!.wait(job.id)).status, 'completed');
    for (const n of nodes) {
      while (n.providers.get('up').state.breaker !== 'closed') await new Promise((r) => setTimeout(r, 20));
    }
    t.same(
      nodes.map((n) => n.providers.get('up').state.breaker),
      ['closed', 'closed', 'closed'],
      'every node closed its breaker',
    );
  },
);
