/**
 * Real providers first: the mock never answers for a model a real provider serves; the providers
 * file and the keys in the environment count on every start; a database seeded the old way is fixed.
 */
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import t from 'tap';
import { readProvidersFile } from '../src/cli/providers-file.js';
import { configFromEnv } from '../src/config.js';
import { createEngine } from '../src/engine.js';
import { migrate } from '../src/store/migrate.js';
import { chatJob, makeEngine, serve, tempDir } from './helpers/engine.js';
import { fakeOpenAI } from './helpers/fake-openai.js';
import { captureLogs } from './helpers/logs.js';
import { freshSchema, PG_URL, requirePostgres } from './helpers/postgres.js';

const capture = () => captureLogs('info');

t.test('with the real provider down, a request for its model gets a coded error, never a mock answer', async (t) => {
  const down = await fakeOpenAI(t, { kind: 'status', status: 500 });
  const engine = await makeEngine(t, { maxAttempts: 2 });
  const api = await serve(t, engine);
  // A breaker that stays closed: every call below reaches the real provider.
  await engine.providers.add({
    name: 'openai',
    kind: 'openai',
    baseUrl: down.baseUrl,
    models: ['gpt-4o-mini'],
    breaker: { volumeThreshold: 1000 },
  });

  const job = await engine.submit(chatJob('hi', { input: { messages: [{ role: 'user', content: 'hi' }], model: 'gpt-4o-mini' } }));
  const done = await engine.wait(job.id, { timeoutMs: 20_000 });
  t.equal(done.status, 'failed');
  t.equal(done.error?.code, 'SWY_PROVIDER_SERVER');
  t.not(done.provider, 'mock');
  t.equal(down.requests.length, 2, 'each attempt went to the real provider');

  const res = await api.call('POST', '/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  t.ok(res.status >= 500, `the OpenAI front answers an error (${res.status}), not 200`);
  t.notMatch(JSON.stringify(res.body), /mock reply/);

  // What no real provider serves is still the mock's: `mock-*` models and other models.
  for (const model of ['mock-1', 'some-other-model']) {
    const j = await engine.submit(chatJob('hi', { input: { messages: [{ role: 'user', content: 'hi' }], model } }));
    t.equal((await engine.wait(j.id, { timeoutMs: 10_000 })).provider, 'mock', `${model} is answered by the mock`);
  }
  // A real provider's wildcard does not take `mock-*` models.
  await engine.providers.update('openai', { models: ['*'] });
  const j = await engine.submit(chatJob('hi', { input: { messages: [{ role: 'user', content: 'hi' }], model: 'mock-1' } }));
  t.equal((await engine.wait(j.id, { timeoutMs: 10_000 })).provider, 'mock', 'mock-1 stays with the mock');
  const k = await engine.submit(chatJob('hi', { maxAttempts: 1, input: { messages: [{ role: 'user', content: 'hi' }], model: 'other' } }));
  t.equal((await engine.wait(k.id, { timeoutMs: 10_000 })).error?.code, 'SWY_PROVIDER_SERVER', 'any other model is the real one');
});

t.test('a start with the mock as the only enabled provider logs one warn line; a real provider silences it', async (t) => {
  const dir = tempDir(t);
  const first = capture();
  const a = await createEngine({ database: join(dir, 'a.db'), threads: 1, logger: first.logger });
  await a.stop();
  const warns = first.lines.filter((l) => l.level === 40);
  t.equal(warns.length, 1);
  t.match(warns[0]?.msg, /the mock is the only enabled provider/);

  const fake = await fakeOpenAI(t);
  const second = capture();
  const b = await createEngine({
    database: join(dir, 'b.db'),
    threads: 1,
    logger: second.logger,
    openaiApiKey: 'sk-x',
    openaiBaseUrl: fake.baseUrl,
  });
  await b.stop();
  t.equal(second.lines.filter((l) => l.level === 40).length, 0);

  // No provider at all (nothing seeded): nothing is said about a mock.
  const third = capture();
  const c = await createEngine({ database: join(dir, 'c.db'), threads: 1, logger: third.logger, seedProviders: false });
  await c.stop();
  t.equal(third.lines.filter((l) => /mock/.test(String(l.msg))).length, 0);
});

t.test('keys in the environment count on every start, not only the first; managed providers are changed where they are set', async (t) => {
  const fake = await fakeOpenAI(t);
  const database = join(tempDir(t), 'jobs.db');
  const open = (opts: { openaiApiKey?: string }) => createEngine({ database, threads: 1, openaiBaseUrl: fake.baseUrl, ...opts });

  // First start as the README's `npm start`: no key, the mock alone.
  const plain = await open({});
  t.same(
    plain.providers.list().map((p) => p.name),
    ['mock'],
  );
  await plain.stop();

  // The key is added and the server restarted: the provider is there, and serves.
  const keyed = await open({ openaiApiKey: 'sk-first' });
  await keyed.start();
  t.teardown(() => keyed.stop());
  t.match(keyed.providers.get('openai'), { managedBy: 'env', hasApiKey: true, enabled: true });
  const api = await serve(t, keyed);
  const job = await keyed.submit(chatJob('hello'));
  const done = await keyed.wait(job.id, { timeoutMs: 10_000 });
  t.equal(done.provider, 'openai', 'the default model goes to the real provider');
  t.equal(fake.requests[0]?.headers.authorization, 'Bearer sk-first');

  const changed = await api.call('PATCH', '/v1/providers/openai', { priority: 99 });
  t.equal(changed.status, 409);
  t.equal(changed.body.error.code, 'SWY_PROVIDER_MANAGED');
  t.equal((await api.call('DELETE', '/v1/providers/openai')).body.error.code, 'SWY_PROVIDER_MANAGED');
  const paused = await api.call('PATCH', '/v1/providers/openai', { enabled: false });
  t.equal(paused.status, 200, 'enabled may be switched until the next start');
  await keyed.stop();

  // A new key, and the pause undone: what the environment says wins at each start.
  const rekeyed = await open({ openaiApiKey: 'sk-second' });
  await rekeyed.start();
  t.equal(rekeyed.providers.get('openai').enabled, true);
  const again = await rekeyed.submit(chatJob('again'));
  await rekeyed.wait(again.id, { timeoutMs: 10_000 });
  t.equal(fake.requests.at(-1)?.headers.authorization, 'Bearer sk-second');
  await rekeyed.stop();

  // The key removed: so is the provider it made. The mock stays.
  const without = await open({});
  t.same(
    without.providers.list().map((p) => p.name),
    ['mock'],
  );
  await without.stop();
});

t.test("the providers file's providers are written on every start; those it drops are removed; the API's are left alone", async (t) => {
  const fake = await fakeOpenAI(t);
  const database = join(tempDir(t), 'jobs.db');
  const local = { name: 'local', kind: 'openai', baseUrl: fake.baseUrl, models: ['llama-3'], priority: 5 };
  const one = await createEngine({ database, threads: 1, providers: [local] });
  t.match(one.providers.get('local'), { managedBy: 'config', priority: 5, models: ['llama-3'] });
  await one.providers.add({ name: 'mine', kind: 'openai', baseUrl: fake.baseUrl });
  await one.stop();

  const two = await createEngine({ database, threads: 1, providers: [{ ...local, priority: 7 }] });
  t.equal(two.providers.get('local').priority, 7, 'a change in the file takes effect at the next start');
  t.equal(two.providers.get('mine').managedBy, null, "a provider added through the API is the API's");
  await two.stop();

  const three = await createEngine({ database, threads: 1, providers: [] });
  t.same(
    three.providers
      .list()
      .map((p) => p.name)
      .sort(),
    ['mine', 'mock'],
    'dropped from the file, removed from the database',
  );
  await three.stop();

  await t.rejects(createEngine({ database, threads: 1, providers: [{ name: 'bad', kind: 'nope' }] }), { code: 'SWY_INVALID_PROVIDER' });
});

t.test('the providers file: YAML or JSON, variables from the environment, errors that name the file and the entry', async (t) => {
  const dir = tempDir(t);
  const yaml = join(dir, 'switchyard.yaml');
  writeFileSync(
    yaml,
    `providers:
  - name: openai
    kind: openai
    baseUrl: https://api.openai.com/v1
    apiKey: \${MY_OPENAI_KEY}
    models: [gpt-4o-mini, gpt-4o]
`,
  );
  t.same(readProvidersFile(yaml, { MY_OPENAI_KEY: 'sk-from-env' }), [
    { name: 'openai', kind: 'openai', baseUrl: 'https://api.openai.com/v1', apiKey: 'sk-from-env', models: ['gpt-4o-mini', 'gpt-4o'] },
  ]);
  t.throws(() => readProvidersFile(yaml, {}), {
    code: 'SWY_INVALID_OPTIONS',
    message: /providers\[0\]\.apiKey names the environment variable MY_OPENAI_KEY/,
  });

  const json = join(dir, 'providers.json');
  writeFileSync(
    json,
    JSON.stringify({
      providers: [
        { name: 'x', kind: 'openai', baseUrl: 'https://h/v1' },
        { name: 'y', kind: 'gemeni' },
      ],
    }),
  );
  t.throws(() => readProvidersFile(json, {}), {
    code: 'SWY_INVALID_OPTIONS',
    message: /providers\.json: providers\[1\]\.kind must be one of/,
  });
  writeFileSync(
    json,
    JSON.stringify({
      providers: [
        { name: 'x', kind: 'mock' },
        { name: 'x', kind: 'mock' },
      ],
    }),
  );
  t.throws(() => readProvidersFile(json, {}), { message: /the name "x" is used twice/ });
  writeFileSync(json, JSON.stringify({ provider: [] }));
  t.throws(() => readProvidersFile(json, {}), { message: /providers\.json/ });
  writeFileSync(json, '{ not json');
  t.throws(() => readProvidersFile(json, {}), { message: /is not valid JSON/ });
  t.throws(() => readProvidersFile(join(dir, 'missing.yaml'), {}), { message: /cannot be read \(ENOENT\)/ });
  const toml = join(dir, 'x.toml');
  writeFileSync(toml, '');
  t.throws(() => readProvidersFile(toml, {}), { message: /must end in \.yaml, \.yml or \.json/ });
});

t.test('a database seeded the old way (the mock serving *) is fixed by its migration', async (t) => {
  const dir = tempDir(t);
  const all = fileURLToPath(new URL('../src/store/migrations/', import.meta.url));
  const before = join(dir, 'before/');
  mkdirSync(before);
  for (const f of readdirSync(all).filter((f) => Number.parseInt(f, 10) < 16)) copyFileSync(join(all, f), join(before, f));
  const file = join(dir, 'old.db');
  const db = new Database(file);
  migrate(db, before);
  const now = Date.now();
  db.prepare(
    `INSERT INTO providers (name, kind, base_url, api_key, models, model_map, priority, weight, enabled, timeout_ms, max_concurrency,
      rpm, tpm, breaker, prices, options, created_at, updated_at)
    VALUES ('mock', 'mock', NULL, NULL, '["*"]', '{}', 0, 1, 1, 60000, 1000, NULL, NULL, '{}', '{}', '{}', ?, ?)`,
  ).run(now, now);
  t.same(migrate(db, all), [16]);
  t.equal((db.prepare(`SELECT models FROM providers WHERE name = 'mock'`).get() as { models: string }).models, '["mock-*","*"]');
  db.close();
});

t.test("every vendor's keys in the environment make its provider: Gemini, Azure OpenAI, Bedrock (a key pair or an API key)", async (t) => {
  const env = configFromEnv({
    GEMINI_API_KEY: 'g-key',
    AZURE_OPENAI_API_KEY: 'az-key',
    AZURE_OPENAI_ENDPOINT: 'https://res.openai.azure.com',
    OPENAI_API_VERSION: '2024-06-01',
    AWS_ACCESS_KEY_ID: 'AKID',
    AWS_SECRET_ACCESS_KEY: 'secret',
    AWS_SESSION_TOKEN: 'token',
    AWS_REGION: 'eu-west-1',
  });
  t.match(env.engine, { geminiApiKey: 'g-key', azureOpenaiApiKey: 'az-key', awsCredentials: 'AKID:secret:token', awsRegion: 'eu-west-1' });
  t.equal(configFromEnv({ AWS_BEARER_TOKEN_BEDROCK: 'bedrock-api-key' }).engine.awsCredentials, 'bedrock-api-key');
  const engine = await createEngine({ database: join(tempDir(t), 'jobs.db'), threads: 1, ...env.engine });
  t.teardown(() => engine.stop());
  const byName = Object.fromEntries(engine.providers.list().map((p) => [p.name, p]));
  t.match(byName.gemini, { kind: 'gemini', managedBy: 'env', hasApiKey: true, baseUrl: null, models: ['gemini-*'] });
  t.match(byName.azure, {
    kind: 'azure',
    managedBy: 'env',
    baseUrl: 'https://res.openai.azure.com',
    options: { apiVersion: '2024-06-01' },
  });
  t.match(byName.bedrock, { kind: 'bedrock', managedBy: 'env', options: { region: 'eu-west-1' } });
  t.ok(byName.bedrock?.models.includes('anthropic.*'));
});

t.test('processes starting together on one PostgreSQL reconcile the same providers file once, with one mock seeded', async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema(t);
  const providers = [{ name: 'local', kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', models: ['llama-3'] }];
  const open = () => createEngine({ database: PG_URL, databaseSchema: schema, threads: 1, providers });
  const engines = await Promise.all([open(), open(), open()]);
  t.teardown(() => Promise.all(engines.map((e) => e.stop())));
  for (const e of engines) {
    t.same(
      e.providers
        .list()
        .map((p) => `${p.name}:${p.managedBy}`)
        .sort(),
      ['local:config', 'mock:null'],
    );
  }
});
