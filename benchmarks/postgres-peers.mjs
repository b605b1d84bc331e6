// Switchyard on PostgreSQL against graphile-worker and pg-boss on the same server, in one run: with
// 1 and 2 worker processes, processing pre-filled jobs and end to end (one producer adding jobs one
// by one while the workers run). Each system runs on a fresh schema; rounds alternate the systems;
// medians. Transactions per completed job are counted from pg_stat_database (the whole database, so
// nothing else may use the server meanwhile).
//   npm run build && node benchmarks/postgres-peers.mjs [process-jobs] [e2e-jobs] [rounds]
// (PostgreSQL at TEST_PG_URL, or the local default.) Prints a table and appends it to RESULTS.md.
import { fork } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { commits, cpuSpent, cpuTimes, machine, median, postgresPids } from './lib.mjs';

const PROCESS_JOBS = Number(process.argv[2] ?? 20_000);
const E2E_JOBS = Number(process.argv[3] ?? 5000);
const ROUNDS = Number(process.argv[4] ?? 3);
const URL_ = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SYSTEMS = ['switchyard', 'graphile', 'pgboss'];
const NAMES = { switchyard: 'Switchyard', graphile: 'graphile-worker', pgboss: 'pg-boss' };
const NODE = fileURLToPath(new URL('./systems/pg-node.mjs', import.meta.url));
// The server's CPU time is read from /proc, so only when it runs on this machine.
const LOCAL = postgresPids(URL_).length > 0;
const serverPids = () => postgresPids(URL_);

const admin = new pg.Client({ connectionString: URL_ });
await admin.connect();

