/**
 * `switchyard migrate`: a SQLite database with jobs in every state (and their attempts and usage,
 * keys, providers, files and batches) copied into PostgreSQL arrives row for row; an engine then
 * runs on PostgreSQL and finishes what was left queued or running.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import t from 'tap';
import { createEngine } from '../src/index.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { newJob, tempDir } from './helpers/engine.js';
import { freshSchema, PG_URL, requirePostgres } from './helpers/postgres.js';
import { childEnv, ROOT } from './helpers/process.js';

const TABLES = [
  'jobs',
  'attempts',
  'usage',
  'job_counts',
  'usage_hourly',
  'usage_totals',
  'providers',
  'api_keys',
  'files',
  'batches',
  'batch_jobs',
];
const call = {
  provider: 'mock',
  model: 'mock-1',
  outcome: 'ok' as const,
  errorCode: null,
  latencyMs: 40,
  inputTokens: 9,
  outputTokens: 3,
  costUsd: 0.002,
};

t.test('a SQLite database with jobs in every state arrives whole, and the engine runs on PostgreSQL', async (t) => {
  if (!(await requirePostgres(t))) return;
  const file = join(tempDir(t), 'old.db');
  const seeded = await createEngine({ database: file, threads: 1 }); // seeds the mock provider
  await seeded.keys.create({ name: 'tenant-a', scopes: ['jobs:read', 'jobs:write'], dailyTokenBudget: 5000 });
  await seeded.stop();

  const store = new SqliteStore({ path: file });
  const now = Date.now();
  await store.insertJobs([
    newJob({ id: 'done', metadata: { team: 'x' } }),
    newJob({ id: 'broken', maxAttempts: 1 }),
    newJob({ id: 'again' }),
    newJob({ id: 'stopped' }),
    newJob({ id: 'left-running' }),
    newJob({ id: 'waiting', idempotencyKey: 'idem-1', requestHash: 'h' }),
    newJob({ id: 'later', runAt: now + 3_600_000 }),
  ]);
  const claimed = await store.claimJobs('old-server', 5, 1);
  const byId = new Map(claimed.map((c) => [c.job.id, c]));
  const ref = (id: string) => ({ job: byId.get(id)!.job, leaseToken: byId.get(id)!.leaseToken, owner: 'old-server' });
  await store.finishAttempt(ref('done'), { kind: 'completed', output: { text: 'hi' }, provider: 'mock', model: 'mock-1', calls: [call] });
  await store.finishAttempt(ref('broken'), {
    kind: 'failed',
    error: { code: 'SWY_HANDLER_ERROR', message: 'no', retryable: false },
    calls: [{ ...call, outcome: 'error', errorCode: 'SWY_PROVIDER_SERVER' }],
  });
  await store.finishAttempt(ref('again'), {
    kind: 'retry',
    error: { code: 'SWY_PROVIDER_SERVER', message: 'later', retryable: true },
    runAt: now,
    calls: [call],
  });
  await store.cancelJob('stopped');
  t.equal(byId.get('left-running')?.job.status, 'running', 'one job is left running: its process is gone, its lease short');
  await store.batches.insertFile({
    id: 'file-1',
    tenant: 'default',
    purpose: 'batch',
    filename: 'in.jsonl',
    bytes: 12,
    createdAt: now,
    expiresAt: null,
  });
  await store.batches.insertBatch({
    id: 'batch-1',
    tenant: 'default',
    endpoint: '/v1/chat/completions',
    inputFileId: 'file-1',
    completionWindow: '24h',
    status: 'in_progress',
    errors: null,
    outputFileId: null,
    errorFileId: null,
    metadata: null,
    total: 1,
    createdAt: now,
    inProgressAt: now,
    expiresAt: now + 86_400_000,
    finalizingAt: null,
    completedAt: null,
    failedAt: null,
    expiredAt: null,
    cancellingAt: null,
    cancelledAt: null,
    readAttempts: 1,
  });
  await store.batches.linkBatchJobs('batch-1', [{ line: 1, customId: 'c1', jobId: 'waiting' }]);
  await store.close();

  const schema = freshSchema(t);
  const run = promisify(execFile);
  const { stdout } = await run(
    process.execPath,
    [...process.execArgv, join(ROOT, 'src/cli.ts'), 'migrate', file, PG_URL, '--schema', schema],
    {
      cwd: ROOT,
      env: childEnv({}),
    },
  );
  t.match(stdout, /jobs: 7 rows/);
  t.match(stdout, /copied .* into PostgreSQL/);

  const sqlite = new Database(file, { readonly: true });
  t.teardown(() => sqlite.close());
  const admin = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await admin.connect();
  t.teardown(() => admin.end());
  const numeric = (v: unknown) => (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v);
  for (const table of TABLES) {
    const order = sqlite.prepare(`SELECT name FROM pragma_table_info('${table}') ORDER BY cid`).pluck().all() as string[];
    const before = sqlite
      .prepare(`SELECT ${order.join(', ')} FROM ${table} ORDER BY ${order.join(', ')}`)
      .raw(true)
      .all() as unknown[][];
    const after = (await admin.query({ text: `SELECT ${order.join(', ')} FROM ${table} ORDER BY ${order.join(', ')}`, rowMode: 'array' }))
      .rows as unknown[][];
    t.same(
      after.map((r) => r.map(numeric)),
      before,
      `${table}: ${before.length} rows, every column`,
    );
  }
  t.ok((sqlite.prepare('SELECT count(*) FROM usage').pluck().get() as number) > 0, 'usage rows were there to copy');

  const engine = await createEngine({ database: PG_URL, databaseSchema: schema, threads: 1, leaseMs: 1000, retryBaseMs: 10 });
  t.teardown(() => engine.stop());
  t.equal(engine.keys.list()[0]?.name, 'tenant-a', 'keys came along');
  await engine.start();
  for (const id of ['again', 'left-running', 'waiting']) {
    t.equal((await engine.wait(id, { timeoutMs: 60_000 })).status, 'completed', `${id}: finished on PostgreSQL`);
  }
  t.same(
    (await engine.get('left-running')).attempts?.map((a) => a.outcome),
    ['lease_expired', 'completed'],
    "the old process's attempt expired, and a new one ran",
  );
  await t.rejects(
    engine.insert([{ input: newJob().input, idempotencyKey: 'idem-1' }]),
    { code: 'SWY_IDEMPOTENCY_CONFLICT' },
    'idempotency keys still hold (another request with the same key is refused)',
  );
  const fresh = await engine.submit({ input: newJob().input });
  t.equal((await engine.wait(fresh.id, { timeoutMs: 60_000 })).status, 'completed', 'new jobs run, with ids after the copied ones');
  t.match(await engine.stats(), { total: 8, completed: 5, failed: 1, cancelled: 1, queued: 1, scheduled: 1 });
});
