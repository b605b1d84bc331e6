/**
 * What only the PostgreSQL store has: turns at periodic work taken by compare-and-set, waiting
 * jobs kept out of the claim index until their time, and outcomes written together that fail
 * alone. (What both stores do is in store-contract.test.ts.)
 */
import pg from 'pg';
import t, { type Test } from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { PostgresStore } from '../src/store/postgres/store.js';
import { newJob } from './helpers/engine.js';
import { freshSchema, PG_URL, requirePostgres } from './helpers/postgres.js';

async function open(t: Test, schema: string): Promise<PostgresStore> {
  const store = await PostgresStore.open({ url: PG_URL, schema, poolSize: 4, listen: false });
  t.teardown(() => store.close());
  return store;
}

async function sql(schema: string, text: string, values: unknown[] = []): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** A successful provider call's usage, as an attempt reports it. */
function providerCall(inputTokens: number, outputTokens: number, costUsd: number) {
  return { provider: 'p', model: 'm', outcome: 'ok' as const, errorCode: null, latencyMs: 1, inputTokens, outputTokens, costUsd };
}

t.test('a periodic task is done by one process per round, whichever asks first once it is due', async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema(t);
  const a = await open(t, schema);
  const b = await open(t, schema);
  t.equal(await a.takeTurn('lease-sweep', 'a', 60_000), true, 'the first to ask takes the turn');
  t.equal(await b.takeTurn('lease-sweep', 'b', 60_000), false, 'the other waits until it is due again');
  t.equal(await a.takeTurn('lease-sweep', 'a', 60_000), false, 'so does the winner');
  t.equal(await b.takeTurn('retention', 'b', 60_000), true, 'each task has its own turn');
  // Due at once: the next to ask wins, whoever it is.
  t.equal(await b.takeTurn('other', 'b', 0), true);
  t.equal(await a.takeTurn('other', 'a', 0), true, 'a turn that is due goes to any process');
  t.same(await sql(schema, `SELECT owner FROM maintenance WHERE task = 'other'`), [{ owner: 'a' }]);
});

t.test('jobs waiting for a later time stay out of the claim index until a claim promotes them', async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema(t);
  const store = await open(t, schema);
  const later = Date.now() + 200;
  await store.insertJobs([newJob({ id: 'now' }), newJob({ id: 'later', runAt: later })]);
  t.same(await sql(schema, 'SELECT id, ready FROM jobs ORDER BY id'), [
    { id: 'later', ready: false },
    { id: 'now', ready: true },
  ]);
  const first = await store.claimJobs('me', 10, 60_000);
  t.same(
    first.map((c) => c.job.id),
    ['now'],
  );
  t.equal(await store.nextRunAt(Date.now()), later, 'the next wake-up is the waiting job');
  // Wait for the job's own time (the clock is the state waited on), then claim.
  await sleep(Math.max(0, later - Date.now() + 5));
  const second = await store.claimJobs('me', 10, 60_000);
  t.same(
    second.map((c) => c.job.id),
    ['later'],
    'promoted and claimed once due',
  );
  // A retry that backs off waits out of the index again.
  const c = second[0]!;
  await store.finishAttempt(
    { job: c.job, leaseToken: c.leaseToken, owner: 'me' },
    { kind: 'retry', error: { code: 'SWY_PROVIDER_SERVER', message: 'x', retryable: true }, runAt: Date.now() + 60_000, calls: [] },
  );
  t.same(await sql(schema, `SELECT status, ready FROM jobs WHERE id = 'later'`), [{ status: 'queued', ready: false }]);
  t.match(await store.stats(), { queued: 1, scheduled: 1, running: 1 });
});

