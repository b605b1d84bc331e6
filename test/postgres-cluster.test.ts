/**
 * Processes that cooperate through PostgreSQL alone, in this test process: an API-only engine
 * (never started) and a worker share one schema. Polling and the lease heartbeat are set to an
 * hour, so only LISTEN/NOTIFY can wake the worker for a new job and tell the API node its jobs
 * ended. Then the listening connection is killed from the server side, and comes back.
 */
import pg from 'pg';
import t, { type Test } from 'tap';
import { createEngine, type Engine } from '../src/index.js';
import { createServer } from '../src/http/app.js';
import { API_KEY } from './helpers/engine.js';
import { freshSchema, PG_URL, requirePostgres } from './helpers/postgres.js';
import { sse } from './helpers/sse.js';

const HOUR = 3_600_000;
const chat = (content: string) => ({ input: { messages: [{ role: 'user', content }] } });

async function node(t: Test, schema: string, start: boolean): Promise<Engine> {
  const engine = await createEngine({
    database: PG_URL,
    databaseSchema: schema,
    databasePollMs: 600_000,
    leaseMs: HOUR,
    threads: 1,
    concurrency: 16,
  });
  t.teardown(() => engine.stop());
  if (start) await engine.start();
  return engine;
}

async function serve(t: Test, engine: Engine): Promise<string> {
  const app = await createServer(engine, { apiKey: API_KEY, eventHeartbeatMs: 100 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}

/** Resolves once `engine`'s provider cache holds the mock provider's new latency. */
function latency(engine: Engine, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const check = () => (engine.providers.get('mock').options.latencyMs === ms ? resolve() : setImmediate(check));
    check();
  });
}

const auth = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };

