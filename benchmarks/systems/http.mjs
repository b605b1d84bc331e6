// (d) HTTP: `POST /v1/jobs` and `GET /v1/jobs/:id` at fixed request rates, against
// `switchyard serve` in its own process (fresh database, rate limits off, mock at 0 ms).
//   node benchmarks/systems/http.mjs <seconds per rate> <rate,rate,...>
//
// The load is open-loop: request i is due at start + i / rate and its latency is counted from
// then, so a slow answer cannot hide the requests queued behind it. autocannon's rate mode was
// tried first: it sends each connection's quota for a second in one burst at the start of the
// second, so its percentiles measure its own bursts. The loop below is the few lines it takes.
// Each route gets one uncounted second of warm-up at the lowest rate.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Pool } from 'undici';
import { chat, freshDir, report } from '../lib.mjs';

const [secondsArg, ratesArg] = process.argv.slice(2);
const seconds = Number(secondsArg ?? 5);
const rates = (ratesArg ?? '1000,2000').split(',').map(Number);
const KEY = 'bench-key-0123456789abcdef';
const root = new URL('../../', import.meta.url).pathname;
const server = spawn(process.execPath, ['dist/cli.js', 'serve'], {
  cwd: root,
  env: {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    SWITCHYARD_API_KEY: KEY,
    SWITCHYARD_DB: join(freshDir(), 'jobs.db'),
    SWITCHYARD_RATE_LIMIT_IP: '0',
    SWITCHYARD_THREADS: '1',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise((resolve, reject) => {
  let buf = '';
  server.on('exit', (c) => reject(new Error(`server exited ${c}`)));
  const onData = (d) => {
    buf += d;
    const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(buf);
    if (!m) return;
    // Stop reading the log into memory: only the address was needed.
    server.stdout.off('data', onData);
    resolve(m[1]);
  };
  server.stdout.on('data', onData);
});
server.stdout.resume();
process.on('exit', () => server.kill('SIGKILL'));
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
const body = JSON.stringify(chat(1));
const job = await (await fetch(`${url}/v1/jobs`, { method: 'POST', headers, body })).json();

const pool = new Pool(url, { connections: 128, pipelining: 1 });

async function constantRate(opts, rate, secs = seconds) {
  const total = Math.round(rate * secs);
  const latencies = [];
  let errors = 0;
  let sent = 0;
  const inflight = new Set();
  const start = performance.now();
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
      for (; sent < due; sent++) {
        const at = start + (sent / rate) * 1000;
        const p = pool
          .request({ method: opts.method, path: opts.path, headers, body: opts.body })
          .then(
            async (res) => {
              await res.body.dump();
              if (res.statusCode >= 300) errors++;
              latencies.push(performance.now() - at);
            },
            () => {
              errors++;
            },
          )
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.all(inflight);
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] ?? 0;
  return { achieved: latencies.length / elapsed, p50: at(0.5), p99: at(0.99), errors };
}

/** Wait until the jobs submitted so far have run, so that one rate's backlog does not load the next. */
async function drained() {
  for (;;) {
    const s = await (await fetch(`${url}/v1/stats`, { headers })).json();
    if (s.queued + s.running === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const results = [];
for (const [route, opts] of [
  ['GET /v1/jobs/:id', { method: 'GET', path: `/v1/jobs/${job.id}` }],
  ['POST /v1/jobs', { method: 'POST', path: '/v1/jobs', body }],
]) {
  // A second at the lowest rate first, not counted: the route's first requests would otherwise
  // put the server's JIT warm-up into the lowest rate's p99.
  await drained();
  await constantRate(opts, rates[0], 1);
  for (const rate of rates) {
    await drained();
    const r = { route, rate, ...(await constantRate(opts, rate)) };
    process.stderr.write(`${route} at ${rate}/s: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${r.errors} errors\n`);
    results.push(r);
  }
}
await pool.close();
server.kill('SIGTERM');
report({ system: 'switchyard', scenario: 'http', results });
process.exit(0);
