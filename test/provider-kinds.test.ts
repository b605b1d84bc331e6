/**
 * The `gemini`, `azure` and `bedrock` kinds against fakes that speak each vendor's wire format on
 * 127.0.0.1: answers, streams (through the official `openai` SDK), tools, usage and catalogue
 * prices, authentication, and errors mapped to the SWY_* codes.
 */
import OpenAI from 'openai';
import t, { type Test } from 'tap';
import type { Engine } from '../src/engine.js';
import { API_KEY, chatJob, makeEngine, serve } from './helpers/engine.js';
import { AWS_KEY, BEDROCK_API_KEY, fakeBedrock } from './helpers/fake-bedrock.js';
import { fakeGemini } from './helpers/fake-gemini.js';
import { fakeOpenAI } from './helpers/fake-openai.js';

const tool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  },
};

async function setup(t: Test): Promise<{ engine: Engine; client: OpenAI; call: Awaited<ReturnType<typeof serve>>['call'] }> {
  const engine = await makeEngine(t, { retryBaseMs: 10, retryMaxMs: 20 });
  const api = await serve(t, engine);
  return { engine, call: api.call, client: new OpenAI({ apiKey: API_KEY, baseURL: `${api.url}/v1`, maxRetries: 0 }) };
}

const ask = (model: string, content: string, extra: Record<string, unknown> = {}) =>
  chatJob(content, {
    maxAttempts: 1,
    input: {
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content },
      ],
      model,
      ...extra,
    },
  });

async function streamed(
  client: OpenAI,
  model: string,
  content: string,
): Promise<{ text: string; usage: OpenAI.CompletionUsage | null | undefined }> {
  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  return { text, usage };
}

const close = (t: Test, a: number | null, b: number, msg: string) => t.ok(a !== null && Math.abs(a - b) < 1e-12, `${msg}: ${a} ≈ ${b}`);

t.test('gemini: generateContent and its SSE stream, tools, usage with thinking, catalogue price, errors', async (t) => {
  const fake = await fakeGemini(t, { kind: 'ok', promptTokens: 1000, outputTokens: 400, thoughtsTokens: 100 });
  const { engine, client, call } = await setup(t);
  await engine.providers.add({ name: 'gemini', kind: 'gemini', baseUrl: fake.baseUrl, apiKey: 'gemini-test-key', models: ['gemini-*'] });

  const job = await engine.submit(ask('gemini-2.5-flash', 'hello', { temperature: 0.3, maxTokens: 64, stop: ['END'] }));
  const done = await engine.wait(job.id, { timeoutMs: 10_000 });
  t.equal(done.status, 'completed');
  t.equal((done.output as { text: string }).text, 'fake answer to: hello');
  t.match(fake.requests[0], {
    url: '/v1beta/models/gemini-2.5-flash:generateContent',
    headers: { 'x-goog-api-key': 'gemini-test-key' },
    body: {
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      contents: [{ role: 'user', parts: [{ text: 'hello' }] }],
      generationConfig: { temperature: 0.3, maxOutputTokens: 64, stopSequences: ['END'] },
    },
  });
  // gemini-2.5-flash: 0.30 in, 2.50 out per million; thinking is billed as output.
  t.equal(done.usage.inputTokens, 1000);
  t.equal(done.usage.outputTokens, 500);
  close(t, done.usage.costUsd, (1000 * 0.3 + 500 * 2.5) / 1e6, 'cost from the catalogue');

  const s = await streamed(client, 'gemini-2.5-flash', 'stream please');
  t.equal(s.text, 'fake answer to: stream please', 'the SSE stream arrives whole, in order');
  t.equal(fake.requests.at(-1)?.url, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
  t.equal(s.usage?.prompt_tokens, 1000);

  fake.behave({ kind: 'ok', functionCalls: [{ name: 'get_weather', args: { city: 'Paris' } }] });
  const tooled = await client.chat.completions.create({
    model: 'gemini-2.5-flash',
    messages: [{ role: 'user', content: 'weather?' }],
    tools: [tool],
    tool_choice: 'required',
  });
  const tc = tooled.choices[0]?.message.tool_calls?.[0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
  t.equal(tooled.choices[0]?.finish_reason, 'tool_calls');
  t.same(JSON.parse(tc.function.arguments), { city: 'Paris' });
  t.match(fake.requests.at(-1)?.body, {
    tools: [{ functionDeclarations: [{ name: 'get_weather', parametersJsonSchema: tool.function.parameters }] }],
    toolConfig: { functionCallingConfig: { mode: 'ANY' } },
  });
  // The tool's result goes back as a functionResponse named after the call.
  fake.behave({ kind: 'ok', text: 'Sunny.' });
  const answer = await client.chat.completions.create({
    model: 'gemini-2.5-flash',
    messages: [{ role: 'user', content: 'weather?' }, tooled.choices[0]!.message, { role: 'tool', tool_call_id: tc.id, content: '21 C' }],
    tools: [tool],
  });
  t.equal(answer.choices[0]?.message.content, 'Sunny.');
  t.match(fake.requests.at(-1)?.body.contents, [
    { role: 'user' },
    { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] },
    { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { content: '21 C' } } }] },
  ]);

  fake.behave({ kind: 'status', status: 429, googleStatus: 'RESOURCE_EXHAUSTED', retryAfter: '1' });
  t.equal(
    (await engine.wait((await engine.submit(ask('gemini-2.5-flash', 'x'))).id, { timeoutMs: 10_000 })).error?.code,
    'SWY_PROVIDER_RATE_LIMITED',
  );
  await engine.providers.update('gemini', { apiKey: 'wrong' });
  fake.behave({ kind: 'ok' });
  t.equal(
    (await engine.wait((await engine.submit(ask('gemini-2.5-flash', 'x'))).id, { timeoutMs: 10_000 })).error?.code,
    'SWY_PROVIDER_AUTH',
    'a bad key',
  );

  const refused = await call('POST', '/v1/chat/completions', {
    model: 'gemini-2.5-flash',
    messages: [{ role: 'user', content: 'x' }],
    logit_bias: { 1: 1 },
  });
  t.equal(refused.status, 400);
  t.match(refused.body.error, { code: 'SWY_UNSUPPORTED_PARAMETER', message: /logit_bias/ });
});

