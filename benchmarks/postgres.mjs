// SQLite against PostgreSQL on one process: processing pre-filled chat jobs (the mock provider,
// answering at once), and PostgreSQL transactions per completed job from pg_stat_database.
// `npm run build && node benchmarks/postgres.mjs [jobs] [rounds]` (PostgreSQL at TEST_PG_URL, or
// the local default). Prints a table and appends it to benchmarks/RESULTS.md.
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createEngine } from '../dist/index.js';
import { commits, cpuSpent, cpuTimes, median, postgresPids } from './lib.mjs';

const JOBS = Number(process.argv[2] ?? 20000);
const ROUNDS = Number(process.argv[3] ?? 3);
const PG_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const chat = (i) => ({ input: { messages: [{ role: 'user', content: `job ${i}` }] } });
// The server's CPU time is read from /proc, so only when it runs on this machine.
const LOCAL = postgresPids(PG_URL).length > 0;

async function round(kind) {
  const dir = mkdtempSync(join(tmpdir(), 'swy-bench-'));
  const schema = `swy_bench_${process.pid}_${Date.now()}`;
  const options =
    kind === 'sqlite'
      ? { database: join(dir, 'jobs.db') }
      : { database: PG_URL, databaseSchema: schema, filesDir: join(dir, 'files'), backupDir: join(dir, 'backups') };
  const engine = await createEngine({ ...options, threads: 1, concurrency: 256, claimBatch: 128 });
  for (let i = 0; i < JOBS; i += 1000) await engine.submitMany(Array.from({ length: Math.min(1000, JOBS - i) }, (_, j) => chat(i + j)));
  const admin = kind === 'postgres' ? new pg.Client({ connectionString: PG_URL }) : undefined;
  await admin?.connect();
  const before = admin ? await commits(admin) : 0;
  let done = 0;
  const finished = new Promise((resolve) => engine.on('job:completed', () => ++done === JOBS && resolve()));
  const node0 = process.cpuUsage();
  const server0 = cpuTimes(kind === 'postgres' ? postgresPids(PG_URL) : []);
  const t0 = performance.now();
  await engine.start();
  await finished;
  const ms = performance.now() - t0;
  const node = process.cpuUsage(node0);
  const serverUs = (cpuSpent(server0, cpuTimes(kind === 'postgres' ? postgresPids(PG_URL) : [])) * 1e6) / JOBS;
  const nodeUs = (node.user + node.system) / JOBS;
  // pg_stat_database is updated when a backend reports, at most every 500 ms or so: wait for it.
  let perJob = null;
  if (admin) {
    await engine.stop();
    await new Promise((r) => setTimeout(r, 1500));
    perJob = ((await commits(admin)) - before) / JOBS;
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  } else await engine.stop();
  rmSync(dir, { recursive: true, force: true });
  return { rate: JOBS / (ms / 1000), perJob, nodeUs, serverUs };
}

const results = { sqlite: [], postgres: [] };
for (let r = 0; r < ROUNDS; r++) for (const kind of ['sqlite', 'postgres']) results[kind].push(await round(kind));
const rows = ['sqlite', 'postgres'].map((k) => {
  const rate = Math.round(median(results[k].map((x) => x.rate)));
  const per = k === 'postgres' ? median(results[k].map((x) => x.perJob)).toFixed(3) : '—';
  const nodeUs = Math.round(median(results[k].map((x) => x.nodeUs)));
  const serverUs = k === 'postgres' && LOCAL ? Math.round(median(results[k].map((x) => x.serverUs))) : '—';
  return `| ${k} | ${rate.toLocaleString('en-US')} | ${results[k].map((x) => Math.round(x.rate)).join(', ')} | ${per} | ${nodeUs} | ${serverUs} |`;
});
const table = [
  `### ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — SQLite against PostgreSQL, one process (benchmarks/postgres.mjs)`,
  '',
  `Machine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, Node ${process.version}; PostgreSQL on the same machine (loopback). ${JOBS.toLocaleString('en-US')} pre-filled chat jobs (the mock provider, answering at once), concurrency 256, claim batch 128; rounds alternate. CPU per job: this process (process.cpuUsage) and the PostgreSQL server's processes (/proc), over the timed part, medians.`,
  '',
  '| store | processing, jobs/s (median) | rounds | PostgreSQL transactions per completed job | Node CPU µs per job | PostgreSQL CPU µs per job |',
  '|---|---|---|---|---|---|',
  ...rows,
  '',
].join('\n');
console.log(table);
appendFileSync(new URL('./RESULTS.md', import.meta.url), `\n${table}`);
