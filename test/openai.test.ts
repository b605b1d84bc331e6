/**
 * The OpenAI-compatible front, driven by the official `openai` package over a real socket, with a
 * failing upstream behind the scenes that the client never notices.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI, { toFile } from 'openai';
import t, { type Test } from 'tap';
import type { Engine } from '../src/engine.js';
import { fakeOpenAI } from './helpers/fake-openai.js';
import { makeEngine, serve, API_KEY, type Served } from './helpers/engine.js';

async function setup(t: Test, opts: { batchCheckMs?: number } = {}) {
  const engine = await makeEngine(t, { concurrency: 64, ...opts });
  const bad = await fakeOpenAI(t, { kind: 'status', status: 500 });
  const good = await fakeOpenAI(t, { kind: 'ok' });
  // The failing upstream comes first: every call tries it, fails over to the good one.
  await engine.providers.add({
    name: 'bad',
    kind: 'openai',
    baseUrl: bad.baseUrl,
    apiKey: 'sk-bad',
    models: ['gpt-test'],
    priority: 20,
    breaker: { volumeThreshold: 1000 },
  });
  await engine.providers.add({
    name: 'good',
    kind: 'openai',
    baseUrl: good.baseUrl,
    apiKey: 'sk-good',
    models: ['gpt-test'],
    priority: 10,
  });
  const api = await serve(t, engine, { eventHeartbeatMs: 200 });
  const client = new OpenAI({ apiKey: API_KEY, baseURL: `${api.url}/v1`, maxRetries: 0, timeout: 60_000 });
  return { engine, api, client, bad, good };
}

/** The HTTP status a client call failed with (0 if it succeeded). */
const statusOf = (p: Promise<unknown>) =>
  p.then(
    () => 0,
    (e: { status?: number }) => e.status ?? -1,
  );

/**
 * Poll a batch through the API until `ok`, as Batch API clients do (a batch has no event stream);
 * no deadline of its own: tap's timeout ends a test whose batch never gets there.
 */
async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    await sleep(50);
  }
}

