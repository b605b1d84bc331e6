// /v1/stats, /v1/usage and what the web console reads, with 1,000,000 jobs (and as many usage rows)
// in the database. With `postgres` as an argument, the same database is also copied into
// PostgreSQL (`switchyard migrate`, timed; BENCH_PG_URL, default the local server) and measured
// there, side by side.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { createEngine, createServer } from '../dist/index.js';
import { Tallies } from '../dist/store/tallies.js';
import { copySqliteToPostgres } from '../dist/store/postgres/copy.js';
import pg from 'pg';
import { freshDir, machine } from './lib.mjs';

const N = Number(process.env.BENCH_JOBS ?? 1_000_000);
const database = join(freshDir(), 'big.db');
const KEY = 'stats-bench-key-0123456789';

// Create the schema, then fill it in large transactions straight through SQLite (the fastest way
// to a million rows; the engine's triggers keep the counters as they would in service).
(await createEngine({ database, seedProviders: false })).stop();
const db = new Database(database);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = OFF');
const now = Date.now();
const insJob =
  db.prepare(`INSERT INTO jobs (id, type, status, priority, attempt, max_attempts, timeout_ms, input, output, run_at, created_at,
  started_at, finished_at, duration_ms, queue_wait_ms, provider, metadata) VALUES (?, ?, ?, 0, 1, 3, 120000, '{"messages":[]}', NULL, ?, ?, ?, ?, ?, ?, ?, ?)`);
const insUsage = db.prepare(`INSERT INTO usage (job_id, job_type, attempt, provider, model, outcome, error_code, latency_ms, input_tokens,
  output_tokens, cost_usd, created_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
const statuses = [
  'completed',
  'completed',
  'completed',
  'completed',
  'completed',
  'completed',
  'completed',
  'failed',
  'cancelled',
  'queued',
];
const types = ['chat', 'summarise', 'classify', 'extract'];
const providers = [
  ['openai', 'gpt-4o-mini'],
  ['anthropic', 'claude-3-5-haiku'],
  ['groq', 'llama-3.1-8b'],
];
const t0 = performance.now();
for (let i = 0; i < N; i += 10_000) {
  db.transaction(() => {
    for (let k = i; k < Math.min(N, i + 10_000); k++) {
      const status = statuses[k % 10];
      const type = types[k % 4];
      // Created in insertion order, as the store numbers them, spread over the week.
      const created = now - 7 * 86_400_000 + Math.floor((k * 7 * 86_400_000) / N);
      const done = status !== 'queued';
      const dur = 200 + Math.floor(Math.random() * 3000);
      insJob.run(
        `job-${k}`,
        type,
        status,
        created,
        created,
        done ? created + 10 : null,
        done ? created + 10 + dur : null,
        done ? dur : null,
        done ? 10 : null,
        done ? providers[k % 3][0] : null,
        `{"customer":"c${k % 1000}"}`,
      );
      if (done) {
        const [p, m] = providers[k % 3];
        const err = status === 'failed';
        insUsage.run(
          `job-${k}`,
          type,
          p,
          m,
          err ? 'error' : 'ok',
          err ? 'SWY_PROVIDER_SERVER' : null,
          dur,
          500,
          err ? 0 : 150,
          err ? 0 : 0.0001,
          created + 10 + dur,
        );
      }
    }
  })();
}
const fillSeconds = (performance.now() - t0) / 1000;
db.pragma('wal_checkpoint(TRUNCATE)');
// Rows written by hand bypass the store's counters: rebuild them from the rows, as an operator would.
Tallies.rebuild(db);
db.close();

/** The requests, timed over HTTP against a server on `engineOpts`; each `[label, runs, path]`. */
async function measure(engineOpts) {
  const engine = await createEngine({ ...engineOpts, threads: 1 });
  const app = await createServer(engine, { apiKey: KEY, rateLimit: { perIp: 0 } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${app.server.address().port}`;
  const timeIt = async (path, runs) => {
    const ms = [];
    let body;
    for (let i = 0; i < runs; i++) {
      const s = performance.now();
      const res = await request(base + path, { headers: { authorization: `Bearer ${KEY}` } });
      body = path === '/metrics' ? await res.body.text() : await res.body.json();
      ms.push(performance.now() - s);
    }
    ms.sort((a, b) => a - b);
    return { p50: ms[Math.floor(runs * 0.5)], p99: ms[Math.min(runs - 1, Math.floor(runs * 0.99))], body };
  };
  const out = new Map();
  const time = async (label, path, runs, note = () => '') => {
    const r = await timeIt(path, runs);
    out.set(label, { ...r, runs, note: note(r.body) });
    return r;
  };
  const day = new Date(now - 86_400_000).toISOString();
  const calls = (b) => b.data.reduce((s, r) => s + r.calls, 0).toLocaleString('en-US');
  await time('`GET /v1/stats`', '/v1/stats', 200, (b) => ` (total ${b.total.toLocaleString('en-US')})`);
  await time('`GET /metrics` (a Prometheus scrape)', '/metrics', 100);
  await time(
    '`GET /v1/usage?groupBy=provider,model`, last 24 h',
    `/v1/usage?from=${day}&groupBy=provider,model`,
    20,
    (b) => ` (${calls(b)} calls)`,
  );
  // What the web console asks for: the overview (stats and providers), the jobs page (the newest
  // 50, filtered or not), and one job's detail. Target: each within 100 ms on the server.
  await time('console overview: `GET /v1/providers` (with `/v1/stats` above)', '/v1/providers', 100);
  const first = await time('console jobs page: `GET /v1/jobs?limit=50`', '/v1/jobs?limit=50', 100);
  await time('… `?status=failed`', '/v1/jobs?status=failed&limit=50', 100);
  await time('… `?type=summarise`', '/v1/jobs?type=summarise&limit=50', 100);
  await time('… the next page (keyset cursor)', `/v1/jobs?limit=50&cursor=${first.body.nextCursor}`, 100);
  // The filters no index serves: a page examines at most 10,000 jobs.
  await time('… `?provider=groq` (a third of the jobs)', '/v1/jobs?provider=groq&limit=50', 100);
  await time(
    '… `?metadata=customer=c7` (1 job in 1,000)',
    '/v1/jobs?metadata=customer%3Dc7&limit=50',
    100,
    (b) => `, ${b.data.length} on the page`,
  );
  await time('… `?metadata=customer=nobody` (no match: the whole 10,000-job stretch)', '/v1/jobs?metadata=customer%3Dnobody&limit=50', 100);
  const hourAgo = (h) => new Date(now - h * 3_600_000).toISOString();
  await time(
    '… `?from=&to=`, one hour two days ago',
    `/v1/jobs?from=${hourAgo(49)}&to=${hourAgo(48)}&limit=50`,
    100,
    (b) => `, ${b.data.length} on the page`,
  );
  await time('console job detail: `GET /v1/jobs/:id`', `/v1/jobs/job-${Math.floor(N / 2)}`, 100);
  await time(
    '`GET /v1/usage?groupBy=day`, 7 days',
    `/v1/usage?from=${new Date(now - 7 * 86_400_000).toISOString()}&groupBy=day`,
    5,
    (b) => ` (${calls(b)} calls)`,
  );
  await app.close();
  await engine.stop();
  return out;
}

