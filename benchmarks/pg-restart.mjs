// How fast work resumes after PostgreSQL restarts: one engine on a PostgreSQL server of the
// benchmark's own (initdb and pg_ctl on a free port; as root, run as the postgres user), with
// jobs flowing; the server is stopped (`pg_ctl stop -m fast`), kept down 2 s, and started again,
// `restarts` times. Measured: from `pg_ctl start` returning (the server accepts connections) to the
// first job claimed after it. Median and max.
//   npm run build && node benchmarks/pg-restart.mjs [restarts=5]
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../dist/index.js';
import { freePort, machine, median } from './lib.mjs';

const RESTARTS = Number(process.argv[2] ?? 5);
const root = '/usr/lib/postgresql';
const bin = process.env.PG_BIN ?? join(root, readdirSync(root).sort((a, b) => Number(b) - Number(a))[0], 'bin');
const asRoot = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), 'switchyard-pg-restart-'));
if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'])), Number(execFileSync('id', ['-g', 'postgres'])));
const pg = (cmd, args) =>
  asRoot ? execFileSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : execFileSync(join(bin, cmd), args);
const port = await freePort();
const data = join(dir, 'data');
pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
const ctl = (...args) => pg('pg_ctl', ['-D', data, '-l', join(dir, 'log'), ...args]);
const start = () => ctl('-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, '-w', '-t', '120', 'start');
process.on('exit', () => {
  if (existsSync(data)) ctl('-m', 'immediate', '-w', 'stop');
  rmSync(dir, { recursive: true, force: true });
});
start();

const engine = await createEngine({
  database: `postgres://postgres@127.0.0.1:${port}/postgres`,
  concurrency: 16,
  threads: 1,
  leaseMs: 5000,
});
await engine.providers.update('mock', { options: { latencyMs: 5 } });
await engine.start();
let completed = 0;
let refused = 0;
engine.on('job:completed', () => completed++);
engine.on('engine:error', () => {});
let stopped = false;
const producer = (async () => {
  for (let i = 0; !stopped; i++) {
    await engine.submit({ input: { messages: [{ role: 'user', content: `restart benchmark ${i}` }] } }).catch(() => refused++);
    await new Promise((r) => setTimeout(r, 5));
  }
})();
const until = async (cond) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
};

const gaps = [];
for (let i = 0; i < RESTARTS; i++) {
  await until(() => completed >= (i + 1) * 200);
  ctl('-m', 'fast', '-w', 'stop');
  await new Promise((r) => setTimeout(r, 2000));
  start();
  const back = performance.now();
  const firstClaim = await new Promise((resolve) => engine.once('job:started', () => resolve(performance.now())));
  gaps.push(firstClaim - back);
  process.stderr.write(`restart ${i + 1}: first claim ${Math.round(firstClaim - back)} ms after PostgreSQL was back\n`);
}
stopped = true;
await producer;
await engine.stop();
const m = machine();
console.log(`\nPostgreSQL restart → first claim, ${RESTARTS} restarts (${m.cpu}, ${m.cores} cores, Node ${m.node})\n`);
console.log('| restarts | median | max | jobs completed | submits refused while down |');
console.log('|---|---|---|---|---|');
console.log(`| ${RESTARTS} | ${Math.round(median(gaps))} ms | ${Math.round(Math.max(...gaps))} ms | ${completed} | ${refused} |`);
console.log(
  JSON.stringify({
    restarts: RESTARTS,
    gapsMs: gaps.map(Math.round),
    medianMs: Math.round(median(gaps)),
    maxMs: Math.round(Math.max(...gaps)),
  }),
);
process.exit(0);
