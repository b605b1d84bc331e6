/**
 * What only the SQLite store has: its pragmas, query plans, migrations and write shortcuts. The
 * behaviours every store shares are in store-contract.test.ts.
 */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import Database from 'better-sqlite3';
import { migrate } from '../src/store/migrate.js';
import { SqliteStore } from '../src/store/sqlite.js';
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

t.test('the lease sweep reads only running jobs, by index', async (t) => {
  const store = new SqliteStore({ path: join(tempDir(t), 'caps.db') });
  t.teardown(() => store.close());
  const plan = store.db
    .prepare(`EXPLAIN QUERY PLAN SELECT id FROM jobs INDEXED BY jobs_status WHERE status = 'running' AND lease_expires_at < 0`)
    .all() as { detail: string }[];
  t.match(plan.map((p) => p.detail).join(' '), /INDEX jobs_status \(status=\?\)/);
});

t.test("the list's statements each search an index, none scans the table", async (t) => {
  const store = new SqliteStore({ path: join(tempDir(t), 'list.db') });
  t.teardown(() => store.close());
  await store.insertJobs([newJob({ id: 'p1', idempotencyKey: 'order-1', requestHash: 'h', metadata: { a: 'b' } })]);
  const queries = {
    'by idempotency key across tenants': { idempotencyKey: 'order-1' },
    'by status': { status: 'failed' as const },
    'by metadata (windowed)': { metadata: { key: 'a', value: 'b' } },
    'by time (windowed)': { createdFrom: 0 },
    unfiltered: {},
  };
  const seen = new Set<string>();
  // The statements the store prepared for these listings (kept by their SQL), as it ran them.
  const statements = (store as unknown as { listStatements: Map<string, unknown> }).listStatements;
  for (const [name, q] of Object.entries(queries)) {
    await store.listJobs(q);
    const fresh = [...statements.keys()].filter((sql) => !seen.has(sql) && sql.includes('LIMIT @limit'));
    t.equal(fresh.length, 1, `${name}: one listing statement`);
    for (const sql of fresh) {
      seen.add(sql);
      const bound = { tenant: 'x', status: 'x', type: 'x', provider: 'x', idempotencyKey: 'x', createdFrom: 0, createdTo: 0 };
      const plan = (
        store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ ...bound, metaPath: '$.a', metaValue: 'b', from: 0, before: 10, limit: 1 }) as {
          detail: string;
        }[]
      ).map((p) => p.detail);
      t.notOk(
        plan.some((d) => /^SCAN jobs/.test(d)),
        `${name}: ${plan.join('; ')}`,
      );
      if (name.startsWith('by idempotency'))
        t.match(plan.join('; '), /\(tenant=\? AND idempotency_key=\?/, 'one seek per tenant in the unique index');
    }
  }
  // Each seek of a time range's bounds, and the table's seq range, are primary-key lookups.
  for (const sql of [...statements.keys()].filter((s) => !s.includes('LIMIT @limit'))) {
    const plan = (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...(sql.includes('?') ? [5] : [])) as { detail: string }[]).map(
      (p) => p.detail,
    );
    t.notOk(
      plan.some((d) => /^SCAN jobs/.test(d)),
      `${sql}: ${plan.join('; ')}`,
    );
  }
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
