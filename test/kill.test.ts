/**
 * The kill test: a server under a steady load of submits is killed with SIGKILL at random moments
 * and restarted on the same database. Every job it acknowledged (201) must end terminal, exactly
 * once, with its attempts counted right, and the database must pass its integrity check.
 */
import { join } from 'node:path';
import t from 'tap';
import Database from 'better-sqlite3';
import { chatJob, tempDir } from './helpers/engine.js';
import { ROOT, startServer, type Child } from './helpers/process.js';

const KILLS = 5;
const KEY = 'kill-test-key-0123456789';
const CLI = [...process.execArgv, join(ROOT, 'src/cli.ts'), 'serve'];

t.test(`${KILLS} SIGKILLs under load lose and duplicate nothing`, async (t) => {
  const db = join(tempDir(t), 'jobs.db');
  const env = { SWITCHYARD_DB: db, SWITCHYARD_API_KEY: KEY, SWITCHYARD_LEASE_MS: '600', LOG_LEVEL: 'warn' };
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  const accepted = new Set<string>();
  let onAccepted = () => {};
  let submitted = 0;

  const start = async (): Promise<Child> => {
    const child = await startServer(t, process.execPath, CLI, { ...env, LOG_LEVEL: 'info' });
    return child;
  };

  const first = await start();
  // Each call takes 30–80 ms, so every kill lands on attempts in flight.
  await fetch(`${first.url}/v1/providers/mock`, {
    method: 'PATCH',
    headers,
    body: JSON.stringify({ options: { latencyMs: 30, jitterMs: 50 } }),
  });
  let server = first;

  for (let kill = 0; kill < KILLS; kill++) {
    const url = server.url;
    let stop = false;
    const load = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (!stop) {
          submitted++;
          try {
            const res = await fetch(`${url}/v1/jobs`, {
              method: 'POST',
              headers,
              body: JSON.stringify(chatJob(`kill ${kill} job ${submitted}`)),
            });
            if (res.status === 201) {
              accepted.add(((await res.json()) as { id: string }).id);
              onAccepted();
            }
          } catch {
            // the connection died with the process: this submit was never acknowledged
          }
        }
      }),
    );
    // Kill after a random number of acknowledged submits, so that each kill lands somewhere else in
    // the work (counted, not timed: the same on a fast machine and a saturated one).
    const target = accepted.size + 40 + Math.floor(Math.random() * 160);
    await new Promise<void>((resolve) => {
      onAccepted = () => {
        if (accepted.size >= target) resolve();
      };
      onAccepted();
    });
    server.proc.kill('SIGKILL');
    await server.exited;
    stop = true;
    await load;
    server = await start();
  }

  // Let the last process finish everything: wait on each acknowledged job through the API.
  for (const id of accepted) {
    for (;;) {
      const res = await fetch(`${server.url}/v1/jobs/${id}?waitMs=60000`, { headers });
      const job = (await res.json()) as { status: string };
      if (['completed', 'failed', 'cancelled'].includes(job.status)) break;
    }
  }
  server.proc.kill('SIGTERM');
  t.equal(await server.exited, 0);

  t.ok(accepted.size > 50, `load was real: ${accepted.size} jobs acknowledged over ${KILLS} kills`);
  const check = new Database(db, { readonly: true });
  t.teardown(() => check.close());
  const jobs = new Map(
    (check.prepare('SELECT id, status, attempt FROM jobs').all() as { id: string; status: string; attempt: number }[]).map((j) => [
      j.id,
      j,
    ]),
  );
  const missing = [...accepted].filter((id) => !jobs.has(id));
  t.same(missing, [], 'no acknowledged job is missing');
  const statuses = [...accepted].map((id) => jobs.get(id)?.status);
  t.ok(
    statuses.every((st) => st === 'completed' || st === 'failed'),
    'every acknowledged job is terminal',
  );
  // A crash-interrupted attempt counts (a job that kills its process must not loop forever): a
  // job caught by maxAttempts kills fails with SWY_LEASE_EXPIRED and nothing else.
  const failedOtherwise = check
    .prepare(`SELECT j.id FROM jobs j WHERE j.status = 'failed' AND (j.attempt != j.max_attempts
      OR EXISTS (SELECT 1 FROM attempts a WHERE a.job_id = j.id AND a.outcome != 'lease_expired'))`)
    .all();
  t.same(failedOtherwise, [], 'jobs failed only by losing every attempt to a kill');
  const completed = statuses.filter((st) => st === 'completed').length;
  t.ok(completed > accepted.size / 2, `most completed (${completed} of ${accepted.size})`);
  // The completing attempt has no row (it is the job's own): any other record of a completion, or
  // of another end for that same attempt, would be a second outcome.
  const doubles = check
    .prepare(`SELECT j.id FROM jobs j WHERE j.status = 'completed' AND EXISTS (SELECT 1 FROM attempts a
      WHERE a.job_id = j.id AND (a.outcome = 'completed' OR (a.number = j.attempt AND a.outcome NOT IN ('released', 'deferred'))))`)
    .all();
  t.same(doubles, [], 'no job recorded two completions');
  const open = check.prepare(`SELECT count(*) AS n FROM attempts WHERE outcome IS NULL`).get() as { n: number };
  t.equal(open.n, 0, 'no attempt left open');
  const miscounted = check
    .prepare(`SELECT j.id, j.attempt, count(a.id) AS n FROM jobs j
      LEFT JOIN attempts a ON a.job_id = j.id AND a.outcome NOT IN ('released', 'deferred')
      GROUP BY j.id HAVING j.attempt != n + (j.status = 'completed')`)
    .all();
  t.same(miscounted, [], "each job's attempt count equals its counted attempts");
  const expired = (check.prepare(`SELECT count(*) AS n FROM attempts WHERE outcome = 'lease_expired'`).get() as { n: number }).n;
  t.ok(expired > 0, `kills interrupted attempts (${expired} leases expired and were retried)`);
  t.equal(check.pragma('integrity_check', { simple: true }), 'ok');
});
