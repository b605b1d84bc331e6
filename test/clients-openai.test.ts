/**
 * Every LLM client works unchanged: the official `openai` SDK over a real socket, with tools,
 * content parts, structured outputs (zod 4), real token streams and the Responses API.
 */
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import t, { type Test } from 'tap';
import { z } from 'zod';
import type { Engine } from '../src/engine.js';
import { fakeOpenAI } from './helpers/fake-openai.js';
import { API_KEY, makeEngine, serve, type Served } from './helpers/engine.js';

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
      required: ['city', 'unit'],
      additionalProperties: false,
    },
  },
};

async function setup(t: Test, opts: Parameters<typeof makeEngine>[1] = {}): Promise<{ engine: Engine; api: Served; client: OpenAI }> {
  const engine = await makeEngine(t, opts);
  const api = await serve(t, engine, { eventHeartbeatMs: 200 });
  return { engine, api, client: new OpenAI({ apiKey: API_KEY, baseURL: `${api.url}/v1`, maxRetries: 0 }) };
}

t.test("a multi-turn tool loop: call, tool_calls, the tool's result, the answer", async (t) => {
  const { client } = await setup(t);
  const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in Paris?' }];
  const first = await client.chat.completions.create({ model: 'mock-1', messages, tools: [weatherTool], tool_choice: 'auto' });
  const call = first.choices[0]?.message.tool_calls?.[0];
  t.equal(first.choices[0]?.finish_reason, 'tool_calls');
  t.equal(call?.type, 'function');
  const fn = (call as OpenAI.Chat.ChatCompletionMessageFunctionToolCall).function;
  t.equal(fn.name, 'get_weather');
  t.match(JSON.parse(fn.arguments), { city: String, unit: 'c' }, "arguments are JSON matching the tool's schema");
  messages.push(first.choices[0]!.message, { role: 'tool', tool_call_id: call!.id, content: '{"temperature": 21}' });
  const second = await client.chat.completions.create({ model: 'mock-1', messages, tools: [weatherTool] });
  t.equal(second.choices[0]?.finish_reason, 'stop');
  t.equal(second.choices[0]?.message.tool_calls, undefined);
  t.match(second.choices[0]?.message.content, /temperature/, "the answer follows the tool's result");
  const none = await client.chat.completions.create({
    model: 'mock-1',
    messages: messages.slice(0, 1),
    tools: [weatherTool],
    tool_choice: 'none',
  });
  t.equal(none.choices[0]?.message.tool_calls, undefined, 'tool_choice none: no call');
  const named = await client.chat.completions.create({
    model: 'mock-1',
    messages: [{ role: 'user', content: 'x' }],
    tools: [weatherTool, { type: 'function', function: { name: 'other', parameters: { type: 'object' } } }],
    tool_choice: { type: 'function', function: { name: 'other' } },
  });
  t.equal(
    (named.choices[0]?.message.tool_calls?.[0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall | undefined)?.function.name,
    'other',
    'a named tool choice',
  );
});

t.test('a streamed tool call: its argument deltas reassemble into valid JSON, relayed as the upstream sent them', async (t) => {
  const fake = await fakeOpenAI(t, { kind: 'ok', toolCalls: [{ name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' }] });
  const { engine, client } = await setup(t);
  await engine.providers.add({ name: 'up', kind: 'openai', baseUrl: fake.baseUrl, models: ['gpt-up'], priority: 10 });
  const stream = await client.chat.completions.create({
    model: 'gpt-up',
    messages: [{ role: 'user', content: 'weather?' }],
    tools: [weatherTool],
    stream: true,
  });
  const args: string[] = [];
  let id: string | undefined;
  let finish: string | null = null;
  for await (const chunk of stream) {
    for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) {
      if (tc.id) id = tc.id;
      if (tc.function?.arguments) args.push(tc.function.arguments);
    }
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  t.ok(args.length > 3, `the arguments came in ${args.length} deltas`);
  t.same(JSON.parse(args.join('')), { city: 'Paris', unit: 'c' });
  t.equal(id, 'call_fake_0');
  t.equal(finish, 'tool_calls');
  t.equal(fake.requests[0]?.body.stream, true, 'the upstream was asked to stream');
  t.same(fake.requests[0]?.body.stream_options, { include_usage: true }, 'with its usage');
  const helper = await client.chat.completions
    .stream({ model: 'mock-1', messages: [{ role: 'user', content: 'weather?' }], tools: [weatherTool], tool_choice: 'required' })
    .finalMessage();
  t.match(
    JSON.parse((helper.tool_calls?.[0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall | undefined)?.function.arguments ?? 'null'),
    { city: String },
    "the SDK's stream helper reassembles the mock's deltas too",
  );
});

t.test('content parts (text and image) reach the upstream as they were sent', async (t) => {
  const fake = await fakeOpenAI(t);
  const { engine, client } = await setup(t);
  await engine.providers.add({ name: 'up', kind: 'openai', baseUrl: fake.baseUrl, models: ['gpt-vision'], priority: 10 });
  const image = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
  const content: OpenAI.Chat.ChatCompletionContentPart[] = [
    { type: 'text', text: 'What is in this picture?' },
    { type: 'image_url', image_url: { url: image, detail: 'low' } },
    { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
  ];
  const r = await client.chat.completions.create({ model: 'gpt-vision', messages: [{ role: 'user', content }] });
  t.equal(r.choices[0]?.finish_reason, 'stop');
  t.same(fake.requests[0]?.body.messages, [{ role: 'user', content }]);
});

t.test('structured outputs: a zod 4 schema through zodResponseFormat, and a raw 2020-12 schema, on both paths', async (t) => {
  const { api, client } = await setup(t);
  const Weather = z.object({ city: z.string(), temperature: z.number(), conditions: z.enum(['sunny', 'rain']) });
  const parsed = await client.chat.completions.parse({
    model: 'mock-1',
    messages: [{ role: 'user', content: 'weather in Oslo' }],
    response_format: zodResponseFormat(Weather, 'weather'),
  });
  t.match(
    parsed.choices[0]?.message.parsed,
    { city: String, temperature: Number, conditions: 'sunny' },
    'parsed by the SDK against the zod schema',
  );
  const raw = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    properties: { label: { type: 'string' }, tags: { type: 'array', prefixItems: [{ type: 'string' }] } },
    required: ['label'],
  };
  const completion = await client.chat.completions.create({
    model: 'mock-1',
    messages: [{ role: 'user', content: 'label it' }],
    response_format: { type: 'json_schema', json_schema: { name: 'label', schema: raw } },
  });
  t.match(JSON.parse(completion.choices[0]?.message.content ?? ''), { label: String });
  const job = await api.call('POST', '/v1/jobs', { input: { messages: [{ role: 'user', content: 'label it' }], responseSchema: raw } });
  t.equal(job.status, 201, 'POST /v1/jobs takes the same schema');
  const bad = await client.chat.completions
    .create({
      model: 'mock-1',
      messages: [{ role: 'user', content: 'x' }],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'x', schema: { type: 'object', properties: { a: { $ref: '#/$defs/nowhere' } } } },
      },
    })
    .catch((e: unknown) => e);
  t.ok(bad instanceof OpenAI.BadRequestError, 'a schema that cannot be compiled is a 400, not a 500 (no client retries it)');
  t.match((bad as { error: { code: string } }).error.code, 'SWY_VALIDATION');
});

t.test('every Chat Completions parameter reaches an OpenAI upstream as sent', async (t) => {
  const fake = await fakeOpenAI(t);
  const { engine, client } = await setup(t);
  await engine.providers.add({ name: 'up', kind: 'openai', baseUrl: fake.baseUrl, models: ['gpt-all'], priority: 10 });
  const params = {
    max_completion_tokens: 77,
    temperature: 0.3,
    top_p: 0.9,
    stop: ['END', 'STOP'],
    seed: 42,
    presence_penalty: 0.5,
    frequency_penalty: -0.5,
    logit_bias: { '50256': -100 },
    logprobs: true,
    top_logprobs: 3,
    reasoning_effort: 'low' as const,
    user: 'u-1',
    metadata: { run: 'r1' },
    tools: [weatherTool],
    tool_choice: 'auto' as const,
    parallel_tool_calls: false,
    response_format: { type: 'json_object' as const },
    service_tier: 'default' as const,
    store: false,
    verbosity: 'low' as const,
    prompt_cache_key: 'k',
    safety_identifier: 's',
  };
  const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
    { role: 'developer', content: 'be terse', name: 'ops' },
    { role: 'user', content: 'go' },
    {
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"x","unit":"c"}' } }],
    },
    { role: 'tool', tool_call_id: 'call_1', content: '{"t":1}' },
  ];
  await client.chat.completions.create({ model: 'gpt-all', messages, ...params }).catch(() => undefined);
  const sent = fake.requests[0]?.body;
  const { max_completion_tokens: max, ...rest } = params;
  t.match(sent, { ...rest, max_tokens: max, model: 'gpt-all' }, 'each parameter, with max_completion_tokens as max_tokens');
  t.same(sent.messages, messages, 'messages whole: names, tool calls, tool results');
  const many = await client.chat.completions
    .create({ model: 'gpt-all', messages: [{ role: 'user', content: 'x' }], n: 2 })
    .catch((e: unknown) => e);
  t.ok(many instanceof OpenAI.BadRequestError);
  t.match(
    (many as { error: { code: string; message: string } }).error,
    { code: 'SWY_UNSUPPORTED_PARAMETER', message: /parameter n\b/ },
    'n > 1 is refused, named',
  );
  const unknown = await client.chat.completions
    .create({ model: 'gpt-all', messages: [{ role: 'user', content: 'x' }], made_up: 1 } as never)
    .catch((e: unknown) => e);
  t.ok(unknown instanceof OpenAI.BadRequestError, 'an unknown parameter is refused, not dropped');
  t.match((unknown as { error: { message: string } }).error.message, /made_up/, 'and named');
});

t.test('the Responses API: create, stream, and previous_response_id across calls; GET and DELETE', async (t) => {
  const { client, api } = await setup(t);
  const first = await client.responses.create({ model: 'mock-1', instructions: 'You are terse.', input: 'Remember the word tulip.' });
  t.equal(first.object, 'response');
  t.equal(first.status, 'completed');
  t.match(first.output_text, /tulip/, "the SDK's output_text");
  t.match(first.usage, { input_tokens: Number, output_tokens: Number });
  const second = await client.responses.create({
    model: 'mock-1',
    previous_response_id: first.id,
    input: [{ role: 'user', content: 'What word?' }],
  });
  t.equal(second.previous_response_id, first.id);
  const job = await api.call('GET', `/v1/jobs/${second.id.slice(5)}`);
  const sentMessages = job.body.input.messages.map((m: { role: string; content: unknown }) => [
    m.role,
    typeof m.content === 'string' ? m.content.slice(0, 24) : 'parts',
  ]);
  t.same(
    sentMessages,
    [
      ['user', 'Remember the word tulip.'],
      ['assistant', first.output_text.slice(0, 24)],
      ['user', 'What word?'],
    ],
    'the earlier turn, its answer, then the new input (the earlier instructions are not carried)',
  );
  const streamed = client.responses.stream({
    model: 'mock-1',
    input: 'Stream this answer please',
    tools: [{ type: 'function', name: 'noop', parameters: { type: 'object', properties: {} }, strict: false }],
    tool_choice: 'none',
  });
  const deltas: string[] = [];
  streamed.on('response.output_text.delta', (e) => deltas.push(e.delta));
  const final = await streamed.finalResponse();
  t.ok(deltas.length > 2, `text came in ${deltas.length} deltas`);
  const text = final.output
    .flatMap((o) => (o.type === 'message' ? o.content : []))
    .map((c) => (c.type === 'output_text' ? c.text : ''))
    .join('');
  t.equal(deltas.join(''), text, "the deltas add up to the final response's text");
  t.equal(final.status, 'completed');
  const tools = await client.responses.create({
    model: 'mock-1',
    input: 'weather in Rome',
    tools: [{ type: 'function', name: 'get_weather', parameters: weatherTool.function.parameters, strict: true }],
  });
  const fc = tools.output.find((o) => o.type === 'function_call') as OpenAI.Responses.ResponseFunctionToolCall;
  t.equal(fc.name, 'get_weather');
  t.match(JSON.parse(fc.arguments), { city: String });
  t.equal((await client.responses.retrieve(first.id)).id, first.id, 'GET /v1/responses/:id');
  await client.responses.delete(first.id);
  t.equal(
    await client.responses.retrieve(first.id).then(
      () => 200,
      (e: { status: number }) => e.status,
    ),
    404,
    'a deleted response is gone',
  );
  const unstored = await client.responses.create({ model: 'mock-1', input: 'private', store: false });
  t.equal(
    await client.responses.retrieve(unstored.id).then(
      () => 200,
      (e: { status: number }) => e.status,
    ),
    404,
    'store: false is not kept for reading',
  );
  const bad = await client.responses.create({ model: 'mock-1', input: 'x', previous_response_id: 'resp_nope' }).catch((e: unknown) => e);
  t.equal((bad as { status: number }).status, 404);
});

t.test("unknown routes under /v1/ answer in OpenAI's error shape", async (t) => {
  const { client, api } = await setup(t, { start: false });
  const e = await client.embeddings.create({ model: 'x', input: 'y' }).catch((err: unknown) => err);
  t.ok(e instanceof OpenAI.NotFoundError);
  t.match((e as { error: unknown }).error, {
    type: 'invalid_request_error',
    code: 'SWY_ROUTE_NOT_FOUND',
    message: /no route POST \/v1\/embeddings/,
  });
  t.equal((await api.call('GET', '/nope')).body.error.code, 'SWY_ROUTE_NOT_FOUND', 'outside /v1/ the plain shape');
});
