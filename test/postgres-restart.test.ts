/**
 * Two engine processes on a PostgreSQL server of the test's own, with jobs flowing, while that
 * server is stopped (`pg_ctl stop -m fast`: every session terminated) and started again. Both
 * nodes must stay up; while the database is away, readiness and submits answer 503 with a code;
 * when it returns, work resumes without a restart and every acknowledged job ends exactly once.
 */
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { chatJob } from './helpers/engine.js';
import { pgInstance } from './helpers/pg-instance.js';
import { ROOT, startServer, type Child } from './helpers/process.js';

const KEY = 'pg-restart-test-key-0123456789';
const CLI = [...process.execArgv, join(ROOT, 'src/cli.ts'), 'serve'];
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

t.test('a PostgreSQL restart under load: both nodes stay up, and every acknowledged job ends once', async (t) => {
  const db = await pgInstance(t);
  if (!db) return;
  const env = {
    SWITCHYARD_DB: db.url,
    SWITCHYARD_API_KEY: KEY,
    // Longer than the outage: no lease expires while the database is away, so a job that ran twice
    // would mean an outcome was dropped rather than written when the database came back.
    SWITCHYARD_LEASE_MS: '60000',
    SWITCHYARD_CONCURRENCY: '20',
    SWITCHYARD_THREADS: '1',
    SWITCHYARD_DB_POOL_SIZE: '4',
    LOG_LEVEL: 'info',
  };
  const nodes: Child[] = [await startServer(t, process.execPath, CLI, env)];
  nodes.push(await startServer(t, process.execPath, CLI, env));
  const patch = await fetch(`${nodes[0]!.url}/v1/providers/mock`, {
    method: 'PATCH',
    headers,
    // Calls of a second or more: those in flight when the database stops end while it is away.
    body: JSON.stringify({ options: { latencyMs: 1000, jitterMs: 500 } }),
  });
  t.equal(patch.status, 200);

  const accepted = new Set<string>();
  const refusals = new Map<string, number>();
  let phase: 'up' | 'down' | 'back' | 'done' = 'up';
  let sent = 0;
  // Submits go round the nodes, a few at a time, until told to stop.
  const submit = async () => {
    for (let i = 0; phase !== 'done'; i++) {
      const jobs = Array.from({ length: 5 }, () => chatJob(`job ${sent++}`));
      const res = await fetch(`${nodes[i % 2]!.url}/v1/jobs/batch`, { method: 'POST', headers, body: JSON.stringify({ jobs }) });
      const body = (await res.json()) as { jobs?: { id: string }[]; error?: { code: string } };
      if (res.status === 201) for (const j of body.jobs ?? []) accepted.add(j.id);
      else {
        const code = `${res.status} ${body.error?.code} retry-after:${res.headers.get('retry-after') !== null}`;
        refusals.set(code, (refusals.get(code) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  const submitting = submit();
  const until = async (what: () => boolean | Promise<boolean>) => {
    while (!(await what())) await new Promise((r) => setTimeout(r, 20));
  };
  await until(() => accepted.size >= 100);
  // Stopped while attempts are in flight: their answers arrive while the database is away.
  const before = new pg.Client({ connectionString: db.url });
  await before.connect();
  await until(async () => (await before.query(`SELECT count(*)::int AS n FROM jobs WHERE status = 'running'`)).rows[0].n > 0);
  await before.end();

  await db.stop();
  phase = 'down';
  // While it is away: readiness says so, submits are refused with a code, and the nodes stay up.
  for (const node of nodes) {
    await until(async () => (await fetch(`${node.url}/ready`)).status === 503);
    const res = await fetch(`${node.url}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify(chatJob('while down')) });
    t.equal(res.status, 503, 'a submit while the database is away is refused');
    t.equal(((await res.json()) as { error: { code: string } }).error.code, 'SWY_STORE_UNAVAILABLE');
    t.ok(res.headers.get('retry-after'), 'with Retry-After');
  }
  const beforeStart = accepted.size;
  // Down until an attempt's answer has arrived with nowhere to be written (waited on, not timed).
  await Promise.race(nodes.map((n) => n.logged(/the outcome is written when it returns/)));

  await db.start();
  phase = 'back';
  // Back: both nodes ready again and taking submits, without a restart.
  for (const node of nodes) await until(async () => (await fetch(`${node.url}/ready`)).status === 200);
  await until(() => accepted.size >= beforeStart + 100);
  phase = 'done';
  await submitting;

  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  t.teardown(() => admin.end());
  // Wait on state: until nothing acknowledged is queued or running.
  await until(async () => {
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM jobs WHERE status IN ('queued', 'running')`);
    return rows[0].n === 0;
  });
  const { rows: jobs } = await admin.query<{ id: string; status: string }>('SELECT id, status FROM jobs');
  const status = new Map(jobs.map((j) => [j.id, j.status]));
  t.same(
    [...accepted].filter((id) => status.get(id) !== 'completed'),
    [],
    'every acknowledged job completed',
  );
  const { rows: twice } = await admin.query(`SELECT job_id, attempt FROM usage WHERE outcome = 'ok' GROUP BY 1, 2 HAVING count(*) > 1`);
  t.same(twice, [], "no attempt's call was recorded twice");
  const { rows: again } = await admin.query(`SELECT count(*)::int AS n FROM jobs WHERE attempt > 1`);
  t.equal(again[0].n, 0, 'no job ran twice: the answers that came while the database was away were written when it returned');
  const { rows: done } = await admin.query(`SELECT count(*)::int AS n FROM jobs j WHERE j.status = 'completed'
      AND (SELECT count(*) FROM usage u WHERE u.job_id = j.id AND u.attempt = j.attempt AND u.outcome = 'ok') != 1`);
  t.equal(done[0].n, 0, 'each completed job has exactly the one call of its completing attempt');
  const { rows: counts } = await admin.query(
    'SELECT tenant, type, status, sum(n)::int AS n FROM job_counts GROUP BY 1, 2, 3 HAVING sum(n) != 0 ORDER BY 1, 2, 3',
  );
  const { rows: truth } = await admin.query('SELECT tenant, type, status, count(*)::int AS n FROM jobs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3');
  t.same(counts, truth, 'the counters equal the rows');
  for (const code of refusals.keys()) t.match(code, /^503 SWY_STORE_UNAVAILABLE retry-after:true$/, 'refusals were coded 503s');
  const rewritten = nodes.flatMap((n) => n.logs.filter((l) => l.includes('outcome written once the store was back')));
  t.ok(rewritten.length > 0, `answers that arrived while the database was away were written when it returned (${rewritten.length})`);
  for (const node of nodes) t.equal(node.proc.exitCode, null, 'the node stayed up');
  for (const n of nodes) n.proc.kill('SIGTERM');
  for (const n of nodes) t.equal(await n.exited, 0, 'a node stops cleanly');
});