t.test('azure: the deployment URL with api-version, the api-key header, modelMap, streams and errors', async (t) => {
  const fake = await fakeOpenAI(t, { kind: 'ok', promptTokens: 1000, completionTokens: 500 });
  const { engine, client } = await setup(t);
  await engine.providers.add({
    name: 'azure',
    kind: 'azure',
    baseUrl: fake.baseUrl.replace(/\/v1$/, ''),
    apiKey: 'azure-key',
    models: ['gpt-4o-mini'],
    modelMap: { 'gpt-4o': 'my-gpt4o-deployment' },
    options: { apiVersion: '2024-10-21' },
  });
  const job = await engine.submit(ask('gpt-4o-mini', 'hello'));
  const done = await engine.wait(job.id, { timeoutMs: 10_000 });
  t.equal(done.status, 'completed');
  t.equal(fake.requests[0]?.url, '/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21');
  t.equal(fake.requests[0]?.headers['api-key'], 'azure-key');
  t.equal(fake.requests[0]?.headers.authorization, undefined, 'no Bearer header');
  close(t, done.usage.costUsd, 0.00045, 'gpt-4o-mini at the catalogue price');

  const mapped = await engine.wait((await engine.submit(ask('gpt-4o', 'mapped'))).id, { timeoutMs: 10_000 });
  t.equal(mapped.status, 'completed');
  t.equal(
    fake.requests.at(-1)?.url,
    '/openai/deployments/my-gpt4o-deployment/chat/completions?api-version=2024-10-21',
    'modelMap names the deployment',
  );

  const s = await streamed(client, 'gpt-4o-mini', 'stream please');
  t.equal(s.text, 'fake answer to: stream please');
  fake.behave({ kind: 'status', status: 401, body: { error: { code: '401', message: 'Access denied due to invalid subscription key.' } } });
  t.equal((await engine.wait((await engine.submit(ask('gpt-4o-mini', 'x'))).id, { timeoutMs: 10_000 })).error?.code, 'SWY_PROVIDER_AUTH');
});

