// What SQLite itself allows on this machine for Switchyard's write sets, with no engine around them:
// the floor under each scenario. Part of `npm run bench`; alone: `node benchmarks/systems/floor.mjs [n]`
// after `npm run build`.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createEngine } from '../../dist/index.js';
import { freshDir, median, report } from '../lib.mjs';

const N = Number(process.argv[2] ?? 20_000);
const RUNS = 3;

/** A database with Switchyard's schema (migrated by the engine itself), opened with its pragmas. */
const dir = freshDir();
let dbs = 0;
async function schemaDb(checkpoint = 1000) {
  const path = join(dir, `floor-${dbs++}.db`);
  const engine = await createEngine({ database: path });
  await engine.stop();
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma(`wal_autocheckpoint = ${checkpoint}`);
  return db;
}

/**
 * Drops what only listing needs, and rebuilds jobs so that rows without an idempotency key skip its
 * index. The status index also serves the lease sweep, so a lease index stands in for it here.
 */
async function lean(db) {
  db.exec(`DROP INDEX jobs_status; DROP INDEX jobs_type; DROP INDEX jobs_tenant;`);
  const ddl = db.prepare(`SELECT sql FROM sqlite_master WHERE name = 'jobs'`).pluck().get();
  db.pragma('foreign_keys = OFF');
  db.exec(`ALTER TABLE jobs RENAME TO jobs_old;
    ${ddl.replace(/,\s*UNIQUE \(tenant, idempotency_key\)/, '')};
    DROP TABLE jobs_old;
    CREATE UNIQUE INDEX jobs_idem ON jobs (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;
    CREATE INDEX jobs_claim ON jobs (tenant, priority DESC, run_at, seq) WHERE status = 'queued';
    CREATE INDEX jobs_due ON jobs (run_at) WHERE status = 'queued';
    CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE status = 'running';`);
  return db;
}

const input = (i) => JSON.stringify({ messages: [{ role: 'user', content: `benchmark job ${i}` }] });
const id = (i) => `01900000-0000-7000-8000-${String(i).padStart(12, '0')}`;
const insertSql = `INSERT INTO jobs (id, tenant, type, status, priority, max_attempts, timeout_ms, input, metadata, run_at, created_at)
  VALUES (?, 'default', 'chat', 'queued', 0, 3, 60000, ?, NULL, ?, ?)`;

function timed(fn) {
  const t0 = performance.now();
  fn();
  return ((performance.now() - t0) * 1000) / N;
}

const cases = {
  /** The reference: a one-row transaction on a table with its primary key only. */
  async 'one-row commit, bare table'() {
    const db = await schemaDb();
    db.exec('CREATE TABLE bare (id INTEGER PRIMARY KEY, v TEXT)');
    const ins = db.prepare('INSERT INTO bare (v) VALUES (?)');
    const tx = db.transaction((i) => ins.run(input(i)));
    return timed(() => {
      for (let i = 0; i < N; i++) tx.immediate(i);
    });
  },
  /** (a, one by one) A submit's row in the jobs table with its indexes, one commit each. */
  async 'one job insert per commit'() {
    const db = await schemaDb();
    const ins = db.prepare(insertSql);
    const tx = db.transaction((i) => ins.run(id(i), input(i), Date.now(), Date.now()));
    return timed(() => {
      for (let i = 0; i < N; i++) tx.immediate(i);
    });
  },
  /** The same without the listing indexes (status, type, tenant) and with the idempotency index partial. */
  async 'one job insert per commit, lean indexes'() {
    const db = await lean(await schemaDb());
    const ins = db.prepare(insertSql);
    const tx = db.transaction((i) => ins.run(id(i), input(i), Date.now(), Date.now()));
    return timed(() => {
      for (let i = 0; i < N; i++) tx.immediate(i);
    });
  },
  async 'one job insert per commit, no checkpoints'() {
    const db = await schemaDb(0);
    const ins = db.prepare(insertSql);
    const tx = db.transaction((i) => ins.run(id(i), input(i), Date.now(), Date.now()));
    return timed(() => {
      for (let i = 0; i < N; i++) tx.immediate(i);
    });
  },
  /** (a, bulk) 1,000 job rows per commit. */
  async 'job inserts, 1,000 per commit'() {
    const db = await schemaDb();
    const ins = db.prepare(insertSql);
    const tx = db.transaction((from) => {
      for (let i = from; i < from + 1000; i++) ins.run(id(i), input(i), Date.now(), Date.now());
    });
    return timed(() => {
      for (let i = 0; i < N; i += 1000) tx.immediate(i);
    });
  },
  /** (b) A completed job's processing writes (claim, outcome, usage row), 64 jobs per commit. */
  async 'claim + outcome + usage, 64 per commit'() {
    return processing({ usage: true });
  },
  /** The same with an attempt row too, as written for an attempt that does not complete its job. */
  async 'claim + outcome + usage + attempt, 64 per commit'() {
    return processing({ usage: true, attempt: true });
  },
  /** Without the accounting rows: what a queue that keeps no usage or attempt history writes. */
  async 'claim + outcome only, 64 per commit'() {
    return processing({});
  },
  /**
   * (e) What must follow each provider answer (outcome, usage row; claims done beforehand): none
   * of it can start before the first answer, so N of these bound how soon N concurrent calls can
   * all be recorded after one latency.
   */
  async 'outcome + usage, 64 per commit'() {
    return processing({ usage: true, finishOnly: true });
  },
};

