/**
 * A hostile tenant's requests (issue: one tenant cannot hurt the others), each sent as it was found
 * to hurt the server: schemas that freeze it, answers that exhaust it, times that break it.
 */
import t, { type Test } from 'tap';
import type { Engine } from '../src/engine.js';
import { createAjv } from '../src/validation.js';
import { fakeOpenAI } from './helpers/fake-openai.js';
import { API_KEY, chatJob, makeEngine, serve } from './helpers/engine.js';
import { sse } from './helpers/sse.js';

const fixture = (name: string) => new URL(`./fixtures/${name}.ts`, import.meta.url);
/** How many schemas the engine's schema thread has been given to compile. */
const schemaCompiles = (engine: Engine) => (Reflect.get(engine, 'schemas') as { compiles: number }).compiles;
const ask = (responseSchema: unknown, extra: Record<string, unknown> = {}) => ({
  input: { messages: [{ role: 'user', content: 'answer' }], responseSchema },
  ...extra,
});

/** An engine whose only provider answers every call with `text`. */
async function answering(t: Test, text: string, opts = {}) {
  const fake = await fakeOpenAI(t, { kind: 'ok', text });
  const engine = await makeEngine(t, opts);
  await engine.providers.update('mock', { enabled: false });
  await engine.providers.add({ name: 'fake', kind: 'openai', baseUrl: fake.baseUrl });
  return { engine, fake, api: await serve(t, engine) };
}

t.test('a backtracking pattern cannot freeze the server: patterns and patternProperties run on RE2', async (t) => {
  // On a backtracking engine `^(a+)+$` against 64 a's and a "!" takes longer than the universe has left.
  const evil = `${'a'.repeat(64)}!`;
  const { engine, api } = await answering(t, JSON.stringify({ [evil]: evil }));
  const pattern = await api.call(
    'POST',
    '/v1/jobs',
    ask({ type: 'object', additionalProperties: { type: 'string', pattern: '^(a+)+$' } }, { maxAttempts: 1 }),
  );
  const keys = await api.call(
    'POST',
    '/v1/jobs',
    ask({ type: 'object', patternProperties: { '^(a+)+$': {} }, additionalProperties: false }, { maxAttempts: 1 }),
  );
  for (const r of [pattern, keys]) {
    t.equal(r.status, 201);
    const done = await engine.wait(r.body.id, { timeoutMs: 60_000 });
    t.equal(done.status, 'failed');
    t.equal(done.error?.code, 'SWY_OUTPUT_INVALID', 'the answer fails its schema, promptly');
  }
  t.equal((await api.as(undefined).call('GET', '/health')).status, 200);
  const ajv = createAjv({ untrusted: true });
  t.equal(ajv.compile({ type: 'string', pattern: '^(a+)+$' })(`${'a'.repeat(10_000)}!`), false, 'the tenant-schema engine is linear-time');
  t.throws(() => ajv.compile({ type: 'string', pattern: '^(?=a)' }), /unsupported/, 'lookarounds (which need backtracking) are refused');
  const refused = await api.call('POST', '/v1/jobs', ask({ type: 'string', pattern: '(a)\\1' }));
  t.equal(refused.status, 400, 'a schema whose pattern RE2 cannot run is a 400 at submit');
  t.equal(refused.body.error.code, 'SWY_VALIDATION');
  t.match(refused.body.error.message, /input\.responseSchema cannot be used/);
});

