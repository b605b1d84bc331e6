/** The Anthropic adapter against a fake Messages API: mapping, usage, errors. */
import t from 'tap';
import { toAnthropicMessages } from '../src/providers/anthropic-map.js';
import { chatJob, makeEngine } from './helpers/engine.js';
import { fakeAnthropic } from './helpers/fake-anthropic.js';

t.test('round trip: system prompt mapping, max_tokens, usage and cost', async (t) => {
  const fake = await fakeAnthropic(t, { kind: 'ok', inputTokens: 2000, outputTokens: 400 });
  const engine = await makeEngine(t);
  await engine.providers.add({
    name: 'claude',
    kind: 'anthropic',
    baseUrl: fake.baseUrl,
    apiKey: 'sk-ant-test',
    priority: 10,
    models: ['claude-3-5-haiku-latest'],
    prices: { '*': { input: 0.8, output: 4 } },
    options: { maxTokens: 300 },
  });
  const job = await engine.submit({
    input: {
      model: 'claude-3-5-haiku-latest',
      temperature: 0.3,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello' },
        { role: 'assistant', content: 'Hi.' },
        { role: 'user', content: 'Summarise this.' },
      ],
    },
  });
  const done = await engine.wait(job.id, { timeoutMs: 10_000 });
  t.equal(done.status, 'completed');
  t.same(done.output, {
    text: 'claude says: Summarise this.',
    finishReason: 'stop',
    model: 'claude-3-5-haiku-latest',
    provider: 'claude',
    message: { role: 'assistant', content: 'claude says: Summarise this.', refusal: null },
  });
  t.same(done.usage, { inputTokens: 2000, outputTokens: 400, costUsd: (2000 * 0.8 + 400 * 4) / 1e6 });
  const sent = fake.requests[0]!;
  t.equal(sent.headers['x-api-key'], 'sk-ant-test');
  t.equal(sent.headers['anthropic-version'], '2023-06-01');
  t.same(sent.body, {
    model: 'claude-3-5-haiku-latest',
    max_tokens: 300,
    system: 'Be brief.',
    temperature: 0.3,
    messages: [
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: 'Hi.' },
      { role: 'user', content: 'Summarise this.' },
    ],
  });
});

t.test('turns of one role are joined; tool results are user turns of tool_result blocks', async (t) => {
  t.same(
    toAnthropicMessages([
      { role: 'user', content: 'a' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'look', arguments: '{"q":1}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'b' },
      { role: 'user', content: 'c' },
      { role: 'system', content: 's' },
    ]),
    {
      system: 's',
      messages: [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'call_1', name: 'look', input: { q: 1 } }] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'call_1', content: 'b' },
            { type: 'text', text: 'c' },
          ],
        },
      ],
    },
  );
});

t.test('Anthropic errors map to the taxonomy', async (t) => {
  const fake = await fakeAnthropic(t);
  const engine = await makeEngine(t);
  await engine.providers.update('mock', { enabled: false });
  await engine.providers.add({ name: 'claude', kind: 'anthropic', baseUrl: fake.baseUrl, apiKey: 'k', breaker: { volumeThreshold: 100 } });
  const cases: [number, string, string, string][] = [
    [529, 'overloaded_error', 'Overloaded', 'SWY_PROVIDER_OVERLOADED'],
    [500, 'api_error', 'Internal error', 'SWY_PROVIDER_SERVER'],
    [400, 'invalid_request_error', 'prompt is too long: 250000 tokens > 200000 maximum', 'SWY_PROVIDER_CONTEXT_LENGTH'],
    [400, 'invalid_request_error', 'messages: field required', 'SWY_PROVIDER_BAD_REQUEST'],
  ];
  for (const [status, type, message, code] of cases) {
    fake.behave({ kind: 'error', status, type, message });
    const job = await engine.submit(chatJob(`${type}`, { maxAttempts: 1 }));
    const done = await engine.wait(job.id, { timeoutMs: 10_000 });
    t.equal(done.error?.code, code, `${status} ${type} → ${code}`);
  }
  fake.behave({ kind: 'ok', stopReason: 'max_tokens' });
  const ok = await engine.submit(chatJob('long'));
  t.equal(((await engine.wait(ok.id, { timeoutMs: 10_000 })).output as { finishReason: string }).finishReason, 'length');
});
