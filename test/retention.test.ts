/** Retention: old finished jobs go in small batches, with their attempts and usage; nothing else does. */
import t from 'tap';
import Database from 'better-sqlite3';
import { chatJob, makeEngine } from './helpers/engine.js';

const DAY = 86_400_000;

t.test('finished jobs past their retention are pruned, the rest kept', async (t) => {
  const engine = await makeEngine(t, { retentionDays: 7, failedRetentionDays: 30, threads: 1 });
  const jobs = await engine.submitMany(Array.from({ length: 1210 }, (_, i) => chatJob(`r${i}`)));
  await Promise.all(jobs.map((j) => engine.wait(j.id, { timeoutMs: 30_000 })));
  const queued = await engine.submit(chatJob('not yet', { delayMs: 60_000 }));

  // Age the finished jobs by hand: 1,200 completed 8 days ago, the last 10 split into other cases.
  const db = new Database(engine.config.database);
  t.teardown(() => db.close());
  const age = db.prepare('UPDATE jobs SET status = ?, finished_at = ? WHERE id = ?');
  const now = Date.now();
  db.transaction(() => {
    jobs.forEach((j, i) => {
      if (i < 1200) age.run('completed', now - 8 * DAY, j.id);
      else if (i < 1202)
        age.run('completed', now - 1 * DAY, j.id); // recent: kept
      else if (i < 1204)
        age.run('cancelled', now - 8 * DAY, j.id); // old cancelled: pruned
      else if (i < 1207)
        age.run('failed', now - 8 * DAY, j.id); // failed, younger than 30 days: kept
      else age.run('failed', now - 31 * DAY, j.id); // failed past 30 days: pruned
    });
  })();

  const pruned = await engine.prune();
  t.equal(pruned, 1200 + 2 + 3, 'old completed, old cancelled and very old failed jobs');
  const left = db.prepare('SELECT status, count(*) AS n FROM jobs GROUP BY status ORDER BY status').all();
  t.same(left, [
    { status: 'completed', n: 2 },
    { status: 'failed', n: 3 },
    { status: 'queued', n: 1 },
  ]);
  t.equal((await engine.get(queued.id)).status, 'queued', 'unfinished jobs are never pruned');
  const orphans = db
    .prepare(`SELECT (SELECT count(*) FROM attempts WHERE job_id NOT IN (SELECT id FROM jobs)) AS a,
    (SELECT count(*) FROM usage WHERE job_id NOT IN (SELECT id FROM jobs)) AS u`)
    .get();
  t.same(orphans, { a: 0, u: 0 }, 'their attempts and usage rows went with them');
  t.equal(await engine.prune(), 0, 'nothing more to prune');
});

t.test('retention 0 keeps everything', async (t) => {
  const engine = await makeEngine(t, { retentionDays: 0, failedRetentionDays: 0, start: false });
  const job = await engine.submit(chatJob('keep'));
  const db = new Database(engine.config.database);
  t.teardown(() => db.close());
  db.prepare(`UPDATE jobs SET status = 'completed', finished_at = 0 WHERE id = ?`).run(job.id);
  t.equal(await engine.prune(), 0);
  const kept = await engine.get(job.id);
  t.equal(kept.status, 'completed', 'a job finished in 1970 is still there');
  t.equal(kept.finishedAt, new Date(0).toISOString());
});
