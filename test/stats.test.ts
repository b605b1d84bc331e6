/** /v1/stats from counters equals a direct count after a mixed run. */
import t from 'tap';
import Database from 'better-sqlite3';
import { chatJob, makeEngine, serve } from './helpers/engine.js';

t.test('/v1/stats equals a direct count after completed, failed, cancelled, retried and pruned jobs', async (t) => {
  const engine = await makeEngine(t, { retentionDays: 1, failedRetentionDays: 0 });
  engine.defineJobType('crash', new URL('./fixtures/crash.ts', import.meta.url));
  const api = await serve(t, engine);
  const ok = await engine.submitMany(Array.from({ length: 30 }, (_, i) => chatJob(`ok ${i}`)));
  const failing = await engine.submitMany(Array.from({ length: 4 }, () => ({ type: 'crash', input: { crash: true }, maxAttempts: 1 })));
  const delayed = await engine.submitMany(Array.from({ length: 5 }, (_, i) => chatJob(`later ${i}`, { delayMs: 600_000 })));
  await Promise.all([...ok, ...failing].map((j) => engine.wait(j.id, { timeoutMs: 20_000 })));
  for (const j of delayed.slice(0, 3)) await engine.cancel(j.id);
  const retried = await engine.retry(delayed[0]!.id);
  await engine.wait(retried.id, { timeoutMs: 10_000 });
  // Age and prune a few completed jobs: counters must follow deletes too.
  const db = new Database(engine.config.database);
  t.teardown(() => db.close());
  db.prepare(`UPDATE jobs SET finished_at = 0 WHERE id IN (?, ?, ?)`).run(ok[0]!.id, ok[1]!.id, ok[2]!.id);
  t.equal(await engine.prune(), 3);

  const stats = (await api.call('GET', '/v1/stats')).body;
  const direct = Object.fromEntries(
    (db.prepare('SELECT status, count(*) AS n FROM jobs GROUP BY status').all() as { status: string; n: number }[]).map((r) => [
      r.status,
      r.n,
    ]),
  );
  t.match(stats, {
    total: 30 + 4 + 5 - 3,
    completed: direct.completed,
    failed: direct.failed,
    cancelled: direct.cancelled,
    queued: direct.queued,
    running: direct.running ?? 0,
    scheduled: 2,
  });
  t.same(stats.byType.crash, { queued: 0, running: 0, completed: 0, failed: 4, cancelled: 0, total: 4 });
  t.equal(stats.byType.chat.total, 30 + 5 - 3);
  const completed = direct.completed as number;
  t.equal(stats.successRate, Math.round((completed / (completed + 4)) * 10000) / 100);
  const avg = (db.prepare(`SELECT avg(duration_ms) AS a FROM jobs WHERE status = 'completed'`).get() as { a: number }).a;
  t.equal(stats.avgProcessingTime, Math.round(avg));
  const usage = db.prepare('SELECT sum(input_tokens) AS i, sum(output_tokens) AS o FROM usage').get() as { i: number; o: number };
  t.same([stats.usage.inputTokens, stats.usage.outputTokens], [usage.i, usage.o], 'usage totals follow inserts and deletes');
  t.ok(stats.processingTime.p50 <= stats.processingTime.p95 && stats.processingTime.p95 <= stats.processingTime.p99);
  t.ok(
    stats.queueWait.p50 <= stats.queueWait.p99 && stats.queueWait.p99 < 30_000,
    `queue wait p99 ${stats.queueWait.p99} ms: due jobs were claimed promptly`,
  );
  t.ok(stats.throughput.last1m > 0 && stats.throughput.last15m > 0, 'throughput counted');
});
