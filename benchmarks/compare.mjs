// A/B of two builds on one scenario, runs interleaved (A, B, A, B, …) so that the shared machine's
// drift hits both alike; prints each run and the medians of jobs/s and, where the scenario reports
// it, CPU µs per job (all threads of the process: steadier than wall time on a noisy box). For `llm`
// also e's tails: the overhead and event-loop delay p99s (median, highest, and runs at or over
// their targets, 20 and 50 ms), since single runs of those scatter widely on a shared box.
//   node benchmarks/compare.mjs <dist A> <dist B> [scenario=process] [n=40000] [runs=5]
// A dist is a built `dist/` directory, e.g. of a `git worktree` at another commit after `npm run build`.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { median } from './lib.mjs';

const [a, b, scenario = 'process', n = '40000', runsArg = '5'] = process.argv.slice(2);
if (!a || !b) {
  console.error('usage: node benchmarks/compare.mjs <dist A> <dist B> [scenario] [n] [runs]');
  process.exit(2);
}
const script = new URL('./systems/switchyard.mjs', import.meta.url).pathname;
const sides = { A: resolve(a, 'index.js'), B: resolve(b, 'index.js') };
const seen = { A: [], B: [] };
for (let r = 0; r < Number(runsArg); r++) {
  for (const [side, dist] of Object.entries(sides)) {
    const out = execFileSync(process.execPath, [script, scenario, n], {
      encoding: 'utf8',
      env: { ...process.env, BENCH_SWITCHYARD_DIST: dist },
    });
    const result = JSON.parse(out.trim().split('\n').at(-1));
    seen[side].push(result);
    console.log(side, JSON.stringify(result));
  }
}
/** Median (highest), and how many runs reached `limit`. */
const tail = (xs, limit) => ({
  spread: `${median(xs).toFixed(0)} (${Math.max(...xs).toFixed(0)})`,
  atOrOver: xs.filter((x) => x >= limit).length,
});
const rows = Object.entries(seen).map(([side, results]) => {
  const row = {
    side,
    dist: sides[side],
    jobsPerSec: Math.round(median(results.map((x) => x.jobsPerSec))),
    cpuUsPerJob: results[0].cpuUsPerJob === undefined ? '—' : median(results.map((x) => x.cpuUsPerJob)).toFixed(1),
  };
  if (results[0].overheadP99Ms === undefined) return row;
  const overhead = tail(
    results.map((x) => x.overheadP99Ms),
    20,
  );
  const loop = tail(
    results.map((x) => x.loopDelayP99Ms),
    50,
  );
  return {
    ...row,
    overheadP99: overhead.spread,
    'runs ≥ 20 ms': overhead.atOrOver,
    loopDelayP99: loop.spread,
    'runs ≥ 50 ms': loop.atOrOver,
  };
});
console.table(rows);
