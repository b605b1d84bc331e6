/**
 * What a key can learn beyond its scope: provider secrets through `providers:admin`, cloud
 * credentials through provider URLs, upstream error text through events, a store that cannot write.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { createEngine } from '../src/engine.js';
import { HostPolicy, refusedAddress, type Resolver } from '../src/providers/addresses.js';
import { fakeOpenAI } from './helpers/fake-openai.js';
import { API_KEY, chatJob, makeEngine, serve, tempDir } from './helpers/engine.js';
import { sse } from './helpers/sse.js';

const SECRET_KEY = 'a-secret-key-of-at-least-32-characters!!';

t.test('a providers:admin key cannot aim a stored key or header at its own listener', async (t) => {
  const real = await fakeOpenAI(t);
  const trap = await fakeOpenAI(t);
  const engine = await makeEngine(t, { secretKey: SECRET_KEY });
  const api = await serve(t, engine);
  const created = await api.call('POST', '/v1/providers', {
    name: 'paid',
    kind: 'openai',
    baseUrl: real.baseUrl,
    apiKey: 'sk-REAL-SECRET',
    models: ['gpt-x'],
    options: { headers: { 'x-org-token': 'HEADER-SECRET' } },
  });
  t.equal(created.status, 201);
  t.same(created.body.secretHeaders, ['x-org-token'], 'header names are shown');
  t.notOk(JSON.stringify(created.body).includes('HEADER-SECRET'), 'header values are not');
  const listed = await api.call('GET', '/v1/providers');
  t.notOk(JSON.stringify(listed.body).includes('HEADER-SECRET') || JSON.stringify(listed.body).includes('sk-REAL'), 'nor in the list');

  const admin = api.as((await api.call('POST', '/v1/keys', { scopes: ['providers:admin'] })).body.secret);
  const moved = await admin.call('PATCH', '/v1/providers/paid', { baseUrl: trap.baseUrl });
  t.equal(moved.status, 200);
  t.equal(moved.body.hasApiKey, false, 'a new URL without a new key clears the key');
  t.same(moved.body.secretHeaders, [], 'and the secret headers');
  await admin.call('POST', '/v1/providers/paid/check');
  t.equal(trap.requests.length, 1, 'the probe reached the new URL');
  t.equal(trap.requests[0]?.headers.authorization, undefined, 'without the stored key');
  t.equal(trap.requests[0]?.headers['x-org-token'], undefined, 'without the stored header');

  await admin.call('PATCH', '/v1/providers/paid', {
    baseUrl: real.baseUrl,
    apiKey: 'sk-NEW',
    options: { headers: { 'x-org-token': 'NEW-HEADER' } },
  });
  const renamedHeader = await admin.call('PATCH', '/v1/providers/paid', { options: { headers: { 'x-other': 'v' } } });
  t.equal(renamedHeader.body.hasApiKey, false, 'new headers without a new key clear the key too');
  await admin.call('PATCH', '/v1/providers/paid', { apiKey: 'sk-NEW', options: { headers: { 'x-org-token': 'NEW-HEADER' } } });
  const kept = await admin.call('PATCH', '/v1/providers/paid', { weight: 3, options: { defaultModel: 'gpt-x' } });
  t.equal(kept.body.hasApiKey, true, 'other changes keep the key');
  t.same(kept.body.secretHeaders, ['x-org-token'], 'and options without headers keep the headers');
  await admin.call('POST', '/v1/providers/paid/check');
  t.equal(real.requests.at(-1)?.headers.authorization, 'Bearer sk-NEW');
  t.equal(real.requests.at(-1)?.headers['x-org-token'], 'NEW-HEADER');
  const row = (engine as unknown as { store: { db: Database.Database } }).store.db
    .prepare("SELECT api_key, options FROM providers WHERE name = 'paid'")
    .get() as { api_key: string; options: string };
  t.match(row.api_key, /^enc:v1:/, 'the key is encrypted at rest');
  t.match(JSON.parse(row.options).headers['x-org-token'], /^enc:v1:/, 'and so are header values');
});

t.test('secrets stored in clear are encrypted at start once SWITCHYARD_SECRET_KEY is set', async (t) => {
  const database = join(tempDir(t), 'jobs.db');
  const fake = await fakeOpenAI(t);
  const plain = await createEngine({ database, threads: 1 });
  await plain.providers.add({
    name: 'old',
    kind: 'openai',
    baseUrl: fake.baseUrl,
    apiKey: 'sk-PLAIN',
    options: { headers: { 'x-h': 'PLAIN-HEADER' } },
  });
  await plain.stop();
  const before = new Database(database, { readonly: true });
  t.equal(
    (before.prepare("SELECT api_key FROM providers WHERE name = 'old'").get() as { api_key: string }).api_key,
    'sk-PLAIN',
    'without a secret key: stored as given',
  );
  before.close();
  const sealed = await createEngine({ database, threads: 1, secretKey: SECRET_KEY });
  t.teardown(() => sealed.stop());
  const raw = new Database(database, { readonly: true });
  const row = raw.prepare("SELECT api_key, options FROM providers WHERE name = 'old'").get() as { api_key: string; options: string };
  raw.close();
  t.match(row.api_key, /^enc:v1:/, 'the key is sealed at start');
  t.match(JSON.parse(row.options).headers['x-h'], /^enc:v1:/, 'and the header');
  await sealed.providers.check('old');
  t.equal(fake.requests.at(-1)?.headers.authorization, 'Bearer sk-PLAIN', 'and still opens to what it was');
  t.equal(fake.requests.at(-1)?.headers['x-h'], 'PLAIN-HEADER');
});

t.test('link-local and cloud-metadata addresses are refused as provider URLs, always', async (t) => {
  const engine = await makeEngine(t, { start: false });
  const api = await serve(t, engine);
  for (const baseUrl of [
    'http://169.254.169.254/latest',
    'http://[fd00:ec2::254]/v1',
    'http://metadata.google.internal/computeMetadata/v1',
    'http://[::ffff:169.254.169.254]/',
    'http://100.100.100.200/',
    'http://[fe80::1]/v1',
    'http://169.254.1.1:8080/v1',
  ]) {
    const r = await api.call('POST', '/v1/providers', { name: 'meta', kind: 'openai', baseUrl });
    t.equal(r.status, 400, baseUrl);
    t.equal(r.body.error.code, 'SWY_INVALID_PROVIDER', `${baseUrl}: ${r.body.error.message}`);
  }
  t.equal(
    (await api.call('POST', '/v1/providers', { name: 'local', kind: 'openai', baseUrl: 'http://127.0.0.1:11434/v1' })).status,
    201,
    'loopback stays allowed (local model servers)',
  );
  t.equal((await api.call('PATCH', '/v1/providers/local', { baseUrl: 'http://169.254.169.254/' })).status, 400, 'a PATCH too');

  const narrowed = await makeEngine(t, { start: false, providerHosts: ['api.openai.com', '*.example.net', '10.0.0.0/8'] });
  const n = await serve(t, narrowed);
  const ok = (baseUrl: string) =>
    n.call('POST', '/v1/providers', { name: `p${Math.random().toString(36).slice(2, 8)}`, kind: 'openai', baseUrl }).then((r) => r.status);
  t.equal(await ok('https://api.openai.com/v1'), 201);
  t.equal(await ok('https://llm.example.net/v1'), 201);
  t.equal(await ok('http://10.1.2.3:8000/v1'), 201);
  t.equal(await ok('http://127.0.0.1:11434/v1'), 400, 'SWITCHYARD_PROVIDER_HOSTS narrows the rest away');

  // A name that resolves to a metadata address when the call is made (DNS rebinding).
  const resolver: Resolver = (hostname, _o, cb) =>
    cb(null, hostname === 'rebind.test' ? [{ address: '169.254.169.254', family: 4 }] : [{ address: '127.0.0.1', family: 4 }]);
  const policy = new HostPolicy(undefined, resolver);
  t.doesNotThrow(() => policy.checkUrl('http://rebind.test/v1'), 'the name itself is not refused');
  const looked = await new Promise<{ err: NodeJS.ErrnoException | null }>((resolve) =>
    policy.lookup('rebind.test', { all: true }, (err) => resolve({ err })),
  );
  t.equal(looked.err?.code, 'ESWYFORBIDDEN', 'but a connection to what it resolves to is');
  t.equal(refusedAddress('::ffff:a9fe:a9fe'), 'a link-local address', 'in any spelling');
});

t.test('tenants see coded provider errors; upstream text goes only to keys that administer providers', async (t) => {
  const leaky = await fakeOpenAI(t, {
    kind: 'status',
    status: 401,
    body: { error: { message: 'invalid credentials for db password=hunter2', type: 'auth' } },
  });
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  await engine.providers.update('mock', { enabled: false });
  await engine.providers.add({ name: 'leaky', kind: 'openai', baseUrl: leaky.baseUrl, apiKey: 'sk-x' });
  const reader = (await api.call('POST', '/v1/keys', { scopes: ['jobs:read', 'jobs:write'] })).body.secret as string;
  const tenantEvents = await sse(`${api.url}/v1/events`, { headers: { authorization: `Bearer ${reader}` } });
  const adminEvents = await sse(`${api.url}/v1/events`, { headers: { authorization: `Bearer ${API_KEY}` } });
  const job = await api.as(reader).call('POST', '/v1/jobs', { ...chatJob('hello'), maxAttempts: 1 });
  const done = await engine.wait(job.body.id, { timeoutMs: 30_000 });
  t.equal(done.error?.code, 'SWY_PROVIDER_AUTH');
  t.notMatch(JSON.stringify(done.error), /hunter2/, "not in the job's error");
  await Promise.all(
    [tenantEvents, adminEvents].map((s) => s.until((es) => es.some((e) => e.event === 'provider:state' && e.json.state.misconfigured))),
  );
  t.notMatch(tenantEvents.events.map((e) => e.data).join('\n'), /hunter2/, "not in a tenant's provider events");
  t.match(adminEvents.events.map((e) => e.data).join('\n'), /hunter2/, 'an operator sees what the upstream said');
  t.match((await api.call('GET', '/v1/providers/leaky')).body.state.lastError.message, /hunter2/, "in the provider's last error");
  await Promise.all([tenantEvents.close(), adminEvents.close()]);
});

t.test('/ready answers 503 while the store cannot take writes, and 200 again after', async (t) => {
  const database = join(tempDir(t), 'jobs.db');
  const engine = await createEngine({ database, threads: 1, busyTimeoutMs: 50 });
  t.teardown(() => engine.stop());
  await engine.start();
  const api = await serve(t, engine);
  const other = new Database(database);
  t.teardown(() => other.close());
  other.exec('BEGIN IMMEDIATE');
  let r = await api.as(undefined).call('GET', '/ready');
  t.equal(r.status, 503, 'not ready while every write fails');
  t.equal(r.body.error.code, 'SWY_NOT_READY');
  t.equal(r.body.parts.store, false, 'and it names the store');
  t.equal((await api.as(undefined).call('GET', '/health')).status, 200, 'while the process is alive');
  other.exec('COMMIT');
  r = await api.as(undefined).call('GET', '/ready');
  t.equal(r.status, 200, 'ready again once writes succeed');
});