/** The listening connections' process ids on the server. */
async function listeners(admin: pg.Client): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE application_name = 'switchyard-listen' AND datname = current_database()`,
  );
  return rows.map((r) => r.pid);
}

t.test('a job submitted on one node runs on another; ?waitMs and an event stream on other nodes see it end', async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema(t);
  const api = await node(t, schema, false);
  const watcher = await node(t, schema, false);
  const worker = await node(t, schema, true); // the only worker
  const apiUrl = await serve(t, api);
  const watchUrl = await serve(t, watcher);

  const stream = await sse(`${watchUrl}/v1/events?type=chat`, { headers: { authorization: `Bearer ${API_KEY}` } });
  t.teardown(() => stream.close());
  const res = await fetch(`${apiUrl}/v1/jobs`, { method: 'POST', headers: auth, body: JSON.stringify(chat('across nodes')) });
  const job = (await res.json()) as { id: string };
  t.equal(res.status, 201);
  const waited = await fetch(`${apiUrl}/v1/jobs/${job.id}?waitMs=300000`, { headers: auth });
  t.equal(waited.status, 200);
  const done = (await waited.json()) as { status: string; attempts: { outcome: string }[]; output: unknown };
  t.equal(done.status, 'completed', 'the API node, which runs nothing, saw the worker complete it');
  t.match(done.attempts, [{ outcome: 'completed' }]);
  t.ok(done.output, 'with its output (read from the database)');
  await stream.until((es) => es.some((e) => e.event === 'job:completed' && e.json?.id === job.id));
  t.same(
    stream.events.filter((e) => e.json?.id === job.id).map((e) => e.event),
    ['job:queued', 'job:started', 'job:completed'],
    "the third node's stream saw the job's events from the other two, in order",
  );
  t.notOk('input' in (stream.events.at(-1)?.json ?? {}), 'summaries: no prompt');
  t.match(await api.stats(), { total: 1, completed: 1, successRate: 100 }, 'stats from the shared counters');
  t.same(
    (await watcher.usage({ groupBy: ['provider'] })).data.map((r) => [r.provider, r.calls]),
    [['mock', 1]],
    'usage from the shared rollups',
  );
  await t.rejects(api.backup(), { code: 'SWY_NOT_SUPPORTED' }, 'online backup is for SQLite; PostgreSQL has pg_dump');

  // A provider change on one node reaches the others' caches. The reload is asynchronous, so a
  // job claimed before it lands still runs with the old settings: each step below waits for it.
  await api.providers.update('mock', { options: { latencyMs: 2 } });
  await latency(watcher, 2);
  t.pass("the watcher's provider cache follows the API node's change");

  // A cancel on the API node aborts the attempt running on the worker.
  await api.providers.update('mock', { options: { latencyMs: 600_000 } });
  await latency(worker, 600_000);
  const slow = await api.submit(chat('slow'));
  await stream.until((es) => es.some((e) => e.event === 'job:started' && e.json?.id === slow.id));
  const cancelled = await api.cancel(slow.id);
  t.equal(cancelled.status, 'cancelled');
  await stream.until((es) => es.some((e) => e.event === 'job:cancelled' && e.json?.id === slow.id));
  t.equal((await api.get(slow.id)).status, 'cancelled', 'and it stays cancelled: the aborted attempt wrote nothing over it');

  // A summary too large for one notification travels as the job's id; the receiver reads the job.
  await api.providers.update('mock', { options: { latencyMs: 0 } });
  await latency(worker, 0);
  const big = await api.submit({ ...chat('big metadata'), metadata: { note: 'x'.repeat(12_000) } });
  await stream.until((es) => es.some((e) => e.event === 'job:completed' && e.json?.id === big.id));
  const seen = stream.events.find((e) => e.event === 'job:completed' && e.json?.id === big.id);
  const meta = (seen?.json as { metadata?: { note?: string } } | undefined)?.metadata;
  t.equal(meta?.note?.length, 12_000, 'with its whole metadata');
});

t.test('the listening connection killed from the server side comes back, and jobs keep completing', async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema(t);
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  t.teardown(() => admin.end());
  const before = new Set(await listeners(admin));
  const api = await node(t, schema, false);
  await node(t, schema, true);
  const mine = (await listeners(admin)).filter((pid) => !before.has(pid));
  t.equal(mine.length, 2, 'one listening connection per node');
  await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [mine]);
  // Waiting on state: the server's view of who listens, until both nodes listen again.
  for (;;) {
    const now = (await listeners(admin)).filter((pid) => !before.has(pid) && !mine.includes(pid));
    if (now.length === 2) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.pass('both nodes listen again, on new connections');
  const job = await api.submit(chat('after the kill'));
  t.equal((await api.wait(job.id, { timeoutMs: HOUR })).status, 'completed', 'the worker was woken, and the API node told');
});

t.test("a job that ends on another process wakes this one's claim only when its tenant is capped", async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema(t);
  const api = await node(t, schema, false);
  const worker = await node(t, schema, true);
  const observer = await node(t, schema, false);
  const { key } = await api.keys.create({ scopes: ['jobs:write', 'jobs:read'], maxConcurrency: 5 });
  await new Promise<void>((resolve) => {
    const check = () => (observer.keys.record(key.id)?.maxConcurrency === 5 ? resolve() : setImmediate(check));
    check();
  });
  await api.providers.update('mock', { options: { latencyMs: 600_000 } });
  await latency(worker, 600_000);
  const started = new Set<string>();
  const bothStarted = new Promise<void>((resolve) =>
    worker.on('job:started', (j) => {
      started.add(j.id);
      if (started.size === 2) resolve();
    }),
  );
  const plain = await api.submit(chat('an uncapped tenant'));
  const capped = await api.submit(chat('a capped tenant'), { tenant: key.id });
  await bothStarted;

  // Both run on the worker, so the observer, started now, has nothing of its own to claim.
  await observer.start();
  const log: string[] = [];
  const scheduler = (observer as unknown as { scheduler: { notifyIn(ms: number): void } }).scheduler;
  const notifyIn = scheduler.notifyIn.bind(scheduler);
  scheduler.notifyIn = (ms) => {
    log.push('notify');
    notifyIn(ms);
  };
  const heard = (id: string) =>
    new Promise<void>((resolve) =>
      observer.remoteEvents.on('job:cancelled', (j) => {
        if (j.id !== id) return;
        log.push(`cancelled ${id}`);
        resolve();
      }),
    );
  const plainEnded = heard(plain.id);
  await api.cancel(plain.id);
  await plainEnded;
  t.not(log[log.indexOf(`cancelled ${plain.id}`) - 1], 'notify', "an uncapped tenant's ended job did not wake the claim");
  const cappedEnded = heard(capped.id);
  await api.cancel(capped.id);
  await cappedEnded;
  t.equal(log[log.indexOf(`cancelled ${capped.id}`) - 1], 'notify', "a capped tenant's ended job woke it: a slot at its cap is free");
});