t.test('schemas have size and complexity limits; a slow compile is cut off on its own thread, and its failure cached', async (t) => {
  const props = (n: number) => ({
    type: 'object',
    properties: Object.fromEntries(Array.from({ length: n }, (_, i) => [`field${i}`, { type: 'string' }])),
  });
  const engine = await makeEngine(t, { start: false, maxSchemaBytes: 1_000_000, schemaTimeoutMs: 100 });
  const api = await serve(t, engine, { limits: { bodyBytes: 4_000_000 } });
  const huge = await api.call('POST', '/v1/jobs', ask(props(40_000)));
  t.equal(huge.status, 400, 'a schema over the byte limit');
  t.equal(huge.body.error.code, 'SWY_SCHEMA_TOO_COMPLEX');
  let deep: unknown = { type: 'string' };
  for (let i = 0; i < 40; i++) deep = { type: 'array', items: deep };
  const nested = await api.call('POST', '/v1/jobs', ask(deep));
  t.equal(nested.status, 400, 'a schema nested past the depth limit');
  t.equal(nested.body.error.code, 'SWY_SCHEMA_TOO_COMPLEX');
  // Thousands of properties, each with its own pattern, compile in seconds: far past a 100 ms
  // budget, which a small schema (on a thread already warmed) stays far inside even on a busy machine.
  const slow = {
    type: 'object',
    properties: Object.fromEntries(
      Array.from({ length: 4900 }, (_, i) => [
        `field${i}`,
        { type: 'string', pattern: `^(x${i}|[a-z]{2,9}\\d{1,5}|foo[0-9a-f]{1,30}bar)+$` },
      ]),
    ),
  };
  const first = await api.call('POST', '/v1/jobs', ask(slow));
  t.equal(first.status, 400);
  t.equal(first.body.error.code, 'SWY_SCHEMA_TOO_COMPLEX');
  t.match(first.body.error.message, /took longer than 100 ms/);
  const compiles = schemaCompiles(engine);
  const again = await api.call('POST', '/v1/jobs', ask(slow));
  t.equal(again.body.error.code, 'SWY_SCHEMA_TOO_COMPLEX', 'the same schema again');
  t.equal(schemaCompiles(engine), compiles, 'is answered from the cache: not compiled again');
  t.equal(
    (await api.call('POST', '/v1/jobs', ask({ type: 'object', properties: { a: { type: 'string' } } }))).status,
    201,
    'the schema thread, terminated and replaced, takes the next schema',
  );
  t.equal((await engine.stats()).total, 1, 'only the valid job was stored');
});

t.test('a JSON Schema that declares any draft Ajv supports is accepted; an unknown one is a 400, never a 500', async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  const drafts = [
    'https://json-schema.org/draft/2020-12/schema',
    'https://json-schema.org/draft/2019-09/schema',
    'http://json-schema.org/draft-07/schema#',
    'http://json-schema.org/draft-06/schema#',
    'http://json-schema.org/draft-04/schema#',
  ];
  for (const $schema of drafts) {
    const r = await api.call(
      'POST',
      '/v1/jobs',
      ask({ $schema, type: 'object', properties: { label: { type: 'string' } }, required: ['label'] }),
    );
    t.equal(r.status, 201, $schema);
    const done = await engine.wait(r.body.id, { timeoutMs: 30_000 });
    t.equal(done.status, 'completed', `${$schema}: the mock answered to it`);
  }
  const unknown = await api.call('POST', '/v1/jobs', ask({ $schema: 'https://example.com/my-schema', type: 'object' }));
  t.equal(unknown.status, 400);
  t.equal(unknown.body.error.code, 'SWY_VALIDATION');
  const unresolved = await api.call('POST', '/v1/jobs', ask({ type: 'object', properties: { a: { $ref: '#/$defs/missing' } } }));
  t.equal(unresolved.status, 400, 'a schema that cannot be compiled names its problem');
  t.match(unresolved.body.error.message, /can't resolve reference/);
});

