/** Small pure pieces: backoff, routing order, error mapping, config, schema sampling. */
import t from 'tap';
import { retryDelay } from '../src/scheduler/backoff.js';
import { FairShare } from '../src/store/fair-share.js';
import { checkJsonLimits } from '../src/http/limits.js';
import { configFromEnv, resolveEngineConfig, type EngineOptions } from '../src/config.js';
import { SwitchyardError, toErrorInfo, fromErrorInfo, type ErrorCode } from '../src/errors.js';
import { parseRetryAfter, statusToCode } from '../src/providers/http-errors.js';
import { MockAdapter, sampleFromSchema } from '../src/providers/mock.js';
import { order } from '../src/providers/router.js';
import { Provider } from '../src/providers/provider.js';
import { HostPolicy } from '../src/providers/addresses.js';
import { DEFAULT_BREAKER } from '../src/providers/registry.js';
import type { ProviderConfig } from '../src/domain/providers.js';
import { calcPrice } from '@pydantic/genai-prices';
import { costUsd } from '../src/usage/cost.js';
import { isoTime } from '../src/store/rows.js';
import { LazyAbort } from '../src/scheduler/abort.js';
import { TokenStreams } from '../src/jobs/token-stream.js';
import * as poolWorker from '../src/pool/worker.js';

const ENV = { maxOutputBytes: 1_048_576, hosts: new HostPolicy() };

t.test('backoff doubles its ceiling, jitters below it and honours Retry-After', async (t) => {
  const o = { baseMs: 100, maxMs: 1000 };
  t.equal(
    retryDelay(1, o, undefined, () => 0.999),
    99,
  );
  t.equal(
    retryDelay(2, o, undefined, () => 0.999),
    199,
  );
  t.equal(
    retryDelay(3, o, undefined, () => 0.5),
    200,
  );
  t.equal(
    retryDelay(10, o, undefined, () => 0.999),
    999,
    'capped',
  );
  t.equal(
    retryDelay(1, o, undefined, () => 0),
    0,
    'full jitter reaches zero',
  );
  t.equal(
    retryDelay(1, o, 5000, () => 0.5),
    5000,
    'Retry-After wins when longer',
  );
});

const cfg = (name: string, priority: number, weight: number, extra: Partial<ProviderConfig> = {}): ProviderConfig => ({
  name,
  kind: 'mock',
  baseUrl: null,
  apiKey: null,
  models: ['*'],
  modelMap: {},
  priority,
  weight,
  enabled: true,
  timeoutMs: 1000,
  maxConcurrency: 10,
  rpm: null,
  tpm: null,
  breaker: DEFAULT_BREAKER,
  prices: {},
  options: {},
  createdAt: '',
  updatedAt: '',
  managedBy: null,
  ...extra,
});

t.test('routing: priority first, weights among equals, disabled and non-serving skipped', async (t) => {
  const ps = [
    new Provider(cfg('a', 1, 3), ENV, () => {}),
    new Provider(cfg('b', 1, 1), ENV, () => {}),
    new Provider(cfg('top', 5, 1, { models: ['gpt-x'] }), ENV, () => {}),
    new Provider(cfg('off', 9, 1, { enabled: false }), ENV, () => {}),
  ];
  t.teardown(() => {
    for (const p of ps) p.retire();
  });
  t.same(
    order(ps, 'gpt-x')
      .map((p) => p.name)
      .slice(0, 1),
    ['top'],
  );
  t.notOk(order(ps, 'other').some((p) => p.name === 'top' || p.name === 'off'));
  let aFirst = 0;
  const runs = 4000;
  for (let i = 0; i < runs; i++) if (order(ps, 'other')[0]!.name === 'a') aFirst++;
  // Weight 3:1 → a is first 75% of the time; 4,000 draws keep it within ±5 points with certainty in practice.
  t.ok(aFirst / runs > 0.7 && aFirst / runs < 0.8, `a first ${((100 * aFirst) / runs).toFixed(1)}%`);
});

