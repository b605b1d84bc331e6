/** The OpenAPI document: served at /docs/json with the Swagger UI at /docs, and docs/openapi.json kept in step. */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { makeEngine, serve } from './helpers/engine.js';

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
    await res.body?.cancel();
  }
  t.equal((await fetch(`${api.url}/v1/jobs`)).status, 401, 'the API itself still needs the key');
  const committed = JSON.parse(readFileSync(new URL('../docs/openapi.json', import.meta.url), 'utf8'));
  t.same(spec, committed, 'docs/openapi.json is current (regenerate with npm run docs:openapi)');
});
