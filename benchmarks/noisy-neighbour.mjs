// The noisy neighbour: while tenant A runs one abuse after another against a server, tenant B keeps
// submitting at a steady rate. For each abuse: B's submit latency p99, the share of B's jobs that
// completed, /health p99, the server's peak RSS, and whether it survived. Each abuse runs against a
// fresh server (node dist/cli.js serve on a fresh SQLite file), so peak RSS is that abuse's own.
// Tenant A runs in a process of its own, so that its load generation does not slow the measuring
// of B's latencies in this one.
// Every abuse is run in each of ROUNDS rounds (interleaved), and each figure is the median of its rounds.
// Usage: npm run build && node benchmarks/noisy-neighbour.mjs [seconds per abuse, default 8] [rounds, default 3]
// NOISY_ONLY=<abuse number> runs one abuse; NOISY_PROFILE=<dir> writes the server's CPU profile there.
import { spawn } from 'node:child_process';
import { appendFileSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freshDir, machine, median } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = Number(process.argv[2] ?? 8);
const ROUNDS = process.argv[3] === '--abuse' ? 1 : Number(process.argv[3] ?? 3);
const ADMIN = 'noisy-neighbour-admin-key-0123456789';
const B_RATE = 20; // B's submits per second
const HEALTH_EVERY_MS = 20;

/** A fake OpenAI upstream for A's provider: a pathological answer per model. */
async function evilUpstream() {
  // Answers made once: this process also measures B, and must stay idle.
  const answer = (model, content) =>
    Buffer.from(
      JSON.stringify({
        id: 'x',
        object: 'chat.completion',
        created: 0,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 },
      }),
    );
  const answers = {
    'evil-pattern': answer('evil-pattern', JSON.stringify(`${'a'.repeat(40)}!`)),
    'evil-large': answer('evil-large', 'x'.repeat(3_000_000)),
  };
  const server = createServer((req, res) => {
    let head = '';
    req.on('data', (c) => {
      if (head.length < 200) head += c;
    });
    req.on('end', () => {
      const model = /"model":"([^"]+)"/.exec(head)?.[1];
      res.writeHead(200, { 'content-type': 'application/json' }).end(answers[model] ?? answer(model, 'ok'));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, baseUrl: `http://127.0.0.1:${server.address().port}/v1` };
}

async function startServer(dir) {
  // The server logs to a file: a pipe that this (busy) process reads late would block its writes.
  const log = join(dir, 'server.log');
  const out = openSync(log, 'w');
  const profile = process.env.NOISY_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.NOISY_PROFILE] : [];
  // NOISY_PIN=1: the server alone on core 0, everything else on core 1.
  const pin = process.env.NOISY_PIN ? ['taskset', '-c', '0'] : [];
  const proc = spawn(
    pin[0] ?? process.execPath,
    [...pin.slice(1), ...(pin.length ? [process.execPath] : []), ...profile, join(ROOT, 'dist/cli.js'), 'serve'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        SWITCHYARD_DB: join(dir, 'jobs.db'),
        SWITCHYARD_API_KEY: ADMIN,
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', out, 'ignore'],
    },
  );
  const exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  let url;
  while (!url) {
    if (proc.exitCode !== null) throw new Error('server exited before listening');
    url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(readFileSync(log, 'utf8'))?.[1];
    if (!url) await sleep(50);
  }
  return { proc, url, exited };
}

/** The server's longest event-loop delay since the last call, ms (prom-client resets it at each scrape). */
async function loopDelayMax(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^nodejs_eventloop_lag_max_seconds (\S+)/m.exec(text)?.[1] ?? NaN) * 1000;
}

function api(url, key) {
  return async (method, path, body, headers = {}) => {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, body: json };
  };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
};

/** Repeat `fn` every `ms` until `stop()` (open loop: a slow call does not delay the next). */
function every(ms, fn) {
  const pending = new Set();
  const timer = setInterval(() => {
    const p = fn().catch(() => undefined);
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }, ms);
  return async () => {
    clearInterval(timer);
    await Promise.all(pending);
  };
}

