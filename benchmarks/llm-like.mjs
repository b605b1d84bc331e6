// (b) LLM-like: 5,000 jobs whose mock call takes 1,000 ms, at concurrency 1,000.
// Ideal wall time = jobs ÷ concurrency × latency = 5 s.
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createEngine } from '../dist/index.js';
import { allFinished, chat, freshDir, report } from './lib.mjs';

const N = Number(process.env.BENCH_JOBS ?? 5_000);
const CONCURRENCY = 1_000;
const LATENCY = 1_000;
const engine = await createEngine({ database: join(freshDir(), 'jobs.db'), threads: 2, concurrency: CONCURRENCY });
await engine.providers.update('mock', { options: { latencyMs: LATENCY } });
await engine.start();
const all = allFinished(engine, N);
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

const t0 = performance.now();
for (let i = 0; i < N; i += 1000) await engine.submitMany(Array.from({ length: Math.min(1000, N - i) }, (_, k) => chat(i + k)));
await all;
const t1 = performance.now();
loop.disable();
const stats = await engine.stats();
await engine.stop();
const ideal = (N / CONCURRENCY) * (LATENCY / 1000);
report({
  jobs: N, completed: stats.completed, seconds: (t1 - t0) / 1000, jobsPerSec: N / ((t1 - t0) / 1000),
  idealSeconds: ideal, ofIdeal: ideal / ((t1 - t0) / 1000),
  peakRssMiB: process.resourceUsage().maxRSS / 1024, loopDelayP99Ms: loop.percentile(99) / 1e6,
});
