// A 50,000-line OpenAI batch through the HTTP API: upload (streamed), validation, 50,000 jobs on the
// mock provider, finalization; peak RSS and heap sampled throughout, to show the file is never
// held in memory whole. Appends its table to benchmarks/RESULTS.md.
import { appendFileSync, createWriteStream, openAsBlob, statSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine, createServer } from '../dist/index.js';
import { freshDir, machine } from './lib.mjs';

const LINES = Number(process.env.BATCH_LINES ?? 50_000);
const KEY = 'bench-key-0123456789abcdef';
const dir = freshDir();
const input = join(dir, 'input.jsonl');
await new Promise((resolve) => {
  const out = createWriteStream(input);
  for (let i = 0; i < LINES; i++) {
    out.write(
      `${JSON.stringify({
        custom_id: `req-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: {
          model: 'mock-1',
          messages: [
            { role: 'system', content: 'Classify the sentiment of the review as positive, negative or neutral.' },
            {
              role: 'user',
              content: `Review ${i}: the delivery was on time and the packaging was fine, but the manual was missing a page.`,
            },
          ],
        },
      })}\n`,
    );
  }
  out.end(resolve);
});
const bytes = statSync(input).size;

const engine = await createEngine({ database: join(dir, 'jobs.db'), threads: 2, concurrency: 256 });
await engine.start();
const app = await createServer(engine, { apiKey: KEY, rateLimit: { perIp: 0 } });
await app.listen({ port: 0, host: '127.0.0.1' });
const url = `http://127.0.0.1:${app.server.address().port}`;
const auth = { authorization: `Bearer ${KEY}` };

let peakRss = 0;
let peakHeap = 0;
const baseRss = process.memoryUsage().rss;
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
}, 20);

const t0 = performance.now();
const form = new FormData();
form.set('purpose', 'batch');
form.set('file', await openAsBlob(input), 'input.jsonl');
const file = await (await fetch(`${url}/v1/files`, { method: 'POST', headers: auth, body: form })).json();
const tUpload = performance.now();
let batch = await (
  await fetch(`${url}/v1/batches`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }),
  })
).json();
let tInProgress = 0;
while (!['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) {
  await new Promise((r) => setTimeout(r, 100));
  batch = await (await fetch(`${url}/v1/batches/${batch.id}`, { headers: auth })).json();
  if (!tInProgress && batch.status !== 'validating') tInProgress = performance.now();
}
const tDone = performance.now();
clearInterval(sampler);
const out = await fetch(`${url}/v1/files/${batch.output_file_id}`, { headers: auth }).then((r) => r.json());
await app.close();
await engine.stop();

const mib = (b) => Math.round(b / 2 ** 20);
const result = {
  lines: LINES,
  status: batch.status,
  completed: batch.request_counts.completed,
  inputMiB: +(bytes / 2 ** 20).toFixed(1),
  uploadS: +((tUpload - t0) / 1000).toFixed(2),
  validateAndSubmitS: +((tInProgress - tUpload) / 1000).toFixed(2),
  totalS: +((tDone - t0) / 1000).toFixed(1),
  outputMiB: +(out.bytes / 2 ** 20).toFixed(1),
  peakRssMiB: mib(peakRss),
  rssGrowthMiB: mib(peakRss - baseRss),
  peakHeapMiB: mib(peakHeap),
};
console.log(JSON.stringify(result));
const m = machine();
appendFileSync(
  new URL('./RESULTS.md', import.meta.url),
  [
    '',
    `### ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — a ${LINES.toLocaleString('en-US')}-line batch (benchmarks/batch.mjs)`,
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}. Upload over HTTP (multipart, streamed to disk), mock provider at 0 ms, 2 worker threads, concurrency 256.`,
    '',
    '| input | upload | validate + submit | total to completed | output file | peak RSS (growth) | peak heap |',
    '|---|---|---|---|---|---|---|',
    `| ${result.inputMiB} MiB, ${LINES.toLocaleString('en-US')} lines | ${result.uploadS} s | ${result.validateAndSubmitS} s | ${result.totalS} s (${result.completed.toLocaleString('en-US')} completed) | ${result.outputMiB} MiB | ${result.peakRssMiB} MiB (+${result.rssGrowthMiB}) | ${result.peakHeapMiB} MiB |`,
    '',
  ].join('\n'),
);
