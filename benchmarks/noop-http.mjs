// (a) No-op throughput over HTTP: a `switchyard serve` process; this process submits 20,000 jobs
// with `POST /v1/jobs` (64 in flight) and polls /v1/stats until all completed.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { chat, freshDir, report } from './lib.mjs';

const N = Number(process.env.BENCH_JOBS ?? 20_000);
const IN_FLIGHT = 64;
const KEY = 'bench-key-0123456789abcdef';
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const server = spawn(process.execPath, [cli, 'serve'], {
  env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', SWITCHYARD_API_KEY: KEY, SWITCHYARD_DB: join(freshDir(), 'jobs.db'), SWITCHYARD_THREADS: '2', SWITCHYARD_CONCURRENCY: '256', SWITCHYARD_RATE_LIMIT_IP: '0' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
// LOG_LEVEL=warn hides the listen line: find the port with a readiness probe instead.
const { pid } = server;
const port = await new Promise((resolve, reject) => {
  server.on('exit', (c) => reject(new Error(`server exited ${c}`)));
  const tryFind = async () => {
    const { execFileSync } = await import('node:child_process');
    try {
      const out = execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' });
      const line = out.split('\n').find((l) => l.includes(`pid=${pid},`));
      const m = line && /127\.0\.0\.1:(\d+)/.exec(line);
      if (m) return resolve(Number(m[1]));
    } catch { /* ss not ready */ }
    setTimeout(tryFind, 50);
  };
  void tryFind();
});
const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 16, pipelining: 1 });
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

const latencies = [];
let next = 0;
const t0 = performance.now();
await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
  while (next < N) {
    const i = next++;
    const s = performance.now();
    const res = await pool.request({ method: 'POST', path: '/v1/jobs', headers, body: JSON.stringify(chat(i)) });
    await res.body.text();
    if (res.statusCode !== 201) throw new Error(`submit answered ${res.statusCode}`);
    latencies.push(performance.now() - s);
  }
}));
const submitted = performance.now();
let stats;
for (;;) {
  const res = await pool.request({ method: 'GET', path: '/v1/stats', headers });
  stats = await res.body.json();
  if (stats.completed + stats.failed >= N) break;
  await new Promise((r) => setTimeout(r, 20));
}
const t1 = performance.now();
await pool.close();
server.kill('SIGTERM');
await new Promise((r) => server.on('exit', r));
latencies.sort((a, b) => a - b);
report({
  jobs: N, completed: stats.completed, seconds: (t1 - t0) / 1000, jobsPerSec: N / ((t1 - t0) / 1000),
  submitPerSec: N / ((submitted - t0) / 1000),
  submitP50Ms: latencies[Math.floor(N * 0.5)], submitP99Ms: latencies[Math.floor(N * 0.99)],
});
