// BullMQ's side of the benchmark suite: a redis-server from Debian's packages, started here on
// 127.0.0.1 with AOF (appendfsync everysec) in a fresh directory and stopped by its pid after.
//   node benchmarks/systems/bullmq.mjs <scenario> [n]
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { freshDir, payload, peakRssMiB, rate, report } from '../lib.mjs';

const [scenario, nArg] = process.argv.slice(2);
const N = Number(nArg);

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const redis = spawn(
  'redis-server',
  [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    freshDir(),
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--save',
    '',
    '--protected-mode',
    'yes',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
await new Promise((resolve, reject) => {
  redis.on('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
  redis.stdout.on('data', (d) => {
    if (String(d).includes('Ready to accept connections')) resolve();
  });
});
// BullMQ 6 in ESM takes constructed clients; each queue and worker gets its own.
const client = () => new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: null });
const connection = client();
const queue = new Queue('bench', { connection });

function worker(concurrency, processor) {
  let done = 0;
  let resolveAll;
  const all = new Promise((r) => (resolveAll = r));
  const w = new Worker('bench', processor, { connection: client(), concurrency, autorun: false });
  w.on('completed', () => {
    if (++done === N) resolveAll();
  });
  return { w, all };
}
const bulk = async (n) => {
  for (let i = 0; i < n; i += 1000)
    await queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ name: 'chat', data: payload(i + k) })));
};

const scenarios = {
  async 'enqueue-one'() {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await queue.add('chat', payload(i));
    return { jobs: N, jobsPerSec: rate(N, performance.now() - t0) };
  },
  async 'enqueue-bulk'() {
    const t0 = performance.now();
    await bulk(N);
    return { jobs: N, jobsPerSec: rate(N, performance.now() - t0) };
  },
  async process() {
    await bulk(N);
    const { w, all } = worker(50, async () => {});
    const t0 = performance.now();
    void w.run();
    await all;
    const ms = performance.now() - t0;
    await w.close();
    return { jobs: N, jobsPerSec: rate(N, ms) };
  },
  async e2e() {
    const { w, all } = worker(50, async () => {});
    void w.run();
    await w.waitUntilReady();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await queue.add('chat', payload(i));
    await all;
    const ms = performance.now() - t0;
    await w.close();
    return { jobs: N, jobsPerSec: rate(N, ms) };
  },
  async timer() {
    await bulk(N);
    const { w, all } = worker(500, () => new Promise((r) => setTimeout(r, 1000)));
    const t0 = performance.now();
    void w.run();
    await all;
    const ms = performance.now() - t0;
    await w.close();
    return { jobs: N, jobsPerSec: rate(N, ms), peakRssMiB: peakRssMiB() };
  },
};

try {
  const run = scenarios[scenario];
  if (!run) throw new Error(`unknown scenario ${scenario}`);
  const result = await run();
  await queue.close();
  report({ system: 'bullmq', scenario, ...result });
} finally {
  redis.kill('SIGTERM');
}
process.exit(0);
