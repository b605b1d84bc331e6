/**
 * The OpenAPI document as its users consume it: it passes Redocly's recommended rules, every
 * operation has an operationId and a summary, and a client generated from it (openapi-typescript's
 * types, openapi-fetch) type-checks and calls a live server.
 */
import { execFile } from 'node:child_process';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import openapiTS, { astToString } from 'openapi-typescript';
import t from 'tap';
import { OPERATIONS } from '../src/http/operations.js';
import { RESPONSES } from '../src/http/responses.js';
import { API_KEY, makeEngine, serve, tempDir } from './helpers/engine.js';
import { ROOT, childEnv } from './helpers/process.js';

const run = promisify(execFile);
const document = readFileSync(join(ROOT, 'docs/openapi.json'), 'utf8');

t.test("the document passes Redocly's recommended rules", async (t) => {
  const config = await createConfig({ extends: ['recommended'] });
  const problems = await lintFromString({ source: document, absoluteRef: join(ROOT, 'docs/openapi.json'), config });
  t.same(
    problems.filter((p) => p.severity === 'error').map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`),
    [],
    'no errors',
  );
  // Two warnings are known and kept: the Chat Completions body's inline `discriminator` unions
  // (validated by Ajv's discriminator, which wants them inline), and the public routes (/health,
  // /ready, /metrics), which answer no 4xx.
  const warned = new Set(problems.filter((p) => p.severity === 'warn').map((p) => p.ruleId));
  t.same(
    [...warned].filter((r) => r !== 'no-illogical-composition-keywords' && r !== 'operation-4xx-response'),
    [],
    'no other warnings',
  );
});

t.test('every documented route has an operationId and a summary, each id once', async (t) => {
  t.same(
    Object.keys(RESPONSES).filter((route) => !OPERATIONS[route]),
    [],
  );
  const ids = Object.values(OPERATIONS).map(([id]) => id);
  t.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  const spec = JSON.parse(document) as { paths: Record<string, Record<string, { operationId?: string; summary?: string }>> };
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) t.ok(op.operationId && op.summary, `${method.toUpperCase()} ${path}`);
  }
});

t.test('a client generated from the document type-checks and calls the server', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'api.d.ts'), astToString(await openapiTS(JSON.parse(document))));
  // What a user writes with the generated types: a wrong field or path would not compile.
  writeFileSync(
    join(dir, 'client.ts'),
    `import createClient from 'openapi-fetch';
import type { paths } from './api.js';

const client = createClient<paths>({ baseUrl: process.env.SWITCHYARD_URL, headers: { authorization: \`Bearer \${process.env.SWITCHYARD_API_KEY}\` } });
const created = await client.POST('/v1/jobs', { body: { input: { messages: [{ role: 'user', content: 'generated client' }] } } });
if (!created.data) throw new Error(\`submit failed: \${JSON.stringify(created.error)}\`);
const done = await client.GET('/v1/jobs/{id}', { params: { path: { id: created.data.id }, query: { waitMs: 20000 } } });
const providers = await client.GET('/v1/providers');
const missing = await client.GET('/v1/jobs/{id}', { params: { path: { id: 'no-such-job' } } });
console.log(JSON.stringify({ status: (done.data as { status?: string } | undefined)?.status, providers: providers.data?.data.map((p) => p.name), missing: missing.response.status, code: (missing.error as { error?: { code?: string } } | undefined)?.error?.code }));
`,
  );
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
      },
      files: ['client.ts'],
    }),
  );
  // The checkout's node_modules, found from the temp dir.
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: dir, env: childEnv({}) }).catch((err) => {
    t.fail(`the generated client does not type-check:\n${err.stdout}`);
  });

  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  const { stdout } = await run(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'client.ts'], {
    cwd: dir,
    env: childEnv({ SWITCHYARD_URL: api.url, SWITCHYARD_API_KEY: API_KEY }),
  });
  t.same(JSON.parse(stdout), { status: 'completed', providers: ['mock'], missing: 404, code: 'SWY_JOB_NOT_FOUND' });
});
