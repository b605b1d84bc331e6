/** Bad input gets a clear coded 4xx; nothing is stored and the process stays up. */
import t from 'tap';
import { API_KEY, chatJob, makeEngine, serve } from './helpers/engine.js';

t.test('every kind of bad request gets its status and SWY_* code, and stores nothing', async (t) => {
  const engine = await makeEngine(t, { start: false });
  const api = await serve(t, engine);
  const raw = (path: string, init: RequestInit) =>
    fetch(api.url + path, init).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
  const json = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };

  const cases: [string, Promise<{ status: number; body: any }>, number, string][] = [
    ['malformed JSON', raw('/v1/jobs', { method: 'POST', headers: json, body: '{"input": {' }), 400, 'SWY_INVALID_JSON'],
    ['empty JSON body', raw('/v1/jobs', { method: 'POST', headers: json, body: '' }), 400, 'SWY_INVALID_JSON'],
    [
      'prototype pollution',
      raw('/v1/jobs', { method: 'POST', headers: json, body: '{"input":{"messages":[]},"__proto__":{"x":1}}' }),
      400,
      'SWY_INVALID_JSON',
    ],
    [
      'not JSON at all',
      raw('/v1/jobs', { method: 'POST', headers: { ...json, 'content-type': 'text/plain' }, body: 'hello' }),
      415,
      'SWY_UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'oversized body',
      raw('/v1/jobs', { method: 'POST', headers: json, body: JSON.stringify(chatJob('x'.repeat(1_100_000))) }),
      413,
      'SWY_BODY_TOO_LARGE',
    ],
    ['missing input', api.call('POST', '/v1/jobs', { type: 'chat' }), 400, 'SWY_VALIDATION'],
    ['priority as a string', api.call('POST', '/v1/jobs', { ...chatJob('x'), priority: '5' }), 400, 'SWY_VALIDATION'],
    ['unknown field', api.call('POST', '/v1/jobs', { ...chatJob('x'), colour: 'red' }), 400, 'SWY_VALIDATION'],
    ['negative maxAttempts', api.call('POST', '/v1/jobs', { ...chatJob('x'), maxAttempts: -1 }), 400, 'SWY_VALIDATION'],
    ['runAt not a date', api.call('POST', '/v1/jobs', { ...chatJob('x'), runAt: 'tomorrow' }), 400, 'SWY_VALIDATION'],
    [
      'a NUL in an idempotency key (PostgreSQL cannot store it)',
      api.call('POST', '/v1/jobs', { ...chatJob('x'), idempotencyKey: 'a\u0000b' }),
      400,
      'SWY_VALIDATION',
    ],
    ['runAt and delayMs', api.call('POST', '/v1/jobs', { ...chatJob('x'), runAt: Date.now(), delayMs: 5 }), 400, 'SWY_VALIDATION'],
    ['chat without messages', api.call('POST', '/v1/jobs', { input: { messages: [] } }), 400, 'SWY_VALIDATION'],
    [
      'chat with a bad role',
      api.call('POST', '/v1/jobs', { input: { messages: [{ role: 'wizard', content: 'x' }] } }),
      400,
      'SWY_VALIDATION',
    ],
    [
      'chat with a bad temperature',
      api.call('POST', '/v1/jobs', { input: { messages: [{ role: 'user', content: 'x' }], temperature: 9 } }),
      400,
      'SWY_VALIDATION',
    ],
    [
      'invalid responseSchema',
      api.call('POST', '/v1/jobs', { input: { messages: [{ role: 'user', content: 'x' }], responseSchema: { type: 'nonsense' } } }),
      400,
      'SWY_VALIDATION',
    ],
    ['unknown job type', api.call('POST', '/v1/jobs', { type: 'teleport', input: {} }), 400, 'SWY_UNKNOWN_JOB_TYPE'],
    ['empty batch', api.call('POST', '/v1/jobs/batch', { jobs: [] }), 400, 'SWY_VALIDATION'],
    ['unknown job id', api.call('GET', '/v1/jobs/no-such-job'), 404, 'SWY_JOB_NOT_FOUND'],
    ['cancel unknown id', api.call('POST', '/v1/jobs/no-such-job/cancel'), 404, 'SWY_JOB_NOT_FOUND'],
    ['retry unknown id', api.call('POST', '/v1/jobs/no-such-job/retry'), 404, 'SWY_JOB_NOT_FOUND'],
    ['bad waitMs', api.call('GET', '/v1/jobs/x?waitMs=-3'), 400, 'SWY_VALIDATION'],
    ['bad list status', api.call('GET', '/v1/jobs?status=lost'), 400, 'SWY_VALIDATION'],
    ['bad cursor', api.call('GET', '/v1/jobs?cursor=!!'), 400, 'SWY_VALIDATION'],
    ['list time not a date', api.call('GET', '/v1/jobs?from=yesterday'), 400, 'SWY_VALIDATION'],
    ['list metadata without a value', api.call('GET', '/v1/jobs?metadata=customer'), 400, 'SWY_VALIDATION'],
    ['list metadata key with a quote', api.call('GET', `/v1/jobs?metadata=${encodeURIComponent('a"b=c')}`), 400, 'SWY_VALIDATION'],
    ['list metadata value with NUL', api.call('GET', '/v1/jobs?metadata=k%3Da%00b'), 400, 'SWY_VALIDATION'],
    ['list provider with NUL', api.call('GET', '/v1/jobs?provider=a%00b'), 400, 'SWY_VALIDATION'],
    ['list idempotency key with NUL', api.call('GET', '/v1/jobs?idempotencyKey=a%00b'), 400, 'SWY_VALIDATION'],
    ['unknown route', api.call('GET', '/v1/nothing'), 404, 'SWY_ROUTE_NOT_FOUND'],
    [
      'missing key',
      raw('/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chatJob('x')) }),
      401,
      'SWY_UNAUTHORIZED',
    ],
    ['wrong key', api.call('POST', '/v1/jobs', chatJob('x'), { authorization: 'Bearer wrong-key-wrong-key' }), 401, 'SWY_UNAUTHORIZED'],
    ['malformed auth header', api.call('GET', '/v1/stats', undefined, { authorization: `Basic ${API_KEY}` }), 401, 'SWY_UNAUTHORIZED'],
    [
      'key in another case',
      api.call('GET', '/v1/stats', undefined, { authorization: `Bearer ${API_KEY.toUpperCase()}` }),
      401,
      'SWY_UNAUTHORIZED',
    ],
    ['unknown provider', api.call('GET', '/v1/providers/nope'), 404, 'SWY_PROVIDER_NOT_FOUND'],
    ['provider of unknown kind', api.call('POST', '/v1/providers', { name: 'x', kind: 'oracle' }), 400, 'SWY_VALIDATION'],
    [
      'provider with a bad URL',
      api.call('POST', '/v1/providers', { name: 'x', kind: 'openai', baseUrl: 'ftp://example' }),
      400,
      'SWY_VALIDATION',
    ],
    ['openai provider without URL', api.call('POST', '/v1/providers', { name: 'x', kind: 'openai' }), 400, 'SWY_INVALID_PROVIDER'],
    ['provider with negative weight', api.call('POST', '/v1/providers', { name: 'x', kind: 'mock', weight: -1 }), 400, 'SWY_VALIDATION'],
    [
      'provider with bad mock options',
      api.call('POST', '/v1/providers', { name: 'x', kind: 'mock', options: { failRate: 3 } }),
      400,
      'SWY_INVALID_PROVIDER',
    ],
    ['duplicate provider', api.call('POST', '/v1/providers', { name: 'mock', kind: 'mock' }), 409, 'SWY_PROVIDER_EXISTS'],
    ['empty provider patch', api.call('PATCH', '/v1/providers/mock', {}), 400, 'SWY_VALIDATION'],
  ];
  for (const [name, promise, status, code] of cases) {
    const res = await promise;
    t.equal(res.status, status, `${name}: status`);
    t.equal(res.body?.error?.code, code, `${name}: code`);
    t.type(res.body?.error?.message, 'string', `${name}: message`);
  }
  t.equal((await engine.stats()).total, 0, 'no job was stored');
  t.same(
    engine.providers.list().map((p) => p.name),
    ['mock'],
    'no provider was stored',
  );
  const health = await fetch(`${api.url}/health`);
  t.equal(health.status, 200, 'the process is still up');
});

t.test('the library reports the same codes', async (t) => {
  const engine = await makeEngine(t, { start: false });
  await t.rejects(engine.submit({ type: 'teleport', input: {} }), { code: 'SWY_UNKNOWN_JOB_TYPE' });
  await t.rejects(engine.submitMany([chatJob('ok'), { input: { messages: 'nope' } }]), { code: 'SWY_VALIDATION', message: /^jobs\[1\]/ });
  await t.rejects(engine.get('missing'), { code: 'SWY_JOB_NOT_FOUND' });
  await t.rejects(engine.providers.add({ name: 'bad name!', kind: 'mock' }), { code: 'SWY_INVALID_PROVIDER' });
  await t.rejects(engine.providers.update('ghost', { weight: 2 }), { code: 'SWY_PROVIDER_NOT_FOUND' });
  await t.rejects(engine.providers.remove('ghost'), { code: 'SWY_PROVIDER_NOT_FOUND' });
  t.equal((await engine.stats()).total, 0);
});
