/** `switchyard serve` as a real process: key file, config errors, graceful shutdown on SIGTERM. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import Database from 'better-sqlite3';
import { chatJob, tempDir } from './helpers/engine.js';
import { ROOT, childEnv, startServer } from './helpers/process.js';
import { sse } from './helpers/sse.js';
import { apiKeyPath, loadOrCreateApiKey } from '../src/api-key.js';

// The child runs the sources through the same loader as this test, so its coverage counts too.
const CLI = [...process.execArgv, join(ROOT, 'src/cli.ts'), 'serve'];

async function post(url: string, key: string, path: string, body: unknown, method = 'POST') {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** Resolves once `n` jobs have started on the server at `url` (its event stream, from the start). */
async function started(url: string, key: string, n: number): Promise<void> {
  const events = await sse(`${url}/v1/events?lastEventId=0`, { headers: { authorization: `Bearer ${key}` } });
  await events.until((es) => es.filter((e) => e.event === 'job:started').length >= n);
  await events.close();
}

t.test('without SWITCHYARD_API_KEY a 0600 key file is made next to the database', async (t) => {
  const dir = tempDir(t);
  const db = join(dir, 'data', 'jobs.db');
  const server = await startServer(t, process.execPath, CLI, { SWITCHYARD_DB: db });
  const keyFile = join(dir, 'data', 'api-key');
  t.equal(statSync(keyFile).mode & 0o777, 0o600);
  t.ok(
    server.logs.some((l) => l.includes(keyFile)),
    'the start-up log says where the key is',
  );
  const key = readFileSync(keyFile, 'utf8').trim();
  t.notOk(
    server.logs.some((l) => l.includes(key)),
    'the key itself is never logged',
  );
  const res = await fetch(`${server.url}/v1/stats`, { headers: { authorization: `Bearer ${key}` } });
  t.equal(res.status, 200);
  server.proc.kill('SIGTERM');
  t.equal(await server.exited, 0);
});

t.test('a bad environment stops start-up with a clear message', async (t) => {
  const r = spawnSync(process.execPath, CLI, {
    cwd: ROOT,
    env: childEnv({ PORT: 'eighty', SWITCHYARD_DB: join(tempDir(t), 'x.db') }),
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(r.status, 1);
  t.match(r.stderr, /SWY_INVALID_OPTIONS: environment variable PORT must be integer/);
  const u = spawnSync(process.execPath, [...CLI.slice(0, -1), 'fly'], { cwd: ROOT, env: childEnv({}), encoding: 'utf8', timeout: 60_000 });
  t.equal(u.status, 2);
  t.match(u.stderr, /unknown command "fly"/);
});

t.test('SIGTERM drains in-flight jobs within the shutdown timeout', async (t) => {
  const db = join(tempDir(t), 'jobs.db');
  const key = 'drain-key-0123456789';
  const server = await startServer(t, process.execPath, CLI, {
    SWITCHYARD_DB: db,
    SWITCHYARD_API_KEY: key,
    SWITCHYARD_SHUTDOWN_TIMEOUT_MS: '10000',
  });
  t.equal((await post(server.url, key, '/v1/providers/mock', { options: { latencyMs: 400 } }, 'PATCH')).status, 200);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await post(server.url, key, '/v1/jobs', chatJob(`drain ${i}`))).body.id);
  await started(server.url, key, 5);
  server.proc.kill('SIGTERM');
  t.equal(await server.exited, 0, 'clean exit');
  const check = new Database(db, { readonly: true });
  t.teardown(() => check.close());
  const rows = check.prepare('SELECT status, attempt FROM jobs').all() as { status: string; attempt: number }[];
  t.same(
    rows.map((r) => r.status),
    ['completed', 'completed', 'completed', 'completed', 'completed'],
    'the in-flight jobs finished',
  );
  const wal = `${db}-wal`;
  t.ok(!existsSync(wal) || statSync(wal).size === 0, 'the WAL was checkpointed into the database on close');
});

t.test('SIGTERM past the timeout puts unfinished jobs back, attempt unspent; a restart completes them', async (t) => {
  const db = join(tempDir(t), 'jobs.db');
  const key = 'abort-key-0123456789';
  const env = { SWITCHYARD_DB: db, SWITCHYARD_API_KEY: key, SWITCHYARD_SHUTDOWN_TIMEOUT_MS: '200' };
  const first = await startServer(t, process.execPath, CLI, env);
  await post(first.url, key, '/v1/providers/mock', { options: { latencyMs: 60_000 } }, 'PATCH');
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await post(first.url, key, '/v1/jobs', chatJob(`slow ${i}`))).body.id);
  await started(first.url, key, 3);
  first.proc.kill('SIGTERM');
  t.equal(await first.exited, 0);
  const check = new Database(db);
  const rows = check.prepare('SELECT status, attempt FROM jobs').all();
  // The restarted server claims the jobs as it starts, before any request could reach it: the
  // provider is made fast while no server runs.
  check.prepare(`UPDATE providers SET options = '{"latencyMs":0}' WHERE name = 'mock'`).run();
  check.close();
  t.same(rows, [
    { status: 'queued', attempt: 0 },
    { status: 'queued', attempt: 0 },
    { status: 'queued', attempt: 0 },
  ]);

  const second = await startServer(t, process.execPath, CLI, env);
  for (const id of ids) {
    const res = await fetch(`${second.url}/v1/jobs/${id}?waitMs=20000`, { headers: { authorization: `Bearer ${key}` } });
    const job = (await res.json()) as any;
    t.equal(job.status, 'completed');
    t.equal(job.attempt, 1, 'the interrupted attempt was not counted');
    t.same(
      job.attempts.map((a: { number: number; outcome: string }) => [a.number, a.outcome]),
      [
        [1, 'released'],
        [1, 'completed'],
      ],
    );
  }
  second.proc.kill('SIGTERM');
  t.equal(await second.exited, 0);
});

t.test('the key file is made once and read after', async (t) => {
  const dir = tempDir(t);
  const path = apiKeyPath(join(dir, 'db', 'jobs.db'));
  t.equal(path, join(dir, 'db', 'api-key'));
  const a = loadOrCreateApiKey(path);
  const b = loadOrCreateApiKey(path);
  t.equal(a.created, true);
  t.equal(b.created, false);
  t.equal(a.key, b.key);
  t.match(a.key, /^swy_[A-Za-z0-9_-]{43}$/);
  t.match(apiKeyPath(':memory:'), /data\/api-key$/);
});

t.test('a second signal during the drain exits at once', async (t) => {
  const db = join(tempDir(t), 'jobs.db');
  const key = 'second-key-0123456789';
  const server = await startServer(t, process.execPath, CLI, {
    SWITCHYARD_DB: db,
    SWITCHYARD_API_KEY: key,
    SWITCHYARD_SHUTDOWN_TIMEOUT_MS: '60000',
  });
  await post(server.url, key, '/v1/providers/mock', { options: { latencyMs: 60_000 } }, 'PATCH');
  await post(server.url, key, '/v1/jobs', chatJob('keeps the drain busy'));
  await started(server.url, key, 1);
  server.proc.kill('SIGTERM');
  await server.logged(/draining in-flight work/);
  server.proc.kill('SIGINT');
  t.equal(await server.exited, 1, 'exit 1: the drain (60 s, a job still running) was cut short');
});
