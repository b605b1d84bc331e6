/** Restart and crash: the store is the truth, so a new engine on the same file finishes the work. */
import { join } from 'node:path';
import t from 'tap';
import { createEngine } from '../src/engine.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { chatJob, newJob, tempDir } from './helpers/engine.js';

t.test('jobs queued by one engine complete after a new engine opens the same file', async (t) => {
  const database = join(tempDir(t), 'jobs.db');
  const first = await createEngine({ database, threads: 1 });
  const ids = (await first.submitMany(Array.from({ length: 20 }, (_, i) => chatJob(`restart ${i}`)))).map((j) => j.id);
  await first.stop();

  const second = await createEngine({ database, threads: 1 });
  t.teardown(() => second.stop());
  await second.start();
  const done = await Promise.all(ids.map((id) => second.wait(id, { timeoutMs: 20_000 })));
  t.ok(
    done.every((j) => j.status === 'completed' && j.attempt === 1),
    'all 20 completed on their first attempt',
  );
  t.equal((await second.stats()).completed, 20);
});

t.test('a job left running with an expired lease is requeued and completed once', async (t) => {
  const database = join(tempDir(t), 'jobs.db');
  // A process that claimed a job and died: its lease expires, nothing renews it.
  const dead = new SqliteStore({ path: database });
  await dead.insertJobs([newJob({ id: 'crashed-job' })]);
  const [claim] = await dead.claimJobs('dead-process', 1, 1);
  t.equal(claim?.job.status, 'running');
  await dead.close();
  // Its 1 ms lease ends at an instant: wait past it.
  await new Promise((r) => setTimeout(r, 2));

  const engine = await createEngine({ database, threads: 1 });
  t.teardown(() => engine.stop());
  const completions: string[] = [];
  engine.on('job:completed', (j) => completions.push(j.id));
  await engine.start();
  const done = await engine.wait('crashed-job', { timeoutMs: 20_000 });
  t.equal(done.status, 'completed');
  t.equal(done.attempt, 2, 'the dead attempt counts');
  t.same(
    done.attempts?.map((a) => [a.number, a.outcome]),
    [
      [1, 'lease_expired'],
      [2, 'completed'],
    ],
  );
  // Stopped, the engine can complete nothing more: what it completed is final.
  await engine.stop();
  t.same(completions, ['crashed-job'], 'completed exactly once');

  // The dead process's late result is fenced off by its lease token.
  const late = new SqliteStore({ path: database });
  t.teardown(() => late.close());
  const written = await late.finishAttempt(
    { job: claim!.job, leaseToken: claim!.leaseToken, owner: 'dead-process' },
    { kind: 'completed', output: { text: 'stale' }, provider: 'mock', model: 'mock-1', calls: [] },
  );
  t.equal(written, undefined, 'a superseded attempt is not recorded');
  t.same(((await late.getJob('crashed-job'))!.output as { text: string }).text, (done.output as { text: string }).text);
});

t.test('a lease expiring while the engine runs is requeued without a restart', async (t) => {
  const database = join(tempDir(t), 'jobs.db');
  const engine = await createEngine({ database, threads: 1, leaseMs: 300 });
  t.teardown(() => engine.stop());
  const other = new SqliteStore({ path: database });
  t.teardown(() => other.close());
  // "Another process" submits and claims the job before this engine starts (so it never sees the
  // job unclaimed), then goes silent; its lease is still valid when the engine starts, so only
  // the running engine's heartbeat can take the job over.
  await other.insertJobs([newJob({ id: 'orphan' })]);
  const claimed = await other.claimJobs('silent-process', 1, 2000);
  t.equal(claimed.length, 1);
  await engine.start();
  t.equal((await engine.get('orphan')).status, 'running', 'the lease was still valid at start');
  const done = await engine.wait('orphan', { timeoutMs: 10_000 });
  t.equal(done.status, 'completed');
  t.equal(done.attempt, 2);
});

t.test('a handler running 3× longer than the lease keeps it by heartbeat and completes once', async (t) => {
  const database = join(tempDir(t), 'jobs.db');
  const engine = await createEngine({ database, threads: 1, leaseMs: 300 });
  t.teardown(() => engine.stop());
  await engine.providers.update('mock', { options: { latencyMs: 900 } });
  await engine.start();
  const seen: string[] = [];
  for (const ev of ['job:started', 'job:queued', 'job:completed', 'job:superseded'] as const) engine.on(ev, () => seen.push(ev));
  const job = await engine.submit(chatJob('long call'));
  const done = await engine.wait(job.id, { timeoutMs: 10_000 });
  t.equal(done.status, 'completed');
  t.equal(done.attempt, 1, 'never taken for a dead process');
  t.same(
    done.attempts?.map((a) => a.outcome),
    ['completed'],
  );
  t.same(seen, ['job:queued', 'job:started', 'job:completed']);
});

t.test('a result that arrives after its lease was taken over is not recorded', async (t) => {
  const database = join(tempDir(t), 'jobs.db');
  // One slot, held by the attempt below: this engine cannot race the other process for the requeued job.
  const engine = await createEngine({ database, threads: 1, leaseMs: 60_000, concurrency: 1 });
  t.teardown(() => engine.stop());
  await engine.providers.update('mock', { options: { latencyMs: 800 } });
  await engine.start();
  const superseded = new Promise<{ jobId: string; attempt: number }>((resolve) => engine.once('job:superseded', resolve));
  const started = new Promise<void>((resolve) => engine.once('job:started', () => resolve()));
  const job = await engine.submit(chatJob('taken over'));
  await started;

  // Another process decides this lease is dead and takes the job over.
  const other = new SqliteStore({ path: database });
  t.teardown(() => other.close());
  other.db.prepare('UPDATE jobs SET lease_expires_at = 0 WHERE id = ?').run(job.id);
  const requeued = other.requeueExpired();
  const [claim] = await other.claimJobs('other-process', 1, 60_000);
  await requeued;
  t.equal(claim?.job.attempt, 2);

  t.same(await superseded, { jobId: job.id, attempt: 1 }, "the first attempt's result was dropped");
  const now = await engine.get(job.id);
  t.equal(now.status, 'running', 'still held by the process that took it over');
  t.equal(now.output, null);
  t.same(
    now.attempts?.map((a) => [a.number, a.outcome]),
    [
      [1, 'lease_expired'],
      [2, null],
    ],
  );
  t.equal(now.usage.outputTokens > 0, true, "the superseded call's tokens were still paid for and counted");
});
