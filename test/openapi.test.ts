/** The OpenAPI document: served at /docs/json (behind the key), and docs/openapi.json kept in step. */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { API_KEY, makeEngine, serve } from './helpers/engine.js';

t.test('/docs/json describes every route and matches docs/openapi.json', async (t) => {
  const engine = await makeEngine(t, { start: false, seedProviders: false });
  const api = await serve(t, engine);
  t.equal((await fetch(`${api.url}/docs/json`)).status, 401, 'behind the API key');
  const spec = (await api.call('GET', '/docs/json')).body;
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
  const ui = await fetch(`${api.url}/docs/`, { headers: { authorization: `Bearer ${API_KEY}` } });
  t.equal(ui.status, 200, 'the UI page');
  const committed = JSON.parse(readFileSync(new URL('../docs/openapi.json', import.meta.url), 'utf8'));
  t.same(spec, committed, 'docs/openapi.json is current (regenerate with npm run docs:openapi)');
});
