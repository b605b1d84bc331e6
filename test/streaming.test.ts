/**
 * Real token streams end to end: failover before the first token, the documented error after it,
 * spend recorded for every streamed request, a client that leaves cancels the upstream call, and
 * a job's tokens followed on GET /v1/jobs/:id/stream.
 */
import OpenAI from 'openai';
import t, { type Test } from 'tap';
import type { Engine } from '../src/engine.js';
import { fakeAnthropic } from './helpers/fake-anthropic.js';
import { fakeOpenAI } from './helpers/fake-openai.js';
import { API_KEY, chatJob, makeEngine, serve, type Served } from './helpers/engine.js';
import { sse } from './helpers/sse.js';
import { until } from './helpers/wait.js';

async function setup(t: Test): Promise<{ engine: Engine; api: Served; client: OpenAI }> {
  const engine = await makeEngine(t, { retryBaseMs: 10, retryMaxMs: 20 });
  await engine.providers.update('mock', { enabled: false });
  const api = await serve(t, engine, { eventHeartbeatMs: 200 });
  return { engine, api, client: new OpenAI({ apiKey: API_KEY, baseURL: `${api.url}/v1`, maxRetries: 0 }) };
}

async function collect(stream: AsyncIterable<OpenAI.Chat.ChatCompletionChunk>) {
  let text = '';
  let roles = 0;
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const c of stream) {
    if (c.choices[0]?.delta.role) roles++;
    text += c.choices[0]?.delta.content ?? '';
    finish = c.choices[0]?.finish_reason ?? finish;
    usage = c.usage ?? usage;
  }
  return { text, roles, finish, usage };
}

t.test('a stream that fails before its first token fails over: the client sees one clean stream', async (t) => {
  const cut = await fakeOpenAI(t, { kind: 'ok', cutAfter: 0 });
  const overloaded = await fakeAnthropic(t, { kind: 'ok', errorAfter: 0 });
  const good = await fakeOpenAI(t, { kind: 'ok', text: 'the good answer arrives whole' });
  const { engine, client } = await setup(t);
  await engine.providers.add({ name: 'cut', kind: 'openai', baseUrl: cut.baseUrl, priority: 30, breaker: { volumeThreshold: 100 } });
  await engine.providers.add({
    name: 'claude',
    kind: 'anthropic',
    baseUrl: overloaded.baseUrl,
    apiKey: 'k',
    priority: 20,
    breaker: { volumeThreshold: 100 },
  });
  await engine.providers.add({ name: 'good', kind: 'openai', baseUrl: good.baseUrl, priority: 10 });
  const r = await collect(
    await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    }),
  );
  t.same(r, {
    text: 'the good answer arrives whole',
    roles: 1,
    finish: 'stop',
    usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 },
  });
  t.equal(cut.requests.length, 1, 'the first provider was tried');
  t.equal(overloaded.requests.length, 1, 'so was the second');
  const calls = (await engine.usage({ groupBy: ['provider'] })).data;
  t.match(
    calls.find((c) => c.provider === 'cut'),
    { calls: 1, errors: 1 },
  );
  t.match(
    calls.find((c) => c.provider === 'claude'),
    { calls: 1, errors: 1 },
  );
  t.match(
    calls.find((c) => c.provider === 'good'),
    { calls: 1, errors: 0, inputTokens: 7, outputTokens: 5 },
  );
});

t.test('a stream that fails after its first token ends with the error event; its usage is still written', async (t) => {
  const broken = await fakeOpenAI(t, { kind: 'ok', text: 'one two three four five six', errorAfter: 2 });
  const spare = await fakeOpenAI(t, { kind: 'ok' });
  const { engine, client } = await setup(t);
  await engine.providers.add({
    name: 'broken',
    kind: 'openai',
    baseUrl: broken.baseUrl,
    priority: 20,
    prices: { '*': { input: 1, output: 2 } },
  });
  await engine.providers.add({ name: 'spare', kind: 'openai', baseUrl: spare.baseUrl, priority: 10 });
  const stream = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'count' }], stream: true });
  let text = '';
  let jobId: string | undefined;
  const err = await (async () => {
    for await (const c of stream) {
      jobId ??= c.id.slice('chatcmpl-'.length);
      text += c.choices[0]?.delta.content ?? '';
    }
  })().then(
    () => undefined,
    (e: unknown) => e,
  );
  t.equal(text, 'one two ', 'the first tokens reached the client');
  t.ok(err instanceof OpenAI.APIError, "then the SDK raised the stream's error event");
  t.match((err as { error: { code: string; type: string } }).error, { code: 'SWY_PROVIDER_SERVER', type: 'api_error' });
  t.equal(spare.requests.length, 0, 'no failover once tokens were sent');
  const job = await engine.get(jobId as string);
  t.equal(job.status, 'failed');
  t.equal(job.attempt, 1, 'and no retry');
  const rows = (await engine.usage({ groupBy: ['provider'] })).data;
  const row = rows.find((r) => r.provider === 'broken');
  t.match(row, { calls: 1, errors: 1, estimatedCalls: 1 }, 'the usage row of the broken stream, marked estimated');
  t.ok(
    (row?.outputTokens ?? 0) > 0 && (row?.costUsd ?? 0) > 0,
    `its tokens and cost are counted (${row?.outputTokens} out, $${row?.costUsd})`,
  );
  t.ok(job.usage.outputTokens > 0, 'and the job carries them');
});

