/**
 * Three engine processes on one PostgreSQL schema, 20,000 jobs, and SIGKILLs of random nodes
 * while they run (each killed node is started again). Every acknowledged job must end terminal,
 * no attempt's outcome may be recorded twice, and the counters must equal the rows.
 */
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { chatJob } from './helpers/engine.js';
import { freshSchema, PG_URL, requirePostgres } from './helpers/postgres.js';
import { ROOT, startServer, type Child } from './helpers/process.js';

const JOBS = 20_000;
const CHUNK = 500;
const NODES = 3;
const KILLS = 4;
const KEY = 'pg-kill-test-key-0123456789';
const CLI = [...process.execArgv, join(ROOT, 'src/cli.ts'), 'serve'];
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

t.test(`${NODES} nodes, ${JOBS} jobs, ${KILLS} SIGKILLs: nothing lost, nothing recorded twice`, async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema(t);
  const env = {
    SWITCHYARD_DB: PG_URL,
    SWITCHYARD_DB_SCHEMA: schema,
    SWITCHYARD_API_KEY: KEY,
    SWITCHYARD_LEASE_MS: '1500',
    SWITCHYARD_CONCURRENCY: '50',
    SWITCHYARD_THREADS: '1',
    // The helper finds the port in the 'Server listening' line, logged at info.
    LOG_LEVEL: 'info',
  };
  // The first node creates the schema; the others start once it is there.
  const nodes: Child[] = [await startServer(t, process.execPath, CLI, env)];
  nodes.push(...(await Promise.all(Array.from({ length: NODES - 1 }, () => startServer(t, process.execPath, CLI, env)))));
  const patch = await fetch(`${nodes[0]!.url}/v1/providers/mock`, {
    method: 'PATCH',
    headers,
    body: JSON.stringify({ options: { latencyMs: 5, jitterMs: 30 } }),
  });
  t.equal(patch.status, 200);

  const accepted = new Set<string>();
  let submitted = 0;
  // Submits go round the nodes; one that lands on a node being killed is not acknowledged.
  const submit = async () => {
    for (let chunk = 0; submitted < JOBS; chunk++) {
      const n = Math.min(CHUNK, JOBS - submitted);
      submitted += n;
      const jobs = Array.from({ length: n }, (_, i) => chatJob(`job ${submitted - n + i}`));
      try {
        const res = await fetch(`${nodes[chunk % NODES]!.url}/v1/jobs/batch`, { method: 'POST', headers, body: JSON.stringify({ jobs }) });
        if (res.status === 201) for (const j of ((await res.json()) as { jobs: { id: string }[] }).jobs) accepted.add(j.id);
        else submitted -= n;
      } catch {
        submitted -= n; // the node died under it: submitted again elsewhere
      }
    }
  };
  let loaded = false;
  const loading = submit().finally(() => {
    loaded = true;
  });

  const admin = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await admin.connect();
  t.teardown(() => admin.end());
  const completed = async () =>
    Number((await admin.query(`SELECT coalesce(sum(n), 0) AS n FROM job_counts WHERE status = 'completed'`)).rows[0].n);
  const unfinished = async () =>
    Number((await admin.query(`SELECT count(*) AS n FROM jobs WHERE status IN ('queued', 'running')`)).rows[0].n);
  // Each node's lease owner (its `engine started` log line) while it is up; undefined while it restarts.
  const instance = async (node: Child) => (JSON.parse(await node.logged(/"engine started"/)) as { instance: string }).instance;
  const owners: (string | undefined)[] = await Promise.all(nodes.map(instance));
  const holding = async () => {
    const { rows } = await admin.query<{ owner: string }>(`SELECT DISTINCT lease_owner AS owner FROM jobs WHERE status = 'running'`);
    const held = new Set(rows.map((r) => r.owner));
    return owners.flatMap((owner, i) => (owner !== undefined && held.has(owner) ? [i] : []));
  };

  // Each kill once a further share of the jobs has completed (counted, not timed); the victim is a
  // node holding leases at that moment, so that every kill interrupts attempts.
  // A killed node is started again in the background, so that the next kill does not wait for it.
  const restarts: Promise<void>[] = [];
  let killed = 0;
  for (let kill = 1; kill <= KILLS; kill++) {
    const target = Math.floor((JOBS * kill) / (KILLS + 2));
    while ((await completed()) < target) await new Promise((r) => setTimeout(r, 25));
    let candidates = await holding();
    // Waits for a restarted node if need be; gives up only once no work is left to interrupt.
    while (candidates.length === 0 && !(loaded && (await unfinished()) === 0)) {
      await new Promise((r) => setTimeout(r, 5));
      candidates = await holding();
    }
    if (candidates.length === 0) break; // all submitted and done: the check on `killed` below fails
    const victim = candidates[Math.floor(Math.random() * candidates.length)]!;
    const old = nodes[victim]!;
    old.proc.kill('SIGKILL');
    owners[victim] = undefined;
    await old.exited;
    restarts.push(
      startServer(t, process.execPath, CLI, env).then(async (node) => {
        nodes[victim] = node;
        owners[victim] = await instance(node);
      }),
    );
    killed++;
  }
  await Promise.all(restarts);
  t.equal(killed, KILLS, 'every kill fell on a node holding leases');
  await loading;
  t.equal(accepted.size, JOBS, 'every job was acknowledged once');

  // Wait on state: until nothing is queued or running.
  for (;;) {
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM jobs WHERE status IN ('queued', 'running')`);
    if (rows[0].n === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const { rows: jobs } = await admin.query<{ id: string; status: string }>('SELECT id, status FROM jobs');
  const status = new Map(jobs.map((j) => [j.id, j.status]));
  t.same(
    [...accepted].filter((id) => !status.has(id)),
    [],
    'no acknowledged job is missing',
  );
  t.ok(
    [...accepted].every((id) => status.get(id) === 'completed' || status.get(id) === 'failed'),
    'every acknowledged job is terminal',
  );
  const { rows: failedOtherwise } = await admin.query(`SELECT j.id FROM jobs j WHERE j.status = 'failed' AND (j.attempt != j.max_attempts
      OR EXISTS (SELECT 1 FROM attempts a WHERE a.job_id = j.id AND a.outcome != 'lease_expired'))`);
  t.same(failedOtherwise, [], 'jobs failed only by losing every attempt to a kill');
  const { rows: twice } = await admin.query(`SELECT job_id, attempt FROM usage WHERE outcome = 'ok' GROUP BY 1, 2 HAVING count(*) > 1`);
  t.same(twice, [], "no attempt's call was recorded twice");
  const { rows: done } = await admin.query(`SELECT count(*)::int AS n FROM jobs j WHERE j.status = 'completed'
      AND (SELECT count(*) FROM usage u WHERE u.job_id = j.id AND u.attempt = j.attempt AND u.outcome = 'ok') != 1`);
  t.equal(done[0].n, 0, 'each completed job has exactly the one call of its completing attempt');
  const { rows: counts } = await admin.query(
    'SELECT tenant, type, status, sum(n)::int AS n FROM job_counts GROUP BY 1, 2, 3 HAVING sum(n) != 0 ORDER BY 1, 2, 3',
  );
  const { rows: truth } = await admin.query('SELECT tenant, type, status, count(*)::int AS n FROM jobs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3');
  t.same(counts, truth, 'the counters equal the rows');
  const { rows: expired } = await admin.query(`SELECT count(*)::int AS n FROM attempts WHERE outcome = 'lease_expired'`);
  t.ok(expired[0].n > 0, `the kills interrupted attempts (${expired[0].n} leases expired and were taken over)`);
  for (const n of nodes) n.proc.kill('SIGTERM');
  for (const n of nodes) t.equal(await n.exited, 0, 'a node stops cleanly');
});
