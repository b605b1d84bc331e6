/**
 * The store contract: every behaviour of the Store interface, on SQLite and on PostgreSQL alike
 * (test/helpers/stores.ts runs each test on both). What only one store has (SQLite's pragmas,
 * query plans and migrations) is in store.test.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { FairShare } from '../src/store/fair-share.js';
import { LIST_SCAN_ROWS } from '../src/store/job-list.js';
import type { AttemptResult, UsageRecord } from '../src/domain/jobs.js';
import type { ProviderConfig } from '../src/domain/providers.js';
import type { KeyRecord } from '../src/domain/keys.js';
import { newJob } from './helpers/engine.js';
import { eachStore } from './helpers/stores.js';

const call = (over: Partial<UsageRecord> = {}): UsageRecord => ({
  provider: 'p',
  model: 'm',
  outcome: 'ok',
  errorCode: null,
  latencyMs: 5,
  inputTokens: 10,
  outputTokens: 4,
  costUsd: 0.5,
  ...over,
});

eachStore('claims highest priority first, then oldest; skips delayed jobs; batches', async (t, kit) => {
  const store = await kit.open();
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
  t.ok(first.every((c) => c.job.status === 'running' && c.job.attempt === 1 && /^[0-9a-f]{16}$/.test(c.leaseToken)));
  t.not(first[0]?.leaseToken, first[1]?.leaseToken, 'each claim has its own token');
  const second = await store.claimJobs('me', 10, 10_000);
  t.same(
    second.map((c) => c.job.id),
    ['low-new'],
    'the delayed job is not due',
  );
  t.equal(await store.nextRunAt(Date.now()), now + 60_000);
  t.match(await store.stats(), { total: 4, running: 3, queued: 1, scheduled: 1 });
  t.same(await store.counts(), { queued: 1, running: 3, completed: 0, failed: 0, cancelled: 0 });
});

eachStore('two stores on one database never claim the same job', async (t, kit) => {
  const a = await kit.open();
  const b = await kit.open();
  await a.insertJobs(Array.from({ length: 300 }, (_, i) => newJob({ id: `j${i}`, tenant: i % 2 ? 'x' : 'y' })));
  const claims = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).claimJobs(`owner${i % 2}`, 40, 60_000)));
  const ids = claims.flat().map((c) => c.job.id);
  t.equal(ids.length, 300, 'every job was claimed');
  t.equal(new Set(ids).size, 300, 'none twice');
  t.same(await a.counts(), { queued: 0, running: 300, completed: 0, failed: 0, cancelled: 0 });
});

eachStore('a tenant cap counts running jobs of other processes and of claims earlier in the same transaction', async (t, kit) => {
  const store = await kit.open();
  const other = await kit.open();
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
  t.equal((await other.claimJobs('elsewhere', 8, 60_000, capped)).length, 0, 'the other process sees the cap reached');
});

eachStore('a cap holds when several processes claim at once', async (t, kit) => {
  const stores = [await kit.open(), await kit.open(), await kit.open()];
  const capped = new FairShare(
    () => 1,
    (tenant) => (tenant === 'a' ? 5 : undefined),
  );
  await stores[0]!.insertJobs(Array.from({ length: 40 }, (_, i) => newJob({ id: `c${i}`, tenant: i % 4 ? 'a' : 'b' })));
  const claims = await Promise.all(
    stores.flatMap((s, i) => [s.claimJobs(`n${i}`, 10, 60_000, capped), s.claimJobs(`n${i}`, 3, 60_000, capped)]),
  );
  t.equal(claims.flat().filter((c) => c.job.tenant === 'a').length, 5, "exactly a's cap of 5, across three processes");
});

eachStore('weighted shares hold across processes, each keeping its own credits', async (t, kit) => {
  // Each process splits its own claims by weight, so their sum is split by weight too, whatever
  // the claims' sizes and however they interleave: no shared credit row to serialise claims on.
  const stores = [await kit.open(), await kit.open()];
  const policies = stores.map(
    () =>
      new FairShare(
        (tenant) => (tenant === 'heavy' ? 3 : 1),
        () => undefined,
      ),
  );
  await stores[0]!.insertJobs(Array.from({ length: 400 }, (_, i) => newJob({ id: `w${i}`, tenant: i % 2 ? 'heavy' : 'light' })));
  const claimed: string[] = [];
  for (let round = 0; round < 10; round++) {
    const claims = await Promise.all([
      stores[0]!.claimJobs('n0', 4, 60_000, policies[0]),
      ...Array.from({ length: 4 }, () => stores[1]!.claimJobs('n1', 1, 60_000, policies[1])),
    ]);
    claimed.push(...claims.flat().map((c) => c.job.tenant));
  }
  t.equal(claimed.length, 80);
  t.same(
    { heavy: claimed.filter((x) => x === 'heavy').length, light: claimed.filter((x) => x === 'light').length },
    { heavy: 60, light: 20 },
    'three to one across both processes',
  );
});

eachStore('an idempotency key is unique in the database', async (t, kit) => {
  const a = await kit.open();
  const b = await kit.open();
  const [r1] = await a.insertJobs([newJob({ idempotencyKey: 'k' })]);
  const [r2] = await b.insertJobs([newJob({ idempotencyKey: 'k' })]);
  t.equal(r1!.created, true);
  t.equal(r2!.created, false);
  t.equal(r2!.job.id, r1!.job.id);
  const [r3] = await b.insertJobs([newJob({ idempotencyKey: 'k', tenant: 'other' })]);
  t.equal(r3!.created, true, 'per tenant');
  t.equal((await a.stats()).total, 2);
});

eachStore('a repeated idempotency key with another request is a conflict', async (t, kit) => {
  const store = await kit.open();
  await store.insertJobs([newJob({ id: 'k1', idempotencyKey: 'key', requestHash: 'h1' })]);
  const same = await store.insertJobs([newJob({ id: 'k2', idempotencyKey: 'key', requestHash: 'h1' })]);
  t.equal(same[0]!.job.id, 'k1');
  await t.rejects(store.insertJobs([newJob({ id: 'k3', idempotencyKey: 'key', requestHash: 'h2' })]), { code: 'SWY_IDEMPOTENCY_CONFLICT' });
});

eachStore('outcomes are fenced by the lease token; usage is recorded with the attempt', async (t, kit) => {
  const store = await kit.open();
  await store.insertJobs([newJob({ id: 'f' })]);
  const [c] = await store.claimJobs('me', 1, 10_000);
  const wrong = await store.finishAttempt(
    { job: c!.job, leaseToken: 'not-the-token', owner: 'me' },
    { kind: 'completed', output: 1, provider: 'p', model: 'm', calls: [call()] },
  );
  t.equal(wrong, undefined, 'a wrong token writes no outcome');
  const right = await store.finishAttempt(
    { job: c!.job, leaseToken: c!.leaseToken, owner: 'me' },
    { kind: 'completed', output: 2, provider: 'p', model: 'm', calls: [call()] },
  );
  t.equal(right?.status, 'completed');
  t.equal(right?.output, 2);
  t.same(right?.usage, { inputTokens: 20, outputTokens: 8, costUsd: 1 }, 'both calls were made and both are counted');
  t.same(await kit.sql(`SELECT count(*) AS n, sum(input_tokens) AS i FROM usage WHERE job_id = 'f'`), [{ n: 2, i: 20 }]);
  t.same(
    await kit.sql(`SELECT outcome FROM attempts WHERE job_id = 'f'`),
    [{ outcome: 'superseded' }],
    "the superseded attempt has its row; the completing one is the job's own",
  );
  const read = await store.getJob('f');
  t.strictSame(
    read?.attempts?.at(-1),
    { number: 1, startedAt: c!.job.startedAt, finishedAt: right?.finishedAt, outcome: 'completed', error: null, provider: 'p' },
    'the completing attempt is listed from the job row',
  );
  const again = await store.finishAttempt(
    { job: c!.job, leaseToken: c!.leaseToken, owner: 'me' },
    { kind: 'failed', error: { code: 'SWY_HANDLER_ERROR', message: 'x', retryable: false }, calls: [] },
  );
  t.equal(again, undefined, 'a finished attempt cannot be finished twice');
  t.equal((await store.getJob('f'))?.status, 'completed');
});

for (const progress of [false, true]) {
  eachStore(
    `each outcome returns the job exactly as a read of it returns it (${progress ? 'with progress' : 'no progress'})`,
    async (t, kit) => {
      const store = await kit.open();
      const kinds = ['completed', 'retry', 'failed', 'released', 'deferred'] as const;
      await store.insertJobs(kinds.map((k) => newJob({ id: k, maxAttempts: 3, metadata: { k } })));
      const claimed = await store.claimJobs('me', kinds.length, 60_000);
      for (const c of claimed) {
        const { attempts: _a, ...read } = (await store.getJob(c.job.id))!;
        t.strictSame(c.job, read, `${c.job.id}: the claimed job is the stored one`);
      }
      const error = { code: 'SWY_PROVIDER_SERVER' as const, message: 'upstream 500', retryable: true, retryAfterMs: undefined };
      const c7 = call({ inputTokens: 7, outputTokens: 3, costUsd: 0.1 });
      for (const c of claimed) {
        const ref = { job: c.job, leaseToken: c.leaseToken, owner: 'me' };
        if (progress) await store.setProgress(ref, 40);
        const kind = c.job.id as (typeof kinds)[number];
        const result: AttemptResult =
          kind === 'completed'
            ? {
                kind,
                output: { text: 'hi', when: new Date(0), gone: undefined, nested: [1, { a: null }] },
                provider: 'p',
                model: 'm',
                calls: [c7, c7],
              }
            : kind === 'released'
              ? { kind, calls: [] }
              : kind === 'failed'
                ? { kind, error, calls: [c7] }
                : { kind, error, runAt: Date.now() + 60_000, calls: [c7] };
        const returned = await store.finishAttempt(ref, result);
        const { attempts: _attempts, ...read } = (await store.getJob(c.job.id))!;
        t.strictSame(returned, read, `${kind}: the returned job is the stored one`);
        if (progress) t.equal(read.progress, 40, `${kind}: progress kept`);
      }
    },
  );
}

eachStore('usage a superseded attempt adds while the next attempt runs is in the job that attempt returns', async (t, kit) => {
  const store = await kit.open();
  const other = await kit.open();
  await store.insertJobs([newJob({ id: 'late', maxAttempts: 3 })]);
  const [old] = await other.claimJobs('stalled', 1, 1);
  // The lease is 1 ms: it has expired once a clock tick has passed.
  await sleep(20);
  const expired = await store.requeueExpired();
  t.same(
    expired.map((j) => [j.id, j.status]),
    [['late', 'queued']],
    "the stalled attempt's lease expired: requeued",
  );
  const [next] = await store.claimJobs('me', 1, 60_000);
  t.equal(
    await other.finishAttempt(
      { job: old!.job, leaseToken: old!.leaseToken, owner: 'stalled' },
      { kind: 'completed', output: 'late', provider: 'p', model: 'm', calls: [call({ inputTokens: 100, outputTokens: 1 })] },
    ),
    undefined,
    'the stalled attempt is superseded',
  );
  const done = await store.finishAttempt(
    { job: next!.job, leaseToken: next!.leaseToken, owner: 'me' },
    { kind: 'completed', output: 'ok', provider: 'p', model: 'm', calls: [call({ inputTokens: 5, outputTokens: 1 })] },
  );
  t.same(done?.usage, { inputTokens: 105, outputTokens: 2, costUsd: 1 }, "both attempts' usage, though the claim read none");
  const { attempts, ...read } = (await store.getJob('late'))!;
  t.strictSame(done, read, 'the returned job is the stored one');
  t.same(
    attempts?.map((a) => a.outcome),
    ['lease_expired', 'completed'],
    'the expired attempt has one row (its late outcome adds none)',
  );
});

eachStore('a lease sweep fails a job out of attempts; renewed leases do not expire', async (t, kit) => {
  const store = await kit.open();
  await store.insertJobs([newJob({ id: 'last', maxAttempts: 1 }), newJob({ id: 'kept', maxAttempts: 1 })]);
  const claimed = await store.claimJobs('me', 2, 1);
  t.equal(claimed.length, 2);
  t.equal(await store.renewLeases('me', 60_000), 2, 'both renewed');
  await sleep(20);
  t.same(await store.requeueExpired(), [], 'renewed: nothing expired');
  await store.insertJobs([newJob({ id: 'short', maxAttempts: 1 })]);
  await store.claimJobs('other', 1, 1);
  await sleep(20);
  const [failed] = await store.requeueExpired();
  t.match(failed, { id: 'short', status: 'failed', error: { code: 'SWY_LEASE_EXPIRED' } });
  t.ok(failed?.finishedAt, 'it has finished');
});

eachStore('release puts a job back without spending its attempt', async (t, kit) => {
  const store = await kit.open();
  await store.insertJobs([newJob({ id: 'r' })]);
  const [c] = await store.claimJobs('me', 1, 10_000);
  const released = await store.finishAttempt({ job: c!.job, leaseToken: c!.leaseToken, owner: 'me' }, { kind: 'released', calls: [] });
  t.equal(released?.status, 'queued');
  t.equal(released?.attempt, 0);
});

eachStore('list pages newest first with filters', async (t, kit) => {
  const store = await kit.open();
  await store.insertJobs([newJob({ id: 'l1', type: 'a' }), newJob({ id: 'l2', type: 'b', tenant: 't2' }), newJob({ id: 'l3', type: 'a' })]);
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
  t.same(
    (await store.listJobs({ tenant: 't2', status: 'queued' })).data.map((j) => j.id),
    ['l2'],
  );
  await t.rejects(store.listJobs({ cursor: 'bm90LWEtbnVtYmVy' }), { code: 'SWY_VALIDATION' });
  // By idempotency key: unique per tenant, so across tenants there may be several.
  await store.insertJobs([
    newJob({ id: 'k1', idempotencyKey: 'order-7', requestHash: 'h' }),
    newJob({ id: 'k2', tenant: 't2', idempotencyKey: 'order-7', requestHash: 'h' }),
    newJob({ id: 'k3', idempotencyKey: 'order-8', requestHash: 'h' }),
  ]);
  t.same(
    (await store.listJobs({ idempotencyKey: 'order-7' })).data.map((j) => j.id),
    ['k2', 'k1'],
  );
  t.same(
    (await store.listJobs({ idempotencyKey: 'order-7', tenant: 't2' })).data.map((j) => j.id),
    ['k2'],
  );
  t.same((await store.listJobs({ idempotencyKey: 'order-9' })).data, []);
});

eachStore('list filters by provider, creation time and metadata, a bounded stretch of jobs per page', async (t, kit) => {
  const store = await kit.open();
  const t0 = Date.UTC(2026, 0, 1);
  const HOUR = 3_600_000;
  // Twelve jobs an hour apart; every third is the customer acme's, with a number.
  await store.insertJobs(
    Array.from({ length: 12 }, (_, i) =>
      newJob({
        id: `f${i}`,
        createdAt: t0 + i * HOUR,
        runAt: t0,
        metadata: i % 3 === 0 ? { customer: 'acme', n: i } : { customer: 'other' },
      }),
    ),
  );
  // f0 and f3 complete on provider p2; the others go back to the queue.
  for (const c of await store.claimJobs('me', 12, 60_000)) {
    const ref = { job: c.job, leaseToken: c.leaseToken, owner: 'me' };
    const done = c.job.id === 'f0' || c.job.id === 'f3';
    await store.finishAttempt(
      ref,
      done
        ? { kind: 'completed', output: 1, provider: 'p2', model: 'm', calls: [call({ provider: 'p2' })] }
        : { kind: 'released', calls: [] },
    );
  }
  const ids = async (q: Parameters<typeof store.listJobs>[0]) => (await store.listJobs(q)).data.map((j) => j.id);
  t.same(await ids({ provider: 'p2' }), ['f3', 'f0']);
  t.same(await ids({ metadata: { key: 'customer', value: 'acme' } }), ['f9', 'f6', 'f3', 'f0']);
  t.same(await ids({ metadata: { key: 'n', value: '6' } }), ['f6'], 'a number matches as written');
  t.same(await ids({ metadata: { key: 'missing', value: 'acme' } }), []);
  t.same(await ids({ createdFrom: t0 + 3 * HOUR, createdTo: t0 + 5 * HOUR }), ['f5', 'f4', 'f3'], 'both ends are inclusive');
  t.same(await ids({ createdFrom: t0 + 20 * HOUR }), []);
  t.same(await ids({ metadata: { key: 'customer', value: 'acme' }, createdFrom: t0 + HOUR, status: 'queued' }), ['f9', 'f6']);

  // Page by page, one job at a time: each once, newest first, and the last page says so.
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listJobs({ metadata: { key: 'customer', value: 'acme' }, limit: 1, ...(cursor && { cursor }) });
    seen.push(...page.data.map((j) => j.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  t.same(seen, ['f9', 'f6', 'f3', 'f0']);

  // Newer jobs than one page examines, none of them matching: the first page comes back empty
  // with a cursor, and following the cursors finds the matches further back.
  await store.insertJobs(Array.from({ length: LIST_SCAN_ROWS + 500 }, (_, i) => newJob({ id: `g${i}`, createdAt: t0 + 13 * HOUR })));
  const first = await store.listJobs({ metadata: { key: 'customer', value: 'acme' } });
  t.same(first.data, [], 'the newest stretch holds no match');
  t.not(first.nextCursor, null, 'and the page says where to go on');
  const found: string[] = [];
  let pages = 0;
  for (let next: string | null = first.nextCursor; next !== null; pages++) {
    const page = await store.listJobs({ metadata: { key: 'customer', value: 'acme' }, cursor: next });
    found.push(...page.data.map((j) => j.id));
    next = page.nextCursor;
  }
  t.same(found, ['f9', 'f6', 'f3', 'f0']);
  t.ok(pages <= 2, `${pages} further pages`);
  t.same(await ids({ createdTo: t0 + 2 * HOUR }), ['f2', 'f1', 'f0'], 'a time range seeks past the newer jobs');
});

eachStore('cancel, retry and erase follow the job states', async (t, kit) => {
  const store = await kit.open();
  await store.insertJobs([newJob({ id: 'q' }), newJob({ id: 'r' })]);
  const [running] = await store.claimJobs('me', 1, 60_000);
  t.equal(running?.job.id, 'q');
  const cancelled = await store.cancelJob('q');
  t.match(cancelled, { status: 'cancelled', error: { code: 'SWY_CANCELLED' } });
  t.same(
    (await store.getJob('q'))?.attempts?.map((a) => a.outcome),
    ['cancelled'],
    'the running attempt ended cancelled',
  );
  t.equal(
    await store.finishAttempt(
      { job: running!.job, leaseToken: running!.leaseToken, owner: 'me' },
      { kind: 'completed', output: 1, provider: 'p', model: 'm', calls: [] },
    ),
    undefined,
    'the cancelled attempt cannot complete',
  );
  await t.rejects(store.cancelJob('q'), { code: 'SWY_INVALID_STATE' });
  await t.rejects(store.cancelJob('nope'), { code: 'SWY_JOB_NOT_FOUND' });
  await t.rejects(store.retryJob('r'), { code: 'SWY_INVALID_STATE' }, 'a queued job cannot be retried');
  const again = await store.retryJob('q');
  t.match(again, { status: 'queued', attempt: 0, error: null, finishedAt: null });
  await t.rejects(store.eraseJob('q'), { code: 'SWY_INVALID_STATE' }, 'only a finished job is erased');
  await store.cancelJob('q');
  const erased = await store.eraseJob('q');
  t.same(erased.input, {});
  t.type(erased.metadata?.erasedAt, 'string');
  t.same(await store.counts(), { queued: 1, running: 0, completed: 0, failed: 0, cancelled: 1 });
});

eachStore('a job run at once is recorded as its one attempt left it', async (t, kit) => {
  const store = await kit.open();
  const done = await store.recordRun(
    newJob({ id: 'direct' }),
    { leaseToken: 'tok', owner: 'me', startedAt: Date.now() - 5 },
    { kind: 'completed', output: { text: 'hi' }, provider: 'p', model: 'm', calls: [call()] },
  );
  t.match(done, { status: 'completed', attempt: 1, output: { text: 'hi' }, usage: { inputTokens: 10, outputTokens: 4 } });
  const failed = await store.recordRun(
    newJob({ id: 'direct-failed' }),
    { leaseToken: 'tok2', owner: 'me', startedAt: Date.now() },
    { kind: 'cancelled', error: { code: 'SWY_CANCELLED', message: 'client went away', retryable: false }, calls: [] },
  );
  t.equal(failed.status, 'cancelled');
  t.same(
    (await store.getJob('direct-failed'))?.attempts?.map((a) => a.outcome),
    ['cancelled'],
  );
  t.match(await store.stats(), { total: 2, completed: 1, cancelled: 1, usage: { inputTokens: 10, outputTokens: 4 } });
});

eachStore('a closed store answers with a coded error', async (t, kit) => {
  const store = await kit.open();
  await store.close();
  await store.close(); // idempotent
  await t.rejects(store.getJob('x'), { code: 'SWY_SHUTTING_DOWN' });
  await t.rejects(store.insertJobs([newJob()]), { code: 'SWY_SHUTTING_DOWN' });
});

eachStore('writes of one turn share a transaction; a failing write rolls back alone', async (t, kit) => {
  const store = await kit.open();
  const a = store.insertJobs([newJob({ id: 'dup' })]);
  const b = store.insertJobs([newJob({ id: 'dup' }), newJob({ id: 'other' })]);
  const c = store.insertJobs([newJob({ id: 'third' })]);
  const results = await Promise.allSettled([a, b, c]);
  t.equal(results[0].status, 'fulfilled');
  t.equal(results[1].status, 'rejected', 'the write with a duplicate id failed');
  t.equal(results[2].status, 'fulfilled', 'the write after it in the same transaction committed');
  t.notOk(await store.getJob('other'), 'the failed write left nothing behind');
  t.ok(await store.getJob('third'));
  t.equal((await store.stats()).total, 2, 'the counters saw only the writes that committed');
});

eachStore('the counters kept in code always equal what the rows say, through every kind of write', async (t, kit) => {
  const store = await kit.open();
  const c = (outcome: 'ok' | 'error', latencyMs: number) =>
    call({
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
  await store.insertJobs([newJob({ tenant: 'a', idempotencyKey: 'k', requestHash: 'h1' })]);
  const results = await Promise.allSettled([
    store.insertJobs([newJob({ tenant: 'a' }), newJob({ tenant: 'a', idempotencyKey: 'k', requestHash: 'other' })]),
    store.insertJobs([newJob({ tenant: 'b' })]),
  ]);
  t.equal(results[0].status, 'rejected', 'the conflicting batch failed whole');
  const claimed = await store.claimJobs('me', 12, 60_000);
  const ref = (x: (typeof claimed)[number]) => ({ job: x.job, leaseToken: x.leaseToken, owner: 'me' });
  const [c0, c1, c2, c3, c4, c5, c6, c7] = claimed;
  const err = (retryable: boolean) => ({ code: 'SWY_HANDLER_ERROR' as const, message: 'x', retryable });
  await store.finishAttempt(ref(c0!), { kind: 'completed', output: 'ok', provider: 'p1', model: 'm1', calls: [c('ok', 30)] });
  await store.finishAttempt(ref(c1!), {
    kind: 'completed',
    output: 'ok',
    provider: 'p1',
    model: 'm1',
    calls: [c('error', 2000), c('ok', 400)],
  });
  await store.finishAttempt(ref(c2!), { kind: 'failed', error: err(false), calls: [c('error', 70)] });
  await store.finishAttempt(ref(c3!), { kind: 'retry', error: err(true), runAt: Date.now(), calls: [] });
  await store.finishAttempt(ref(c4!), { kind: 'released', calls: [] });
  await store.finishAttempt(ref(c5!), { kind: 'deferred', error: err(true), runAt: Date.now(), calls: [] });
  await store.finishAttempt(ref(c0!), { kind: 'completed', output: 'late', provider: 'p1', model: 'm1', calls: [c('ok', 10)] }); // superseded
  await store.cancelJob(c6!.job.id);
  await store.cancelJob(jobs.at(-1)!.id); // queued
  await store.retryJob(c2!.job.id);
  await store.retryJob(c6!.job.id);
  const short = await store.claimJobs('me', 2, 1);
  t.ok(short.length > 0);
  await sleep(10);
  t.ok((await store.requeueExpired()).length >= 1, 'leases expired');
  await store.finishAttempt(ref(c7!), { kind: 'completed', output: 'ok', provider: 'p1', model: 'm1', calls: [c('ok', 120_000)] });
  t.equal(await store.prune(Date.now() + 1000, Date.now() + 1000, 3), 3, 'three finished jobs pruned');

  // On PostgreSQL each process writes its own counter rows (slots): the counters are their sums.
  const counts = await kit.sql(
    'SELECT tenant, type, status, sum(n) AS n, sum(duration_sum) AS d FROM job_counts GROUP BY 1, 2, 3 HAVING sum(n) != 0 ORDER BY 1, 2, 3',
  );
  const truth = await kit.sql(
    'SELECT tenant, type, status, count(*) AS n, coalesce(sum(duration_ms), 0) AS d FROM jobs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3',
  );
  t.same(counts, truth, 'job_counts = the jobs table');
  const totals = await kit.sql(
    'SELECT tenant, sum(input_tokens) AS i, sum(output_tokens) AS o, round(sum(cost_usd) * 1000000) AS c FROM usage_totals GROUP BY 1 HAVING sum(input_tokens) != 0 ORDER BY 1',
  );
  const usageTruth = await kit.sql(
    'SELECT tenant, sum(input_tokens) AS i, sum(output_tokens) AS o, round(sum(cost_usd) * 1000000) AS c FROM usage GROUP BY 1 ORDER BY 1',
  );
  t.same(totals, usageTruth, 'usage_totals = the usage rows');
  const bucket = (lo: number, hi: number) => `sum(CASE WHEN latency_ms > ${lo} AND latency_ms <= ${hi} THEN 1 ELSE 0 END)`;
  const hourly = await kit.sql(`SELECT hour, tenant, provider, model, job_type, sum(calls) AS calls, sum(errors) AS errors,
      sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(h0) AS h0, sum(h3) AS h3, sum(h4) AS h4, sum(h6) AS h6,
      sum(h11) AS h11
    FROM usage_hourly GROUP BY 1, 2, 3, 4, 5 HAVING sum(calls) != 0 ORDER BY 1, 2, 3, 4, 5`);
  const hourlyTruth = await kit.sql(`SELECT (created_at / 3600000) * 3600000 AS hour, tenant, provider, model, job_type, count(*) AS calls,
      sum(CASE WHEN outcome = 'error' THEN 1 ELSE 0 END) AS errors, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
      ${bucket(-1, 25)} AS h0, ${bucket(100, 250)} AS h3, ${bucket(250, 500)} AS h4, ${bucket(1000, 2500)} AS h6, ${bucket(60000, 120000)} AS h11
    FROM usage GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`);
  t.same(hourly, hourlyTruth, 'usage_hourly = the usage rows, bucket by bucket');
  t.ok(hourly.length > 0);
});

eachStore('hourly usage sums stay apart when calls of different groups alternate in one transaction', async (t, kit) => {
  const store = await kit.open();
  const groups = [
    ['a', 'x'],
    ['a', 'chat'],
    ['b', 'chat'],
    ['b', 'x'],
  ] as const;
  await store.insertJobs(Array.from({ length: 8 }, (_, i) => newJob({ tenant: groups[i % 4]![0], type: groups[i % 4]![1] })));
  const claimed = await store.claimJobs('me', 8, 60_000);
  const c = (provider: string, model: string, i: number) =>
    call({ provider, model, latencyMs: 10 * (i + 1), inputTokens: i + 1, outputTokens: 2, costUsd: 0.001 });
  // Not awaited one by one: the outcomes share one transaction.
  await Promise.all(
    claimed.map((x, i) =>
      store.finishAttempt(
        { job: x.job, leaseToken: x.leaseToken, owner: 'me' },
        {
          kind: 'completed',
          output: i,
          provider: 'p1',
          model: 'm1',
          calls: [c('p1', 'm1', i), c('p1', 'm2', i), c('p2', 'm2', i), c('p1', 'm1', i)],
        },
      ),
    ),
  );
  const hourly = await kit.sql(`SELECT hour, tenant, provider, model, job_type, calls, input_tokens, output_tokens
    FROM usage_hourly ORDER BY 1, 2, 3, 4, 5`);
  const truth = await kit.sql(`SELECT (created_at / 3600000) * 3600000 AS hour, tenant, provider, model, job_type, count(*) AS calls,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens FROM usage GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`);
  t.equal(truth.length, 12, 'calls of twelve groups (4 tenant × type, 3 provider × model)');
  t.same(hourly, truth, 'usage_hourly = the usage rows, group by group');
  const report = await store.usage({ groupBy: ['provider', 'model'] });
  t.same(
    report.data.map((r) => [r.provider, r.model, r.calls]),
    [
      ['p1', 'm1', 16],
      ['p1', 'm2', 8],
      ['p2', 'm2', 8],
    ],
    'the usage report groups them',
  );
  t.same(
    (await store.usage({ groupBy: ['tenant'], tenant: 'a' })).data.map((r) => [r.tenant, r.calls]),
    [['a', 16]],
    "one tenant's usage",
  );
  // From the start of the last hour: the calls may have been made in the hour before this one.
  const since = Math.floor((Date.now() - 3_600_000) / 3_600_000) * 3_600_000;
  const [spent] = await kit.sql(`SELECT sum(input_tokens + output_tokens) AS tokens FROM usage WHERE tenant = 'a'`);
  t.equal((await store.tenantUsageSince('a', since)).tokens, spent?.tokens, "a's tokens, from the rollups");
});

eachStore("a built-in handler's JSON output is kept as it is; any other output is parsed back from what was stored", async (t, kit) => {
  const store = await kit.open();
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

eachStore('keys: stored, listed, revoked once, touched forward only', async (t, kit) => {
  const store = await kit.open();
  const key: KeyRecord = {
    id: 'key1',
    name: 'ci',
    hash: 'h'.repeat(64),
    prefix: 'swy_abc',
    scopes: ['jobs:read', 'jobs:write'],
    expiresAt: null,
    rateLimit: 10,
    dailyTokenBudget: 1000,
    dailyCostBudgetUsd: 1.5,
    budgetAction: 'wait',
    maxConcurrency: 4,
    weight: 2,
    createdAt: new Date(1_700_000_000_000).toISOString(),
    revokedAt: null,
    lastUsedAt: null,
  };
  await store.insertKey(key);
  t.strictSame(await store.listKeys(), [key]);
  await store.touchKey('key1', 2000);
  await store.touchKey('key1', 1000);
  await store.revokeKey('key1', 5000);
  await store.revokeKey('key1', 9000);
  t.match((await store.listKeys())[0], { lastUsedAt: new Date(2000).toISOString(), revokedAt: new Date(5000).toISOString() });
});

eachStore('providers: secrets sealed at rest, opened on read; names unique', async (t, kit) => {
  const secretKey = 'k'.repeat(40);
  const store = await kit.open({ secretKey });
  const now = new Date().toISOString();
  const p: ProviderConfig = {
    name: 'up',
    kind: 'openai',
    baseUrl: 'http://127.0.0.1:9/v1',
    apiKey: 'sk-secret',
    models: ['gpt-x'],
    modelMap: { a: 'b' },
    priority: 1,
    weight: 1.5,
    enabled: true,
    timeoutMs: 1000,
    maxConcurrency: 2,
    rpm: 60,
    tpm: null,
    breaker: { errorThresholdPercentage: 50, resetTimeoutMs: 1000, volumeThreshold: 5, rollingWindowMs: 1000 },
    prices: {},
    options: { headers: { 'x-token': 'header-secret' } },
    createdAt: now,
    updatedAt: now,
    managedBy: 'config',
  };
  await store.insertProvider(p);
  await t.rejects(store.insertProvider(p), { code: 'SWY_PROVIDER_EXISTS' });
  t.strictSame(await store.getProvider('up'), p);
  const [row] = await kit.sql(`SELECT api_key, options FROM providers WHERE name = 'up'`);
  t.match(row?.api_key, /^enc:v1:/, 'the key is encrypted at rest');
  t.notMatch(String(row?.options), /header-secret/, 'so are header values');
  await store.updateProvider({ ...p, enabled: false });
  t.equal((await store.listProviders())[0]?.enabled, false);
  await t.rejects(store.updateProvider({ ...p, name: 'nope' }), { code: 'SWY_PROVIDER_NOT_FOUND' });
  t.equal(await store.deleteProvider('up'), true);
  t.equal(await store.deleteProvider('up'), false);
});

eachStore('batch records: files, batches, their lines and their jobs', async (t, kit) => {
  const store = await kit.open();
  const b = store.batches;
  const now = Date.now();
  await b.insertFile({ id: 'file1', tenant: 'a', purpose: 'batch', filename: 'in.jsonl', bytes: 100, createdAt: now, expiresAt: now - 1 });
  await b.insertFile({
    id: 'file2',
    tenant: 'a',
    purpose: 'batch_output',
    filename: 'out.jsonl',
    bytes: 50,
    createdAt: now + 1,
    expiresAt: null,
  });
  t.same(
    (await b.listFiles('a', undefined, 10)).map((f) => f.id),
    ['file2', 'file1'],
  );
  t.same(
    (await b.listFiles(undefined, 'batch', 10)).map((f) => f.id),
    ['file1'],
  );
  t.same(await b.fileUsage('a'), { files: 2, bytes: 150 });
  t.same(
    (await b.expiredFiles(now, 10)).map((f) => f.id),
    ['file1'],
  );
  const batch = {
    id: 'batch1',
    tenant: 'a',
    endpoint: '/v1/chat/completions',
    inputFileId: 'file1',
    completionWindow: '24h',
    status: 'validating' as const,
    errors: null,
    outputFileId: null,
    errorFileId: null,
    metadata: { team: 'x' },
    total: 2,
    createdAt: now,
    inProgressAt: null,
    expiresAt: now + 86_400_000,
    finalizingAt: null,
    completedAt: null,
    failedAt: null,
    expiredAt: null,
    cancellingAt: null,
    cancelledAt: null,
    readAttempts: 0,
  };
  await b.insertBatch(batch);
  t.strictSame(await b.getBatch('batch1'), batch);
  t.equal(await b.updateBatch('batch1', { status: 'in_progress', inProgressAt: now }, ['finalizing']), undefined, 'guarded by status');
  t.match(await b.updateBatch('batch1', { status: 'in_progress', inProgressAt: now }, ['validating']), { status: 'in_progress' });
  t.same(
    (await b.batchesWithStatus('in_progress')).map((x) => x.id),
    ['batch1'],
  );
  t.same(
    (await b.listBatches('a', undefined, 10)).map((x) => x.id),
    ['batch1'],
  );
  await store.insertJobs([newJob({ id: 'bj1', tenant: 'a' }), newJob({ id: 'bj2', tenant: 'a' })]);
  await b.linkBatchJobs('batch1', [
    { line: 1, customId: 'one', jobId: 'bj1' },
    { line: 2, customId: 'two', jobId: 'bj2' },
  ]);
  await b.linkBatchJobs('batch1', [{ line: 1, customId: 'one', jobId: 'bj1' }]); // again: kept once
  await store.cancelJob('bj2');
  t.same(await b.batchJobCounts('batch1'), { queued: 1, cancelled: 1 });
  t.same(await b.activeBatchJobs('batch1', 10), ['bj1']);
  const results = await b.batchResults('batch1', 0, 10);
  t.same(
    results.map((r) => [r.line, r.customId, r.job.id, r.job.status]),
    [
      [1, 'one', 'bj1', 'queued'],
      [2, 'two', 'bj2', 'cancelled'],
    ],
  );
  t.equal(await b.deleteFile('file1'), true);
  t.equal(await b.getFile('file1'), undefined);
});

eachStore('a heartbeat is a real write; ping answers', async (t, kit) => {
  const store = await kit.open();
  await store.ping();
  await store.heartbeat('node-1');
  await store.heartbeat('node-1');
  t.same(
    (await kit.sql('SELECT owner FROM heartbeats')).map((r) => r.owner),
    ['node-1'],
  );
});

eachStore('outcomes finished in the same turn are each written as they would be one at a time', async (t, kit) => {
  const store = await kit.open();
  const kinds = ['completed', 'retry', 'failed', 'released', 'deferred', 'stale'] as const;
  await store.insertJobs(kinds.map((k) => newJob({ id: k, maxAttempts: 3 })));
  const claimed = await store.claimJobs('me', kinds.length, 60_000);
  // Free text from an upstream may hold a NUL, which PostgreSQL's text type refuses.
  const error = { code: 'SWY_PROVIDER_SERVER' as const, message: 'upstream\u0000 500', retryable: true };
  const c7 = call({ model: 'm\u0000x', inputTokens: 7, outputTokens: 3, costUsd: 0.25 });
  const finishes = claimed.map((c) => {
    const kind = c.job.id as (typeof kinds)[number];
    const ref = { job: c.job, leaseToken: kind === 'stale' ? 'an-old-token' : c.leaseToken, owner: 'me' };
    const result: AttemptResult =
      kind === 'completed' || kind === 'stale'
        ? { kind: 'completed', output: { kind }, provider: 'p', model: 'm\u0000x', calls: [c7] }
        : kind === 'released'
          ? { kind, calls: [] }
          : kind === 'failed'
            ? { kind, error, calls: [c7, c7] }
            : { kind, error, runAt: Date.now() + 60_000, calls: [c7] };
    return store.finishAttempt(ref, result);
  });
  const returned = await Promise.all(finishes);
  const byId = new Map(claimed.map((c, i) => [c.job.id, returned[i]]));
  t.equal(byId.get('stale'), undefined, 'the attempt with a stale token wrote no outcome');
  for (const kind of kinds.filter((k) => k !== 'stale')) {
    const { attempts: _a, ...read } = (await store.getJob(kind))!;
    t.strictSame(byId.get(kind), read, `${kind}: the returned job is the stored one`);
  }
  t.match(await store.getJob('completed'), { status: 'completed', output: { kind: 'completed' }, usage: { inputTokens: 7 } });
  t.match(await store.getJob('failed'), { status: 'failed', usage: { inputTokens: 14, costUsd: 0.5 } });
  t.match(await store.getJob('retry'), { status: 'queued', attempt: 1 });
  t.match(await store.getJob('deferred'), { status: 'queued', attempt: 0 }, 'a deferred attempt is not spent');
  t.match(await store.getJob('stale'), { status: 'running', usage: { inputTokens: 7 } }, "the stale attempt's call is still counted");
  t.same(
    await kit.sql(`SELECT job_id, outcome FROM attempts ORDER BY job_id`),
    [
      { job_id: 'deferred', outcome: 'deferred' },
      { job_id: 'failed', outcome: 'failed' },
      { job_id: 'released', outcome: 'released' },
      { job_id: 'retry', outcome: 'retried' },
      { job_id: 'stale', outcome: 'superseded' },
    ],
    'one attempt row for each attempt that did not complete its job',
  );
  t.same(await kit.sql(`SELECT count(*) AS n FROM usage`), [{ n: 6 }], 'one usage row per call, the stale attempt included');
  t.match(await store.stats(), { total: 6, running: 1, queued: 3, completed: 1, failed: 1 });
});