/** The statements in their cheapest form (by key, nothing read back), so this is a floor. */
async function processing({ usage: withUsage = false, attempt: withAttempt = false, finishOnly = false }) {
  const db = await schemaDb();
  const ins = db.prepare(insertSql);
  db.transaction(() => {
    for (let i = 0; i < N; i++) ins.run(id(i), input(i), 0, 0);
  })();
  const claim = db.prepare(`UPDATE jobs SET status = 'running', attempt = 1, lease_owner = 'me', lease_token = ?,
    lease_expires_at = ?, started_at = ?, queue_wait_ms = 0 WHERE seq = ?`);
  const done = db.prepare(`UPDATE jobs SET status = 'completed', output = ?, error = NULL, provider = 'mock', model = 'mock-1',
    finished_at = ?, duration_ms = 0, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL,
    input_tokens = input_tokens + 12, output_tokens = output_tokens + 8 WHERE seq = ? AND lease_token = ?`);
  const usage = db.prepare(`INSERT INTO usage (job_id, job_type, tenant, attempt, provider, model, outcome, error_code, latency_ms,
    input_tokens, output_tokens, cost_usd, created_at) VALUES (?, 'chat', 'default', 1, 'mock', 'mock-1', 'ok', NULL, 0, 12, 8, 0, ?)`);
  const attempt = db.prepare(`INSERT INTO attempts (job_id, number, lease_token, owner, started_at, finished_at, outcome,
    error_code, error_message, provider) VALUES (?, 1, ?, 'me', ?, ?, 'completed', NULL, NULL, 'mock')`);
  const output = JSON.stringify({ text: 'mock answer', finishReason: 'stop', model: 'mock-1', provider: 'mock' });
  if (finishOnly) {
    const now = Date.now();
    db.transaction(() => {
      for (let seq = 1; seq <= N; seq++) claim.run(`t${seq}`, now + 60_000, now, seq);
    })();
  }
  const tx = db.transaction((from) => {
    const now = Date.now();
    for (let seq = from; seq < from + 64 && seq <= N; seq++) {
      const token = `t${seq}`;
      if (!finishOnly) claim.run(token, now + 60_000, now, seq);
      done.run(output, now, seq, token);
      if (withUsage) usage.run(id(seq - 1), now);
      if (withAttempt) attempt.run(id(seq - 1), token, now, now);
    }
  });
  return timed(() => {
    for (let seq = 1; seq <= N; seq += 64) tx.immediate(seq);
  });
}

const rows = [];
for (const [name, run] of Object.entries(cases)) {
  const us = [];
  for (let r = 0; r < RUNS; r++) us.push(await run());
  rows.push({ name, usPerJob: median(us), jobsPerSec: 1e6 / median(us) });
}
console.table(rows);
report({ system: 'sqlite', scenario: 'floor', jobs: N, rows });
process.exit(0);
