/**
 * Opening a SQLite database that cannot be used gives a clear, coded error at start: a file in use
 * by another server process, a directory that cannot be written. A lock left by a killed process
 * is released with it.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createEngine } from '../src/engine.js';
import { tempDir } from './helpers/engine.js';
import { ROOT, startServer } from './helpers/process.js';

const CLI = [...process.execArgv, join(ROOT, 'src/cli.ts'), 'serve'];

t.test('a SQLite file in use by another server process is refused at start, and free again once that process is killed', async (t) => {
  const database = join(tempDir(t), 'jobs.db');
  const other = await startServer(t, process.execPath, CLI, {
    SWITCHYARD_DB: database,
    SWITCHYARD_API_KEY: 'store-open-test-key-0123456789',
  });
  await t.rejects(createEngine({ database, threads: 1 }), {
    code: 'SWY_STORE_UNAVAILABLE',
    message: /is in use by another Switchyard process/,
  });
  other.proc.kill('SIGKILL');
  await other.exited;
  const engine = await createEngine({ database, threads: 1 });
  t.ok(engine.providers.get('mock'), 'the killed process left no lock behind');
  await engine.stop();
});

t.test('a directory that cannot be written gives a coded error that says what to check', async (t) => {
  let database: string;
  if (process.getuid?.() === 0) {
    // root writes anywhere a permission bit forbids; /proc/self is a directory nobody may create files in.
    database = '/proc/self/jobs.db';
  } else {
    const dir = join(tempDir(t), 'read-only');
    mkdirSync(dir);
    chmodSync(dir, 0o555);
    database = join(dir, 'jobs.db');
  }
  await t.rejects(createEngine({ database, threads: 1 }), {
    code: 'SWY_STORE_UNAVAILABLE',
    message: /cannot open the database at .*(check that the directory exists and that this user may write in it|read-only)/,
  });
});
