/**
 * Authentication and scopes on every route, over a real socket: no key, a wrong key, an expired
 * key, a revoked key and a key without the route's scope are refused; the public three stay open.
 * The route list comes from the server's own OpenAPI document, so a new route cannot slip past.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { Scope } from '../src/domain/keys.js';
import { SCOPES } from '../src/domain/keys.js';
import { makeEngine, serve, tempDir } from './helpers/engine.js';

/** The scope each route needs (null: any valid key). A route missing here fails the test. */
const ROUTE_SCOPES: Record<string, Scope | null> = {
  'POST /v1/jobs': 'jobs:write',
  'POST /v1/jobs/batch': 'jobs:write',
  'POST /v1/jobs/{id}/cancel': 'jobs:write',
  'POST /v1/jobs/{id}/retry': 'jobs:write',
  'GET /v1/jobs': 'jobs:read',
  'GET /v1/jobs/{id}': 'jobs:read',
  'GET /v1/events': 'jobs:read',
  'GET /v1/jobs/{id}/stream': 'jobs:read',
  'POST /v1/messages': 'jobs:write',
  'POST /v1/messages/count_tokens': 'jobs:write',
  'POST /v1/responses': 'jobs:write',
  'GET /v1/responses/{id}': 'jobs:read',
  'DELETE /v1/responses/{id}': 'jobs:write',
  'GET /v1/stats': 'usage:read',
  // The console's sign-in, its session and sign-out: any valid key (the session then has its scopes).
  'POST /v1/session': null,
  'GET /v1/session': null,
  'DELETE /v1/session': null,
  'GET /v1/usage': 'usage:read',
  'GET /v1/providers': 'providers:admin',
  'POST /v1/providers': 'providers:admin',
  'GET /v1/providers/{name}': 'providers:admin',
  'PATCH /v1/providers/{name}': 'providers:admin',
  'DELETE /v1/providers/{name}': 'providers:admin',
  'POST /v1/providers/{name}/check': 'providers:admin',
  'POST /v1/admin/backup': 'admin',
  'POST /v1/keys': 'admin',
  'GET /v1/keys': 'admin',
  'GET /v1/keys/{id}': 'admin',
  'DELETE /v1/keys/{id}': 'admin',
  'POST /v1/chat/completions': 'jobs:write',
  'GET /v1/models': null,
  'GET /v1/models/{model}': null,
  'POST /v1/files': 'jobs:write',
  'GET /v1/files': 'jobs:read',
  'GET /v1/files/{id}': 'jobs:read',
  'GET /v1/files/{id}/content': 'jobs:read',
  'DELETE /v1/files/{id}': 'jobs:write',
  'POST /v1/batches': 'jobs:write',
  'GET /v1/batches': 'jobs:read',
  'GET /v1/batches/{id}': 'jobs:read',
  'POST /v1/batches/{id}/cancel': 'jobs:write',
};
/** No key needed: the probes, the metrics, and the API's documentation (Swagger UI and its document). */
const PUBLIC = ['GET /health', 'GET /ready', 'GET /metrics', 'GET /docs/json', 'GET /docs/'];

t.test('every route refuses a missing, wrong, expired, revoked or under-scoped key', async (t) => {
  const engine = await makeEngine(t, { seedProviders: true });
  const api = await serve(t, engine);
  const spec = (await api.call('GET', '/docs/json')).body as { paths: Record<string, Record<string, unknown>> };
  const documented = Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
  for (const route of documented) {
    t.ok(route in ROUTE_SCOPES || PUBLIC.includes(route), `${route} has a stated scope`);
  }

  const make = async (scopes: Scope[], extra: Record<string, unknown> = {}) => {
    const r = await api.call('POST', '/v1/keys', { scopes, ...extra });
    t.equal(r.status, 201);
    return r.body as { id: string; secret: string };
  };
  const expiresAt = Date.now() + 300;
  const expiring = await make(['admin'], { expiresAt: new Date(expiresAt).toISOString() });
  const revoked = await make(['admin']);
  t.equal((await api.call('DELETE', `/v1/keys/${revoked.id}`)).status, 200);
  const byScope = new Map<Scope, { id: string; secret: string }>();
  for (const scope of SCOPES) byScope.set(scope, await make(SCOPES.filter((s) => s !== scope && s !== 'admin')));
  // Not a guess at how long something takes: the key expires at an instant, and this waits past it.
  await sleep(Math.max(0, expiresAt - Date.now() + 1));

  const send = (route: string, auth?: string) => {
    const [method, path] = route.split(' ') as [string, string];
    const url = api.url + path.replace('{id}', 'some-id').replace('{name}', 'mock').replace('{model}', 'mock-1');
    const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
    return fetch(url, {
      method,
      headers: { ...(auth && { authorization: auth }), ...(body && { 'content-type': 'application/json' }) },
      ...(body && { body }),
    });
  };
  const expectCode = async (route: string, auth: string | undefined, status: number, code: string, what: string) => {
    const res = await send(route, auth);
    const body = (await res.json()) as { error?: { code?: string } };
    // The OpenAI-compatible routes answer in OpenAI's shape, with the same SWY code; the Anthropic
    // ones in Anthropic's, whose error has no code field: it comes in a header (and leads the message).
    t.equal(res.status, status, `${route}: ${what} → ${status}`);
    t.equal(body.error?.code ?? res.headers.get('x-switchyard-error-code'), code, `${route}: ${what} → ${code}`);
  };

  for (const [route, scope] of Object.entries(ROUTE_SCOPES)) {
    await expectCode(route, undefined, 401, 'SWY_UNAUTHORIZED', 'no key');
    await expectCode(route, 'Bearer swy_not-a-real-key-at-all-0000000000000000', 401, 'SWY_UNAUTHORIZED', 'a wrong key');
    await expectCode(route, 'Basic dXNlcjpwYXNz', 401, 'SWY_UNAUTHORIZED', 'another scheme');
    await expectCode(route, `Bearer ${expiring.secret}`, 401, 'SWY_UNAUTHORIZED', 'an expired key');
    await expectCode(route, `Bearer ${revoked.secret}`, 401, 'SWY_UNAUTHORIZED', 'a revoked key');
    if (scope !== null) {
      const lacking = byScope.get(scope) as { secret: string };
      await expectCode(route, `Bearer ${lacking.secret}`, 403, 'SWY_FORBIDDEN', `a key without ${scope}`);
      // Every scope but the needed one still gets past the guard with the right one added.
      const holder = await make([scope]);
      const res = await send(route, `Bearer ${holder.secret}`);
      t.notOk([401, 403].includes(res.status), `${route}: a key with ${scope} gets past the guard (${res.status})`);
      await res.body?.cancel();
    }
  }
  for (const route of PUBLIC) {
    const res = await send(route);
    t.equal(res.status, 200, `${route} is public`);
    await res.arrayBuffer();
  }
});

