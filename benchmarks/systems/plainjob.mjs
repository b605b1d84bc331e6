// plainjob's side of the benchmark suite (SQLite through better-sqlite3), same payloads.
//   node benchmarks/systems/plainjob.mjs <scenario> [n]
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { better, defineQueue, defineWorker } from 'plainjob';
import { freshDir, payload, peakRssMiB, rate, report } from '../lib.mjs';

const [scenario, nArg] = process.argv.slice(2);
const N = Number(nArg);
const silent = { error() {}, warn() {}, info() {}, debug() {} };
const db = new Database(join(freshDir(), 'jobs.db'));
const queue = defineQueue({ connection: better(db), logger: silent });

function workers(count, processor) {
  let done = 0;
  let resolveAll;
  const all = new Promise((r) => (resolveAll = r));
  const ws = Array.from({ length: count }, () =>
    defineWorker('chat', processor, {
      queue,
      logger: silent,
      pollIntervall: 1,
      onCompleted: () => {
        if (++done === N) resolveAll();
      },
    }),
  );
  return { start: () => ws.forEach((w) => void w.start()), stop: () => Promise.all(ws.map((w) => w.stop())), all };
}

const scenarios = {
  async 'enqueue-one'() {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) queue.add('chat', payload(i));
    return { jobs: N, jobsPerSec: rate(N, performance.now() - t0) };
  },
  async 'enqueue-bulk'() {
    const t0 = performance.now();
    for (let i = 0; i < N; i += 1000)
      queue.addMany(
        'chat',
        Array.from({ length: Math.min(1000, N - i) }, (_, k) => payload(i + k)),
      );
    return { jobs: N, jobsPerSec: rate(N, performance.now() - t0) };
  },
  async process() {
    for (let i = 0; i < N; i += 1000)
      queue.addMany(
        'chat',
        Array.from({ length: Math.min(1000, N - i) }, (_, k) => payload(i + k)),
      );
    const w = workers(1, async () => {});
    const t0 = performance.now();
    w.start();
    await w.all;
    const ms = performance.now() - t0;
    await w.stop();
    return { jobs: N, jobsPerSec: rate(N, ms) };
  },
  async e2e() {
    const w = workers(1, async () => {});
    w.start();
    const t0 = performance.now();
    // Adds are synchronous: yield a turn after each so that the worker runs alongside.
    for (let i = 0; i < N; i++) {
      queue.add('chat', payload(i));
      await new Promise((r) => setImmediate(r));
    }
    await w.all;
    const ms = performance.now() - t0;
    await w.stop();
    return { jobs: N, jobsPerSec: rate(N, ms) };
  },
  async timer() {
    for (let i = 0; i < N; i += 1000)
      queue.addMany(
        'chat',
        Array.from({ length: Math.min(1000, N - i) }, (_, k) => payload(i + k)),
      );
    const w = workers(500, () => new Promise((r) => setTimeout(r, 1000)));
    const t0 = performance.now();
    w.start();
    await w.all;
    const ms = performance.now() - t0;
    await w.stop();
    return { jobs: N, jobsPerSec: rate(N, ms), peakRssMiB: peakRssMiB() };
  },
};

const run = scenarios[scenario];
if (!run) throw new Error(`unknown scenario ${scenario}`);
const result = await run();
queue.close();
report({ system: 'plainjob', scenario, ...result });
process.exit(0);
