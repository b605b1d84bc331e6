/**
 * The Anthropic front driven by the official `@anthropic-ai/sdk`, and requests crossing kinds: an
 * OpenAI-front request served by an Anthropic provider and the reverse, with tools, plain and
 * streamed.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import t, { type Test } from 'tap';
import type { Engine } from '../src/engine.js';
import { fakeAnthropic } from './helpers/fake-anthropic.js';
import { fakeOpenAI } from './helpers/fake-openai.js';
import { API_KEY, makeEngine, serve, type Served } from './helpers/engine.js';

const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

async function setup(t: Test): Promise<{ engine: Engine; api: Served; anthropic: Anthropic; openai: OpenAI }> {
  const engine = await makeEngine(t);
  const api = await serve(t, engine, { eventHeartbeatMs: 200 });
  return {
    engine,
    api,
    anthropic: new Anthropic({ apiKey: API_KEY, baseURL: api.url, maxRetries: 0 }),
    openai: new OpenAI({ apiKey: API_KEY, baseURL: `${api.url}/v1`, maxRetries: 0 }),
  };
}

t.test('@anthropic-ai/sdk: messages.create, messages.stream and tools, against the mock', async (t) => {
  const { anthropic } = await setup(t);
  const msg = await anthropic.messages.create({
    model: 'mock-1',
    max_tokens: 100,
    system: 'Be brief.',
    messages: [{ role: 'user', content: 'Hello there' }],
  });
  t.equal(msg.type, 'message');
  t.equal(msg.role, 'assistant');
  t.equal(msg.stop_reason, 'end_turn');
  t.match(msg.content, [{ type: 'text', text: /Hello there/ }]);
  t.match(msg.usage, { input_tokens: Number, output_tokens: Number });
  const stream = anthropic.messages.stream({
    model: 'mock-1',
    max_tokens: 100,
    messages: [{ role: 'user', content: 'Stream a few words please' }],
  });
  const texts: string[] = [];
  stream.on('text', (x) => texts.push(x));
  const final = await stream.finalMessage();
  t.ok(texts.length > 2, `text came in ${texts.length} deltas`);
  t.equal(texts.join(''), (final.content[0] as Anthropic.TextBlock).text);
  const tool = await anthropic.messages.create({
    model: 'mock-1',
    max_tokens: 100,
    tools: [weather],
    tool_choice: { type: 'any' },
    messages: [{ role: 'user', content: 'weather in Lima?' }],
  });
  t.equal(tool.stop_reason, 'tool_use');
  const use = tool.content.find((b) => b.type === 'tool_use') as Anthropic.ToolUseBlock;
  t.equal(use.name, 'get_weather');
  t.match(use.input, { city: String });
  const answer = await anthropic.messages.create({
    model: 'mock-1',
    max_tokens: 100,
    tools: [weather],
    messages: [
      { role: 'user', content: 'weather in Lima?' },
      { role: 'assistant', content: tool.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny, 24' }] },
    ],
  });
  t.equal(answer.stop_reason, 'end_turn', 'the tool loop closes');
  t.match((answer.content[0] as Anthropic.TextBlock).text, /sunny, 24/);
  const count = await anthropic.messages.countTokens({
    model: 'mock-1',
    messages: [{ role: 'user', content: 'count these words please' }],
  });
  t.ok(count.input_tokens > 0, 'count_tokens');
  const wrong = await new Anthropic({ apiKey: 'swy_wrong', baseURL: anthropic.baseURL, maxRetries: 0 }).messages
    .create({ model: 'mock-1', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
    .catch((e: unknown) => e);
  t.ok(wrong instanceof Anthropic.AuthenticationError, "a wrong x-api-key is an AuthenticationError, in Anthropic's shape");
  const bad = await anthropic.messages.create({ model: 'mock-1', max_tokens: 10, messages: [] }).catch((e: unknown) => e);
  t.ok(bad instanceof Anthropic.BadRequestError);
  t.match((bad as { error: unknown }).error, { type: 'error', error: { type: 'invalid_request_error', message: /^SWY_VALIDATION/ } });
});

t.test('an OpenAI-front request served by an Anthropic provider, with tools, plain and streamed', async (t) => {
  const claude = await fakeAnthropic(t, { kind: 'ok', toolUses: [{ name: 'get_weather', input: { city: 'Oslo' } }], cacheReadTokens: 40 });
  const { engine, openai } = await setup(t);
  // The mock serves every model and carries every parameter: off, so that only Claude can answer.
  await engine.providers.update('mock', { enabled: false });
  await engine.providers.add({
    name: 'claude',
    kind: 'anthropic',
    baseUrl: claude.baseUrl,
    apiKey: 'sk-ant',
    models: ['claude-x'],
    priority: 10,
    prices: { '*': { input: 3, output: 15, cacheRead: 0.3 } },
  });
  const tools: OpenAI.Chat.ChatCompletionTool[] = [
    { type: 'function', function: { name: 'get_weather', parameters: weather.input_schema } },
  ];
  const r = await openai.chat.completions.create({
    model: 'claude-x',
    messages: [
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'weather?' },
    ],
    tools,
    tool_choice: 'required',
    parallel_tool_calls: false,
    stop: 'END',
    max_tokens: 64,
  });
  const call = r.choices[0]?.message.tool_calls?.[0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
  t.equal(r.choices[0]?.finish_reason, 'tool_calls');
  t.same(JSON.parse(call.function.arguments), { city: 'Oslo' });
  t.equal(call.id, 'toolu_fake_0');
  t.match(
    claude.requests[0]?.body,
    {
      model: 'claude-x',
      system: 'sys',
      max_tokens: 64,
      stop_sequences: ['END'],
      tools: [{ name: 'get_weather', input_schema: weather.input_schema }],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
    },
    'mapped to the Messages API',
  );
  const followUp = await openai.chat.completions.create({
    model: 'claude-x',
    tools,
    messages: [{ role: 'user', content: 'weather?' }, r.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: 'cold' }],
  });
  t.ok(followUp.id, 'the tool result goes back');
  t.match(claude.requests[1]?.body.messages, [
    { role: 'user', content: 'weather?' },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_fake_0', name: 'get_weather', input: { city: 'Oslo' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_fake_0', content: 'cold' }] },
  ]);
  const stream = await openai.chat.completions.create({
    model: 'claude-x',
    messages: [{ role: 'user', content: 'weather?' }],
    tools,
    stream: true,
    stream_options: { include_usage: true },
  });
  const args: string[] = [];
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of stream) {
    for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) if (tc.function?.arguments) args.push(tc.function.arguments);
    usage = chunk.usage ?? usage;
  }
  t.ok(args.length > 1, "Anthropic's input_json deltas arrive as tool-call argument deltas");
  t.same(JSON.parse(args.join('')), { city: 'Oslo' });
  t.equal(usage?.prompt_tokens, 11 + 40, 'the prompt counts its cached tokens');
  const seeded = await openai.chat.completions
    .create({ model: 'claude-x', messages: [{ role: 'user', content: 'x' }], seed: 1 })
    .catch((e: unknown) => e);
  t.ok(seeded instanceof OpenAI.BadRequestError, 'a parameter Anthropic cannot carry is refused before any call');
  t.match((seeded as { error: { code: string; message: string } }).error, { code: 'SWY_UNSUPPORTED_PARAMETER', message: /seed/ });
  const rows = (await engine.usage({ groupBy: ['provider'] })).data.find((u) => u.provider === 'claude');
  t.equal(rows?.cacheReadTokens, 40 * 3, 'cache reads are recorded per call');
});

t.test('an Anthropic-front request served by an OpenAI provider, with tools, plain and streamed', async (t) => {
  const gpt = await fakeOpenAI(t, { kind: 'ok', toolCalls: [{ name: 'get_weather', arguments: '{"city":"Quito"}' }] });
  const { engine, anthropic } = await setup(t);
  await engine.providers.update('mock', { enabled: false });
  await engine.providers.add({ name: 'gpt', kind: 'openai', baseUrl: gpt.baseUrl, models: ['gpt-x'], priority: 10 });
  const msg = await anthropic.messages.create({
    model: 'gpt-x',
    max_tokens: 50,
    system: 'sys',
    tools: [weather],
    tool_choice: { type: 'tool', name: 'get_weather' },
    messages: [{ role: 'user', content: 'weather?' }],
  });
  t.equal(msg.stop_reason, 'tool_use');
  t.match(msg.content, [{ type: 'tool_use', id: 'call_fake_0', name: 'get_weather', input: { city: 'Quito' } }]);
  t.match(
    gpt.requests[0]?.body,
    {
      model: 'gpt-x',
      max_tokens: 50,
      messages: [
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'weather?' },
      ],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: weather.input_schema } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    },
    'mapped to Chat Completions',
  );
  const stream = anthropic.messages.stream({
    model: 'gpt-x',
    max_tokens: 50,
    tools: [weather],
    messages: [{ role: 'user', content: 'weather?' }],
  });
  const json: string[] = [];
  stream.on('inputJson', (partial) => json.push(partial));
  const final = await stream.finalMessage();
  t.ok(json.length > 1, 'tool arguments stream as input_json deltas');
  t.match(final.content, [{ type: 'tool_use', name: 'get_weather', input: { city: 'Quito' } }]);
  const topK = await anthropic.messages
    .create({ model: 'gpt-x', max_tokens: 5, top_k: 5, messages: [{ role: 'user', content: 'x' }] } as never)
    .catch((e: unknown) => e);
  t.ok(topK instanceof Anthropic.BadRequestError, 'top_k cannot go to an OpenAI provider');
  t.match((topK as { error: { error: { message: string } } }).error.error.message, /SWY_UNSUPPORTED_PARAMETER: .*top_k/);
});
