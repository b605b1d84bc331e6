/** The WAL is checkpointed by a thread of its own, so that no commit on the main thread pays for it. */
import { statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import Database from 'better-sqlite3';
import { SqliteStore } from '../src/store/sqlite.js';
import { newJob, tempDir } from './helpers/engine.js';

t.test('committed pages reach the database file while the main connection never checkpoints', async (t) => {
  const path = join(tempDir(t), 'ckpt.db');
  const store = new SqliteStore({ path });
  t.teardown(() => store.close());
  t.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 20_000, 'the main connection only checkpoints as a backstop');
  const before = statSync(path).size;
  for (let i = 0; i < 5; i++) await store.insertJobs(Array.from({ length: 1000 }, () => newJob()));
  const walPages = () => Math.floor(statSync(`${path}-wal`).size / 4096);
  t.ok(walPages() > 500, 'the writes went to the WAL');
  t.ok(walPages() < 20_000, 'below the backstop: the main connection did not checkpoint');
  // The thread checkpoints every 50 ms; allow a minute on a loaded machine.
  const deadline = Date.now() + 60_000;
  while (statSync(path).size < before + 500_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.ok(statSync(path).size >= before + 500_000, 'the pages were copied into the database file');
  await store.close();
  t.ok(!existsSync(`${path}-wal`) || statSync(`${path}-wal`).size === 0, 'close stops the thread and truncates the WAL');
  const check = new Database(path, { readonly: true });
  t.equal(check.prepare('SELECT count(*) FROM jobs').pluck().get(), 5000, 'every row is in the file');
  check.close();
});

t.test('an in-memory store has no checkpoint thread', async (t) => {
  const store = new SqliteStore({ path: ':memory:' });
  t.equal((store as unknown as { checkpointer: unknown }).checkpointer, undefined, 'no checkpoint thread was started');
  await store.insertJobs([newJob()]);
  t.equal((store as unknown as { checkpointer: unknown }).checkpointer, undefined, 'nor by a write');
  await store.close();
});