t.test("a claim while one tenant has all the ready jobs counts them; another tenant's jobs then share the claim", async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema(t);
  const store = await open(t, schema);
  await store.insertJobs(Array.from({ length: 6 }, (_, i) => newJob({ id: `a${i}`, tenant: 'a' })));
  // The first claim looks at the tenants; the next ones, with only tenant a, take one statement.
  const claimed = [...(await store.claimJobs('me', 1, 60_000)), ...(await store.claimJobs('me', 1, 60_000))];
  t.same(
    claimed.map((c) => c.job.id),
    ['a0', 'a1'],
  );
  t.ok(
    claimed.every((c) => c.job.status === 'running' && c.job.attempt === 1 && c.leaseToken.length === 16),
    'running, first attempt, leased',
  );
  t.match(await store.stats(), { queued: 4, running: 2 }, 'the counters moved with the claims');
  // A claim that comes back short also read when the next waiting job falls due.
  const later = Date.now() + 60_000;
  await store.insertJobs([newJob({ id: 'a-later', tenant: 'a', runAt: later })]);
  const before = Date.now();
  t.same(
    (await store.claimJobs('me', 10, 60_000)).map((c) => c.job.id),
    ['a2', 'a3', 'a4', 'a5'],
  );
  t.equal(await store.nextRunAt(before), later, 'the next wake-up is the waiting job');
  t.equal(await store.nextRunAt(later), null, 'and nothing after it');
  await store.insertJobs([newJob({ id: 'a6', tenant: 'a' }), newJob({ id: 'b0', tenant: 'b' }), newJob({ id: 'b1', tenant: 'b' })]);
  const shared = await store.claimJobs('me', 2, 60_000);
  t.same(shared.map((c) => c.job.tenant).sort(), ['a', 'b'], 'a new tenant gets its share at once');
  t.same(
    await sql(schema, `SELECT status, sum(n)::int AS n FROM job_counts GROUP BY status ORDER BY status`),
    [
      { status: 'queued', n: 2 },
      { status: 'running', n: 8 },
    ],
    'counted exactly, whichever way each claim went',
  );
});

t.test('hot statements are prepared once per connection, unless listening is off (PgBouncer in transaction mode)', async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema(t);
  for (const listen of [true, false]) {
    // One connection, so the statements it prepared are the ones pg_prepared_statements shows.
    const store = await PostgresStore.open({ url: PG_URL, schema, poolSize: 1, listen });
    t.teardown(() => store.close());
    await store.insertJobs([newJob({ id: `p-${listen}` })]);
    const [c] = await store.claimJobs('me', 1, 60_000);
    await store.finishAttempt(
      { job: c!.job, leaseToken: c!.leaseToken, owner: 'me' },
      { kind: 'completed', output: 1, provider: null, model: null, calls: [] },
    );
    const { rows } = await store.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements');
    if (listen) t.ok(rows[0]!.n > 0, `prepared: ${rows[0]!.n}`);
    else t.equal(rows[0]!.n, 0, 'none prepared with listening off');
  }
});

t.test('outcomes written together: one that cannot be written fails alone, the others commit', async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema(t);
  const store = await open(t, schema);
  await store.insertJobs(['a', 'b', 'c'].map((id) => newJob({ id })));
  const claimed = await store.claimJobs('me', 3, 60_000);
  // The row of b's job disappears under its attempt: its usage row can no longer refer to it.
  await sql(schema, `DELETE FROM jobs WHERE id = 'b'`);
  const call = providerCall(1, 1, 0.1);
  const results = await Promise.allSettled(
    claimed.map((c) =>
      store.finishAttempt(
        { job: c.job, leaseToken: c.leaseToken, owner: 'me' },
        { kind: 'completed', output: c.job.id, provider: 'p', model: 'm', calls: [call] },
      ),
    ),
  );
  const byId = Object.fromEntries(claimed.map((c, i) => [c.job.id, results[i]?.status]));
  t.same(byId, { a: 'fulfilled', b: 'rejected', c: 'fulfilled' });
  t.same(await sql(schema, 'SELECT job_id FROM usage ORDER BY job_id'), [{ job_id: 'a' }, { job_id: 'c' }]);
  t.match(await store.stats(), { completed: 2 }, 'the counters saw the two that committed');
});

/** Counts the transaction blocks opened through node-postgres until the test ends. */
function countBegins(t: Test): { n: number } {
  const seen = { n: 0 };
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    if (args[0] === 'BEGIN') seen.n++;
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  t.teardown(() => {
    pg.Client.prototype.query = query;
  });
  return seen;
}