const stores = [['SQLite', await measure({ database })]];
let copyNote = '';
if (process.argv.includes('postgres')) {
  const url = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `swy_bench_scale_${process.pid}`;
  const c0 = performance.now();
  const report = await copySqliteToPostgres(database, url, { schema });
  const copySeconds = (performance.now() - c0) / 1000;
  copyNote = ` Copied into PostgreSQL 15 (same machine) with \`switchyard migrate\` in ${copySeconds.toFixed(0)} s (${report.tables.jobs.toLocaleString('en-US')} jobs, ${report.tables.usage.toLocaleString('en-US')} usage rows), then \`ANALYZE\`d.`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`SET search_path = ${schema}; ANALYZE`);
  try {
    stores.push(['PostgreSQL', await measure({ database: url, databaseSchema: schema })]);
  } finally {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}

const m = machine();
const f = (x) => x.toFixed(1);
const [, base] = stores[0];
const table = [
  `### ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — stats and usage at scale (benchmarks/stats-at-scale.mjs${stores.length > 1 ? ' postgres' : ''})`,
  '',
  `Machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}. ${N.toLocaleString('en-US')} jobs and one usage row per finished job, spread over 7 days (filled in ${fillSeconds.toFixed(0)} s); requests over HTTP on 127.0.0.1, one at a time.${copyNote}`,
  '',
  `| request | ${stores.map(([name]) => `${name} p50 | ${name} p99`).join(' | ')} | runs |`,
  `|---|${stores.map(() => '---|---|').join('')}---|`,
  ...[...base.keys()].map((label) => {
    const cells = stores.map(([, r]) => `${f(r.get(label).p50)} ms | ${f(r.get(label).p99)} ms`).join(' | ');
    return `| ${label}${base.get(label).note} | ${cells} | ${base.get(label).runs} |`;
  }),
  '',
].join('\n');
process.stdout.write(`\n${table}\n`);
appendFileSync(new URL('RESULTS.md', import.meta.url), `\n${table}`);
