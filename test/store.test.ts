/** The SQLite store on a real file: migrations, claim order, delays, leases, fencing. */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import Database from 'better-sqlite3';
import { migrate } from '../src/store/migrate.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { FairShare } from '../src/store/fair-share.js';
import { newJob, tempDir } from './helpers/engine.js';

t.test('opens in WAL with the pragmas set and the schema migrated once', async (t) => {
  const path = join(tempDir(t), 'a.db');
  const s1 = new SqliteStore({ path, synchronous: 'full' });
  t.equal(s1.db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(s1.db.pragma('synchronous', { simple: true }), 2, 'FULL');
  t.equal(s1.db.pragma('foreign_keys', { simple: true }), 1);
  t.equal(s1.db.pragma('busy_timeout', { simple: true }), 5000);
  await s1.close();
  await s1.close(); // idempotent
  const s2 = new SqliteStore({ path });
  t.equal(s2.db.pragma('synchronous', { simple: true }), 1, 'NORMAL by default');
  const files = readdirSync(new URL('../src/store/migrations/', import.meta.url)).filter((f) => f.endsWith('.sql'));
  t.same(
    s2.db.prepare('SELECT version FROM schema_version').all(),
    files.map((_, i) => ({ version: i + 1 })),
    'each applied once, in order',
  );
  const plan = s2.db
    .prepare(`EXPLAIN QUERY PLAN SELECT seq FROM jobs INDEXED BY jobs_claim
    WHERE status = 'queued' AND tenant = 'default' AND run_at <= 0 ORDER BY priority DESC, run_at, seq LIMIT 10`)
    .all() as { detail: string }[];
  t.match(plan.map((p) => p.detail).join(' '), /USING (COVERING )?INDEX jobs_claim/);
  t.notMatch(plan.map((p) => p.detail).join(' '), /TEMP B-TREE/, 'the claim needs no sort');
  await s2.close();
});

t.test('claims highest priority first, then oldest; skips delayed jobs; batches', async (t) => {
  const store = new SqliteStore({ path: join(tempDir(t), 'b.db') });
  t.teardown(() => store.close());
  const now = Date.now();
  await store.insertJobs([
    newJob({ id: 'low-old', priority: 0, runAt: now - 3000 }),
    newJob({ id: 'high', priority: 5, runAt: now - 1000 }),
    newJob({ id: 'low-new', priority: 0, runAt: now - 2000 }),
    newJob({ id: 'delayed', priority: 9, runAt: now + 60_000 }),
  ]);
  const first = await store.claimJobs('me', 2, 10_000);
  t.same(
    first.map((c) => c.job.id),
    ['high', 'low-old'],
  );
  t.ok(first.every((c) => c.job.status === 'running' && c.job.attempt === 1 && c.leaseToken.length === 16));
  const second = await store.claimJobs('me', 10, 10_000);
  t.same(
    second.map((c) => c.job.id),
    ['low-new'],
    'the delayed job is not due',
  );
  t.equal(await store.nextRunAt(Date.now()), now + 60_000);
  const stats = await store.stats();
  t.match(stats, { total: 4, running: 3, queued: 1, scheduled: 1 });
});

t.test('a tenant cap counts running jobs of other processes and of claims earlier in the same transaction', async (t) => {
  const path = join(tempDir(t), 'caps.db');
  const store = new SqliteStore({ path });
  const other = new SqliteStore({ path });
  t.teardown(async () => {
    await store.close();
    await other.close();
  });
  const capped = new FairShare(
    () => 1,
    (tenant) => (tenant === 'a' ? 3 : undefined),
  );
  await store.insertJobs(Array.from({ length: 8 }, (_, i) => newJob({ id: `a${i}`, tenant: 'a' })));
  t.same(
    (await other.claimJobs('elsewhere', 1, 60_000, capped)).map((c) => c.job.tenant),
    ['a'],
    "another process runs one of a's jobs",
  );
  await store.insertJobs([newJob({ id: 'b0', tenant: 'b' })]);
  // Two claims asked for in the same turn share one transaction: the second must see the first.
  const [x, y] = await Promise.all([store.claimJobs('me', 8, 60_000, capped), store.claimJobs('me', 8, 60_000, capped)]);
  t.equal([...x, ...y].filter((c) => c.job.tenant === 'a').length, 2, 'a gets 2 more, up to its cap of 3');
  t.ok(
    [...x, ...y].some((c) => c.job.id === 'b0'),
    'b is not capped',
  );
  const plan = store.db
    .prepare(`EXPLAIN QUERY PLAN SELECT id FROM jobs INDEXED BY jobs_status WHERE status = 'running' AND lease_expires_at < 0`)
    .all() as { detail: string }[];
  t.match(plan.map((p) => p.detail).join(' '), /INDEX jobs_status \(status=\?\)/, 'the lease sweep reads only running jobs');
});

t.test('an idempotency key is unique in the database', async (t) => {
  const path = join(tempDir(t), 'c.db');
  const a = new SqliteStore({ path });
  const b = new SqliteStore({ path });
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  const [r1] = await a.insertJobs([newJob({ idempotencyKey: 'k' })]);
  const [r2] = await b.insertJobs([newJob({ idempotencyKey: 'k' })]);
  t.equal(r1!.created, true);
  t.equal(r2!.created, false);
  t.equal(r2!.job.id, r1!.job.id);
  t.equal((await a.stats()).total, 1);
});

t.test('outcomes are fenced by the lease token; usage is recorded with the attempt', async (t) => {
  const path = join(tempDir(t), 'd.db');
  const store = new SqliteStore({ path });
  t.teardown(() => store.close());
  await store.insertJobs([newJob({ id: 'f' })]);
  const [c] = await store.claimJobs('me', 1, 10_000);
  const call = {
    provider: 'p',
    model: 'm',
    outcome: 'ok' as const,
    errorCode: null,
    latencyMs: 5,
    inputTokens: 10,
    outputTokens: 4,
    costUsd: 0.5,
  };
  const wrong = await store.finishAttempt(
    { job: c!.job, leaseToken: 'not-the-token', owner: 'me' },
    { kind: 'completed', output: 1, provider: 'p', model: 'm', calls: [call] },
  );
  t.equal(wrong, undefined, 'a wrong token writes no outcome');
  const right = await store.finishAttempt(
    { job: c!.job, leaseToken: c!.leaseToken, owner: 'me' },
    { kind: 'completed', output: 2, provider: 'p', model: 'm', calls: [call] },
  );
  t.equal(right?.status, 'completed');
  t.equal(right?.output, 2);
  t.same(right?.usage, { inputTokens: 20, outputTokens: 8, costUsd: 1 }, 'both calls were made and both are counted');
  const rows = new Database(path, { readonly: true });
  t.teardown(() => rows.close());
  t.same(rows.prepare('SELECT count(*) AS n, sum(input_tokens) AS i FROM usage WHERE job_id = ?').get('f'), { n: 2, i: 20 });
  t.same(
    rows.prepare('SELECT outcome FROM attempts WHERE job_id = ?').pluck().all('f'),
    ['superseded'],
    "the superseded attempt has its row; the completing one is the job's own",
  );
  const read = await store.getJob('f');
  t.strictSame(
    read?.attempts?.at(-1),
    {
      number: 1,
      startedAt: c!.job.startedAt,
      finishedAt: right?.finishedAt,
      outcome: 'completed',
      error: null,
      provider: 'p',
    },
    'the completing attempt is listed from the job row',
  );
});

/** Counts the runs of each outcome's `expected` statement (the write whose result is computed, not read back). */
function countExpected(store: SqliteStore): Record<string, number> {
  const counts: Record<string, number> = {};
  const statements = (store as unknown as { s: Record<string, { expected?: { run: (...a: unknown[]) => { changes: number } } }> }).s;
  for (const [name, st] of Object.entries(statements)) {
    const expected = st.expected;
    if (!expected) continue;
    const run = expected.run.bind(expected);
    expected.run = (...a: unknown[]) => {
      const r = run(...a);
      if (r.changes === 1) counts[name] = (counts[name] ?? 0) + 1;
      return r;
    };
  }
  return counts;
}

for (const progress of [false, true]) {
  t.test(
    `each outcome returns the job exactly as a read of it returns it (${progress ? 'progress reported: read back' : 'computed'})`,
    async (t) => {
      const store = new SqliteStore({ path: join(tempDir(t), 'outcome.db') });
      t.teardown(() => store.close());
      const computed = countExpected(store);
      const kinds = ['completed', 'retry', 'failed', 'released', 'deferred'] as const;
      await store.insertJobs(kinds.map((k) => newJob({ id: k, maxAttempts: 3, metadata: { k } })));
      const claimed = await store.claimJobs('me', kinds.length, 60_000);
      for (const c of claimed) {
        const { attempts: _a, ...read } = (await store.getJob(c.job.id))!;
        t.strictSame(c.job, read, `${c.job.id}: the claimed job is the stored one`);
      }
      const call = {
        provider: 'p',
        model: 'm',
        outcome: 'ok' as const,
        errorCode: null,
        latencyMs: 5,
        inputTokens: 7,
        outputTokens: 3,
        costUsd: 0.1,
      };
      const error = { code: 'SWY_PROVIDER_SERVER' as const, message: 'upstream 500', retryable: true, retryAfterMs: undefined };
      for (const c of claimed) {
        const ref = { job: c.job, leaseToken: c.leaseToken, owner: 'me' };
        if (progress) await store.setProgress(ref, 40);
        const kind = c.job.id as (typeof kinds)[number];
        const result =
          kind === 'completed'
            ? {
                kind,
                output: { text: 'hi', when: new Date(0), gone: undefined, nested: [1, { a: null }] },
                provider: 'p',
                model: 'm',
                calls: [call, call],
              }
            : kind === 'released'
              ? { kind, calls: [] }
              : kind === 'failed'
                ? { kind, error, calls: [call] }
                : { kind, error, runAt: Date.now() + 60_000, calls: [call] };
        const returned = await store.finishAttempt(ref, result);
        const { attempts: _attempts, ...read } = (await store.getJob(c.job.id))!;
        t.strictSame(returned, read, `${kind}: the returned job is the stored one`);
        t.strictSame(Object.keys(returned!).sort(), Object.keys(read).sort(), `${kind}: same fields`);
      }
      t.same(
        computed,
        progress ? {} : { complete: 1, other: 4 },
        progress ? 'progress changed the rows: every outcome was read back' : 'every outcome was computed, none read back',
      );
    },
  );
}

t.test('usage a superseded attempt adds while the next attempt runs is in the job that attempt returns', async (t) => {
  const path = join(tempDir(t), 'late.db');
  const store = new SqliteStore({ path });
  const other = new SqliteStore({ path });
  t.teardown(async () => {
    await store.close();
    await other.close();
  });
  await store.insertJobs([newJob({ id: 'late', maxAttempts: 3 })]);
  const [old] = await other.claimJobs('stalled', 1, 1);
  await new Promise((r) => setTimeout(r, 20));
  t.equal((await store.requeueExpired()).length, 1, "the stalled attempt's lease expired: requeued");
  const [next] = await store.claimJobs('me', 1, 60_000);
  const call = (tokens: number) => ({
    provider: 'p',
    model: 'm',
    outcome: 'ok' as const,
    errorCode: null,
    latencyMs: 5,
    inputTokens: tokens,
    outputTokens: 1,
    costUsd: 0.5,
  });
  t.equal(
    await other.finishAttempt(
      { job: old!.job, leaseToken: old!.leaseToken, owner: 'stalled' },
      { kind: 'completed', output: 'late', provider: 'p', model: 'm', calls: [call(100)] },
    ),
    undefined,
    'the stalled attempt is superseded',
  );
  const done = await store.finishAttempt(
    { job: next!.job, leaseToken: next!.leaseToken, owner: 'me' },
    { kind: 'completed', output: 'ok', provider: 'p', model: 'm', calls: [call(5)] },
  );
  t.same(done?.usage, { inputTokens: 105, outputTokens: 2, costUsd: 1 }, "both attempts' usage, though the claim read none");
  const { attempts: _a, ...read } = (await store.getJob('late'))!;
  t.strictSame(done, read, 'the returned job is the stored one');
});

t.test('release puts a job back without spending its attempt', async (t) => {
  const store = new SqliteStore({ path: join(tempDir(t), 'e.db') });
  t.teardown(() => store.close());
  await store.insertJobs([newJob({ id: 'r' })]);
  const [c] = await store.claimJobs('me', 1, 10_000);
  const released = await store.finishAttempt({ job: c!.job, leaseToken: c!.leaseToken, owner: 'me' }, { kind: 'released', calls: [] });
  t.equal(released?.status, 'queued');
  t.equal(released?.attempt, 0);
});

t.test('list pages newest first with filters', async (t) => {
  const store = new SqliteStore({ path: join(tempDir(t), 'g.db') });
  t.teardown(() => store.close());
  await store.insertJobs([newJob({ id: 'l1', type: 'a' }), newJob({ id: 'l2', type: 'b' }), newJob({ id: 'l3', type: 'a' })]);
  const p1 = await store.listJobs({ type: 'a', limit: 1 });
  t.same(
    p1.data.map((j) => j.id),
    ['l3'],
  );
  const p2 = await store.listJobs({ type: 'a', limit: 1, cursor: p1.nextCursor! });
  t.same(
    p2.data.map((j) => j.id),
    ['l1'],
  );
  t.equal(p2.nextCursor, null);
  await t.rejects(store.listJobs({ cursor: 'bm90LWEtbnVtYmVy' }), { code: 'SWY_VALIDATION' });
});

t.test('a closed store answers with a coded error', async (t) => {
  const store = new SqliteStore({ path: join(tempDir(t), 'h.db') });
  await store.close();
  await t.rejects(store.getJob('x'), { code: 'SWY_SHUTTING_DOWN' });
});

t.test('writes of one turn share a transaction; a failing write rolls back alone', async (t) => {
  const store = new SqliteStore({ path: join(tempDir(t), 'i.db') });
  t.teardown(() => store.close());
  const a = store.insertJobs([newJob({ id: 'dup' })]);
  const b = store.insertJobs([newJob({ id: 'dup' }), newJob({ id: 'other' })]);
  const c = store.insertJobs([newJob({ id: 'third' })]);
  const results = await Promise.allSettled([a, b, c]);
  t.equal(results[0].status, 'fulfilled');
  t.equal(results[1].status, 'rejected', 'the write with a duplicate id failed');
  t.equal(results[2].status, 'fulfilled', 'the write after it in the same transaction committed');
  t.notOk(await store.getJob('other'), 'the failed write left nothing behind');
  t.ok(await store.getJob('third'));
  t.equal((await store.stats()).total, 2);
});

t.test('a repeated idempotency key with another request is a conflict', async (t) => {
  const store = new SqliteStore({ path: join(tempDir(t), 'j.db') });
  t.teardown(() => store.close());
  await store.insertJobs([newJob({ id: 'k1', idempotencyKey: 'key', requestHash: 'h1' })]);
  const same = await store.insertJobs([newJob({ id: 'k2', idempotencyKey: 'key', requestHash: 'h1' })]);
  t.equal(same[0]!.job.id, 'k1');
  await t.rejects(store.insertJobs([newJob({ id: 'k3', idempotencyKey: 'key', requestHash: 'h2' })]), { code: 'SWY_IDEMPOTENCY_CONFLICT' });
});

t.test('migration 008 rebuilds jobs for tenants without losing a row, an attempt or a usage total', async (t) => {
  const src = new URL('../src/store/migrations/', import.meta.url);
  const dir = `${join(tempDir(t), 'v7')}/`;
  mkdirSync(dir);
  for (const f of readdirSync(src).filter((f) => /^00[1-7]_/.test(f))) copyFileSync(new URL(f, src), dir + f);
  const path = join(tempDir(t), 'old.db');
  const old = new Database(path);
  old.pragma('foreign_keys = ON');
  t.same(migrate(old, dir), [1, 2, 3, 4, 5, 6, 7]);
  const now = Date.now();
  old
    .prepare(`INSERT INTO jobs (id, type, status, priority, max_attempts, timeout_ms, input, idempotency_key, run_at, created_at, finished_at, duration_ms)
    VALUES ('old-1', 'chat', 'completed', 0, 3, 1000, '{}', 'k1', ?, ?, ?, 40)`)
    .run(now, now, now);
  old
    .prepare(`INSERT INTO jobs (id, type, status, priority, max_attempts, timeout_ms, input, run_at, created_at)
    VALUES ('old-2', 'chat', 'queued', 5, 3, 1000, '{}', ?, ?)`)
    .run(now, now);
  old
    .prepare(
      `INSERT INTO attempts (job_id, number, lease_token, owner, started_at, outcome) VALUES ('old-1', 1, 'tok', 'me', ?, 'completed')`,
    )
    .run(now);
  old
    .prepare(`INSERT INTO usage (job_id, job_type, attempt, provider, model, outcome, latency_ms, input_tokens, output_tokens, cost_usd, created_at)
    VALUES ('old-1', 'chat', 1, 'mock', 'm', 'ok', 30, 7, 11, 0.5, ?)`)
    .run(now);
  old.close();

  const store = new SqliteStore({ path });
  t.teardown(() => store.close());
  t.equal(store.db.pragma('foreign_keys', { simple: true }), 1, 'foreign keys back on');
  const job = await store.getJob('old-1');
  t.equal(job?.tenant, 'default', 'old jobs belong to the default tenant');
  t.equal(job?.attempts?.length, 1, 'attempts survived the rebuild (no cascade)');
  t.equal(job?.idempotencyKey, 'k1');
  t.same(await store.counts(), { queued: 1, running: 0, completed: 1, failed: 0, cancelled: 0 }, 'counters rebuilt');
  t.same((await store.stats()).usage, { inputTokens: 7, outputTokens: 11, costUsd: 0.5 }, 'usage totals rebuilt');
  t.same(await store.tenantUsageSince('default', now - (now % 3_600_000)), { tokens: 18, costUsd: 0.5 }, 'hourly rollups per tenant');
  const [claimed] = await store.claimJobs('me', 10, 1000);
  t.equal(claimed?.job.id, 'old-2', 'the old queued job is claimable');
  t.equal(store.db.pragma('integrity_check', { simple: true }), 'ok');
});

t.test('migration 011: a job left running by the old version gets its attempt row once, from the lease sweep', async (t) => {
  const src = new URL('../src/store/migrations/', import.meta.url);
  const dir = `${join(tempDir(t), 'v10')}/`;
  mkdirSync(dir);
  for (const f of readdirSync(src).filter((f) => /^0(0\d|10)_/.test(f))) copyFileSync(new URL(f, src), dir + f);
  const path = join(tempDir(t), 'v10.db');
  const old = new Database(path);
  old.pragma('foreign_keys = ON');
  t.same(migrate(old, dir), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const then = Date.now() - 60_000;
  // What version 10 wrote for a claim: the job running with a lease, and an open attempt row.
  old
    .prepare(`INSERT INTO jobs (id, type, status, attempt, max_attempts, timeout_ms, input, run_at, created_at, started_at,
      lease_owner, lease_token, lease_expires_at) VALUES ('left', 'chat', 'running', 1, 3, 1000, '{}', ?, ?, ?, 'old', 'tok', ?)`)
    .run(then, then, then, then + 1000);
  old.prepare(`INSERT INTO attempts (job_id, number, lease_token, owner, started_at) VALUES ('left', 1, 'tok', 'old', ?)`).run(then);
  old.prepare(`INSERT INTO job_counts (tenant, type, status, n, duration_sum) VALUES ('default', 'chat', 'running', 1, 0)`).run();
  old.close();

  const store = new SqliteStore({ path });
  t.teardown(() => store.close());
  t.same(
    (await store.getJob('left'))?.attempts?.map((a) => [a.number, a.outcome]),
    [[1, null]],
    'the running attempt, read from its job',
  );
  t.equal(
    store.db.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'attempts_lease'`).pluck().get(),
    0,
    'the lease-token index is gone',
  );
  await store.requeueExpired();
  const job = await store.getJob('left');
  t.equal(job?.status, 'queued');
  t.same(
    job?.attempts?.map((a) => [a.number, a.outcome, a.error?.code]),
    [[1, 'lease_expired', 'SWY_LEASE_EXPIRED']],
    'one row for the attempt',
  );
});

t.test('the counters kept in code always equal what the rows say, through every kind of write', async (t) => {
  const store = new SqliteStore({ path: join(tempDir(t), 'tallies.db') });
  t.teardown(() => store.close());
  const call = (outcome: 'ok' | 'error', latencyMs: number) => ({
    provider: 'p1',
    model: 'm1',
    outcome,
    errorCode: outcome === 'error' ? 'SWY_PROVIDER_SERVER' : null,
    latencyMs,
    inputTokens: 10,
    outputTokens: outcome === 'ok' ? 5 : 0,
    costUsd: 0.001,
  });
  const jobs = Array.from({ length: 24 }, (_, i) =>
    newJob({ tenant: i % 3 === 0 ? 'a' : 'b', type: i % 2 ? 'chat' : 'x', maxAttempts: 2 }),
  );
  await store.insertJobs(jobs);
  // One failing write in the same transaction as a good one: its changes must not count.
  const keyed = newJob({ tenant: 'a', idempotencyKey: 'k', requestHash: 'h1' });
  await store.insertJobs([keyed]);
  const results = await Promise.allSettled([
    store.insertJobs([newJob({ tenant: 'a' }), newJob({ tenant: 'a', idempotencyKey: 'k', requestHash: 'other' })]),
    store.insertJobs([newJob({ tenant: 'b' })]),
  ]);
  t.equal(results[0].status, 'rejected', 'the conflicting batch failed whole');
  const claimed = await store.claimJobs('me', 12, 60_000);
  const ref = (c: (typeof claimed)[number]) => ({ job: c.job, leaseToken: c.leaseToken, owner: 'me' });
  const [c0, c1, c2, c3, c4, c5, c6, c7] = claimed;
  await store.finishAttempt(ref(c0!), { kind: 'completed', output: 'ok', provider: 'p1', model: 'm1', calls: [call('ok', 30)] });
  await store.finishAttempt(ref(c1!), {
    kind: 'completed',
    output: 'ok',
    provider: 'p1',
    model: 'm1',
    calls: [call('error', 2000), call('ok', 400)],
  });
  await store.finishAttempt(ref(c2!), {
    kind: 'failed',
    error: { code: 'SWY_HANDLER_ERROR', message: 'x', retryable: false },
    calls: [call('error', 70)],
  });
  await store.finishAttempt(ref(c3!), {
    kind: 'retry',
    error: { code: 'SWY_HANDLER_ERROR', message: 'x', retryable: true },
    runAt: Date.now(),
    calls: [],
  });
  await store.finishAttempt(ref(c4!), { kind: 'released', calls: [] });
  await store.finishAttempt(ref(c5!), {
    kind: 'deferred',
    error: { code: 'SWY_HANDLER_ERROR', message: 'x', retryable: true },
    runAt: Date.now(),
    calls: [],
  });
  await store.finishAttempt(ref(c0!), { kind: 'completed', output: 'late', provider: 'p1', model: 'm1', calls: [call('ok', 10)] }); // superseded
  await store.cancelJob(c6!.job.id);
  await store.cancelJob(jobs.at(-1)!.id); // queued
  await store.retryJob(c2!.job.id);
  await store.retryJob(c6!.job.id);
  const short = await store.claimJobs('me', 2, 1);
  await new Promise((r) => setTimeout(r, 10));
  t.ok((await store.requeueExpired()).length >= 1, 'leases expired');
  await store.finishAttempt(ref(c7!), { kind: 'completed', output: 'ok', provider: 'p1', model: 'm1', calls: [call('ok', 120_000)] });
  t.ok(short.length > 0);
  await store.prune(Date.now() + 1000, Date.now() + 1000, 3);

  const db = store.db;
  const counts = db.prepare('SELECT tenant, type, status, n, duration_sum AS d FROM job_counts WHERE n != 0 ORDER BY 1, 2, 3').all();
  const truth = db
    .prepare(`SELECT tenant, type, status, count(*) AS n, coalesce(sum(duration_ms), 0) AS d FROM jobs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`)
    .all();
  t.same(counts, truth, 'job_counts = the jobs table');
  const totals = db
    .prepare(
      'SELECT tenant, input_tokens AS i, output_tokens AS o, round(cost_usd, 9) AS c FROM usage_totals WHERE input_tokens != 0 ORDER BY 1',
    )
    .all();
  const usageTruth = db
    .prepare(
      'SELECT tenant, sum(input_tokens) AS i, sum(output_tokens) AS o, round(sum(cost_usd), 9) AS c FROM usage GROUP BY 1 ORDER BY 1',
    )
    .all();
  t.same(totals, usageTruth, 'usage_totals = the usage rows');
  const hourly = db
    .prepare(`SELECT hour, tenant, provider, model, job_type, calls, errors, input_tokens, output_tokens, h0, h3, h4, h6, h11
    FROM usage_hourly WHERE calls != 0 ORDER BY 1, 2, 3, 4, 5`)
    .all();
  const hourlyTruth = db
    .prepare(`SELECT (created_at / 3600000) * 3600000 AS hour, tenant, provider, model, job_type, count(*) AS calls,
      sum(outcome = 'error') AS errors, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
      sum(latency_ms <= 25) AS h0, sum(latency_ms > 100 AND latency_ms <= 250) AS h3, sum(latency_ms > 250 AND latency_ms <= 500) AS h4,
      sum(latency_ms > 1000 AND latency_ms <= 2500) AS h6, sum(latency_ms > 60000 AND latency_ms <= 120000) AS h11
    FROM usage GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`)
    .all();
  t.same(hourly, hourlyTruth, 'usage_hourly = the usage rows, bucket by bucket');
  t.ok((hourly as unknown[]).length > 0);
});

t.test('hourly usage sums stay apart when calls of different groups alternate in one transaction', async (t) => {
  const store = new SqliteStore({ path: join(tempDir(t), 'groups.db') });
  t.teardown(() => store.close());
  // Consecutive jobs differ by type only, then by tenant only; consecutive calls by model only,
  // by provider only, then by both, and the last call of a job is like the first of the next.
  const groups = [
    ['a', 'x'],
    ['a', 'chat'],
    ['b', 'chat'],
    ['b', 'x'],
  ] as const;
  await store.insertJobs(Array.from({ length: 8 }, (_, i) => newJob({ tenant: groups[i % 4]![0], type: groups[i % 4]![1] })));
  const claimed = await store.claimJobs('me', 8, 60_000);
  const call = (provider: string, model: string, i: number) => ({
    provider,
    model,
    outcome: 'ok' as const,
    errorCode: null,
    latencyMs: 10 * (i + 1),
    inputTokens: i + 1,
    outputTokens: 2,
    costUsd: 0.001,
  });
  // Not awaited one by one: the outcomes share one transaction.
  await Promise.all(
    claimed.map((c, i) =>
      store.finishAttempt(
        { job: c.job, leaseToken: c.leaseToken, owner: 'me' },
        {
          kind: 'completed',
          output: i,
          provider: 'p1',
          model: 'm1',
          calls: [call('p1', 'm1', i), call('p1', 'm2', i), call('p2', 'm2', i), call('p1', 'm1', i)],
        },
      ),
    ),
  );
  const db = store.db;
  const hourly = db
    .prepare(`SELECT hour, tenant, provider, model, job_type, calls, input_tokens, output_tokens
    FROM usage_hourly ORDER BY 1, 2, 3, 4, 5`)
    .all();
  const truth = db
    .prepare(`SELECT (created_at / 3600000) * 3600000 AS hour, tenant, provider, model, job_type, count(*) AS calls,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens FROM usage GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`)
    .all();
  t.equal((truth as unknown[]).length, 12, 'calls of twelve groups (4 tenant × type, 3 provider × model)');
  t.same(hourly, truth, 'usage_hourly = the usage rows, group by group');
});

t.test("a built-in handler's JSON output is kept as it is; any other output is parsed back from what was stored", async (t) => {
  const store = new SqliteStore({ path: join(tempDir(t), 'json.db') });
  t.teardown(() => store.close());
  await store.insertJobs([newJob({ id: 'json' }), newJob({ id: 'other' })]);
  const claimed = await store.claimJobs('me', 2, 60_000);
  const json = { text: 'hi', nested: [1, { a: null }] };
  const other = { text: 'hi', when: new Date(0), gone: undefined };
  for (const c of claimed) {
    const plain = c.job.id === 'json';
    const output = plain ? json : other;
    const done = await store.finishAttempt(
      { job: c.job, leaseToken: c.leaseToken, owner: 'me' },
      { kind: 'completed', output, provider: 'p', model: 'm', calls: [], ...(plain && { outputIsJson: true }) },
    );
    const { attempts: _a, ...read } = (await store.getJob(c.job.id))!;
    t.strictSame(done, read, `${c.job.id}: the returned job is the stored one`);
    t.equal(done!.output === output, plain, plain ? 'the same value, not a copy' : 'a copy parsed from the stored JSON');
  }
});

t.test("when the next delayed job falls due is read through the run_at index, whatever the queue's size", async (t) => {
  const store = new SqliteStore({ path: join(tempDir(t), 'jobs.db') });
  t.teardown(() => store.close());
  const now = Date.now();
  await store.insertJobs(Array.from({ length: 2000 }, (_, i) => newJob({ id: `q${i}`, runAt: now - i })));
  await store.insertJobs([newJob({ id: 'later', runAt: now + 5000 })]);
  t.equal(await store.nextRunAt(now), now + 5000);
  // The planner's own choice scanned every queued job (jobs_status): one read per scheduler idle turn.
  const sql = (store as unknown as { s: { nextRunAt: { source: string } } }).s.nextRunAt.source;
  const plan = store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(now) as { detail: string }[];
  t.match(plan.map((p) => p.detail).join('; '), /USING COVERING INDEX jobs_due \(run_at>\?\)/);
});
