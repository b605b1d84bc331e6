// Runs every scenario RUNS times, each in a fresh process on a fresh store, prints a table of
// medians and appends it, with the machine, to benchmarks/RESULTS.md.
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machine, median } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const dir = fileURLToPath(new URL('.', import.meta.url));

const scenarios = [
  { file: 'noop-library.mjs', name: 'no-op, library: 20,000 chat jobs, mock 0 ms', cols: { jobsPerSec: 'jobs/s' } },
  { file: 'noop-http.mjs', name: 'no-op, HTTP: 20,000 × POST /v1/jobs (64 in flight), mock 0 ms', cols: { jobsPerSec: 'jobs/s', submitPerSec: 'submits/s', submitP50Ms: 'submit p50 ms', submitP99Ms: 'submit p99 ms' } },
  { file: 'llm-like.mjs', name: 'LLM-like: 5,000 jobs, mock 1,000 ms, concurrency 1,000', cols: { seconds: 'wall s', jobsPerSec: 'jobs/s', ofIdeal: 'of ideal (5 s)', peakRssMiB: 'peak RSS MiB', loopDelayP99Ms: 'loop delay p99 ms' } },
];

const fmt = (v) => (typeof v !== 'number' ? String(v) : v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2));
const rows = [];
for (const s of scenarios) {
  const results = [];
  for (let i = 0; i < RUNS; i++) {
    const out = execFileSync(process.execPath, [dir + s.file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const r = JSON.parse(out.trim().split('\n').at(-1));
    if (r.completed !== r.jobs) throw new Error(`${s.file}: ${r.completed} of ${r.jobs} completed`);
    results.push(r);
    process.stderr.write(`${s.file} run ${i + 1}: ${JSON.stringify(r)}\n`);
  }
  const cells = Object.entries(s.cols).map(([k, label]) => `${label} ${fmt(median(results.map((r) => r[k])))}`);
  rows.push(`| ${s.name} | ${cells.join(' · ')} |`);
}

const m = machine();
const table = [
  `### ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — switchyard ${m.switchyard}`,
  '',
  `Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, Node ${m.node}; ${m.versions}. Medians of ${RUNS} runs, each in a fresh process on a fresh SQLite file (WAL, synchronous=NORMAL), 2 worker threads.`,
  '',
  '| scenario | result (median) |',
  '|---|---|',
  ...rows,
  '',
].join('\n');
process.stdout.write(`\n${table}\n`);
appendFileSync(new URL('RESULTS.md', import.meta.url), `\n${table}`);