t.test('errors keep their code across the thread boundary', async (t) => {
  const e = new SwitchyardError('SWY_PROVIDER_RATE_LIMITED', 'slow down', { retryAfterMs: 2000 });
  const info = toErrorInfo(e);
  t.same(info, { code: 'SWY_PROVIDER_RATE_LIMITED', message: 'slow down', retryable: true, retryAfterMs: 2000 });
  const back = fromErrorInfo(info);
  t.equal(back.code, 'SWY_PROVIDER_RATE_LIMITED');
  t.equal(back.retryAfterMs, 2000);
  t.same(toErrorInfo(new Error('plain')), { code: 'SWY_HANDLER_ERROR', message: 'plain', retryable: true });
  t.same(toErrorInfo(Object.assign(new Error('no'), { retryable: false })), { code: 'SWY_HANDLER_ERROR', message: 'no', retryable: false });
  t.equal(toErrorInfo('a string').message, 'a string');
  t.equal(
    fromErrorInfo({ code: 'WHATEVER' as ErrorCode, message: 'm', retryable: false }).code,
    'SWY_HANDLER_ERROR',
    'a code from elsewhere (an old row, a worker) that is not in the catalogue',
  );
});

t.test('provider HTTP answers map to the taxonomy', async (t) => {
  t.equal(statusToCode(429), 'SWY_PROVIDER_RATE_LIMITED');
  t.equal(statusToCode(401), 'SWY_PROVIDER_AUTH');
  t.equal(statusToCode(529), 'SWY_PROVIDER_OVERLOADED');
  t.equal(statusToCode(503), 'SWY_PROVIDER_OVERLOADED');
  t.equal(statusToCode(502), 'SWY_PROVIDER_SERVER');
  t.equal(statusToCode(408), 'SWY_PROVIDER_TIMEOUT');
  t.equal(statusToCode(422), 'SWY_PROVIDER_BAD_REQUEST');
  t.equal(parseRetryAfter({ 'retry-after': '2' }), 2000);
  t.equal(parseRetryAfter({ 'retry-after-ms': '150' }), 150);
  t.equal(parseRetryAfter({}), undefined);
  t.equal(parseRetryAfter({ 'retry-after': 'soon' }), undefined);
  const inAMinute = new Date(Date.now() + 60_000).toUTCString();
  t.ok(parseRetryAfter({ 'retry-after': inAMinute })! > 55_000);
});

t.test("cost from a provider's own prices per model or *, which win over the catalogue", async (t) => {
  const prices = { 'gpt-4o-mini': { input: 0.15, output: 0.6 }, '*': { input: 1, output: 2 } };
  const own = { kind: 'openai' as const, prices, baseUrl: null };
  t.equal(costUsd(own, 'gpt-4o-mini', { inputTokens: 1_000_000, outputTokens: 1_000_000 }), 0.75);
  t.equal(costUsd(own, 'other', { inputTokens: 500_000, outputTokens: 0 }), 0.5);
  t.equal(costUsd({ kind: 'mock', prices: {}, baseUrl: null }, 'x', { inputTokens: 10, outputTokens: 10 }), 0, 'the mock is free');
});

t.test('cost from the price catalogue at published price points; an unknown model is unpriced, not free', async (t) => {
  const openai = { kind: 'openai' as const, prices: {}, baseUrl: 'https://api.openai.com/v1' };
  const close = (a: number | null, b: number, msg: string) => t.ok(a !== null && Math.abs(a - b) < 1e-12, `${msg}: ${a} ≈ ${b}`);
  // gpt-4o-mini: 0.15 / 0.60 USD per million input / output tokens; cached input 0.075.
  close(costUsd(openai, 'gpt-4o-mini', { inputTokens: 1000, outputTokens: 500 }), 0.00045, 'gpt-4o-mini 1,000 in, 500 out');
  close(
    costUsd(openai, 'gpt-4o-mini', { inputTokens: 1000, outputTokens: 500, cacheReadTokens: 400 }),
    (600 * 0.15 + 400 * 0.075 + 500 * 0.6) / 1e6,
    'cached prompt tokens at the cache rate',
  );
  close(costUsd(openai, 'gpt-4o-mini', { inputTokens: 1000, outputTokens: 500 }, true), 0.000225, 'batch at half price');
  close(costUsd(openai, 'text-embedding-3-small', { inputTokens: 1_000_000, outputTokens: 0 }), 0.02, 'embeddings');
  // claude-sonnet-4-5: 3 / 15; cache reads 0.30, 5-minute writes 3.75, 1-hour writes 6.
  const anthropic = { kind: 'anthropic' as const, prices: {}, baseUrl: 'https://api.anthropic.com/v1' };
  close(
    costUsd(anthropic, 'claude-sonnet-4-5', {
      inputTokens: 1000,
      outputTokens: 100,
      cacheReadTokens: 300,
      cacheWriteTokens: 200,
      cacheWrite1hTokens: 50,
    }),
    (500 * 3 + 300 * 0.3 + 150 * 3.75 + 50 * 6 + 100 * 15) / 1e6,
    'Anthropic cache reads and both lifetimes of cache writes',
  );
  // The same figure as the catalogue's own calculation, where it has one.
  const lib = calcPrice({ input_tokens: 1000, cache_read_tokens: 300, cache_write_tokens: 200, output_tokens: 100 }, 'claude-sonnet-4-5', {
    providerId: 'anthropic',
  });
  close(
    costUsd(anthropic, 'claude-sonnet-4-5', { inputTokens: 1000, outputTokens: 100, cacheReadTokens: 300, cacheWriteTokens: 200 }),
    lib!.total_price,
    "agrees with the catalogue's calcPrice",
  );
  t.equal(costUsd(openai, 'no-such-model-anywhere', { inputTokens: 10, outputTokens: 10 }), null, 'an unknown model is unpriced');
  t.equal(
    costUsd({ kind: 'anthropic', prices: {}, baseUrl: null }, 'gpt-4o-mini', { inputTokens: 10, outputTokens: 10 }),
    null,
    'looked up at the provider it was sent to',
  );
});

