// Soak: a steady mix of traffic at a fixed rate against one server on SQLite (a child process,
// `node dist/cli.js serve`), sampling its RSS (from /proc) and JS heap (from /metrics) every
// few seconds, and reporting the memory's slope over the second half of the run.
//
//   node benchmarks/soak.mjs [minutes=60] [requestsPerSecond=100] [--snapshots]
//
// The mix, per second: 40 % chat completions, 20 % streamed chat completions, 30 % job submits,
// 10 % job listings. With --snapshots, heap snapshots are written (SIGUSR2, --heapsnapshot-signal)
// a quarter and the whole way through, into the run's temp dir, which is then kept and printed.
// Target (issue 30): the RSS slope over the second half within ±20 MiB an hour.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshDir, machine } from './lib.mjs';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const minutes = Number(args[0] ?? 60);
const perSecond = Number(args[1] ?? 100);
const snapshots = process.argv.includes('--snapshots');
const root = fileURLToPath(new URL('..', import.meta.url));
// Snapshots are written to the server's working directory, kept after the run.
const dir = snapshots ? mkdtempSync(join(tmpdir(), 'switchyard-soak-')) : freshDir();
const key = 'soak-benchmark-key-0123456789';

const server = spawn(process.execPath, [...(snapshots ? ['--heapsnapshot-signal=SIGUSR2'] : []), join(root, 'dist/cli.js'), 'serve'], {
  cwd: dir,
  // All the traffic comes from one address: the per-address connection bound (256 by default) is
  // lifted, so that a loaded machine's slower answers do not get connections refused.
  env: {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    SWITCHYARD_DB: join(dir, 'soak.db'),
    SWITCHYARD_API_KEY: key,
    SWITCHYARD_MAX_CONNECTIONS_PER_ADDRESS: '100000',
    SWITCHYARD_MAX_CONNECTIONS: '100000',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise((resolve, reject) => {
  let buf = '';
  server.stdout.on('data', (d) => {
    buf += d;
    const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(buf);
    if (m) resolve(m[1]);
  });
  server.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
});
server.stdout.resume();
const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
// The mock answers after 50 ms, streamed at 200 tokens a second: calls are in flight as with a real model.
await fetch(`${url}/v1/providers/mock`, {
  method: 'PATCH',
  headers,
  body: JSON.stringify({ options: { latencyMs: 50, tokensPerSecond: 200 } }),
});

let seq = 0;
let errors = 0;
let done = 0;
const messages = () => [{ role: 'user', content: `soak request ${seq++}: summarise the quarter in one line.` }];
const kinds = [
  [
    0.4,
    () => fetch(`${url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model: 'mock-1', messages: messages() }) }),
  ],
  [
    0.2,
    () =>
      fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model: 'mock-1', messages: messages(), stream: true }),
      }),
  ],
  [
    0.3,
    () =>
      fetch(`${url}/v1/jobs`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ input: { messages: messages() }, metadata: { soak: 'yes' } }),
      }),
  ],
  [0.1, () => fetch(`${url}/v1/jobs?limit=20`, { headers })],
];
function one() {
  const r = Math.random();
  let acc = 0;
  let send = kinds[0][1];
  for (const [p, kind] of kinds) {
    acc += p;
    if (r < acc) {
      send = kind;
      break;
    }
  }
  send()
    .then(async (res) => {
      await res.text();
      if (res.status >= 400) errors++;
    })
    .catch(() => errors++)
    .finally(() => done++);
}

const rssMiB = () => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
};
const heapMiB = async () => {
  const text = await fetch(`${url}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
  const m = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  return m ? Number(m[1]) / 2 ** 20 : Number.NaN;
};

const samples = [];
const start = Date.now();
const end = start + minutes * 60_000;
// Paced by the clock, not by the timer's period: a late tick sends what the rate owes, so a loaded
// machine still sends `perSecond` on average.
let sent = 0;
const tick = setInterval(() => {
  const owed = Math.floor(((Date.now() - start) / 1000) * perSecond) - sent;
  for (let i = 0; i < owed; i++) one();
  sent += Math.max(0, owed);
}, 10);
const sampleEvery = Math.min(10_000, Math.max(1000, (minutes * 60_000) / 200));
let snapped = 0;
while (Date.now() < end) {
  await new Promise((r) => setTimeout(r, sampleEvery));
  const t = (Date.now() - start) / 60_000;
  const sample = { t, rss: rssMiB(), heap: await heapMiB() };
  if (Number.isFinite(sample.heap)) samples.push(sample);
  if (snapshots && snapped < 2 && t >= (snapped === 0 ? minutes / 4 : minutes - sampleEvery / 60_000)) {
    server.kill('SIGUSR2');
    snapped++;
  }
  if (samples.length % 30 === 0) {
    const s = samples.at(-1);
    process.stderr.write(
      `${s.t.toFixed(1)} min: rss ${s.rss.toFixed(0)} MiB, heap ${s.heap.toFixed(0)} MiB, ${done} requests, ${errors} errors\n`,
    );
  }
}
clearInterval(tick);

/** Least-squares slope of `y` over `t` (minutes), in MiB an hour. */
function slope(points, y) {
  const n = points.length;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const my = points.reduce((a, p) => a + p[y], 0) / n;
  const num = points.reduce((a, p) => a + (p.t - mt) * (p[y] - my), 0);
  const den = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return (num / den) * 60;
}
const half = samples.filter((s) => s.t >= minutes / 2);
const result = {
  minutes,
  perSecond,
  requests: done,
  errors,
  rssStartMiB: Math.round(samples[0].rss),
  rssEndMiB: Math.round(samples.at(-1).rss),
  heapEndMiB: Math.round(samples.at(-1).heap),
  rssSlopeMiBPerHour: Math.round(slope(half, 'rss') * 10) / 10,
  heapSlopeMiBPerHour: Math.round(slope(half, 'heap') * 10) / 10,
};
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
const m = machine();
console.log(`\nSoak: ${minutes} min at ${perSecond} requests/s (${m.cpu}, ${m.cores} cores, Node ${m.node})\n`);
console.log('| requests | errors | RSS start → end | heap at end | RSS slope, 2nd half | heap slope, 2nd half | target |');
console.log('|---|---|---|---|---|---|---|');
console.log(
  `| ${result.requests} | ${result.errors} | ${result.rssStartMiB} → ${result.rssEndMiB} MiB | ${result.heapEndMiB} MiB | ${result.rssSlopeMiBPerHour} MiB/h | ${result.heapSlopeMiBPerHour} MiB/h | ±20 MiB/h: ${Math.abs(result.rssSlopeMiBPerHour) <= 20 ? 'met' : 'not met'} |`,
);
if (snapshots)
  console.log(
    `\nheap snapshots in ${dir}: ${readdirSync(dir)
      .filter((f) => f.endsWith('.heapsnapshot'))
      .join(', ')}`,
  );
console.log(JSON.stringify(result));
