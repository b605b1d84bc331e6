/** The scheduler's wake-ups: a job that falls due while a claim is in progress is not left for the heartbeat. */
import { join } from 'node:path';
import t from 'tap';
import { Engine } from '../src/engine.js';
import { resolveEngineConfig } from '../src/config.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { newJob, tempDir } from './helpers/engine.js';

t.test('a job due a moment after a claim began is claimed when it falls due, not at the next heartbeat', async (t) => {
  const database = join(tempDir(t), 'jobs.db');
  const store = new SqliteStore({ path: database });
  // The real claim, then a job due 2 ms later is written, and the claim returns only once that job
  // is due: as when a retry's runAt falls due while a slow claim commits.
  const claim = store.claimJobs.bind(store);
  let inserted!: () => void;
  const ready = new Promise<void>((resolve) => (inserted = resolve));
  let once = true;
  store.claimJobs = async (...args) => {
    const claimed = await claim(...args);
    if (once) {
      once = false;
      const runAt = Date.now() + 2;
      await store.insertJobs([newJob({ id: 'due-soon', runAt })]);
      while (Date.now() <= runAt) await new Promise((r) => setImmediate(r));
      inserted();
    }
    return claimed;
  };
  // A heartbeat an hour apart: only a timer armed for the job can start it in this test's lifetime.
  const engine = new Engine(resolveEngineConfig({ database, threads: 1, leaseMs: 3_600_000 }), store);
  await engine.init();
  t.teardown(() => engine.stop());
  await engine.start();
  await ready;
  const done = await engine.wait('due-soon', { timeoutMs: 3_600_000 });
  t.equal(done.status, 'completed');
});