const props = (n, nonce) => ({
  type: 'object',
  properties: Object.fromEntries(Array.from({ length: n }, (_, i) => [`${nonce}_${i}`, { type: 'string' }])),
});
const chat = (content, extra = {}) => ({ input: { messages: [{ role: 'user', content }], ...extra } });

/** Each abuse starts tenant A's load and returns a function that stops it. */
const ABUSES = {
  'none (A idle)': async () => async () => undefined,
  'batch: 4 input files of one 50 MiB line each': async ({ a, url, keyA }) => {
    const line = Buffer.alloc(50 * 2 ** 20, 'a');
    const uploads = Array.from({ length: 4 }, async () => {
      const form = new FormData();
      form.append('purpose', 'batch');
      form.append('file', new Blob([line]), 'one-line.jsonl');
      const f = await (await fetch(`${url}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${keyA}` }, body: form })).json();
      if (f.id) await a('POST', '/v1/batches', { input_file_id: f.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    });
    const done = Promise.allSettled(uploads);
    return async () => {
      await done;
    };
  },
  'schema: backtracking pattern ^(a+)+$ vs a 41-character answer': async ({ a }) =>
    every(50, () => a('POST', '/v1/jobs', chat('x', { model: 'evil-pattern', responseSchema: { type: 'string', pattern: '^(a+)+$' } }))),
  'schema: a new 2,400-property schema every 200 ms': async ({ a }) => {
    let n = 0;
    return every(200, () => a('POST', '/v1/jobs', chat('x', { responseSchema: props(2400, `n${n++}`) })));
  },
  'answers: 20 MB (mock) and 3 MB (upstream) answers': async ({ a }) => {
    let n = 0;
    return every(50, () =>
      a(
        'POST',
        '/v1/jobs',
        n++ % 2 ? chat('x', { responseSchema: { type: 'string', minLength: 20_000_000 } }) : chat('x', { model: 'evil-large' }),
      ),
    );
  },
  'budget: 3 × 1,000-job batches on a 200-token budget': async ({ admin, url }) => {
    const k = (await admin('POST', '/v1/keys', { scopes: ['jobs:write'], dailyTokenBudget: 200 })).body.secret;
    const a = api(url, k);
    for (let b = 0; b < 3; b++) await a('POST', '/v1/jobs/batch', { jobs: Array.from({ length: 1000 }, (_, i) => chat(`b${b} j${i}`)) });
    return async () => undefined;
  },
  'secrets: re-aim providers at metadata and own listeners': async ({ admin }) => {
    let n = 0;
    return every(20, async () => {
      const i = n++;
      await admin('PATCH', '/v1/providers/evil', { baseUrl: i % 2 ? 'http://169.254.169.254/latest' : 'http://[fd00:ec2::254]/v1' });
      await admin('POST', '/v1/providers', { name: `probe${i}`, kind: 'openai', baseUrl: 'http://metadata.google.internal/' });
    });
  },
  'connections: 20 addresses × 300 idle sockets': async ({ url }) => {
    const port = Number(new URL(url).port);
    const sockets = [];
    for (let addr = 2; addr < 22; addr++) {
      for (let i = 0; i < 300; i++) {
        const s = connect({ port, host: '127.0.0.1', localAddress: `127.0.0.${addr}` });
        s.on('error', () => undefined);
        sockets.push(s);
      }
      await sleep(10);
    }
    return async () => {
      for (const s of sockets) s.destroy();
    };
  },
  'event streams: 200 subscribers on one key': async ({ url, keyA }) => {
    const acs = [];
    for (let i = 0; i < 200; i++) {
      const ac = new AbortController();
      acs.push(ac);
      void fetch(`${url}/v1/events`, { headers: { authorization: `Bearer ${keyA}` }, signal: ac.signal })
        .then((r) => r.body?.pipeTo(new WritableStream()))
        .catch(() => undefined);
    }
    return async () => {
      for (const ac of acs) ac.abort();
    };
  },
  'wrong inputs: runAt 1e300, a leap second, multipart without a boundary': async ({ a }) => {
    let n = 0;
    return every(10, () => {
      const i = n++ % 3;
      if (i === 0) return a('POST', '/v1/jobs', { ...chat('x'), runAt: 1e300 });
      if (i === 1) return a('POST', '/v1/jobs', { ...chat('x'), runAt: '2026-12-31T23:59:60Z' });
      return a('POST', '/v1/files', '--x\r\n\r\n', { 'content-type': 'multipart/form-data' });
    });
  },
  'quotas and labels: uploads past the quota, a new model name per job': async ({ a, url, keyA }) => {
    let n = 0;
    const blob = new Blob([Buffer.alloc(5 * 2 ** 20, ' ')]);
    return every(50, async () => {
      const i = n++;
      if (i % 5 === 0) {
        const form = new FormData();
        form.append('purpose', 'batch');
        form.append('file', blob, 'f.jsonl');
        await fetch(`${url}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${keyA}` }, body: form });
      } else {
        await a('POST', '/v1/jobs', chat('x', { model: `model-${i}` }));
      }
    });
  },
};