/** A node process, with a promise for each kind of message it sends. */
function spawnNode(system, role, schema) {
  const child = fork(NODE, [system, role, URL_, schema], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const waiting = new Map();
  const node = { child, done: 0, onDone: () => {} };
  child.on('message', (m) => {
    if (m.done !== undefined) {
      node.done = m.done;
      node.onDone();
    }
    for (const key of Object.keys(m)) waiting.get(key)?.(m);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  node.next = (key) => new Promise((resolve) => waiting.set(key, resolve));
  node.ask = (msg, key) => {
    const p = node.next(key);
    child.send(msg);
    return p;
  };
  node.stop = async () => {
    if (child.exitCode === null) child.send({ stop: true });
    await exited;
  };
  return node;
}

/** Resolves when the workers together finished n jobs. */
function allDone(workers, n) {
  return new Promise((resolve) => {
    for (const w of workers)
      w.onDone = () => {
        if (workers.reduce((s, x) => s + x.done, 0) >= n) resolve(performance.now());
      };
  });
}

/**
 * Runs `go` and waits until the workers together finished n jobs: the jobs per second, and the CPU
 * per completed job, µs, of `nodes` (the system's processes) and of the PostgreSQL server.
 */
async function timed(workers, nodes, n, go) {
  const all = allDone(workers, n);
  const pids = nodes.map((w) => w.child.pid);
  const cpu0 = { node: cpuTimes(pids), server: cpuTimes(serverPids()) };
  const t0 = performance.now();
  await go();
  const t1 = await all;
  const us = (before, after) => (cpuSpent(before, after) * 1e6) / n;
  return { rate: n / ((t1 - t0) / 1000), nodeUs: us(cpu0.node, cpuTimes(pids)), serverUs: us(cpu0.server, cpuTimes(serverPids())) };
}

let serial = 0;
async function once(system, processes, scenario) {
  const schema = `swy_peer_${system}_${process.pid}_${serial++}`;
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  const producer = spawnNode(system, 'producer', schema);
  await producer.next('ready');
  const n = scenario === 'process' ? PROCESS_JOBS : E2E_JOBS;
  if (scenario === 'process') await producer.ask({ fill: n }, 'filled');
  const workers = Array.from({ length: processes }, () => spawnNode(system, 'worker', schema));
  await Promise.all(workers.map((w) => w.next('ready')));
  const before = await commits(admin);
  const got = await timed(workers, [...workers, producer], n, async () => {
    await Promise.all(workers.map((w) => w.ask({ start: true }, 'started')));
    if (scenario === 'e2e') producer.child.send({ produce: n });
  });
  // Every backend reports its counts to pg_stat_database when idle, within about a second.
  await Promise.all([...workers, producer].map((w) => w.stop()));
  await sleep(1500);
  const perJob = ((await commits(admin)) - before) / n;
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  return { ...got, perJob };
}

/** Switchyard on SQLite in one process with the same pre-filled jobs and settings: the engine with no server at all. */
async function reference() {
  const node = spawnNode('sqlite', 'worker', '');
  await node.next('ready');
  await node.ask({ fill: PROCESS_JOBS }, 'filled');
  const got = await timed([node], [node], PROCESS_JOBS, () => node.ask({ start: true }, 'started'));
  await node.stop();
  return got;
}

const cases = [];
for (const scenario of ['process', 'e2e']) for (const processes of [1, 2]) cases.push({ scenario, processes });
const results = new Map();
const references = [];
for (let r = 0; r < ROUNDS; r++) {
  const ref = await reference();
  process.stderr.write(`process/1/sqlite round ${r + 1}: ${Math.round(ref.rate)} jobs/s, CPU µs per job ${Math.round(ref.nodeUs)}\n`);
  references.push(ref);
  for (const c of cases)
    for (const system of SYSTEMS) {
      const key = `${c.scenario}/${c.processes}/${system}`;
      const got = await once(system, c.processes, c.scenario);
      process.stderr.write(
        `${key} round ${r + 1}: ${Math.round(got.rate)} jobs/s, ${got.perJob.toFixed(3)} transactions per job, CPU µs per job ${Math.round(got.nodeUs)} (Node) + ${Math.round(got.serverUs)} (PostgreSQL)\n`,
      );
      if (!results.has(key)) results.set(key, []);
      results.get(key).push(got);
    }
}
await admin.end();

const med = (key, field) => median(results.get(key).map((x) => x[field]));
const fmt = (v) => Math.round(v).toLocaleString('en-US');
const label = {
  process: `process ${PROCESS_JOBS.toLocaleString('en-US')} pre-filled jobs`,
  e2e: `end to end, ${E2E_JOBS.toLocaleString('en-US')} jobs added one by one`,
};
const target = { process: 1.5, e2e: 1 };
const rows = cases.map(({ scenario, processes }) => {
  const k = (s) => `${scenario}/${processes}/${s}`;
  const ratio = med(k('switchyard'), 'rate') / med(k('graphile'), 'rate');
  const cells = SYSTEMS.map((s) => `${fmt(med(k(s), 'rate'))} (${med(k(s), 'perJob').toFixed(2)})`);
  return `| ${label[scenario]} | ${processes} | ${cells.join(' | ')} | ${ratio.toFixed(2)}× (target ≥ ${target[scenario]}×: ${ratio >= target[scenario] ? 'met' : 'not met'}) |`;
});
// Where the time goes: CPU per completed job in each system's Node processes and in PostgreSQL.
const cpuRows = cases.map(({ scenario, processes }) => {
  const k = (s) => `${scenario}/${processes}/${s}`;
  const cells = SYSTEMS.map((s) => {
    const [node, server] = [med(k(s), 'nodeUs'), med(k(s), 'serverUs')];
    return LOCAL ? `${fmt(node)} + ${fmt(server)} = ${fmt(node + server)}` : `${fmt(node)} + ?`;
  });
  return `| ${label[scenario]} | ${processes} | ${cells.join(' | ')} |`;
});
const ref = { rate: median(references.map((x) => x.rate)), nodeUs: median(references.map((x) => x.nodeUs)) };
const refLine = `For reference, Switchyard on SQLite in one process (the same jobs and settings, no server at all): ${fmt(ref.rate)} jobs/s, ${(ref.rate / med('process/1/graphile', 'rate')).toFixed(2)}× graphile-worker on one process, at ${fmt(ref.nodeUs)} µs of CPU per job.`;
const scaling = SYSTEMS.map((s) => `${NAMES[s]} ${(med(`process/2/${s}`, 'rate') / med(`process/1/${s}`, 'rate')).toFixed(2)}×`).join(', ');
const version = (name) => JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;
const server = await (async () => {
  const c = new pg.Client({ connectionString: URL_ });
  await c.connect();
  const v = (await c.query('SHOW server_version')).rows[0].server_version;
  await c.end();
  return v;
})();
const mc = machine();
const table = [
  `### ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — PostgreSQL side by side: Switchyard, graphile-worker, pg-boss (benchmarks/postgres-peers.mjs)`,
  '',
  `Machine: ${mc.cpu}, ${mc.cores} cores, ${mc.memGiB} GiB, Node ${mc.node}; PostgreSQL ${server} on the same machine (loopback); graphile-worker ${version('graphile-worker')}, pg-boss ${version('pg-boss')}, pg ${version('pg')}. Medians of ${ROUNDS} rounds, systems alternating, each on a fresh schema. Switchyard runs \`chat\` jobs (its built-in handler, the zero-latency mock provider, a usage row and counters per job; concurrency 256, claim batch 128); graphile-worker runs a no-op task with the settings of its performance page (concurrency 24, local queue 500, batched completion); pg-boss runs a no-op handler (4 pollers per process, batches of 100). In brackets: PostgreSQL transactions per completed job (pg_stat_database.xact_commit). 1 → 2 processes: ${scaling}.`,
  '',
  '| scenario | processes | Switchyard, jobs/s | graphile-worker, jobs/s | pg-boss, jobs/s | Switchyard ÷ graphile-worker |',
  '|---|---|---|---|---|---|',
  ...rows,
  '',
  refLine,
  '',
  `CPU per completed job, µs (medians): the system's Node processes (workers and producer) + the PostgreSQL server's processes${LOCAL ? '' : ' (not measured: the server is not on this machine)'}, read from /proc over the timed part of each run.`,
  '',
  '| scenario | processes | Switchyard | graphile-worker | pg-boss |',
  '|---|---|---|---|---|',
  ...cpuRows,
  '',
].join('\n');
console.log(table);
appendFileSync(new URL('./RESULTS.md', import.meta.url), `\n${table}`);
// The latest figures also go into docs/benchmarks.md, between its markers.
const doc = new URL('../docs/benchmarks.md', import.meta.url);
const text = readFileSync(doc, 'utf8');
const [start, end] = ['<!-- peers:start -->', '<!-- peers:end -->'];
if (text.includes(start) && text.includes(end))
  writeFileSync(doc, `${text.slice(0, text.indexOf(start) + start.length)}\n${table}${text.slice(text.indexOf(end))}`);