t.test("every answer is bounded: a provider's, the mock's and a handler's", async (t) => {
  const { engine, api, fake } = await answering(t, 'x'.repeat(3_000_000), { maxOutputBytes: 1_048_576 });
  const fromUpstream = await api.call('POST', '/v1/jobs', chatJob('tell me everything'));
  const upstream = await engine.wait(fromUpstream.body.id, { timeoutMs: 60_000 });
  t.equal(upstream.status, 'failed');
  t.equal(upstream.error?.code, 'SWY_OUTPUT_TOO_LARGE');
  t.equal(upstream.attempt, 1, 'not retried: the same question would get the same answer');
  t.equal(fake.requests.length, 1);

  await engine.providers.update('fake', { enabled: false });
  await engine.providers.update('mock', { enabled: true });
  const mock = await api.call('POST', '/v1/jobs', ask({ type: 'string', minLength: 20_000_000 }));
  const fromMock = await engine.wait(mock.body.id, { timeoutMs: 60_000 });
  t.equal(fromMock.status, 'failed', 'the mock does not build a 20 MB answer');
  t.equal(fromMock.error?.code, 'SWY_OUTPUT_TOO_LARGE');

  const bigEngine = await makeEngine(t, { start: false, maxOutputBytes: 1_048_576 });
  bigEngine.defineJobType('big', fixture('big-output'));
  await bigEngine.start();
  const small = await bigEngine.submit({ type: 'big', input: { bytes: 1000 } });
  t.equal((await bigEngine.wait(small.id, { timeoutMs: 60_000 })).status, 'completed');
  const large = await bigEngine.submit({ type: 'big', input: { bytes: 2_000_000 } });
  const fromHandler = await bigEngine.wait(large.id, { timeoutMs: 60_000 });
  t.equal(fromHandler.status, 'failed', "a handler's output past the bound");
  t.equal(fromHandler.error?.code, 'SWY_OUTPUT_TOO_LARGE');
});

t.test('the live event stream keeps summaries, bounded in bytes, and serialises each event once', async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine, { eventStreamsPerKey: 64 });
  // Answers of 400 KB each: the ring kept them whole, twice, before.
  const jobs = [];
  for (let i = 0; i < 6; i++)
    jobs.push((await api.call('POST', '/v1/jobs', ask({ type: 'string', minLength: 400_000 }))).body.id as string);
  for (const id of jobs) t.equal((await engine.wait(id, { timeoutMs: 60_000 })).status, 'completed');
  const admin = { headers: { authorization: `Bearer ${API_KEY}` } };
  const replay = await sse(`${api.url}/v1/events?lastEventId=0`, admin);
  await replay.until((es) => es.filter((e) => e.event === 'job:completed').length === 6);
  const completed = replay.events.filter((e) => e.event === 'job:completed');
  t.ok(
    completed.every((e) => e.json.output === undefined && e.json.input === undefined),
    'job events carry no input or output',
  );
  t.ok(
    completed.every((e) => e.data.length < 2000),
    'each is a small summary',
  );
  await replay.close();

  // Twenty listeners or one: the same serialising work per event.
  const counted = async (listeners: number) => {
    const clients = await Promise.all(Array.from({ length: listeners }, () => sse(`${api.url}/v1/events`, admin)));
    const stringify = JSON.stringify;
    let calls = 0;
    JSON.stringify = ((...args: Parameters<typeof stringify>) => {
      calls++;
      return stringify(...args);
    }) as typeof JSON.stringify;
    try {
      const job = await engine.submit(chatJob('count me'));
      await Promise.all(clients.map((c) => c.until((es) => es.some((e) => e.event === 'job:completed' && e.json.id === job.id))));
    } finally {
      JSON.stringify = stringify;
    }
    await Promise.all(clients.map((c) => c.close()));
    return calls;
  };
  const one = await counted(1);
  const twenty = await counted(20);
  t.equal(twenty, one, `${one} JSON.stringify calls for a job's events with one listener, and with twenty`);
});

t.test('times a date-time format accepts but no clock can hold are 400s; a runAt in 1970 is no queue wait', async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  for (const runAt of [1e300, '2026-12-31T23:59:60Z', 253_402_300_800_000, '+275760-09-13T00:00:00.001Z']) {
    const r = await api.call('POST', '/v1/jobs', { ...chatJob('when?'), runAt });
    t.equal(r.status, 400, `runAt ${runAt}`);
    t.equal(r.body.error.code, 'SWY_VALIDATION', `runAt ${runAt}: a coded validation error, not a store fault`);
  }
  const old = await api.call('POST', '/v1/jobs', { ...chatJob('long ago'), runAt: 0 });
  t.equal(old.status, 201);
  await engine.wait(old.body.id, { timeoutMs: 30_000 });
  const stats = await engine.stats();
  t.ok(stats.queueWait.p99 < 86_400_000, `queue wait is counted from when the job was made (p99 ${stats.queueWait.p99} ms), not from 1970`);
  t.equal((await engine.stats()).total, 1, 'only the valid job was stored');
});
