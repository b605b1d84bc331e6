/**
 * The engine on PostgreSQL, one process: the same library calls as on SQLite (submit, wait,
 * cancel, retry, stats, usage, providers), and the backup that only SQLite has refused with a
 * code.
 */
import t from 'tap';
import { createEngine } from '../src/index.js';
import { freshSchema, PG_URL, requirePostgres } from './helpers/postgres.js';

const chat = (content: string) => ({ input: { messages: [{ role: 'user', content }] } });

t.test('an engine on PostgreSQL runs jobs, and reports what it did', async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema(t);
  const options = { database: PG_URL, databaseSchema: schema, threads: 1, concurrency: 16, retryBaseMs: 10, retryMaxMs: 20 };
  const engine = await createEngine(options);
  t.teardown(() => engine.stop());
  await engine.start();
  const jobs = await engine.submitMany(Array.from({ length: 20 }, (_, i) => chat(`job ${i}`)));
  const done = await Promise.all(jobs.map((j) => engine.wait(j.id, { timeoutMs: 60_000 })));
  t.ok(
    done.every((j) => j.status === 'completed' && j.provider === 'mock'),
    'all 20 completed by the mock provider',
  );
  t.match(done[0]?.attempts, [{ number: 1, outcome: 'completed' }]);
  const later = await engine.submit({ ...chat('later'), runAt: Date.now() + 3_600_000 });
  t.equal((await engine.cancel(later.id)).status, 'cancelled');
  t.equal((await engine.retry(later.id)).status, 'queued');
  t.equal((await engine.wait(later.id, { timeoutMs: 60_000 })).status, 'completed', 'retried: due now, and run');
  await engine.submit({ ...chat('scheduled'), runAt: Date.now() + 3_600_000 });
  const stats = await engine.stats();
  t.match(stats, { total: 22, completed: 21, queued: 1, scheduled: 1, successRate: 100 });
  t.ok(stats.usage.inputTokens > 0, 'usage counted');
  const usage = await engine.usage({ groupBy: ['provider'] });
  t.same(
    usage.data.map((r) => [r.provider, r.calls]),
    [['mock', 21]],
  );
  await t.rejects(engine.backup(), { code: 'SWY_NOT_SUPPORTED' }, 'online backup is for SQLite; PostgreSQL has pg_dump');
  await engine.stop();
  // What a second process on the same schema finds is tested in postgres-cluster, migrate and postgres-kill.
});
