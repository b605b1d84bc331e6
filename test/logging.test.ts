/** Log lines carry job ids and no prompt text unless payload logging is on. */
import t from 'tap';
import { attachJobLogs } from '../src/logging.js';
import { createServer } from '../src/http/app.js';
import { API_KEY, chatJob, makeEngine } from './helpers/engine.js';
import { captureLogs } from './helpers/logs.js';

const capture = () => captureLogs('debug');

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

t.test("key secrets and provider API keys never reach logs, metrics or any answer but the key's creation", async (t) => {
  const { lines, logger } = capture();
  const engine = await makeEngine(t);
  attachJobLogs(engine, logger);
  const app = await createServer(engine, { apiKey: API_KEY, logger });
  t.teardown(() => app.close());
  const call = async (method: string, url: string, body?: unknown, key = API_KEY) => {
    const r = await app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${key}` },
      ...(body !== undefined && { payload: body as object }),
    });
    return r.body;
  };
  const created = JSON.parse(await call('POST', '/v1/keys', { scopes: ['jobs:write', 'jobs:read'] })) as { id: string; secret: string };
  const providerKey = 'sk-test-PROVIDER-SECRET-0123456789';
  const answers = [
    await call('POST', '/v1/providers', {
      name: 'up',
      kind: 'openai',
      baseUrl: 'http://127.0.0.1:9/v1',
      apiKey: providerKey,
      models: ['x'],
      enabled: false,
    }),
    await call('GET', '/v1/providers'),
    await call('GET', '/v1/providers/up'),
    await call('PATCH', '/v1/providers/up', { apiKey: providerKey, weight: 2 }),
    await call('POST', '/v1/jobs', chatJob('hello'), created.secret),
    await call('GET', '/v1/jobs', undefined, created.secret),
    await call('GET', '/v1/keys'),
    await call('GET', `/v1/keys/${created.id}`),
    await call('DELETE', `/v1/keys/${created.id}`),
    await call('GET', '/v1/jobs', undefined, created.secret), // revoked: the error must not echo it
    await call('GET', '/v1/jobs', undefined, `${created.secret}x`),
    await call('GET', '/metrics'),
  ];
  const everything = JSON.stringify(lines) + answers.join('\n');
  t.ok(lines.length > 10, 'requests were logged');
  t.notOk(everything.includes(created.secret), 'the key secret appears nowhere after its creation');
  t.notOk(everything.includes(API_KEY), 'nor the admin key');
  t.notOk(everything.includes(providerKey), 'nor the provider API key');
});
