// Extraction to a JSON Schema with a custom job type: many documents, one transaction to submit
// them all, results awaited together.
//
//   npm run build && node examples/extract-invoices.mjs
//
// With no OPENAI_API_KEY it runs on the built-in mock provider, which answers with JSON shaped by
// the schema; with one, on OpenAI.
import { createEngine } from 'switchyard';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['vendor', 'total', 'currency', 'dueDate'],
  properties: {
    vendor: { type: 'string' },
    total: { type: 'number' },
    currency: { type: 'string', enum: ['EUR', 'USD', 'GBP'] },
    dueDate: { type: 'string' },
  },
};

const documents = [
  'Invoice 2291 from Harbour Cranes Ltd. Total due: 12,450.00 EUR by 2026-12-31.',
  'Bill from Night Shift Catering, USD 830.50, payable before 15 January 2027.',
  'Statement: Dockside Power plc — amount £2,100.00, due 2027-01-10.',
];

const engine = await createEngine({
  database: ':memory:',
  ...(process.env.OPENAI_API_KEY && { openaiApiKey: process.env.OPENAI_API_KEY }),
});
engine.defineJobType('extract', new URL('./extract-handler.mjs', import.meta.url), {
  inputSchema: { type: 'object', required: ['text', 'schema'], properties: { text: { type: 'string' }, schema: { type: 'object' }, model: { type: 'string' } } },
  maxAttempts: 3,
  timeoutMs: 60_000,
});
await engine.start();

const jobs = await engine.submitMany(documents.map((text) => ({ type: 'extract', input: { text, schema } })));
const results = await Promise.all(jobs.map((j) => engine.wait(j.id, { timeoutMs: 120_000 })));
for (const [i, r] of results.entries()) {
  console.log(JSON.stringify({ document: i, status: r.status, attempts: r.attempt, data: r.output?.data ?? null, error: r.error?.code ?? null }));
}
const stats = await engine.stats();
console.error(`completed ${stats.completed}/${stats.total}, ${stats.usage.inputTokens + stats.usage.outputTokens} tokens, $${stats.usage.costUsd}`);
if (results.some((r) => r.status !== 'completed')) process.exitCode = 1;
await engine.stop();