t.test('engine options are validated and frozen', async (t) => {
  const c = resolveEngineConfig({ concurrency: 100, threads: 3 });
  t.equal(c.concurrentTasksPerWorker, 34);
  t.ok(Object.isFrozen(c));
  t.throws(() => resolveEngineConfig({ concurrency: 0 }), { code: 'SWY_INVALID_OPTIONS' });
  t.throws(() => resolveEngineConfig({ sync: 'sometimes' as 'full' }), {
    code: 'SWY_INVALID_OPTIONS',
    message: /options\.sync must be one of "normal", "full"/,
  });
  t.throws(
    () => resolveEngineConfig({ concurency: 5 } as EngineOptions),
    {
      code: 'SWY_INVALID_OPTIONS',
      message: 'options has an unknown property "concurency"',
    },
    'a misspelt option is refused, named',
  );
});

t.test('a database that is neither a path nor a PostgreSQL URL is refused, named without its password', async (t) => {
  for (const bad of ['mysql://x@host/db', 'postgress://u:secret@h/db', 'sqlite:data.db']) {
    t.throws(() => resolveEngineConfig({ database: bad }), { code: 'SWY_INVALID_OPTIONS', message: /neither a SQLite file path nor/ }, bad);
  }
  t.throws(() => resolveEngineConfig({ database: 'postgress://u:secret@h/db' }), { message: /postgress:\/\/u:\*\*\*@h\/db/ });
  t.notMatch(
    (() => {
      try {
        resolveEngineConfig({ database: 'mysql://u:hunter2@h/db' });
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })(),
    /hunter2/,
  );
  for (const good of [':memory:', './data/x.db', 'C:\\data\\x.db', 'postgres://u@h/db', 'POSTGRESQL://u@h/db']) {
    t.equal(resolveEngineConfig({ database: good }).database, good, good);
  }
});

t.test('the environment is validated with the variable named', async (t) => {
  const c = configFromEnv({
    PORT: '9090',
    SWITCHYARD_CONCURRENCY: '32',
    SWITCHYARD_DB: '/tmp/x.db',
    OPENAI_API_KEY: 'sk',
    LOG_LEVEL: 'warn',
  });
  t.match(c, { port: 9090, host: '127.0.0.1', logLevel: 'warn', engine: { concurrency: 32, database: '/tmp/x.db', openaiApiKey: 'sk' } });
  t.equal(configFromEnv({}).port, 8080);
  t.throws(() => configFromEnv({ PORT: 'eighty' }), { code: 'SWY_INVALID_OPTIONS', message: /PORT/ });
  t.throws(
    () => configFromEnv({ SWITCHYARD_CONCURENCY: '5', SWITCHYARD_URL: 'http://x' }),
    {
      code: 'SWY_INVALID_OPTIONS',
      message: /^unknown environment variable SWITCHYARD_CONCURENCY \(/,
    },
    "a misspelt SWITCHYARD_ variable is refused, named; the client's SWITCHYARD_URL is not",
  );
  t.throws(() => configFromEnv({ SWITCHYARD_THREADS: '0' }), { message: /SWITCHYARD_THREADS/ });
  t.throws(() => configFromEnv({ OPENAI_BASE_URL: 'not a url' }), { message: /OPENAI_BASE_URL/ });
  t.throws(() => configFromEnv({ SWITCHYARD_API_KEY: 'short' }), { message: /SWITCHYARD_API_KEY/ });
  t.throws(() => configFromEnv({ LOG_LEVEL: 'loud' }), { message: /LOG_LEVEL/ });
  t.equal(configFromEnv({ SWITCHYARD_LOG_PAYLOADS: 'true' }).logPayloads, true);
  t.equal(configFromEnv({}).logPayloads, false);
  t.throws(() => configFromEnv({ SWITCHYARD_LOG_PAYLOADS: 'maybe' }), { message: /SWITCHYARD_LOG_PAYLOADS/ });
});

t.test('the mock builds a minimal valid instance of a schema', async (t) => {
  const s = sampleFromSchema(
    {
      type: 'object',
      properties: {
        s: { type: 'string', minLength: 20 },
        n: { type: 'integer', minimum: 4 },
        b: { type: 'boolean' },
        e: { enum: ['x', 'y'] },
        a: { type: 'array', items: { type: 'number' }, minItems: 2 },
        z: { type: 'null' },
        c: { const: 7 },
        u: { anyOf: [{ type: 'string', maxLength: 3 }] },
      },
    },
    'abcdef0123456789',
  ) as Record<string, unknown>;
  t.equal((s.s as string).length, 20);
  t.match(s, { n: 4, b: true, e: 'x', a: [0, 0], z: null, c: 7 });
  t.equal((s.u as string).length, 3);
});

t.test("the mock's latency ends with its attempt's abort: rejected with the reason, its timer cleared", async (t) => {
  const mock = new MockAdapter({ latencyMs: 60_000, jitterMs: 0, failRate: 0, tokensPerSecond: 0 });
  const abort = new LazyAbort();
  const call = mock.chat({ messages: [{ role: 'user', content: 'x' }], model: 'mock-1' }, abort);
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  abort.abort(new SwitchyardError('SWY_CANCELLED', 'cancelled'));
  await t.rejects(call, { code: 'SWY_CANCELLED' });
  t.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, before - 1, 'the 60 s timer is gone');
  t.equal((abort as unknown as { controller?: unknown }).controller, undefined, 'no AbortSignal was built');
  void abort.signal;
  t.type((abort as unknown as { controller?: unknown }).controller, AbortController, 'reading .signal builds it (the probe above sees it)');

  const fast = new MockAdapter({ latencyMs: 5, jitterMs: 0, failRate: 0, tokensPerSecond: 0 });
  const done = new LazyAbort();
  const res = await fast.chat({ messages: [{ role: 'user', content: 'hello there' }], model: 'mock-1' }, done);
  t.match(res.text, /hello there/);
  t.same((done as unknown as { listeners?: unknown[] }).listeners, [], 'the sleep removed its listener when it ended');
  const late = new LazyAbort();
  late.abort(new SwitchyardError('SWY_TIMEOUT', 'too late'));
  await t.rejects(
    fast.chat({ messages: [{ role: 'user', content: 'x' }], model: 'mock-1' }, late),
    { code: 'SWY_TIMEOUT' },
    'an aborted attempt does not wait',
  );
  for (const latencyMs of [0, 5]) {
    const failing = new MockAdapter({ latencyMs, jitterMs: 0, failRate: 1, tokensPerSecond: 0 });
    await t.rejects(
      failing.chat({ messages: [{ role: 'user', content: 'x' }], model: 'mock-1' }, new LazyAbort()),
      { code: 'SWY_PROVIDER_SERVER' },
      `an injected failure rejects the call (latency ${latencyMs} ms)`,
    );
  }
});

t.test('limiter: rpm and tpm over a sliding minute', async (t) => {
  const { Limiter } = await import('../src/providers/limiter.js');
  const l = new Limiter(2, 100);
  t.ok(l.allows(10, 0));
  const a = l.take(60, 0);
  t.notOk(l.allows(50, 1000), 'tpm: 60 + 50 > 100');
  t.equal(l.freeAt(50, 1000), 60_000, 'room once the first call leaves the window');
  l.settle(a, 20);
  t.ok(l.allows(50, 1000), 'after correction to 20 tokens, 50 more fit');
  l.take(50, 1000);
  t.notOk(l.allows(1, 2000), 'rpm: two calls in the minute');
  t.equal(l.freeAt(1, 2000), 60_000);
  t.same(l.used(2000), { requests: 2, tokens: 70 }, 'the last minute: two calls, 20 + 50 tokens');
  t.ok(l.allows(1, 60_001), 'the first call left the window');
  t.same(l.used(60_001), { requests: 1, tokens: 50 });
  t.ok(new Limiter(null, 10).allows(500, 0), 'a call larger than tpm still runs alone');
  const free = new Limiter(null, null);
  for (let i = 0; i < 1000; i++) free.settle(free.take(100, i), 50);
  t.ok(free.allows(1e9, 1000));
  t.equal(free.freeAt(1e9, 1000), undefined);
  t.equal((free as unknown as { entries: unknown[] }).entries.length, 0, 'without limits no call is kept for a minute');
});

t.test('fair shares: weights hold over many claims, one slot at a time alternates, caps and empty tenants get nothing', async (t) => {
  const weights: Record<string, number> = { a: 3, b: 1 };
  const fair = new FairShare(
    (x) => weights[x] ?? 1,
    () => undefined,
  );
  const got: Record<string, number> = { a: 0, b: 0 };
  for (let i = 0; i < 400; i++) {
    for (const [k, n] of fair.split(
      [
        { tenant: 'a', room: 100 },
        { tenant: 'b', room: 100 },
      ],
      1,
    ))
      got[k] = (got[k] ?? 0) + n;
  }
  t.same(got, { a: 300, b: 100 }, 'a 3:1 weight gives 3:1 slots, even one slot per claim');
  const even = new FairShare(
    () => 1,
    () => undefined,
  );
  const turns = Array.from(
    { length: 6 },
    () =>
      [
        ...even
          .split(
            [
              { tenant: 'x', room: 9 },
              { tenant: 'y', room: 9 },
            ],
            1,
          )
          .keys(),
      ][0],
  );
  t.same(turns, ['x', 'y', 'x', 'y', 'x', 'y'], 'equal weights alternate');
  t.same(
    [
      ...even.split(
        [
          { tenant: 'x', room: 2 },
          { tenant: 'y', room: 0 },
        ],
        10,
      ),
    ],
    [['x', 2]],
    'no more than the room; none for a full tenant',
  );
  t.equal(even.split([], 5).size, 0);
});

t.test('JSON limits walk deep bodies without recursion', async (t) => {
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  t.throws(() => checkJsonLimits(deep, { jsonDepth: 64, stringLength: 10 }), { code: 'SWY_JSON_TOO_DEEP' });
  t.doesNotThrow(() => checkJsonLimits({ a: [{ b: 'short' }] }, { jsonDepth: 3, stringLength: 10 }));
  t.throws(() => checkJsonLimits({ a: [{ b: 'short' }] }, { jsonDepth: 2, stringLength: 10 }), { code: 'SWY_JSON_TOO_DEEP' });
  t.throws(() => checkJsonLimits({ a: 'x'.repeat(11) }, { jsonDepth: 3, stringLength: 10 }), { code: 'SWY_LIMIT_EXCEEDED' });
});

t.test('configFromEnv reads the input limits, rate limits and CORS origins', async (t) => {
  const c = configFromEnv({
    SWITCHYARD_MAX_BODY_BYTES: '2048',
    SWITCHYARD_MAX_BATCH: '10',
    SWITCHYARD_MAX_JSON_DEPTH: '16',
    SWITCHYARD_RATE_LIMIT_IP: '0',
    SWITCHYARD_RATE_LIMIT_KEY: '100',
    SWITCHYARD_CORS_ORIGINS: 'https://a.example,http://localhost:3000',
  });
  t.same(c.server.limits, { bodyBytes: 2048, batch: 10, jsonDepth: 16 });
  t.same(c.server.rateLimit, { perIp: 0, perKey: 100 });
  t.same(c.server.corsOrigins, ['https://a.example', 'http://localhost:3000']);
  t.throws(() => configFromEnv({ SWITCHYARD_CORS_ORIGINS: '*' }), { code: 'SWY_INVALID_OPTIONS' }, 'a wildcard origin is refused');
});

t.test('isoTime writes what Date#toISOString writes, across seconds, epochs and odd values', async (t) => {
  const now = Date.now();
  const samples = [
    0,
    1,
    9,
    10,
    99,
    100,
    999,
    1000,
    -1,
    -999,
    -1000,
    -1001,
    now,
    now + 1,
    now + 999,
    now - 1,
    1.5,
    253402300799999,
    253402300800000,
    -62198755200000,
    8.64e15,
    -8.64e15,
  ];
  for (let i = 0; i < 2000; i++) samples.push(now + Math.floor((i * 7919) % 5000) - 2500);
  const wrong = samples.filter((ms) => isoTime(ms) !== new Date(ms).toISOString());
  t.same(wrong, [], `${samples.length} times written as Date writes them`);
  t.throws(() => isoTime(Number.NaN), RangeError, 'an invalid time fails as Date does');
});

t.test("a provider's breaker keeps no latency percentiles and takes no snapshots, and still opens on failures", async (t) => {
  const p = new Provider(
    cfg('flaky', 1, 1, {
      options: { failRate: 1 },
      breaker: { ...DEFAULT_BREAKER, volumeThreshold: 3, errorThresholdPercentage: 50 },
    }),
    ENV,
    () => {},
  );
  t.teardown(() => p.retire());
  // opossum sorts every latency of its window on each failure when percentiles are on (benchmarks/breaker-stats.mjs).
  const breaker = Reflect.get(p, 'breaker') as { options: Record<string, unknown>; stats: { latencyMean: number; fires: number } };
  t.equal(breaker.options.rollingPercentilesEnabled, false);
  t.equal(breaker.options.enableSnapshots, false);
  const abort = new LazyAbort();
  for (let i = 0; i < 3; i++) {
    await t.rejects(p.call({ model: 'mock-1', messages: [{ role: 'user', content: 'x' }] }, abort), { code: 'SWY_PROVIDER_SERVER' });
  }
  t.equal(breaker.stats.fires, 3);
  t.equal(breaker.stats.latencyMean, -1, 'no latency statistics computed');
  t.equal(p.breakerState, 'open', 'three failures of three opened it');
});

t.test("the pool's worker module has a named task function and no default export", async (t) => {
  // Piscina require()s it; for an ES module with a default export Node 20 builds a facade module,
  // and a thread terminated while it does (a pool closed during start-up) aborts the process.
  t.equal(typeof poolWorker.runTask, 'function');
  t.notOk('default' in poolWorker, 'no default export');
});

t.test('job ids are UUIDv7, unique and in the order they were made, from pooled random bytes', async (t) => {
  const { newJobId } = await import('../src/jobs/submit.js');
  const { validate, version } = await import('uuid');
  const ids = Array.from({ length: 20_000 }, () => newJobId());
  t.ok(
    ids.every((id) => validate(id) && version(id) === 7),
    'valid version-7 UUIDs',
  );
  t.equal(new Set(ids).size, ids.length, 'unique');
  t.ok(
    ids.every((id, i) => i === 0 || id > (ids[i - 1] as string)),
    'each sorts after the one before, within a millisecond too',
  );
  const past = newJobId(Date.now() - 60_000);
  t.ok(past > (ids.at(-1) as string), 'and after a clock step back');
});

t.test('token streams keep nothing of a job once its attempt ended and its followers left, whatever the order', async (t) => {
  const streams = new TokenStreams(1000);
  const heard: string[] = [];
  const hear = (e: { kind: string }) => heard.push(e.kind);
  // A streamed request: it follows its own job, which streams and ends; then the request goes.
  let stop = streams.follow('a', hear);
  streams.begin('a', 1);
  streams.push('a', { content: 'hello' });
  streams.end('a');
  t.equal(streams.size, 1, 'kept while its follower is there');
  stop();
  t.equal(streams.size, 0, 'gone when the follower leaves after the end');
  t.same(heard, ['attempt', 'delta']);
  // A follower who leaves mid-answer: the pieces stay for late followers until the attempt ends.
  stop = streams.follow('b', hear);
  streams.begin('b', 1);
  streams.push('b', { content: 'x' });
  stop();
  t.equal(streams.size, 1, 'kept while the attempt streams');
  const late: string[] = [];
  const stopLate = streams.follow('b', (e) => late.push(e.kind));
  t.same(late, ['attempt', 'delta'], 'a late follower hears it from the start');
  stopLate();
  streams.end('b');
  t.equal(streams.size, 0, 'gone at the end');
  // A follower of a queued job that leaves before it starts; an answer past the byte bound.
  streams.follow('c', hear)();
  stop = streams.follow('d', hear);
  streams.begin('d', 1);
  streams.push('d', { content: 'y'.repeat(2000) });
  streams.end('d');
  stop();
  t.equal(streams.size, 0, 'nothing left of any of them');
});
