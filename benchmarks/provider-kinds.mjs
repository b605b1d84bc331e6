// What Switchyard adds to a call of each provider kind: the same request sent alternately straight
// to a fake of the vendor's API (its own wire format, on 127.0.0.1, in this process) and through
// Switchyard's /v1/chat/completions (a `node dist/cli.js serve` child, fresh SQLite file, the
// fakes as its providers, set by a providers file), at concurrency 1 on keep-alive connections.
// Added latency = through − direct, at p50 and p99. Bedrock is called through Switchyard with SigV4
// (signing included in what it adds) and directly with a Bedrock API key.
//   npm run build && node --import tsx benchmarks/provider-kinds.mjs [requests per kind, default 1000]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { AWS_KEY, BEDROCK_API_KEY, fakeBedrock } from '../test/helpers/fake-bedrock.ts';
import { fakeGemini } from '../test/helpers/fake-gemini.ts';
import { fakeOpenAI } from '../test/helpers/fake-openai.ts';
import { freePort, freshDir, machine } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const N = Number(process.argv[2] ?? 1000);
const KEY = 'provider-kinds-bench-key-0123456789';
const cleanups = [];
const owner = { teardown: (fn) => cleanups.push(fn) };

const text = 'The quarter went well: revenue rose and costs fell.';
const gemini = await fakeGemini(owner, { kind: 'ok', text });
const openai = await fakeOpenAI(owner, { kind: 'ok', text });
const bedrock = await fakeBedrock(owner, { kind: 'ok', text }, 'us-east-1', false);
const models = { openai: 'gpt-4o-mini', azure: 'gpt-4o', gemini: 'gemini-2.5-flash', bedrock: 'anthropic.claude-3-5-haiku-20241022-v1:0' };
const dir = freshDir();
const config = join(dir, 'providers.json');
writeFileSync(
  config,
  JSON.stringify({
    providers: [
      { name: 'openai', kind: 'openai', baseUrl: openai.baseUrl, apiKey: 'sk-bench', models: [models.openai] },
      { name: 'azure', kind: 'azure', baseUrl: openai.baseUrl.replace(/\/v1$/, ''), apiKey: 'azure-bench', models: [models.azure] },
      { name: 'gemini', kind: 'gemini', baseUrl: gemini.baseUrl, apiKey: 'gemini-test-key', models: ['gemini-*'] },
      {
        name: 'bedrock',
        kind: 'bedrock',
        baseUrl: bedrock.baseUrl,
        apiKey: `${AWS_KEY.accessKeyId}:${AWS_KEY.secretAccessKey}`,
        models: ['anthropic.*'],
      },
    ],
  }),
);
const port = await freePort();
const server = spawn(process.execPath, [join(ROOT, 'dist/cli.js'), 'serve'], {
  cwd: ROOT,
  stdio: 'ignore',
  env: {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    SWITCHYARD_API_KEY: KEY,
    SWITCHYARD_DB: join(dir, 'jobs.db'),
    SWITCHYARD_CONFIG: config,
    SWITCHYARD_RATE_LIMIT_IP: '0',
  },
});
process.on('exit', () => server.kill('SIGKILL'));
const switchyard = `http://127.0.0.1:${port}`;
while (
  !(await fetch(`${switchyard}/health`).then(
    (r) => r.ok,
    () => false,
  ))
)
  await new Promise((r) => setTimeout(r, 100));

const pools = new Map();
const pool = (origin) => {
  if (!pools.has(origin)) pools.set(origin, new Pool(origin, { connections: 1 }));
  return pools.get(origin);
};
async function post(url, headers, body) {
  const u = new URL(url);
  const t0 = performance.now();
  const res = await pool(u.origin).request({
    method: 'POST',
    path: u.pathname + u.search,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${url}: HTTP ${res.statusCode}`);
  return performance.now() - t0;
}
const messages = [{ role: 'user', content: 'Summarise: the quarter went well.' }];
const direct = {
  openai: () => post(`${openai.baseUrl}/chat/completions`, { authorization: 'Bearer sk-bench' }, { model: models.openai, messages }),
  azure: () =>
    post(
      `${openai.baseUrl.replace(/\/v1$/, '')}/openai/deployments/${models.azure}/chat/completions?api-version=2024-10-21`,
      { 'api-key': 'azure-bench' },
      { messages },
    ),
  gemini: () =>
    post(
      `${gemini.baseUrl}/models/${models.gemini}:generateContent`,
      { 'x-goog-api-key': 'gemini-test-key' },
      { contents: [{ role: 'user', parts: [{ text: messages[0].content }] }] },
    ),
  bedrock: () =>
    post(
      `${bedrock.baseUrl}/model/${encodeURIComponent(models.bedrock)}/converse`,
      { authorization: `Bearer ${BEDROCK_API_KEY}` },
      {
        messages: [{ role: 'user', content: [{ text: messages[0].content }] }],
      },
    ),
};
const through = (kind) => post(`${switchyard}/v1/chat/completions`, { authorization: `Bearer ${KEY}` }, { model: models[kind], messages });

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))];
};
const rows = [];
for (const kind of Object.keys(direct)) {
  for (let i = 0; i < 50; i++) {
    await direct[kind]();
    await through(kind);
  }
  const d = [];
  const s = [];
  for (let i = 0; i < N; i++) {
    d.push(await direct[kind]());
    s.push(await through(kind));
  }
  rows.push({ kind, directP50: pct(d, 50), directP99: pct(d, 99), throughP50: pct(s, 50), throughP99: pct(s, 99) });
}
const m = machine();
const f = (x) => x.toFixed(2);
console.log(`\nGateway overhead per provider kind, ${N} requests each at concurrency 1 (${m.cpu}, ${m.cores} cores, Node ${m.node})\n`);
console.log('| kind | direct p50 / p99 (ms) | through p50 / p99 (ms) | added p50 / p99 (ms) |');
console.log('|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.kind} | ${f(r.directP50)} / ${f(r.directP99)} | ${f(r.throughP50)} / ${f(r.throughP99)} | ${f(r.throughP50 - r.directP50)} / ${f(r.throughP99 - r.directP99)} |`,
  );
}
console.log(JSON.stringify(rows));
for (const p of pools.values()) await p.close();
for (const fn of cleanups.reverse()) await fn();
server.kill('SIGTERM');
process.exit(0);