t.test('keys: the secret is shown once, stored only as a hash, listed without it; last use is tracked', async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  const created = await api.call('POST', '/v1/keys', { name: 'team-a', scopes: ['jobs:write', 'jobs:read'], rateLimit: 100 });
  t.equal(created.status, 201);
  const { secret, id } = created.body as { secret: string; id: string };
  t.match(secret, /^swy_[A-Za-z0-9_-]{43}$/);
  t.equal(created.body.prefix, secret.slice(0, 12));
  t.equal(created.body.lastUsedAt, null);

  const stored = JSON.stringify(
    (engine as unknown as { store: { db: { prepare(s: string): { all(): unknown[] } } } }).store.db.prepare('SELECT * FROM api_keys').all(),
  );
  t.notOk(stored.includes(secret), 'the database never holds the secret');
  t.notOk(stored.includes(secret.slice(4)), 'not even without its prefix');

  const own = await fetch(`${api.url}/v1/jobs`, { headers: { authorization: `Bearer ${secret}` } });
  t.equal(own.status, 200, 'the new key works at once');
  const listed = await api.call('GET', '/v1/keys');
  const entry = (listed.body.data as Record<string, unknown>[]).find((k) => k.id === id) as Record<string, unknown>;
  t.notOk('secret' in entry, 'listing never shows the secret');
  t.notOk('hash' in entry, 'nor its hash');
  t.notOk(JSON.stringify(listed.body).includes(secret));
  t.type(entry.lastUsedAt, 'string', 'last use recorded');
  t.same(entry.scopes, ['jobs:write', 'jobs:read']);

  t.equal((await api.call('GET', '/v1/keys/nope')).body.error.code, 'SWY_KEY_NOT_FOUND');
  t.equal((await api.call('POST', '/v1/keys', { scopes: ['root'] })).status, 400, 'unknown scope');
  t.equal((await api.call('POST', '/v1/keys', { scopes: [] })).status, 400, 'no scope');
  t.equal(
    (await api.call('POST', '/v1/keys', { scopes: ['admin'], expiresAt: '2000-01-01T00:00:00Z' })).body.error.code,
    'SWY_VALIDATION',
    'expiry in the past',
  );

  const revoked = await api.call('DELETE', `/v1/keys/${id}`);
  t.type(revoked.body.revokedAt, 'string');
  const again = await api.call('DELETE', `/v1/keys/${id}`);
  t.equal(again.body.revokedAt, revoked.body.revokedAt, 'revoking twice keeps the first time');
  const refused = await fetch(`${api.url}/v1/jobs`, { headers: { authorization: `Bearer ${secret}` } });
  t.equal(refused.status, 401, 'refused at once after revocation');
});

t.test('keys survive a restart: a key made before works after, a revoked one stays revoked', async (t) => {
  const database = join(tempDir(t), 'keys.db');
  const first = await makeEngine(t, { database, start: false });
  const live = await first.keys.create({ scopes: ['jobs:read'] });
  const dead = await first.keys.create({ scopes: ['jobs:read'] });
  await first.keys.revoke(dead.key.id);
  await first.stop();
  const second = await makeEngine(t, { database, start: false });
  t.equal(second.keys.authenticate(live.secret).id, live.key.id);
  t.throws(() => second.keys.authenticate(dead.secret), { code: 'SWY_UNAUTHORIZED' });
  t.equal(second.keys.list().length, 2);
});
