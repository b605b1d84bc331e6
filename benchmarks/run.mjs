// The benchmark suite: the same scenarios against Switchyard, BullMQ (with a redis-server started
// per run) and plainjob, each run in a fresh process on a fresh store; medians of RUNS runs;
// ratios against the targets. Prints the table, appends it with the machine to RESULTS.md and
// puts it in docs/benchmarks.md.
//   npm run bench        (quick, under 2 minutes)
//   npm run bench:full   (the full sizes, every scenario)
// Then the gateway overhead (benchmarks/gateway.mjs), which records its own table.
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machine, median } from './lib.mjs';

const FULL = process.argv.includes('--full');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const dir = fileURLToPath(new URL('.', import.meta.url));
const versions = () => {
  const v = (name) => JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;
  const redis = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)?.[1] ?? '?';
  return `bullmq ${v('bullmq')} + redis-server ${redis} (AOF everysec), plainjob ${v('plainjob')}`;
};

function run(system, args) {
  const out = execFileSync(process.execPath, [`${dir}systems/${system}.mjs`, ...args.map(String)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 600_000,
  });
  return JSON.parse(out.trim().split('\n').at(-1));
}

const ALL = ['switchyard', 'bullmq', 'plainjob'];
const scenarios = [
  {
    id: 'a',
    name: 'enqueue one by one (awaited), jobs/s',
    scenario: 'enqueue-one',
    n: FULL ? 20_000 : 3000,
    systems: ALL,
    targets: { bullmq: 5 },
  },
  {
    id: 'a',
    name: 'enqueue in bulk (1,000 per call), jobs/s',
    scenario: 'enqueue-bulk',
    n: FULL ? 100_000 : 20_000,
    systems: ALL,
    targets: { bullmq: 10 },
  },
  {
    id: 'b',
    name: 'process 20,000 pre-filled no-op jobs, jobs/s',
    scenario: 'process',
    n: 20_000,
    systems: ALL,
    targets: { bullmq: 1.5, plainjob: 2 },
  },
  {
    id: 'c',
    name: 'end to end: add one by one while processing, jobs/s',
    scenario: 'e2e',
    n: FULL ? 20_000 : 3000,
    systems: ALL,
    targets: { bullmq: 3, plainjob: 1.5 },
  },
  ...(FULL
    ? [
        {
          id: '-',
          name: '2,000 jobs awaiting a 1,000 ms timer, concurrency 500, jobs/s',
          scenario: 'timer',
          n: 2000,
          systems: ALL,
          targets: {},
          extra: 'peakRssMiB',
        },
      ]
    : []),
];

const fmt = (v) => (typeof v !== 'number' ? String(v) : v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2));
const rows = [];
const summary = [];
const medians = {};
for (const s of scenarios) {
  const med = {};
  medians[s.scenario] = med;
  const extra = {};
  for (const system of s.systems) {
    const results = [];
    for (let i = 0; i < RUNS; i++) {
      const r = run(system, [s.scenario, s.n]);
      results.push(r);
      process.stderr.write(`${system} ${s.scenario} run ${i + 1}: ${Math.round(r.jobsPerSec)} jobs/s\n`);
    }
    med[system] = median(results.map((r) => r.jobsPerSec));
    if (s.extra) extra[system] = median(results.map((r) => r[s.extra]));
  }
  const ratios = Object.entries(s.targets).map(([other, want]) => {
    const got = med.switchyard / med[other];
    return `${got.toFixed(2)}× ${other} (target ≥ ${want}×: ${got >= want ? 'met' : 'not met'})`;
  });
  const cell = (sys) => `${fmt(med[sys])}${s.extra ? ` (${fmt(extra[sys])} MiB RSS)` : ''}`;
  rows.push(`| ${s.id} | ${s.name} | ${cell('switchyard')} | ${cell('bullmq')} | ${cell('plainjob')} | ${ratios.join('; ') || '—'} |`);
}

// (e) LLM-bound, (f) restart, (d) HTTP: Switchyard's own targets.
const llm = Array.from({ length: RUNS }, () => run('switchyard', ['llm', 10_000]));
const m = (k) => median(llm.map((r) => r[k]));
summary.push(
  `| e | LLM-bound: 10,000 jobs × 1,000 ms mock, 10,000 in flight | ${fmt(m('jobsPerSec'))} jobs/s = ${(m('ofIdeal') * 100).toFixed(0)} % of ideal (target ≥ 90 %); overhead p50 ${fmt(m('overheadP50Ms'))} ms, p99 ${fmt(m('overheadP99Ms'))} ms (target < 20), counting answers read late ${fmt(m('lateP99Ms'))} ms; peak RSS ${fmt(m('peakRssMiB'))} MiB (target < 512); loop delay p99 ${fmt(m('loopDelayP99Ms'))} ms (target < 50); all started in ${fmt(m('startAllMs'))} ms, answers recorded at ${fmt(m('recordUsPerAnswer'))} µs of event loop each (loop ${(m('recordLoopBusy') * 100).toFixed(0)} % busy) |`,
);
const restart = Array.from({ length: RUNS }, () => run('switchyard', ['restart', 100_000]));
const first = median(restart.map((r) => r.firstClaimMs));
summary.push(
  `| f | restart with 100,000 jobs queued: process start → first job claimed | ${fmt(first)} ms (target < 1,000 ms: ${first < 1000 ? 'met' : 'not met'}) |`,
);
const rates = FULL ? [500, 1000, 2000, 3000] : [1000, 2000];
const http = Array.from({ length: RUNS }, () => run('http', [FULL ? 10 : 2, rates.join(',')]).results);
for (const route of ['POST /v1/jobs', 'GET /v1/jobs/:id']) {
  const cells = rates.map((rate) => {
    const rs = http.map((runResults) => runResults.find((x) => x.route === route && x.rate === rate));
    return { rate, p50: median(rs.map((x) => x.p50)), p99: median(rs.map((x) => x.p99)) };
  });
  const held = cells.filter((c) => c.p99 < 5).map((c) => c.rate);
  const at2k = cells.find((c) => c.rate === 2000);
  summary.push(
    `| d | HTTP \`${route}\` at fixed rates (p50 / p99 ms) | ${cells.map((c) => `${c.rate}/s: ${c.p50.toFixed(1)} / ${c.p99.toFixed(1)}`).join(' · ')}; highest rate with p99 < 5 ms: ${held.length ? `${Math.max(...held)}/s` : 'none tried'} (target: p99 < 5 ms at 2,000/s: ${at2k && at2k.p99 < 5 ? 'met' : 'not met'}) |`,
  );
}