t.test('bedrock: Converse signed with SigV4, ConverseStream event-stream frames, tools, a Bearer API key, exceptions', async (t) => {
  const region = 'eu-west-1';
  const fake = await fakeBedrock(t, { kind: 'ok', inputTokens: 1000, outputTokens: 500, cacheReadTokens: 200 }, region);
  const { engine, client } = await setup(t);
  const model = 'anthropic.claude-3-5-haiku-20241022-v1:0';
  await engine.providers.add({
    name: 'bedrock',
    kind: 'bedrock',
    baseUrl: fake.baseUrl,
    apiKey: `${AWS_KEY.accessKeyId}:${AWS_KEY.secretAccessKey}`,
    models: ['anthropic.*'],
    options: { region },
  });
  const job = await engine.submit(ask(model, 'hello', { temperature: 0.2, maxTokens: 50 }));
  const done = await engine.wait(job.id, { timeoutMs: 10_000 });
  t.equal(done.status, 'completed', JSON.stringify(done.error));
  t.equal((done.output as { text: string }).text, 'fake answer to: hello');
  t.match(fake.requests[0], {
    path: `/model/${encodeURIComponent(model)}/converse`,
    signed: 'sigv4',
    body: {
      system: [{ text: 'Be brief.' }],
      messages: [{ role: 'user', content: [{ text: 'hello' }] }],
      inferenceConfig: { temperature: 0.2, maxTokens: 50 },
    },
  });
  t.equal(done.usage.inputTokens, 1200, 'cache reads are part of the prompt');
  t.ok(done.usage.costUsd !== null && done.usage.costUsd > 0, `priced from the catalogue (${done.usage.costUsd})`);

  const s = await streamed(client, model, 'stream please');
  t.equal(s.text, 'fake answer to: stream please', 'the binary event stream arrives whole, in order');
  t.equal(s.usage?.completion_tokens, 500);

  fake.behave({ kind: 'ok', toolUses: [{ name: 'get_weather', input: { city: 'Oslo' } }] });
  const tooled = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'weather?' }],
    tools: [tool],
    stream: true,
  });
  const calls: Record<number, { id?: string; name: string; args: string }> = {};
  for await (const chunk of tooled) {
    for (const d of chunk.choices[0]?.delta.tool_calls ?? []) {
      calls[d.index] ??= { name: '', args: '' };
      const c = calls[d.index]!;
      if (d.id) c.id = d.id;
      c.name += d.function?.name ?? '';
      c.args += d.function?.arguments ?? '';
    }
  }
  t.same(
    calls[0],
    { id: 'tooluse_fake_0', name: 'get_weather', args: JSON.stringify({ city: 'Oslo' }) },
    'a streamed tool call, its input in pieces',
  );
  t.match(fake.requests.at(-1)?.body.toolConfig, {
    tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: tool.function.parameters } } }],
    toolChoice: { auto: {} },
  });

  fake.behave({ kind: 'ok', exception: 'throttlingException' });
  const cut = await client.chat.completions
    .create({ model, messages: [{ role: 'user', content: 'x y z' }], stream: true })
    .then(async (st) => {
      for await (const _ of st) {
        // read to the end
      }
      return undefined;
    })
    .catch((err: Error) => err);
  t.ok(cut instanceof Error, 'a stream that ends with an exception fails the stream');

  fake.behave({ kind: 'status', status: 400, errorType: 'ValidationException', message: 'bad' });
  t.equal((await engine.wait((await engine.submit(ask(model, 'x'))).id, { timeoutMs: 10_000 })).error?.code, 'SWY_PROVIDER_BAD_REQUEST');
  fake.behave({ kind: 'status', status: 503, errorType: 'ServiceUnavailableException' });
  t.equal((await engine.wait((await engine.submit(ask(model, 'x'))).id, { timeoutMs: 10_000 })).error?.code, 'SWY_PROVIDER_OVERLOADED');

  await engine.providers.update('bedrock', { apiKey: `${AWS_KEY.accessKeyId}:not-the-secret` });
  fake.behave({ kind: 'ok' });
  t.equal(
    (await engine.wait((await engine.submit(ask(model, 'x'))).id, { timeoutMs: 10_000 })).error?.code,
    'SWY_PROVIDER_AUTH',
    'a bad signature',
  );
  await engine.providers.update('bedrock', { apiKey: BEDROCK_API_KEY, options: { region } });
  const bearer = await engine.wait((await engine.submit(ask(model, 'with an API key'))).id, { timeoutMs: 10_000 });
  t.equal(bearer.status, 'completed');
  t.equal(fake.requests.at(-1)?.signed, 'bearer');
  t.equal(fake.requests.at(-1)?.headers.authorization, `Bearer ${BEDROCK_API_KEY}`);

  const refused = await engine.submit(ask(model, 'x', { seed: 1 })).catch((err: { code: string; message: string }) => err);
  t.match(refused, { code: 'SWY_UNSUPPORTED_PARAMETER', message: /seed/ });
});
