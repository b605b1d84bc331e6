// Switchyard's side of the benchmark suite: one scenario per process, on a fresh SQLite file.
//   node benchmarks/systems/switchyard.mjs <scenario> [n]
// BENCH_SWITCHYARD_DIST=/path/to/dist/index.js runs another build (benchmarks/compare.mjs uses it).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { allFinished, chat, freshDir, peakRssMiB, rate, report } from '../lib.mjs';

const { createEngine } = await import(process.env.BENCH_SWITCHYARD_DIST ?? '../../dist/index.js');
const [scenario, nArg, dbArg] = process.argv.slice(2);
const N = Number(nArg);
const database = dbArg ?? join(freshDir(), 'jobs.db');
const engineFor = (opts = {}) => createEngine({ database, threads: 2, concurrency: 256, ...opts });

/** CPU time of the whole process (all its threads) per job in the last runAll: steadier than wall time on a shared machine. */
let lastCpuUsPerJob;

/** Start the engine on its pre-filled queue and time until all N jobs finished. */
async function runAll(engine) {
  const all = allFinished(engine, N);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await engine.start();
  await all;
  const cpu = process.cpuUsage(cpu0);
  lastCpuUsPerJob = (cpu.user + cpu.system) / N;
  return performance.now() - t0;
}

async function prefill(engine, n) {
  for (let i = 0; i < n; i += 1000) await engine.submitMany(Array.from({ length: Math.min(1000, n - i) }, (_, k) => chat(i + k)));
}

const scenarios = {
  async 'enqueue-one'() {
    const engine = await engineFor();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await engine.submit(chat(i));
    const ms = performance.now() - t0;
    await engine.stop();
    return { jobs: N, jobsPerSec: rate(N, ms) };
  },
  async 'enqueue-bulk'() {
    const engine = await engineFor();
    const t0 = performance.now();
    await prefill(engine, N);
    const ms = performance.now() - t0;
    await engine.stop();
    return { jobs: N, jobsPerSec: rate(N, ms) };
  },
  async process() {
    const engine = await engineFor();
    await prefill(engine, N);
    const ms = await runAll(engine);
    await engine.stop();
    return { jobs: N, jobsPerSec: rate(N, ms), cpuUsPerJob: lastCpuUsPerJob };
  },
  async e2e() {
    const engine = await engineFor();
    await engine.start();
    const all = allFinished(engine, N);
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await engine.submit(chat(i));
    await all;
    const ms = performance.now() - t0;
    await engine.stop();
    return { jobs: N, jobsPerSec: rate(N, ms) };
  },
  /** N jobs whose provider call takes 1,000 ms, 500 at a time. */
  async timer() {
    const engine = await engineFor({ concurrency: 500 });
    await engine.providers.update('mock', { options: { latencyMs: 1000 } });
    await prefill(engine, N);
    const ms = await runAll(engine);
    await engine.stop();
    return { jobs: N, jobsPerSec: rate(N, ms), peakRssMiB: peakRssMiB() };
  },
  /** (e) N jobs of 1,000 ms each, N allowed in flight: ideal N jobs/s. */
  async llm() {
    const latencyMs = 1000;
    const engine = await engineFor({ concurrency: N });
    // The provider's own cap (default 1,000 calls in flight) would otherwise be the limit.
    await engine.providers.update('mock', { maxConcurrency: N, options: { latencyMs } });
    await prefill(engine, N);
    const all = allFinished(engine, N);
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    // The two phases: starting all N attempts, and recording the answers (from the first answer to
    // the last completion: event-loop time spent per answer, and how busy the loop was).
    let started = 0;
    let allStartedAt = 0;
    let recording;
    engine.on('job:started', () => {
      if (++started === N) allStartedAt = performance.now();
    });
    engine.once('provider:call', () => {
      recording = performance.eventLoopUtilization();
    });
    const t0 = performance.now();
    await engine.start();
    await all;
    const ms = performance.now() - t0;
    const recorded = performance.eventLoopUtilization(recording);
    loop.disable();
    await engine.stop();
    // Engine overhead per job: the attempt's time minus its provider call's time.
    const db = new Database(database, { readonly: true });
    const over = db
      .prepare(`SELECT j.duration_ms - u.latency_ms AS o FROM jobs j JOIN usage u ON u.job_id = j.id ORDER BY o`)
      .pluck()
      .all();
    // Job time minus the mock's nominal latency: also counts an answer the busy loop read late
    // (that wait is inside the measured provider time above).
    const late = db.prepare(`SELECT duration_ms - ? FROM jobs ORDER BY 1`).pluck().all(latencyMs);
    db.close();
    const at = (p, sorted = over) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
    return {
      jobs: N,
      jobsPerSec: rate(N, ms),
      ofIdeal: rate(N, ms) / N,
      overheadP50Ms: at(0.5),
      overheadP99Ms: at(0.99),
      lateP99Ms: at(0.99, late),
      peakRssMiB: peakRssMiB(),
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      startAllMs: allStartedAt - t0,
      recordUsPerAnswer: (recorded.active * 1000) / N,
      recordLoopBusy: recorded.utilization,
    };
  },
  /** (f) Fill N jobs, stop; then a fresh process starts on the file and reports when it claimed its first job. */
  async restart() {
    const engine = await engineFor();
    await prefill(engine, N);
    await engine.stop();
    const out = execFileSync(process.execPath, [new URL(import.meta.url).pathname, 'first-claim', String(N), database], {
      encoding: 'utf8',
    });
    return JSON.parse(out.trim().split('\n').at(-1));
  },
  async 'first-claim'() {
    const engine = await engineFor();
    const first = new Promise((resolve) => engine.once('job:started', () => resolve(performance.now())));
    await engine.start();
    const ms = await first;
    await engine.stop({ timeoutMs: 0 });
    return { jobs: N, firstClaimMs: ms };
  },
};

const run = scenarios[scenario];
if (!run) throw new Error(`unknown scenario ${scenario}`);
report({ system: 'switchyard', scenario, ...(await run()) });
process.exit(0);