t.test('spend is recorded for every streamed request, estimated where the upstream sends no usage', async (t) => {
  const quiet = await fakeOpenAI(t, { kind: 'ok', text: 'an answer of seven words, more or less', noUsage: true });
  const { engine, client } = await setup(t);
  await engine.providers.add({ name: 'quiet', kind: 'openai', baseUrl: quiet.baseUrl, prices: { '*': { input: 1, output: 1 } } });
  // A stream's last chunk can reach the client before its job's record is committed.
  let recorded = 0;
  engine.on('job:completed', () => recorded++);
  for (let i = 0; i < 10; i++) {
    const r = await collect(
      await client.chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: `q${i}` }],
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    t.ok((r.usage?.completion_tokens ?? 0) > 0, `stream ${i}: the client is told an estimate`);
  }
  await until(engine, ['job:completed'], () => recorded === 10);
  const [row] = (await engine.usage({ groupBy: ['provider'] })).data;
  t.match(row, { provider: 'quiet', calls: 10, errors: 0, estimatedCalls: 10 });
  t.ok((row?.costUsd ?? 0) > 0, '10 of 10 streamed requests cost something');
});

t.test('a client that leaves a stream cancels its job and the upstream call', async (t) => {
  const slow = await fakeOpenAI(t, { kind: 'hang' });
  const { engine, client } = await setup(t);
  await engine.providers.add({ name: 'slow', kind: 'openai', baseUrl: slow.baseUrl });
  const cancelled = new Promise<string>((resolve) => engine.once('job:cancelled', (j) => resolve(j.id)));
  const ac = new AbortController();
  const upstreamAborted = slow.nextAbort();
  const started = new Promise<void>((resolve) => engine.once('job:started', () => resolve()));
  const req = client.chat.completions
    .create({ model: 'm', messages: [{ role: 'user', content: 'wait' }], stream: true }, { signal: ac.signal })
    .catch(() => undefined);
  await started;
  ac.abort();
  await req;
  const id = await cancelled;
  await upstreamAborted;
  t.equal(slow.aborted(), 1, 'the upstream saw its request go away');
  t.equal((await engine.get(id)).status, 'cancelled');
});

t.test("GET /v1/jobs/:id/stream: a queued job's tokens, followed from before it starts", async (t) => {
  const engine = await makeEngine(t, { start: false });
  await engine.providers.update('mock', { options: { tokensPerSecond: 200 } });
  const api = await serve(t, engine, { eventHeartbeatMs: 100 });
  const reader = (await api.call('POST', '/v1/keys', { scopes: ['jobs:read', 'jobs:write'] })).body.secret as string;
  const job = (await api.as(reader).call('POST', '/v1/jobs', chatJob('follow these many words as they come'))).body;
  const stream = await sse(`${api.url}/v1/jobs/${job.id}/stream`, { headers: { authorization: `Bearer ${reader}` } });
  await stream.until((es) => es.some((e) => e.event === 'job'));
  t.equal(stream.events[0]?.json.status, 'queued', 'it begins with the job as it is');
  await engine.start();
  await stream.until((es) => es.some((e) => e.event === 'done'));
  const deltas = stream.events.filter((e) => e.event === 'delta').map((e) => e.json.content as string);
  const done = stream.events.find((e) => e.event === 'done')?.json;
  t.ok(deltas.length > 3, `${deltas.length} deltas`);
  t.equal(deltas.join(''), done.output.text, 'they add up to the output');
  t.equal(done.status, 'completed');
  t.ok(stream.events.some((e) => e.event === 'attempt' && e.json.attempt === 1));
  const other = (await api.call('POST', '/v1/keys', { scopes: ['jobs:read'] })).body.secret as string;
  t.equal((await api.as(other).call('GET', `/v1/jobs/${job.id}/stream`)).status, 404, 'another tenant cannot follow it');
  await stream.close();
});
