/** The OpenAPI document: served at /docs/json with the Swagger UI at /docs, and docs/openapi.json kept in step. */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { chatJob, makeEngine, serve } from './helpers/engine.js';
import { RESPONSES } from '../src/http/responses.js';
import { createAjv } from '../src/validation.js';

t.test('/docs/json describes every route and matches docs/openapi.json', async (t) => {
  const engine = await makeEngine(t, { start: false, seedProviders: false });
  const api = await serve(t, engine);
  const spec = (await (await fetch(`${api.url}/docs/json`)).json()) as any;
  t.same(spec.security, [{ bearer: [] }], 'the document is public; the calls it describes need the key');
  t.equal(spec.openapi.startsWith('3.'), true);
  for (const path of [
    '/v1/jobs',
    '/v1/jobs/{id}',
    '/v1/jobs/batch',
    '/v1/stats',
    '/v1/usage',
    '/v1/events',
    '/v1/providers/{name}/check',
    '/v1/admin/backup',
  ]) {
    t.ok(spec.paths[path], `documents ${path}`);
  }
  t.match(spec.paths['/v1/jobs'].post.requestBody.content['application/json'].schema.required, ['input']);
  // A browser opens the UI without a key: the page and every asset it loads.
  const ui = await fetch(`${api.url}/docs/`, { redirect: 'follow' });
  t.equal(ui.status, 200, 'the UI page');
  const page = await ui.text();
  const assets = [...page.matchAll(/(?:src|href)="\.?\/?([^"]+\.(?:js|css|png))"/g)].map((m) => m[1] as string);
  t.ok(assets.length >= 2, `the page loads ${assets.length} assets`);
  for (const asset of assets) {
    const res = await fetch(new URL(asset, ui.url));
    t.equal(res.status, 200, `${asset} needs no key`);
    await res.arrayBuffer();
  }
  t.equal((await fetch(`${api.url}/v1/jobs`)).status, 401, 'the API itself still needs the key');
  const committed = JSON.parse(readFileSync(new URL('../docs/openapi.json', import.meta.url), 'utf8'));
  t.same(spec, committed, 'docs/openapi.json is current (regenerate with npm run docs:openapi)');
});

t.test('every route documents its answers, and real answers match what is documented', async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  const spec = (await (await fetch(`${api.url}/docs/json`)).json()) as any;
  for (const [path, ops] of Object.entries(spec.paths as Record<string, Record<string, any>>)) {
    if (path.startsWith('/docs')) continue;
    for (const [method, op] of Object.entries(ops)) {
      const codes = Object.keys(op.responses ?? {});
      t.ok(
        codes.some((c) => /^2/.test(c)),
        `${method.toUpperCase()} ${path} documents its success (${codes.join(', ')})`,
      );
    }
  }
  const ajv = createAjv();
  const check = async (route: string, status: number, body: unknown) => {
    const schema = RESPONSES[route]?.[status] ?? RESPONSES[route]?.[`${String(status)[0]}xx`];
    t.ok(schema, `${route} ${status} is documented`);
    const validate = ajv.compile(schema as object);
    t.ok(validate(body), `${route} ${status} matches its schema ${ajv.errorsText(validate.errors)}`);
  };
  const created = await api.call('POST', '/v1/jobs', chatJob('documented'));
  await check('POST /v1/jobs', created.status, created.body);
  const done = await api.call('GET', `/v1/jobs/${created.body.id}?waitMs=30000`);
  await check('GET /v1/jobs/:id', done.status, done.body);
  const batch = await api.call('POST', '/v1/jobs/batch', { jobs: [chatJob('one'), chatJob('two')] });
  await check('POST /v1/jobs/batch', batch.status, batch.body);
  for (const [route, path] of [
    ['GET /v1/jobs', '/v1/jobs'],
    ['GET /v1/stats', '/v1/stats'],
    ['GET /v1/usage', '/v1/usage?groupBy=provider,model'],
    ['GET /v1/providers', '/v1/providers'],
    ['GET /v1/providers/:name', '/v1/providers/mock'],
    ['GET /v1/keys', '/v1/keys'],
    ['GET /v1/models', '/v1/models'],
    ['GET /ready', '/ready'],
    ['GET /health', '/health'],
  ] as const) {
    const r = await api.call('GET', path);
    await check(route, r.status, r.body);
  }
  const key = await api.call('POST', '/v1/keys', { scopes: ['jobs:read'] });
  await check('POST /v1/keys', key.status, key.body);
  const probe = await api.call('POST', '/v1/providers/mock/check');
  await check('POST /v1/providers/:name/check', probe.status, probe.body);
  const completion = await api.call('POST', '/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  await check('POST /v1/chat/completions', completion.status, completion.body);
  const message = await api.call('POST', '/v1/messages', {
    model: 'claude-x',
    max_tokens: 50,
    messages: [{ role: 'user', content: 'hi' }],
  });
  await check('POST /v1/messages', message.status, message.body);
  const response = await api.call('POST', '/v1/responses', { model: 'gpt-4o-mini', input: 'hi' });
  await check('POST /v1/responses', response.status, response.body);
  const missing = await api.call('GET', '/v1/jobs/no-such-job');
  await check('GET /v1/jobs/:id', missing.status, missing.body);
  const openaiMissing = await api.call('GET', '/v1/files/file-nope');
  await check('GET /v1/files/:id', openaiMissing.status, openaiMissing.body);
});
