/** Online backups under load, from the engine, over HTTP and from the CLI; and restoring one. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import t from 'tap';
import Database from 'better-sqlite3';
import { createEngine } from '../src/engine.js';
import { API_KEY, chatJob, makeEngine, serve, tempDir } from './helpers/engine.js';
import { ROOT, childEnv, startServer } from './helpers/process.js';

function jobIdsIn(path: string): Set<string> {
  const db = new Database(path, { readonly: true });
  try {
    if (db.pragma('integrity_check', { simple: true }) !== 'ok') throw new Error('backup fails its integrity check');
    return new Set((db.prepare('SELECT id FROM jobs').all() as { id: string }[]).map((r) => r.id));
  } finally {
    db.close();
  }
}

t.test('a backup taken under load holds every job committed before it began; restoring it works', async (t) => {
  // Not started: every job stays queued, so the copy holds work for the restored engine to finish.
  const engine = await makeEngine(t, { threads: 1, start: false });
  const committed: string[] = [];
  let loading = true;
  let reached = () => {};
  const enough = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const load = (async () => {
    for (let i = 0; loading; i++) {
      const jobs = await engine.submitMany(Array.from({ length: 20 }, (_, k) => chatJob(`load ${i}-${k}`)));
      committed.push(...jobs.map((j) => j.id));
      if (committed.length >= 2000) reached();
      await new Promise((r) => setImmediate(r));
    }
  })();
  await enough;
  const before = [...committed];
  const path = join(tempDir(t), 'copy.db');
  const result = await engine.backup(path);
  loading = false;
  await load;
  t.ok(result.pages > 0 && result.bytes > 0);
  t.ok(committed.length > before.length, 'submits kept committing during the backup');
  const held = jobIdsIn(path);
  t.same(
    before.filter((id) => !held.has(id)),
    [],
    `all ${before.length} jobs committed before the backup are in it`,
  );

  // Restore: a new engine on the copy finishes what was queued in it.
  const restored = await createEngine({ database: path, threads: 1 });
  t.teardown(() => restored.stop());
  await restored.start();
  const last = before.at(-1)!;
  t.equal((await restored.wait(before[0]!, { timeoutMs: 120_000 })).status, 'completed');
  t.equal((await restored.wait(last, { timeoutMs: 120_000 })).status, 'completed');
});

t.test('POST /v1/admin/backup writes into the backup directory only', async (t) => {
  const engine = await makeEngine(t, { start: false });
  const api = await serve(t, engine);
  await engine.submit(chatJob('to keep'));
  const named = await api.call('POST', '/v1/admin/backup', { name: 'nightly.db' });
  t.equal(named.status, 201);
  t.equal(named.body.path, join(engine.config.backupDir, 'nightly.db'));
  t.equal(jobIdsIn(named.body.path).size, 1);
  const unnamed = await api.call('POST', '/v1/admin/backup', {});
  t.equal(unnamed.status, 201);
  t.match(unnamed.body.path, /switchyard-.*\.db$/);
  t.equal(dirname(unnamed.body.path), engine.config.backupDir);
  const outside = await api.call('POST', '/v1/admin/backup', { name: '../../etc/evil.db' });
  t.equal(outside.status, 400);
  t.equal(outside.body.error.code, 'SWY_VALIDATION');
  const noKey = await fetch(`${api.url}/v1/admin/backup`, { method: 'POST' });
  t.equal(noKey.status, 401);
});

t.test("switchyard backup copies a live server's database from another process", async (t) => {
  const dir = tempDir(t);
  const db = join(dir, 'live.db');
  const key = API_KEY;
  const server = await startServer(t, process.execPath, [...process.execArgv, join(ROOT, 'src/cli.ts'), 'serve'], {
    SWITCHYARD_DB: db,
    SWITCHYARD_API_KEY: key,
  });
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const ids: string[] = [];
  for (let i = 0; i < 50; i++) {
    const r = await fetch(`${server.url}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify(chatJob(`live ${i}`)) });
    ids.push(((await r.json()) as { id: string }).id);
  }
  let loading = true;
  const load = (async () => {
    while (loading) await fetch(`${server.url}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify(chatJob('more')) });
  })();
  const out = join(dir, 'cli-copy.db');
  const r = spawnSync(process.execPath, [...process.execArgv, join(ROOT, 'src/cli.ts'), 'backup', out, '--db', db], {
    cwd: ROOT,
    env: childEnv({}),
    encoding: 'utf8',
    timeout: 60_000,
  });
  loading = false;
  await load;
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /backed up .* pages/);
  t.ok(existsSync(out));
  const held = jobIdsIn(out);
  t.same(
    ids.filter((id) => !held.has(id)),
    [],
    'every job committed before the backup is in the copy',
  );
  const bad = spawnSync(process.execPath, [...process.execArgv, join(ROOT, 'src/cli.ts'), 'backup'], {
    cwd: ROOT,
    env: childEnv({}),
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(bad.status, 2, 'bad usage');
  t.match(bad.stderr, /usage: switchyard backup <file>/);
  server.proc.kill('SIGTERM');
  t.equal(await server.exited, 0);
});
