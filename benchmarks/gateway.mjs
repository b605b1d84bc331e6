// What Switchyard adds to a request, measured as the gateway benchmarks measure it: the same chat
// completion sent alternately straight to a loopback upstream and through Switchyard (which calls
// that upstream), at concurrency 1, each on its own keep-alive connection. Then streams: time to
// the first token and the gap between tokens, direct and through. Then the throughput frontier:
// open-loop load at rising rates through Switchyard, with the upstream's own latency measured
// beside it at the same rate, until the added p99 passes 5 ms.
// The upstream and Switchyard run in processes of their own (node dist/cli.js serve, fresh SQLite
// file, the upstream as its only provider, request logs off, rate limits off).
//   npm run build && node benchmarks/gateway.mjs [requests, default 2000] [streams, default 200]
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { freePort, freshDir, machine, median } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const N = Number(process.argv[2] ?? 2000);
const STREAMS = Number(process.argv[3] ?? 200);
const KEY = 'gateway-bench-key-0123456789';
const TOKENS = 20;
const GAP_MS = 2;

function start(cmd, args, env, pattern) {
  const proc = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  process.on('exit', () => proc.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    let buf = '';
    proc.once('exit', (c) => reject(new Error(`${args.join(' ')} exited ${c}`)));
    const onData = (d) => {
      buf += d;
      const m = pattern.exec(buf);
      if (!m) return;
      proc.stdout.off('data', onData);
      proc.stdout.resume();
      resolve({ proc, match: m[1] });
    };
    proc.stdout.on('data', onData);
  });
}

const upstream = await start(
  process.execPath,
  [join(ROOT, 'benchmarks/systems/upstream.mjs'), String(TOKENS), String(GAP_MS)],
  {},
  /listening (\d+)/,
);
const upstreamUrl = `http://127.0.0.1:${upstream.match}`;
const bare = await start(process.execPath, [join(ROOT, 'benchmarks/systems/bare-proxy.mjs'), upstreamUrl], {}, /listening (\d+)/);
const bareUrl = `http://127.0.0.1:${bare.match}`;
// A free port from the OS (request logs are off, and the address is logged at info level).
const port = await freePort();
// GATEWAY_PROFILE=<dir>: the server writes its CPU profile there (the run then ends it with SIGINT).
const profile = process.env.GATEWAY_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.GATEWAY_PROFILE] : [];
const server = spawn(process.execPath, [...profile, join(ROOT, 'dist/cli.js'), 'serve'], {
  cwd: ROOT,
  stdio: 'ignore',
  env: {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    SWITCHYARD_API_KEY: KEY,
    SWITCHYARD_DB: join(freshDir(), 'jobs.db'),
    SWITCHYARD_RATE_LIMIT_IP: '0',
  },
});
process.on('exit', () => server.kill(profile.length ? 'SIGINT' : 'SIGKILL'));
const switchyardUrl = `http://127.0.0.1:${port}`;
for (;;) {
  const up = await fetch(`${switchyardUrl}/health`).then(
    (r) => r.ok,
    () => false,
  );
  if (up) break;
  await new Promise((r) => setTimeout(r, 50));
}

const direct = new Pool(upstreamUrl, { connections: 1, pipelining: 1 });
const through = new Pool(switchyardUrl, { connections: 1, pipelining: 1 });
const proxied = new Pool(bareUrl, { connections: 1, pipelining: 1 });
const headers = { 'content-type': 'application/json', authorization: `Bearer ${KEY}` };
const admin = (method, path, body) =>
  through.request({ method, path, headers, body: body && JSON.stringify(body) }).then((r) => r.body.json());
await admin('PATCH', '/v1/providers/mock', { enabled: false });
await admin('POST', '/v1/providers', { name: 'up', kind: 'openai', baseUrl: `${upstreamUrl}/v1`, models: ['*'], maxConcurrency: 64 });

const body = (stream) =>
  JSON.stringify({
    model: 'up-1',
    messages: [{ role: 'user', content: 'Say something short.' }],
    max_tokens: 32,
    ...(stream && { stream: true, stream_options: { include_usage: true } }),
  });
const plain = body(false);
const streamed = body(true);

async function once(pool, path, payload) {
  const t0 = performance.now();
  const res = await pool.request({ method: 'POST', path, headers, body: payload });
  await res.body.text();
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
  return performance.now() - t0;
}

/** Time to the first content token and the gaps between tokens of one streamed request. */
async function streamOnce(pool, path) {
  const t0 = performance.now();
  const res = await pool.request({ method: 'POST', path, headers, body: streamed });
  let first;
  let last;
  const gaps = [];
  let buf = '';
  for await (const chunk of res.body) {
    const now = performance.now();
    buf += chunk;
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const event = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (!event.includes('"content":"tok')) continue;
      if (first === undefined) first = now - t0;
      else gaps.push(now - last);
      last = now;
    }
  }
  return { ttft: first, gaps };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
};

// Warm-up: JIT, connections, the SQLite file's pages.
for (let i = 0; i < 300; i++) {
  await once(direct, '/v1/chat/completions', plain);
  await once(through, '/v1/chat/completions', plain);
  await once(proxied, '/v1/chat/completions', plain);
}