t.test('chat.completions.create, plain and streamed, through a failing upstream; models.list', async (t) => {
  const { engine, client, bad, good } = await setup(t);
  const { data: completion, response } = await client.chat.completions
    .create({
      model: 'gpt-test',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello there' },
      ],
      max_tokens: 50,
    })
    .withResponse();
  t.equal(completion.object, 'chat.completion');
  t.equal(completion.choices[0]?.message.content, 'fake answer to: hello there', "the upstream's answer");
  t.equal(completion.choices[0]?.finish_reason, 'stop');
  t.same(completion.usage, { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 });
  t.ok(bad.requests.length >= 1, 'the failing upstream was tried first');
  t.ok(good.requests.length >= 1, 'and failed over');
  t.equal(good.requests.at(-1)?.body.max_tokens, 50, 'parameters reach the upstream');
  const jobId = response.headers.get('x-switchyard-job-id') as string;
  const job = await engine.get(jobId);
  t.equal(job.status, 'completed');
  t.equal((job.output as { text: string }).text, completion.choices[0]?.message.content, 'the answer is what the job produced');
  t.equal(job.priority, 1000, 'a chat completion runs as a high-priority job');
  t.equal(completion.id, `chatcmpl-${jobId}`);

  const stream = await client.chat.completions.create({
    model: 'gpt-test',
    messages: [{ role: 'user', content: 'stream me' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let finish: string | null = null;
  let usage: unknown;
  let roles = 0;
  for await (const chunk of stream) {
    t.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.choices[0]?.delta.role) roles++;
    text += chunk.choices[0]?.delta.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    if (chunk.usage) usage = chunk.usage;
  }
  t.equal(text, 'fake answer to: stream me', 'the streamed deltas add up to the answer');
  t.equal(finish, 'stop');
  t.equal(roles, 1);
  t.same(usage, { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 });

  const models = await client.models.list();
  const ids = models.data.map((m) => m.id);
  t.ok(ids.includes('gpt-test'), 'models the providers serve');
  t.ok(ids.includes('mock-1'), "the mock's default model");
  t.equal((await client.models.retrieve('gpt-test')).owned_by, 'bad');
  t.equal(await statusOf(client.models.retrieve('no-such-model')), 404);
});

t.test("errors in OpenAI's shape: validation, a wrong key, a failing job", async (t) => {
  const { engine, client, api } = await setup(t);
  const e400 = await client.chat.completions.create({ model: 'gpt-test', messages: [] }).catch((e: unknown) => e);
  t.ok(e400 instanceof OpenAI.BadRequestError);
  t.match((e400 as InstanceType<typeof OpenAI.APIError>).error, { type: 'invalid_request_error', code: 'SWY_VALIDATION' });
  const stranger = new OpenAI({ apiKey: 'swy_wrong', baseURL: `${api.url}/v1`, maxRetries: 0 });
  const e401 = await stranger.models.list().catch((e: unknown) => e);
  t.ok(e401 instanceof OpenAI.AuthenticationError, 'a wrong key is an AuthenticationError');
  await engine.providers.update('good', { enabled: false });
  await engine.providers.update('mock', { enabled: false });
  const e5xx = await client.chat.completions
    .create({ model: 'gpt-test', messages: [{ role: 'user', content: 'x' }] }, { timeout: 60_000 })
    .catch((e: unknown) => e);
  t.ok(e5xx instanceof OpenAI.APIError, 'a job that failed on every provider is an API error');
  t.ok((e5xx as { status: number }).status >= 500);
  t.match((e5xx as { error: { code: string } }).error.code, /^SWY_PROVIDER/);
});

/** Upload a JSONL batch of chat requests, one per prompt. */
async function uploadBatch(client: OpenAI, prompts: string[], extra: (i: number) => Record<string, unknown> = () => ({})) {
  const lines = prompts.map((p, i) =>
    JSON.stringify({
      custom_id: `req-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-test', messages: [{ role: 'user', content: p }], ...extra(i) },
    }),
  );
  return client.files.create({ file: await toFile(Buffer.from(`${lines.join('\n')}\n`), 'input.jsonl'), purpose: 'batch' });
}

t.test("files.create + batches.create + polling + files.content: every line answered, in OpenAI's format", async (t) => {
  const { client, bad, api } = await setup(t);
  const prompts = Array.from({ length: 120 }, (_, i) => `question ${i}`);
  const file = await uploadBatch(client, prompts);
  t.equal(file.purpose, 'batch');
  t.equal((await client.files.retrieve(file.id)).bytes, file.bytes);
  const batch = await client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
    metadata: { run: 'test' },
  });
  t.equal(batch.status, 'validating');
  const done = await until(
    () => client.batches.retrieve(batch.id),
    (b) => ['completed', 'failed', 'expired', 'cancelled'].includes(b.status),
  );
  t.equal(done.status, 'completed');
  t.same(done.request_counts, { total: 120, completed: 120, failed: 0 });
  t.same(done.metadata, { run: 'test' });
  t.type(done.in_progress_at, 'number');
  t.type(done.completed_at, 'number');
  t.equal(done.error_file_id, null, 'no error file when nothing failed');
  const content = await (await client.files.content(done.output_file_id as string)).text();
  const lines = content
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.equal(lines.length, 120);
  const byId = new Map(lines.map((l) => [l.custom_id, l]));
  for (let i = 0; i < 120; i++) {
    const l = byId.get(`req-${i}`);
    t.equal(l?.response.status_code, 200);
    t.equal(l?.response.body.choices[0].message.content, `fake answer to: question ${i}`);
  }
  t.ok(bad.requests.length > 0, 'the failing upstream was behind every line and failed over');
  const listed = await client.batches.list();
  t.equal(listed.data[0]?.id, batch.id);
  const output = await client.files.retrieve(done.output_file_id as string);
  t.equal(output.purpose, 'batch_output');

  // Another tenant sees none of it.
  const other = (await api.call('POST', '/v1/keys', { scopes: ['jobs:read', 'jobs:write'] })).body.secret as string;
  const otherClient = new OpenAI({ apiKey: other, baseURL: `${api.url}/v1`, maxRetries: 0 });
  t.equal(await statusOf(otherClient.batches.retrieve(batch.id)), 404);
  t.equal(await statusOf(otherClient.files.content(file.id)), 404);
  t.equal((await otherClient.batches.list()).data.length, 0);

  const deleted = await client.files.delete(file.id);
  t.same(deleted, { id: file.id, object: 'file', deleted: true });
  t.equal(await statusOf(client.files.retrieve(file.id)), 404);
});

t.test('a batch with bad lines fails at validation and runs nothing', async (t) => {
  const { client, engine } = await setup(t);
  const lines = [
    JSON.stringify({
      custom_id: 'a',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-test', messages: [{ role: 'user', content: 'ok' }] },
    }),
    '{"custom_id": "b", "method": "POST", "url": "/v1/chat/compl',
    JSON.stringify({
      custom_id: 'a',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-test', messages: [{ role: 'user', content: 'dup' }] },
    }),
    JSON.stringify({ custom_id: 'c', method: 'GET', url: '/v1/chat/completions', body: {} }),
  ];
  const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'bad.jsonl'), purpose: 'batch' });
  const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  const done = await until(
    () => client.batches.retrieve(batch.id),
    (b) => b.status !== 'validating',
  );
  t.equal(done.status, 'failed');
  t.same(
    done.errors?.data?.map((e) => [e.line, e.code]),
    [
      [2, 'invalid_json_line'],
      [3, 'duplicate_custom_id'],
      [4, 'invalid_method'],
    ],
  );
  t.equal((await engine.list()).data.length, 0, 'no job was submitted');
  t.equal(await statusOf(client.batches.create({ input_file_id: file.id, endpoint: '/v1/embeddings', completion_window: '24h' })), 400);
  t.equal(
    await statusOf(
      client.batches.create({ input_file_id: 'file-000000000000000000000000', endpoint: '/v1/chat/completions', completion_window: '24h' }),
    ),
    404,
  );
});

async function slowBatch(engine: Engine, client: OpenAI, n: number) {
  await engine.providers.update('bad', { enabled: false });
  await engine.providers.update('good', { enabled: false });
  await engine.providers.update('mock', { models: ['*'], options: { latencyMs: 20_000 } });
  const file = await uploadBatch(
    client,
    Array.from({ length: n }, (_, i) => `slow ${i}`),
  );
  const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  return until(
    () => client.batches.retrieve(batch.id),
    (b) => b.status === 'in_progress',
  );
}

t.test('batches.cancel: cancelling → cancelled, the unfinished lines in the error file', async (t) => {
  const { engine, client } = await setup(t);
  const running = await slowBatch(engine, client, 10);
  t.equal(running.status, 'in_progress');
  const cancelling = await client.batches.cancel(running.id);
  t.ok(['cancelling', 'cancelled'].includes(cancelling.status));
  const done = await until(
    () => client.batches.retrieve(running.id),
    (b) => b.status === 'cancelled',
  );
  t.equal(done.status, 'cancelled');
  t.same(done.request_counts, { total: 10, completed: 0, failed: 10 });
  const errors = (await (await client.files.content(done.error_file_id as string)).text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.equal(errors.length, 10);
  t.same(new Set(errors.map((e) => e.error.code)), new Set(['batch_cancelled']));
  t.equal(await statusOf(client.batches.cancel(running.id)), 409, 'a finished batch cannot be cancelled again');
});

t.test('a batch past its window expires: unfinished lines are cancelled and reported as batch_expired', async (t) => {
  const { engine, client } = await setup(t, { batchCheckMs: 50 });
  const running = await slowBatch(engine, client, 5);
  const store = (engine as unknown as { store: { batches: { updateBatch(id: string, p: object): Promise<unknown> } } }).store;
  await store.batches.updateBatch(running.id, { expiresAt: Date.now() - 1 });
  const done = await until(
    () => client.batches.retrieve(running.id),
    (b) => b.status === 'expired',
  );
  t.equal(done.status, 'expired');
  t.type(done.expired_at, 'number');
  const errors = (await (await client.files.content(done.error_file_id as string)).text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.same(
    errors.map((e) => e.error.code),
    Array(5).fill('batch_expired'),
  );
});

t.test('files: only purpose batch, one file, within the size limit', async (t) => {
  const engine = await makeEngine(t, { start: false });
  const api: Served = await serve(t, engine, { maxFileBytes: 1024 });
  const client = new OpenAI({ apiKey: API_KEY, baseURL: `${api.url}/v1`, maxRetries: 0 });
  t.equal(await statusOf(client.files.create({ file: await toFile(Buffer.from('{}\n'), 'x.jsonl'), purpose: 'fine-tune' })), 400);
  const big = await client.files
    .create({ file: await toFile(Buffer.alloc(4096, 'a'), 'big.jsonl'), purpose: 'batch' })
    .catch((e: unknown) => e);
  t.equal((big as { status: number }).status, 413);
  t.equal((big as { error: { code: string } }).error.code, 'SWY_LIMIT_EXCEEDED');
  const json = await api.call('POST', '/v1/files', { purpose: 'batch' });
  t.equal(json.status, 415, 'JSON is not an upload');
  t.equal(json.body.error.type, 'invalid_request_error', "errors on these routes are in OpenAI's shape");
  t.equal((await client.files.list()).data.length, 0, 'nothing kept');
});

t.test('a client that disconnects from a chat completion cancels its job', async (t) => {
  const engine = await makeEngine(t);
  await engine.providers.update('mock', { options: { latencyMs: 20_000 } });
  const api = await serve(t, engine);
  const started = new Promise<string>((resolve) => engine.once('job:started', (j) => resolve(j.id)));
  const ac = new AbortController();
  const request = fetch(`${api.url}/v1/chat/completions`, {
    method: 'POST',
    signal: ac.signal,
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock-1', messages: [{ role: 'user', content: 'never mind' }] }),
  }).catch((e: unknown) => e);
  const id = await started;
  ac.abort();
  await request;
  const job = await engine.wait(id, { timeoutMs: 10_000 });
  t.equal(job.status, 'cancelled', 'nobody is waiting for the answer: the job and its provider call stop');
});
