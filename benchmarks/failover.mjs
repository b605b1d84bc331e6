// 10,000 jobs with the primary failing 50% of its calls and a healthy secondary, both served over
// real HTTP by fake OpenAI-compatible servers on 127.0.0.1 (each call 5 ms).
// Records success rate, provider calls per job, breaker openings, and job latency p50/p99.
import { createServer } from 'node:http';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine } from '../dist/index.js';
import { allFinished, chat, freshDir, machine } from './lib.mjs';

const N = Number(process.env.BENCH_JOBS ?? 10_000);

async function fake(failRate) {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () =>
      setTimeout(() => {
        if (Math.random() < failRate) {
          res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"injected","type":"server_error"}}');
          return;
        }
        const model = JSON.parse(body).model;
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            id: 'x',
            object: 'chat.completion',
            model,
            choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 },
          }),
        );
      }, 5),
    );
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${server.address().port}/v1` };
}

const primary = await fake(0.5);
const secondary = await fake(0);
const engine = await createEngine({ database: join(freshDir(), 'jobs.db'), threads: 2, concurrency: 256 });
await engine.providers.update('mock', { enabled: false });
await engine.providers.add({ name: 'primary', kind: 'openai', baseUrl: primary.url, priority: 10 });
await engine.providers.add({ name: 'secondary', kind: 'openai', baseUrl: secondary.url, priority: 5 });
await engine.start();

const calls = { primary: 0, secondary: 0 };
let opens = 0;
engine.on('provider:call', (r) => calls[r.provider]++);
engine.on('provider:state', (e) => {
  if (e.name === 'primary' && e.state.breaker === 'open') opens++;
});
const latencies = [];
let completed = 0;
engine.on('job:completed', (j) => {
  completed++;
  latencies.push(Date.parse(j.finishedAt) - Date.parse(j.createdAt));
});
const all = allFinished(engine, N);
const t0 = performance.now();
for (let i = 0; i < N; i += 1000) await engine.submitMany(Array.from({ length: Math.min(1000, N - i) }, (_, k) => chat(i + k)));
await all;
const seconds = (performance.now() - t0) / 1000;
await engine.stop();
primary.server.close();
secondary.server.close();

latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))];
const m = machine();
const table = [
  `### ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — failover (benchmarks/failover.mjs)`,
  '',
  `Machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}. ${N.toLocaleString('en-US')} chat jobs submitted at once (concurrency 256); primary (priority 10) fails 50% of calls with HTTP 500, secondary healthy; both fake OpenAI servers on 127.0.0.1 answering in 5 ms; default breaker (50% over 10 s, ≥ 5 calls, 30 s reset).`,
  '',
  '| measure | value |',
  '|---|---|',
  `| success rate | ${((completed / N) * 100).toFixed(2)} % (${completed.toLocaleString('en-US')} of ${N.toLocaleString('en-US')}) |`,
  `| provider calls per job | ${((calls.primary + calls.secondary) / N).toFixed(3)} (primary ${calls.primary.toLocaleString('en-US')}, secondary ${calls.secondary.toLocaleString('en-US')}) |`,
  `| extra calls per job (failed calls that failed over) | ${((calls.primary + calls.secondary - N) / N).toFixed(3)} |`,
  `| primary breaker openings | ${opens} |`,
  `| job latency (created → finished) p50 / p99 | ${pct(0.5)} ms / ${pct(0.99)} ms |`,
  `| wall time | ${seconds.toFixed(1)} s (${Math.round(N / seconds).toLocaleString('en-US')} jobs/s) |`,
  '',
].join('\n');
process.stdout.write(`\n${table}\n`);
appendFileSync(new URL('RESULTS.md', import.meta.url), `\n${table}`);
