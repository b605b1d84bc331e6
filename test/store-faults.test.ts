/** Store faults: a corrupt file, a locked database, a full disk — coded errors, nothing half-written, recovery. */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import Database from 'better-sqlite3';
import { createEngine, Engine } from '../src/engine.js';
import { resolveEngineConfig } from '../src/config.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { chatJob, newJob, serve, tempDir } from './helpers/engine.js';
import { ROOT, childEnv } from './helpers/process.js';

t.test('a corrupt database file stops start-up with a clear coded error', async (t) => {
  const path = join(tempDir(t), 'corrupt.db');
  writeFileSync(path, Buffer.alloc(8192, 'not a database '));
  await t.rejects(createEngine({ database: path }), {
    code: 'SWY_STORE_UNAVAILABLE',
    message: /cannot open the database at .*corrupt\.db/,
  });
  const r = spawnSync(process.execPath, [...process.execArgv, join(ROOT, 'src/cli.ts'), 'serve'], {
    cwd: ROOT,
    env: childEnv({ SWITCHYARD_DB: path, SWITCHYARD_API_KEY: 'corrupt-key-0123456789' }),
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(r.status, 1);
  t.match(r.stderr, /^switchyard: SWY_STORE_UNAVAILABLE: cannot open the database at .*corrupt\.db: file is not a database/m);
});

t.test('a locked database answers 503 and recovers when the lock is released', async (t) => {
  const database = join(tempDir(t), 'jobs.db');
  const engine = await createEngine({ database, threads: 1, busyTimeoutMs: 100 });
  t.teardown(() => engine.stop());
  const api = await serve(t, engine);
  const before = await api.call('POST', '/v1/jobs', chatJob('before the lock'));
  t.equal(before.status, 201);

  const other = new Database(database);
  t.teardown(() => other.close());
  other.exec('BEGIN IMMEDIATE');
  const locked = await api.call('POST', '/v1/jobs', chatJob('while locked'));
  t.equal(locked.status, 503);
  t.equal(locked.body.error.code, 'SWY_STORE_UNAVAILABLE');
  t.equal((await api.call('GET', `/v1/jobs/${before.body.id}`)).status, 200, 'reads still work under a write lock (WAL)');
  other.exec('COMMIT');

  const after = await api.call('POST', '/v1/jobs', chatJob('after the lock'));
  t.equal(after.status, 201, 'recovered');
  t.equal((await engine.stats()).total, 2, 'the refused submit left nothing behind');
});

t.test('a full disk answers 503, writes nothing half, and recovers when space returns', async (t) => {
  const database = join(tempDir(t), 'jobs.db');
  const store = new SqliteStore({ path: database });
  const engine = new Engine(resolveEngineConfig({ database, threads: 1 }), store);
  await engine.init();
  t.teardown(() => engine.stop());
  const api = await serve(t, engine);
  // SQLite's own "database or disk is full" path: the file may not grow past its current size.
  const pages = store.db.pragma('page_count', { simple: true }) as number;
  store.db.pragma(`max_page_count = ${pages + 1}`);
  const big = chatJob('x'.repeat(200_000));
  const full = await api.call('POST', '/v1/jobs/batch', { jobs: [chatJob('small'), big] });
  t.equal(full.status, 503);
  t.equal(full.body.error.code, 'SWY_STORE_UNAVAILABLE');
  t.match(full.body.error.message, /SQLITE_FULL/);
  t.equal((await engine.stats()).total, 0, 'the batch was not half-written');
  // Two writes sharing one transaction: SQLITE_FULL makes SQLite roll back the whole of it, so the
  // write that went through before must fail too, not be acknowledged and lost.
  const [first, second] = await Promise.allSettled([
    store.insertJobs([newJob()]),
    store.insertJobs([newJob({ input: 'x'.repeat(200_000) })]),
  ]);
  t.equal(first.status, 'rejected', 'the earlier write in the same transaction is not acknowledged');
  t.equal(second.status, 'rejected');
  t.match((first as PromiseRejectedResult).reason, { code: 'SWY_STORE_UNAVAILABLE' });
  t.equal((await engine.stats()).total, 0, 'and nothing of it was written');
  t.equal((await fetch(`${api.url}/health`)).status, 200, 'the process stays up');

  store.db.pragma('max_page_count = 1073741823');
  const ok = await api.call('POST', '/v1/jobs/batch', { jobs: [chatJob('small'), big] });
  t.equal(ok.status, 201, 'recovered once space returned');
  t.equal((await engine.stats()).total, 2);
});
