// Map-reduce summarisation of a long text with a custom job type, embedded: no server, no HTTP.
//
//   npm run build && node examples/map-reduce-summary.mjs [file.txt]
//
// With no OPENAI_API_KEY it runs on the built-in mock provider (answers are placeholders); with
// one, on OpenAI.
import { readFile } from 'node:fs/promises';
import { createEngine } from 'switchyard';

const text = process.argv[2]
  ? await readFile(process.argv[2], 'utf8')
  : Array.from({ length: 12 }, (_, i) => `Section ${i + 1}. The harbour handled ${1000 + i * 37} containers that week. `
      + 'Cranes were serviced at night, and the night shift reported no incidents. '.repeat(20)).join('\n\n');

const engine = await createEngine({
  database: ':memory:',
  ...(process.env.OPENAI_API_KEY && { openaiApiKey: process.env.OPENAI_API_KEY }),
});
engine.defineJobType('summarise', new URL('./summarise-handler.mjs', import.meta.url), {
  inputSchema: {
    type: 'object',
    required: ['text'],
    properties: { text: { type: 'string', minLength: 1 }, model: { type: 'string' }, chunkChars: { type: 'integer', minimum: 200 }, maxWords: { type: 'integer' } },
  },
  timeoutMs: 300_000,
});
await engine.start();
engine.on('job:progress', (e) => process.stderr.write(`progress ${e.value}%\n`));

const job = await engine.submit({ type: 'summarise', input: { text, chunkChars: 1500 } });
const done = await engine.wait(job.id, { timeoutMs: 600_000 });
if (done.status !== 'completed') {
  console.error(`job ${done.status}: ${done.error?.code} ${done.error?.message}`);
  process.exitCode = 1;
} else {
  console.log(JSON.stringify({
    status: done.status,
    chunks: done.output.chunks,
    summary: done.output.summary,
    tokens: done.usage.inputTokens + done.usage.outputTokens,
    costUsd: done.usage.costUsd,
  }, null, 2));
}
await engine.stop();