const d = [];
const s = [];
const p = [];
for (let i = 0; i < N; i++) {
  d.push(await once(direct, '/v1/chat/completions', plain));
  s.push(await once(through, '/v1/chat/completions', plain));
  p.push(await once(proxied, '/v1/chat/completions', plain));
}

const ttftD = [];
const ttftS = [];
const ttftP = [];
const gapD = [];
const gapS = [];
const gapP = [];
for (let i = 0; i < STREAMS; i++) {
  const a = await streamOnce(direct, '/v1/chat/completions');
  const b = await streamOnce(through, '/v1/chat/completions');
  const c = await streamOnce(proxied, '/v1/chat/completions');
  ttftD.push(a.ttft);
  ttftS.push(b.ttft);
  ttftP.push(c.ttft);
  gapD.push(...a.gaps);
  gapS.push(...b.gaps);
  gapP.push(...c.gaps);
}

/** Open-loop load at `rate` req/s for `seconds` on `pool` (many connections): latency per request. */
async function load(pool, rate, seconds) {
  const n = Math.round(rate * seconds);
  const lat = [];
  const t0 = performance.now();
  const all = [];
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    all.push(
      pool.request({ method: 'POST', path: '/v1/chat/completions', headers, body: plain }).then(
        async (res) => {
          await res.body.text();
          lat.push(performance.now() - due);
        },
        () => lat.push(Infinity),
      ),
    );
  }
  await Promise.all(all);
  return lat;
}

const wideDirect = new Pool(upstreamUrl, { connections: 256 });
const wideThrough = new Pool(switchyardUrl, { connections: 256 });
const frontier = [];
for (const rate of [100, 250, 500, 1000, 1500, 2000, 3000]) {
  const dl = await load(wideDirect, rate, 4);
  const tl = await load(wideThrough, rate, 4);
  const added = pct(tl, 0.99) - pct(dl, 0.99);
  frontier.push({ rate, directP99: pct(dl, 0.99), throughP99: pct(tl, 0.99), added, throughP50: median(tl) });
  process.stderr.write(`rate ${rate}: through p99 ${pct(tl, 0.99).toFixed(2)} ms, direct p99 ${pct(dl, 0.99).toFixed(2)} ms\n`);
  if (added > 5) break;
}
const best = frontier.filter((f) => f.added < 5).at(-1);

const m = machine();
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : '—');
const table = [
  `### ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — gateway overhead (benchmarks/gateway.mjs)`,
  '',
  `Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, Node ${m.node}; ${m.versions}. A loopback upstream (its own process) answers at once, or streams ${TOKENS} tokens ${GAP_MS} ms apart; \`node dist/cli.js serve\` (fresh SQLite file, synchronous=NORMAL, LOG_LEVEL=warn, rate limits off) with the upstream as its only provider. Each request runs as a durable \`chat\` job (stored, claimed, recorded, with its usage row). ${N.toLocaleString('en-US')} non-streamed and ${STREAMS} streamed requests, direct and through alternately, concurrency 1, after 300 warm-up pairs. The floor: a bare Fastify route forwarding to the upstream with undici (\`benchmarks/systems/bare-proxy.mjs\`), no job and no store, measured in the same rounds.`,
  '',
  '| measure | direct | through Switchyard | added | target | a bare Node proxy adds (floor) |',
  '|---|---|---|---|---|---|',
  `| chat completion p50, ms | ${f2(median(d))} | ${f2(median(s))} | **${f2(median(s) - median(d))}** | < 1 | ${f2(median(p) - median(d))} |`,
  `| chat completion p99, ms | ${f2(pct(d, 0.99))} | ${f2(pct(s, 0.99))} | **${f2(pct(s, 0.99) - pct(d, 0.99))}** | < 3 | ${f2(pct(p, 0.99) - pct(d, 0.99))} |`,
  `| stream: time to first token p50, ms | ${f2(median(ttftD))} | ${f2(median(ttftS))} | **${f2(median(ttftS) - median(ttftD))}** | < 1 | ${f2(median(ttftP) - median(ttftD))} |`,
  `| stream: gap between tokens p50, ms | ${f3(median(gapD))} | ${f3(median(gapS))} | **${f3(median(gapS) - median(gapD))}** | < 0.1 | ${f3(median(gapP) - median(gapD))} |`,
  `| throughput frontier (added p99 < 5 ms) | | | **${best ? `${best.rate.toLocaleString('en-US')} req/s` : 'below 100 req/s'}** | — | |`,
  '',
  `Frontier, open-loop load for 4 s per rate through Switchyard, the upstream measured directly at the same rate beside it: ${frontier.map((f) => `${f.rate}/s: p50 ${f2(f.throughP50)} ms, p99 ${f2(f.throughP99)} ms (direct ${f2(f.directP99)}, added ${f2(f.added)})`).join(' · ')}.`,
  '',
].join('\n');
process.stdout.write(`\n${table}\n`);
appendFileSync(new URL('RESULTS.md', import.meta.url), `\n${table}`);
process.exit(0);