// The floor: what SQLite alone does for the same writes on this machine, against what each target needs.
const floor = run('floor', [20_000]);
const f = Object.fromEntries(floor.rows.map((r) => [r.name, r.jobsPerSec]));
const need = (scenario, targets) => Math.max(...Object.entries(targets).map(([sys, x]) => x * medians[scenario][sys]));
const byTarget = Object.fromEntries(scenarios.map((s) => [s.scenario, need(s.scenario, s.targets)]));
const e2eFloor = 1 / (1 / f['one job insert per commit'] + 1 / f['claim + outcome + usage, 64 per commit']);
const floorRows = [
  ['a', 'one job row per commit (an awaited submit)', f['one job insert per commit'], byTarget['enqueue-one']],
  ['a', 'job rows, 1,000 per commit (bulk submit)', f['job inserts, 1,000 per commit'], byTarget['enqueue-bulk']],
  ['b', 'claim + outcome + usage row (a completed job), 64 jobs per commit', f['claim + outcome + usage, 64 per commit'], byTarget.process],
  [
    'b',
    '… with an attempt row too (as for an attempt that does not complete)',
    f['claim + outcome + usage + attempt, 64 per commit'],
    byTarget.process,
  ],
  ['b', '… without the usage row', f['claim + outcome only, 64 per commit'], byTarget.process],
  ['c', 'a submit commit plus the processing writes, per job', e2eFloor, byTarget.e2e],
  // No answer can be recorded before the first arrives (one latency in), so the whole run takes at
  // least latency + N × (the writes after an answer); ≥ 90 % of ideal leaves 1/0.9 − 1 of a latency for them.
  [
    'e',
    'outcome + usage row (what follows each answer), 64 per commit',
    f['outcome + usage, 64 per commit'],
    10_000 / ((1 / 0.9 - 1) * 1.0),
  ],
].map(
  ([id, what, got, want]) =>
    `| ${id} | ${what} | ${fmt(got)} | ${fmt(want)} | ${got >= want ? 'possible' : 'not reachable: the target is above what SQLite alone does'} |`,
);

const mc = machine();
const stamp = new Date().toISOString().slice(0, 16).replace('T', ' ');
const table = [
  `### ${stamp} UTC — ${FULL ? 'bench:full' : 'bench (quick)'}, switchyard ${mc.switchyard}`,
  '',
  `Machine: ${mc.cpu}, ${mc.cores} cores, ${mc.memGiB} GiB, Node ${mc.node}; ${mc.versions}; ${versions()}. Medians of ${RUNS} runs, each system in a fresh process on a fresh store. Same payload everywhere (a \`chat\` job's input); Switchyard runs it as a \`chat\` job (its built-in handler, the zero-latency mock provider through the router and breaker, a usage row, counters, and an attempt row for any attempt that does not complete its job), BullMQ (concurrency 50) and plainjob (one worker) run a no-op processor.`,
  '',
  '| | scenario | Switchyard | BullMQ | plainjob | Switchyard ÷ others |',
  '|---|---|---|---|---|---|',
  ...rows,
  '',
  '| | scenario | Switchyard |',
  '|---|---|---|',
  ...summary,
  '',
  `SQLite alone, no engine (\`benchmarks/systems/floor.mjs\`, ${floor.jobs.toLocaleString('en-US')} jobs, median of 3): the same rows, indexes and pragmas written by bare prepared statements in their cheapest form, against the rate each target asks for in this run.`,
  '',
  '| | write set | SQLite alone, jobs/s | the target needs, jobs/s | |',
  '|---|---|---|---|---|',
  ...floorRows,
  '',
].join('\n');
process.stdout.write(`\n${table}\n`);
appendFileSync(new URL('./RESULTS.md', import.meta.url), `\n${table}`);
const readme = new URL('../docs/benchmarks.md', import.meta.url);
const text = readFileSync(readme, 'utf8');
const start = '<!-- bench:start -->';
const end = '<!-- bench:end -->';
if (text.includes(start) && text.includes(end)) {
  writeFileSync(readme, `${text.slice(0, text.indexOf(start) + start.length)}\n${table}${text.slice(text.indexOf(end))}`);
}

// The gateway overhead (what a synchronous request through Switchyard adds over calling the
// upstream straight): its own script, which appends its own table.
execFileSync(process.execPath, [`${dir}gateway.mjs`, FULL ? 2000 : 1000, FULL ? 200 : 100].map(String), {
  stdio: 'inherit',
  timeout: 600_000,
});
