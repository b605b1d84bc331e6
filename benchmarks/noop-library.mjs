// (a) No-op throughput, library mode: 20,000 `chat` jobs through the zero-latency mock.
import { join } from 'node:path';
import { createEngine } from '../dist/index.js';
import { allFinished, chat, freshDir, report } from './lib.mjs';

const N = Number(process.env.BENCH_JOBS ?? 20_000);
const engine = await createEngine({ database: join(freshDir(), 'jobs.db'), threads: 2, concurrency: 256 });
await engine.start();
const all = allFinished(engine, N);

const t0 = performance.now();
for (let i = 0; i < N; i += 1000) {
  await engine.submitMany(Array.from({ length: Math.min(1000, N - i) }, (_, k) => chat(i + k)));
}
const enqueued = performance.now();
await all;
const t1 = performance.now();
const stats = await engine.stats();
await engine.stop();
report({ jobs: N, completed: stats.completed, seconds: (t1 - t0) / 1000, jobsPerSec: N / ((t1 - t0) / 1000), enqueueMs: enqueued - t0 });
