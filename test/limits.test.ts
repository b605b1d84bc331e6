/** Rate limits (per address before auth, per key after), input limits and CORS, over a real socket. */
import t from 'tap';
import type { Engine } from '../src/engine.js';
import { chatJob, makeEngine, serve } from './helpers/engine.js';

const jobCount = (engine: Engine) =>
  (engine as unknown as { store: { db: { prepare(s: string): { get(): { n: number } } } } }).store.db
    .prepare('SELECT count(*) AS n FROM jobs')
    .get().n;

t.test('per-key rate limit: 429 SWY_RATE_LIMITED with Retry-After; other keys and the admin key unaffected', async (t) => {
  const engine = await makeEngine(t, { start: false });
  const api = await serve(t, engine, { rateLimit: { perKey: 5 } });
  const mk = async (extra: Record<string, unknown>) =>
    api.as((await api.call('POST', '/v1/keys', { scopes: ['jobs:read'], ...extra })).body.secret);
  const slow = await mk({ rateLimit: 3 });
  const byDefault = await mk({});
  for (let i = 0; i < 3; i++) t.equal((await slow.call('GET', '/v1/jobs')).status, 200);
  const limited = await slow.call('GET', '/v1/jobs');
  t.equal(limited.status, 429);
  t.equal(limited.body.error.code, 'SWY_RATE_LIMITED');
  const after = Number(limited.headers.get('retry-after'));
  t.ok(after >= 1 && after <= 60, `Retry-After ${after} s within the minute window`);
  for (let i = 0; i < 5; i++)
    t.equal((await byDefault.call('GET', '/v1/jobs')).status, 200, 'the server default applies to a key without its own');
  t.equal((await byDefault.call('GET', '/v1/jobs')).status, 429, 'and is enforced');
  for (let i = 0; i < 10; i++) t.equal((await api.call('GET', '/v1/jobs')).status, 200, 'the admin key has no per-key limit');
  t.equal((await api.as(undefined).call('GET', '/health')).status, 200, 'public routes are never limited');
});

t.test('per-address rate limit runs before authentication: guessing keys is limited too', async (t) => {
  const engine = await makeEngine(t, { start: false });
  const api = await serve(t, engine, { rateLimit: { perIp: 10 } });
  const guesser = api.as('swy_guess-0000000000000000000000000000000000000000');
  for (let i = 0; i < 10; i++) t.equal((await guesser.call('GET', '/v1/jobs')).status, 401);
  const blocked = await guesser.call('GET', '/v1/jobs');
  t.equal(blocked.status, 429, 'the 11th guess is refused before the key is checked');
  t.equal(blocked.body.error.code, 'SWY_RATE_LIMITED');
  t.ok(Number(blocked.headers.get('retry-after')) >= 1);
  t.equal((await api.call('GET', '/v1/jobs')).status, 429, 'the same address with a good key waits too');
  for (let i = 0; i < 3; i++) t.equal((await api.as(undefined).call('GET', '/metrics')).status, 200, 'scrapes are not limited');
});

t.test('input limits answer with coded 413/400 and store nothing', async (t) => {
  const engine = await makeEngine(t, { start: false });
  const api = await serve(t, engine, {
    limits: { bodyBytes: 4096, batch: 2, messages: 3, metadataBytes: 64, stringLength: 100, jsonDepth: 8 },
  });
  const cases: [string, string, unknown, number, string][] = [
    ['body size', '/v1/jobs', chatJob('x'.repeat(5000)), 413, 'SWY_BODY_TOO_LARGE'],
    ['batch size', '/v1/jobs/batch', { jobs: [chatJob('a'), chatJob('b'), chatJob('c')] }, 413, 'SWY_LIMIT_EXCEEDED'],
    [
      'messages',
      '/v1/jobs',
      { input: { messages: Array.from({ length: 4 }, () => ({ role: 'user', content: 'hi' })) } },
      413,
      'SWY_LIMIT_EXCEEDED',
    ],
    [
      'messages in a batch',
      '/v1/jobs/batch',
      { jobs: [chatJob('a'), { input: { messages: Array.from({ length: 4 }, () => ({ role: 'user', content: 'hi' })) } }] },
      413,
      'SWY_LIMIT_EXCEEDED',
    ],
    [
      'messages of a chat completion',
      '/v1/chat/completions',
      { model: 'm', messages: Array.from({ length: 4 }, () => ({ role: 'user', content: 'hi' })) },
      413,
      'SWY_LIMIT_EXCEEDED',
    ],
    ['metadata', '/v1/jobs', chatJob('a', { metadata: { note: 'm'.repeat(80) } }), 413, 'SWY_LIMIT_EXCEEDED'],
    ['string length', '/v1/jobs', chatJob('s'.repeat(101)), 413, 'SWY_LIMIT_EXCEEDED'],
    ['key length', '/v1/jobs', chatJob('a', { metadata: { ['k'.repeat(101)]: 1 } }), 413, 'SWY_LIMIT_EXCEEDED'],
    ['depth', '/v1/jobs', chatJob('a', { metadata: { a: [[[[[[[[1]]]]]]]] } }), 400, 'SWY_JSON_TOO_DEEP'],
    [
      '__proto__',
      '/v1/jobs',
      '{"input":{"messages":[{"role":"user","content":"a"}]},"__proto__":{"polluted":true}}',
      400,
      'SWY_INVALID_JSON',
    ],
    [
      'constructor.prototype',
      '/v1/jobs',
      '{"input":{"messages":[{"role":"user","content":"a"}]},"metadata":{"constructor":{"prototype":{"polluted":true}}}}',
      400,
      'SWY_INVALID_JSON',
    ],
  ];
  for (const [what, path, body, status, code] of cases) {
    const r = await api.call('POST', path, body);
    t.equal(r.status, status, `${what} → ${status}`);
    t.equal(r.body.error.code, code, `${what} → ${code}`);
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted');
  t.equal(jobCount(engine), 0, 'nothing was stored');
  t.equal((await api.call('POST', '/v1/jobs/batch', { jobs: [chatJob('a'), chatJob('b')] })).status, 201, 'at the limits: accepted');
});

t.test('CORS is off unless origins are configured, then only those origins', async (t) => {
  const engine = await makeEngine(t, { start: false });
  const closed = await serve(t, engine);
  const preflight = (url: string, origin: string) =>
    fetch(`${url}/v1/jobs`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
  const off = await preflight(closed.url, 'https://app.example');
  t.equal(off.headers.get('access-control-allow-origin'), null, 'no CORS by default');
  const open = await serve(t, engine, { corsOrigins: ['https://app.example'] });
  const allowed = await preflight(open.url, 'https://app.example');
  t.equal(allowed.status, 204);
  t.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example');
  t.match(allowed.headers.get('access-control-allow-headers') ?? '', /authorization/);
  const other = await preflight(open.url, 'https://evil.example');
  t.not(other.headers.get('access-control-allow-origin'), 'https://evil.example', 'another origin is not allowed');
  const get = await fetch(`${open.url}/v1/jobs`, { headers: { origin: 'https://app.example' } });
  t.equal(get.status, 401, 'CORS does not replace the key');
});