/** The child side: run abuse number `index` against `url` for SECONDS, then exit. */
async function abuseProcess(index, url, keyA) {
  const [, abuse] = Object.entries(ABUSES)[index];
  const stop = await abuse({ a: api(url, keyA), admin: api(url, ADMIN), url, keyA });
  await sleep(SECONDS * 1000);
  await stop();
  process.exit(0);
}

async function run(name, index, upstream) {
  const dir = freshDir();
  const server = await startServer(dir);
  const { url } = server;
  const admin = api(url, ADMIN);
  await admin('PATCH', '/v1/providers/mock', { options: { latencyMs: 20 } });
  await admin('POST', '/v1/providers', {
    name: 'evil',
    kind: 'openai',
    baseUrl: upstream.baseUrl,
    models: ['evil-pattern', 'evil-large'],
    priority: 10,
  });
  const keyA = (await admin('POST', '/v1/keys', { scopes: ['jobs:write', 'jobs:read'], maxConcurrency: 64 })).body.secret;
  const keyB = (await admin('POST', '/v1/keys', { scopes: ['jobs:write', 'jobs:read'] })).body.secret;
  const b = api(url, keyB);

  await loopDelayMax(url);
  const submits = [];
  const health = [];
  const bJobs = [];
  const stopB = every(1000 / B_RATE, async () => {
    const t0 = performance.now();
    const r = await b('POST', '/v1/jobs', chat(`b ${bJobs.length}`));
    submits.push(performance.now() - t0);
    if (r.status === 201) bJobs.push(r.body.id);
  });
  const stopHealth = every(HEALTH_EVERY_MS, async () => {
    const t0 = performance.now();
    const r = await fetch(`${url}/health`);
    await r.text();
    health.push(performance.now() - t0);
  });
  // At the lowest CPU priority: on this 2-core box the attacker's own client (thousands of sockets,
  // hundreds of MiB of uploads) would otherwise take CPU from the server and from this measuring
  // process, as an attacker on another machine cannot.
  const child = spawn(
    process.env.NOISY_PIN ? 'taskset' : 'nice',
    [
      ...(process.env.NOISY_PIN ? ['-c', '1', 'nice'] : []),
      '-n',
      '19',
      process.execPath,
      fileURLToPath(import.meta.url),
      String(SECONDS),
      '--abuse',
      String(index),
      url,
      keyA,
    ],
    { stdio: 'inherit' },
  );
  await new Promise((r) => child.once('exit', r));
  await stopB();
  await stopHealth();
  const loopMax = await loopDelayMax(url);
  const bSubmitted = submits.length;
  let completed = 0;
  const deadline = Date.now() + 30_000;
  for (const id of bJobs) {
    const left = Math.max(0, deadline - Date.now());
    const r = await b('GET', `/v1/jobs/${id}?waitMs=${Math.min(left, 300_000)}`).catch(() => ({ body: {} }));
    if (r.body.status === 'completed') completed++;
  }
  const status = readFileSync(`/proc/${server.proc.pid}/status`, 'utf8');
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
  const alive = server.proc.exitCode === null && server.proc.signalCode === null;
  server.proc.kill(process.env.NOISY_PROFILE ? 'SIGINT' : 'SIGKILL');
  await server.exited;
  return {
    name,
    alive,
    bSubmitted,
    bCompleted: completed / Math.max(1, bSubmitted),
    bP99: pct(submits, 0.99),
    bP50: median(submits),
    healthP99: pct(health, 0.99),
    healthMax: Math.max(...health),
    rssMiB: hwm,
    loopMax,
  };
}

