/** Log lines carry job ids and no prompt text unless payload logging is on. */
import { Writable } from 'node:stream';
import t from 'tap';
import { pino } from 'pino';
import { attachJobLogs } from '../src/logging.js';
import { chatJob, makeEngine } from './helpers/engine.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: pino({ level: 'debug' }, stream) };
}

t.test('a completed job logs its id, attempt and provider, and no prompt text by default', async (t) => {
  const { lines, logger } = capture();
  const engine = await makeEngine(t);
  const detach = attachJobLogs(engine, logger);
  t.teardown(detach);
  const job = await engine.submit(chatJob('TOP SECRET PROMPT'));
  await engine.wait(job.id, { timeoutMs: 10_000 });
  await new Promise((r) => setImmediate(r));
  const done = lines.find((l) => l.msg === 'job completed');
  t.match(done, { jobId: job.id, type: 'chat', attempt: 1, provider: 'mock', model: 'mock-1' });
  t.notOk(JSON.stringify(lines).includes('TOP SECRET PROMPT'), 'no prompt text in any line');
  t.notOk(JSON.stringify(lines).includes('mock reply'), 'no output text either');
});

t.test('SWITCHYARD_LOG_PAYLOADS logs inputs and outputs', async (t) => {
  const { lines, logger } = capture();
  const engine = await makeEngine(t);
  const detach = attachJobLogs(engine, logger, { payloads: true });
  t.teardown(detach);
  const job = await engine.submit(chatJob('visible prompt'));
  await engine.wait(job.id, { timeoutMs: 10_000 });
  await new Promise((r) => setImmediate(r));
  t.ok(JSON.stringify(lines).includes('visible prompt'));
  t.ok(lines.some((l) => l.msg === 'job completed' && JSON.stringify(l.output).includes('mock reply')));
});