t.test(
  'outcomes and inserts of one moment are one statement, fenced and counted exactly; two attempts of one job take a transaction',
  async (t) => {
    if (!(await requirePostgres(t))) return;
    const schema = freshSchema(t);
    const store = await open(t, schema);
    await store.insertJobs(['a', 'b', 'c', 'd', 'x'].map((id) => newJob({ id, maxAttempts: 3 })));
    const claimed = new Map((await store.claimJobs('me', 5, 60_000)).map((c) => [c.job.id, c]));
    const ref = (id: string, token?: string) => ({
      job: claimed.get(id)!.job,
      leaseToken: token ?? claimed.get(id)!.leaseToken,
      owner: 'me',
    });
    // d's lease went to another attempt: its outcome is fenced out, but its call's cost stays with the job.
    await sql(schema, `UPDATE jobs SET lease_token = 'elsewhere' WHERE id = 'd'`);
    const call = providerCall(2, 3, 0.25);
    const error = { code: 'SWY_PROVIDER_SERVER' as const, message: 'upstream said no', retryable: true };
    const begins = countBegins(t);
    const [, a, b, c, d] = await Promise.all([
      store.insertJobs([newJob({ id: 'e' })]),
      store.finishAttempt(ref('a'), { kind: 'completed', output: 'A', provider: 'p', model: 'm', calls: [call] }),
      store.finishAttempt(ref('b'), { kind: 'retry', error, runAt: Date.now() + 60_000, calls: [] }),
      store.finishAttempt(ref('c'), { kind: 'failed', error: { ...error, retryable: false }, calls: [call] }),
      store.finishAttempt(ref('d'), { kind: 'completed', output: 'D', provider: 'p', model: 'm', calls: [call] }),
    ]);
    t.equal(begins.n, 0, 'no transaction block: one statement');
    t.match(a, { status: 'completed', output: 'A', usage: { inputTokens: 2, outputTokens: 3, costUsd: 0.25 } });
    t.match(b, { status: 'queued', attempt: 1 });
    t.match(c, { status: 'failed', usage: { costUsd: 0.25 } });
    t.equal(d, undefined, 'the fenced-out outcome is not written');
    t.same(
      await sql(schema, `SELECT job_id, outcome, error_code FROM attempts ORDER BY job_id`),
      [
        { job_id: 'b', outcome: 'retried', error_code: 'SWY_PROVIDER_SERVER' },
        { job_id: 'c', outcome: 'failed', error_code: 'SWY_PROVIDER_SERVER' },
        { job_id: 'd', outcome: 'superseded', error_code: null },
      ],
      'an attempt row for each attempt that did not complete',
    );
    t.same(await sql(schema, `SELECT status, cost_usd FROM jobs WHERE id = 'd'`), [{ status: 'running', cost_usd: 0.25 }]);
    const counted = async () =>
      sql(
        schema,
        `SELECT coalesce(k.status, j.status) AS status, coalesce(k.n, 0)::int AS counted, coalesce(j.n, 0)::int AS actual
      FROM (SELECT status, sum(n) AS n FROM job_counts GROUP BY status HAVING sum(n) <> 0) k
      FULL JOIN (SELECT status, count(*) AS n FROM jobs GROUP BY status) j ON j.status = k.status ORDER BY 1`,
      );
    const rows = await counted();
    t.ok(
      rows.every((r) => r.counted === r.actual),
      `the counters match the rows: ${JSON.stringify(rows)}`,
    );
    t.match(await store.stats(), { completed: 1, failed: 1, queued: 2, running: 2 });

    // Two attempts of one job in one moment: one statement cannot update its row twice.
    const [stale, fresh] = await Promise.all([
      store.finishAttempt(ref('x', 'stale-token'), { kind: 'completed', output: 'old', provider: 'p', model: 'm', calls: [call] }),
      store.finishAttempt(ref('x'), { kind: 'completed', output: 'X', provider: 'p', model: 'm', calls: [] }),
    ]);
    t.equal(begins.n, 1, 'they took a transaction');
    t.equal(stale, undefined);
    t.match(
      fresh,
      { status: 'completed', output: 'X', usage: { costUsd: 0.25 } },
      "the stale attempt's cost, written first, is in the job returned",
    );
    t.same(await sql(schema, `SELECT outcome FROM attempts WHERE job_id = 'x'`), [{ outcome: 'superseded' }]);
    t.same(await sql(schema, `SELECT cost_usd FROM jobs WHERE id = 'x'`), [{ cost_usd: 0.25 }], "the stale attempt's cost is the job's");
    const after = await counted();
    t.ok(
      after.every((r) => r.counted === r.actual),
      `still: ${JSON.stringify(after)}`,
    );
  },
);