if (process.argv[3] === '--abuse') {
  await abuseProcess(Number(process.argv[4]), process.argv[5], process.argv[6]);
}

const upstream = await evilUpstream();
const runs = Object.keys(ABUSES).map(() => []);
const only = process.env.NOISY_ONLY === undefined ? undefined : Number(process.env.NOISY_ONLY);
for (let round = 1; round <= ROUNDS; round++) {
  for (const [index, name] of Object.keys(ABUSES).entries()) {
    if (process.env.NOISY_ONLY !== undefined && Number(process.env.NOISY_ONLY) !== index) continue;
    process.stderr.write(`round ${round}: ${name} …\n`);
    runs[index].push(await run(name, index, upstream));
  }
}
upstream.server.close();
const med = (xs, k) => median(xs.map((x) => x[k]));
const rows = runs
  .filter((rs) => rs.length > 0)
  .map((rs) => ({
    name: rs[0].name,
    alive: rs.every((r) => r.alive),
    bSubmitted: med(rs, 'bSubmitted'),
    bCompleted: Math.min(...rs.map((r) => r.bCompleted)),
    bP50: med(rs, 'bP50'),
    bP99: med(rs, 'bP99'),
    healthP99: med(rs, 'healthP99'),
    healthMax: Math.max(...rs.map((r) => r.healthMax)),
    loopMax: med(rs, 'loopMax'),
    rssMiB: Math.max(...rs.map((r) => r.rssMiB)),
    p99s: rs.map((r) => r.bP99),
  }));

if (only !== undefined) {
  for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
}
const idle = rows[0];
const m = machine();
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const table = [
  `### ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — noisy neighbour (benchmarks/noisy-neighbour.mjs)`,
  '',
  `Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, Node ${m.node}; ${m.versions}. Each abuse: a fresh \`node dist/cli.js serve\` on a fresh SQLite file, default limits; tenant A runs the abuse for ${SECONDS} s from a process of its own at the lowest CPU priority (\`nice -n 19\`: as from another machine) while tenant B submits ${B_RATE} chat jobs/s (mock, 20 ms) and /health is called every ${HEALTH_EVERY_MS} ms (open loop). B's completion counts its jobs completed within 30 s after the abuse. Medians of ${ROUNDS} rounds (the abuses interleaved), except: survived = in every round, B completed = the lowest round, /health max and peak RSS = the highest round. Server loop delay max = the longest event-loop delay the server's own monitor saw during the abuse (its /metrics). Targets: no crash, /health p99 < 100 ms, B's submit p99 within 2× of its value with A idle.`,
  '',
  '| abuse by tenant A | server survived | B submit p50 / p99 ms (p99 of each round) | B p99 ÷ idle | B jobs completed | /health p99 / max ms | server loop delay max ms | peak RSS MiB |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.alive ? 'yes' : '**no**'} | ${fmt(r.bP50)} / ${fmt(r.bP99)} (${r.p99s.map((x) => fmt(x, 0)).join(', ')}) | ${fmt(r.bP99 / idle.bP99, 2)}× | ${fmt(r.bCompleted * 100)} % of ${r.bSubmitted} | ${fmt(r.healthP99)} / ${fmt(r.healthMax)} | ${fmt(r.loopMax)} | ${fmt(r.rssMiB, 0)} |`,
  ),
  '',
].join('\n');
process.stdout.write(`\n${table}\n`);
appendFileSync(new URL('RESULTS.md', import.meta.url), `\n${table}`);
