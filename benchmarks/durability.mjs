// The long kill test: 50,000 jobs submitted over HTTP while the server is killed with SIGKILL 20
// times and restarted on the same database; then throughput with SWITCHYARD_SYNC=normal vs full.
// Records jobs lost, duplicate completions, recovery time per restart, and jobs/s per sync mode.
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createEngine } from '../dist/index.js';
import { allFinished, chat, freshDir, machine, median } from './lib.mjs';

const JOBS = Number(process.env.BENCH_JOBS ?? 50_000);
const KILLS = Number(process.env.BENCH_KILLS ?? 20);
const KEY = 'durability-key-0123456789';
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const dir = freshDir();
const db = join(dir, 'jobs.db');
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

function start() {
  const spawnedAt = performance.now();
  const proc = spawn(process.execPath, [cli, 'serve'], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      SWITCHYARD_API_KEY: KEY,
      SWITCHYARD_DB: db,
      SWITCHYARD_LEASE_MS: '1000',
      SWITCHYARD_THREADS: '2',
      SWITCHYARD_RATE_LIMIT_IP: '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((r) => proc.on('exit', r));
  const url = new Promise((resolve, reject) => {
    let buf = '';
    proc.stdout.on('data', (d) => {
      buf += d;
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(buf);
      if (m) resolve(m[1]);
    });
    void exited.then(() => reject(new Error('server exited before listening')));
  });
  return { proc, exited, url, spawnedAt };
}

async function stats(url) {
  const r = await fetch(`${url}/v1/stats`, { headers });
  return r.json();
}

// --- the kill run ---
const accepted = new Set();
let next = 0;
let server = start();
let url = await server.url;
await fetch(`${url}/v1/providers/mock`, { method: 'PATCH', headers, body: JSON.stringify({ options: { latencyMs: 20, jitterMs: 20 } }) });
const recoveries = [];
const t0 = performance.now();

async function submitLoop(getUrl) {
  while (next < JOBS) {
    const from = next;
    next = Math.min(JOBS, next + 100);
    const jobs = Array.from({ length: next - from }, (_, k) => ({ ...chat(from + k), maxAttempts: 10 }));
    for (;;) {
      try {
        const r = await fetch(`${getUrl()}/v1/jobs/batch`, { method: 'POST', headers, body: JSON.stringify({ jobs }) });
        if (r.status === 201) {
          for (const j of (await r.json()).jobs) accepted.add(j.id);
          break;
        }
      } catch {
        /* the server is down: try again */
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
const submitting = Promise.all(Array.from({ length: 4 }, () => submitLoop(() => url)));

for (let k = 0; k < KILLS; k++) {
  await new Promise((r) => setTimeout(r, 500 + Math.random() * 1000));
  server.proc.kill('SIGKILL');
  await server.exited;
  server = start();
  url = await server.url;
  const base = (await stats(url)).completed;
  for (;;) {
    const s = await stats(url);
    if (s.completed > base) {
      recoveries.push(performance.now() - server.spawnedAt);
      break;
    }
    if (s.queued === 0 && s.running === 0) break; // nothing left to recover
    await new Promise((r) => setTimeout(r, 10));
  }
}
await submitting;
for (;;) {
  const s = await stats(url);
  if (s.queued === 0 && s.running === 0) break;
  await new Promise((r) => setTimeout(r, 100));
}
const killSeconds = (performance.now() - t0) / 1000;
server.proc.kill('SIGTERM');
await server.exited;

const check = new Database(db, { readonly: true });
const rows = new Map(
  check
    .prepare('SELECT id, status FROM jobs')
    .all()
    .map((r) => [r.id, r.status]),
);
const lost = [...accepted].filter((id) => !rows.has(id)).length;
const failed = [...accepted].filter((id) => rows.get(id) === 'failed').length;
const notTerminal = [...accepted].filter((id) => !['completed', 'failed'].includes(rows.get(id))).length;
// The completing attempt has no row (it is the job's own): any other record of a completion, or of
// another end for that same attempt, is a second outcome.
const duplicates = check
  .prepare(`SELECT count(*) AS n FROM jobs j WHERE j.status = 'completed' AND EXISTS (SELECT 1 FROM attempts a
  WHERE a.job_id = j.id AND (a.outcome = 'completed' OR (a.number = j.attempt AND a.outcome NOT IN ('released', 'deferred'))))`)
  .get().n;
const interrupted = check.prepare(`SELECT count(*) AS n FROM attempts WHERE outcome = 'lease_expired'`).get().n;
const integrity = check.pragma('integrity_check', { simple: true });
check.close();

// --- throughput, normal vs full ---
async function throughput(sync) {
  const engine = await createEngine({ database: join(freshDir(), `${sync}.db`), sync, threads: 2, concurrency: 256 });
  await engine.start();
  const N = 10_000;
  const all = allFinished(engine, N);
  const started = performance.now();
  let i = 0;
  // 64 submitters, one awaited submit at a time each: many small commits, the case group commit is for.
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (i < N) await engine.submit(chat(i++));
    }),
  );
  await all;
  const s = (performance.now() - started) / 1000;
  await engine.stop();
  return N / s;
}
const modes = {};
for (const sync of ['normal', 'full']) modes[sync] = median([await throughput(sync), await throughput(sync), await throughput(sync)]);

const m = machine();
const table = [
  `### ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — durability (benchmarks/durability.mjs)`,
  '',
  `Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, Node ${m.node}; ${m.versions}.`,
  `Kill run: ${JOBS.toLocaleString('en-US')} jobs submitted over HTTP in batches of 100 (maxAttempts 10), mock 20–40 ms, lease 1 s, ${KILLS} SIGKILLs 0.5–1.5 s apart, ${killSeconds.toFixed(1)} s in all. Recovery = process spawn → its first completed job.`,
  '',
  '| measure | value |',
  '|---|---|',
  `| jobs acknowledged (201) | ${accepted.size.toLocaleString('en-US')} |`,
  `| jobs lost | **${lost}** |`,
  `| duplicate completions | **${duplicates}** |`,
  `| acknowledged but not terminal at the end | ${notTerminal} |`,
  `| failed (every attempt lost to a kill) | ${failed} |`,
  `| attempts interrupted by kills (lease expired, retried) | ${interrupted.toLocaleString('en-US')} |`,
  `| integrity_check | ${integrity} |`,
  `| recovery after restart, median / max | ${median(recoveries).toFixed(0)} ms / ${Math.max(...recoveries).toFixed(0)} ms |`,
  `| throughput, SWITCHYARD_SYNC=normal (10,000 jobs, 64 awaited submitters, median of 3) | ${Math.round(modes.normal).toLocaleString('en-US')} jobs/s |`,
  `| throughput, SWITCHYARD_SYNC=full (same) | ${Math.round(modes.full).toLocaleString('en-US')} jobs/s (${(modes.full / modes.normal).toFixed(2)}× normal) |`,
  '',
].join('\n');
process.stdout.write(`\n${table}\n`);
appendFileSync(new URL('RESULTS.md', import.meta.url), `\n${table}`);
if (lost > 0 || duplicates > 0 || notTerminal > 0 || integrity !== 'ok') process.exit(1);
