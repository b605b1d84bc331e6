/**
 * The package as users get it: `npm pack` holds only dist/ (JavaScript, .d.ts, the SQL
 * migrations), installs into an empty folder, imports from plain JavaScript and runs a job; the
 * examples run with `node` beside it.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { tempDir } from './helpers/engine.js';
import { buildInto, childEnv, ROOT } from './helpers/process.js';

const run = promisify(execFile);
const opts = (cwd: string) => ({ cwd, env: childEnv({}), timeout: 240_000, maxBuffer: 64 * 1024 * 1024 });

t.test('npm pack → install into an empty folder → import from plain JavaScript → a job runs; the examples run there', async (t) => {
  // Packed from a staging copy (package.json, README, a fresh build) so that this checkout's dist/
  // is not rebuilt under other tests; `npm pack` in the checkout does the same via prepack.
  const stage = tempDir(t);
  await buildInto(stage);
  for (const f of ['package.json', 'README.md']) cpSync(join(ROOT, f), join(stage, f));
  const out = tempDir(t);
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], opts(stage));
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  const paths = packed?.files.map((f) => f.path) ?? [];
  t.ok(paths.includes('dist/index.js') && paths.includes('dist/index.d.ts'), 'the entry point and its types');
  t.ok(
    paths.some((p) => p.endsWith('.sql')),
    'the migrations',
  );
  const stray = paths.filter((p) => !/^dist\/.+\.(js|d\.ts|sql)$/.test(p) && !['package.json', 'README.md', 'LICENSE'].includes(p));
  t.same(stray, [], 'nothing but dist/ (and the manifest and readme npm always adds)');
  t.notOk(
    paths.some((p) => p.startsWith('src/') || p.startsWith('test/')),
    'no sources, no tests',
  );

  const app = tempDir(t);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // The native addon is copied from this checkout instead of being compiled again (about a
  // minute); everything else comes from the tarball and the registry like on a user's machine.
  const sqliteVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string })
    .version;
  await run(
    'npm',
    [
      'install',
      join(out, packed?.filename as string),
      `better-sqlite3@${sqliteVersion}`,
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--no-package-lock',
    ],
    opts(app),
  );
  cpSync(join(ROOT, 'node_modules/better-sqlite3/build'), join(app, 'node_modules/better-sqlite3/build'), { recursive: true });
  t.ok(existsSync(join(app, 'node_modules/switchyard/dist/index.d.ts')), 'types installed');
  t.notOk(existsSync(join(app, 'node_modules/switchyard/src')), 'no TypeScript sources installed');

  writeFileSync(
    join(app, 'main.js'),
    `
import { createEngine } from 'switchyard';
const engine = await createEngine({ database: ':memory:', threads: 1 });
await engine.start();
const job = await engine.submit({ input: { messages: [{ role: 'user', content: 'hello from a plain JS app' }] } });
const done = await engine.wait(job.id, { timeoutMs: 30000 });
console.log(JSON.stringify({ status: done.status, text: done.output.text, provider: done.provider }));
await engine.stop();
`,
  );
  const result = await run(process.execPath, ['main.js'], opts(app));
  const line = JSON.parse(result.stdout.trim()) as { status: string; text: string; provider: string };
  t.equal(line.status, 'completed');
  t.equal(line.provider, 'mock');
  t.match(line.text, /^mock reply/);
  const help = await run(process.execPath, [join(app, 'node_modules/switchyard/dist/cli.js'), 'help'], opts(app));
  t.match(help.stdout, /usage: switchyard/, 'the switchyard command is installed');

  // The examples, as a user would run them: beside an installed switchyard.
  cpSync(join(ROOT, 'examples'), join(app, 'examples'), { recursive: true });
  const summary = await run(process.execPath, ['examples/map-reduce-summary.mjs'], opts(app));
  const s = JSON.parse(summary.stdout) as { status: string; chunks: number; summary: string };
  t.equal(s.status, 'completed');
  t.ok(s.chunks > 1, `the text was mapped in ${s.chunks} chunks`);
  t.match(summary.stderr, /progress 100%/);
  const extract = await run(process.execPath, ['examples/extract-invoices.mjs'], opts(app));
  const rows = extract.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { status: string; data: Record<string, unknown> });
  t.equal(rows.length, 3);
  for (const r of rows) {
    t.equal(r.status, 'completed');
    t.same(Object.keys(r.data).sort(), ['currency', 'dueDate', 'total', 'vendor'], 'fields shaped by the schema');
  }
});
