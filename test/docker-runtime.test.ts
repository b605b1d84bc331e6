/**
 * No Docker engine runs here, so this repeats the image's runtime stage by hand: the built output
 * plus production-only dependencies in an empty folder, started the way the image starts it.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { tempDir } from './helpers/engine.js';
import { buildInto, ROOT, startServer } from './helpers/process.js';

t.test('the runtime stage serves /health from dist/ with production dependencies only', async (t) => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  t.match(dockerfile, /CMD \["node", "dist\/cli\.js", "serve"\]/, 'the image starts node directly (exec form)');
  t.match(dockerfile, /USER node/);
  t.match(dockerfile, /HEALTHCHECK/);

  const app = tempDir(t);
  await buildInto(app);
  copyFileSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  copyFileSync(join(ROOT, 'package-lock.json'), join(app, 'package-lock.json'));
  // The image keeps the addon compiled in its build stage (npm prune); here the one this checkout
  // compiled is copied in instead of compiling it a second time.
  execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: app,
    stdio: 'ignore',
  });
  const addon = 'node_modules/better-sqlite3/build/Release';
  mkdirSync(join(app, addon), { recursive: true });
  copyFileSync(join(ROOT, addon, 'better_sqlite3.node'), join(app, addon, 'better_sqlite3.node'));
  t.notOk(existsSync(join(app, 'node_modules/typescript')), 'no dev dependencies');
  t.notOk(existsSync(join(app, 'node_modules/tap')), 'no test runner');

  const server = await startServer(
    t,
    process.execPath,
    ['dist/cli.js', 'serve'],
    {
      NODE_ENV: 'production',
      SWITCHYARD_DB: join(app, 'data', 'switchyard.db'),
      SWITCHYARD_API_KEY: 'docker-key-0123456789',
    },
    app,
  );
  const health = await fetch(`${server.url}/health`);
  t.equal(health.status, 200);
  t.same(await health.json(), { status: 'ok' });
  t.match(dockerfile, /COPY ui \.\/ui/, 'the build stage has the console sources');
  const page = await fetch(`${server.url}/ui/`);
  t.equal(page.status, 200, 'the console is served from dist/ui');
  t.match(await page.text(), /app\.js/);
  const job = await fetch(`${server.url}/v1/jobs`, {
    method: 'POST',
    headers: { authorization: 'Bearer docker-key-0123456789', 'content-type': 'application/json' },
    body: JSON.stringify({ input: { messages: [{ role: 'user', content: 'from the image' }] } }),
  }).then((r) => r.json() as Promise<{ id: string }>);
  const done = await fetch(`${server.url}/v1/jobs/${job.id}?waitMs=20000`, {
    headers: { authorization: 'Bearer docker-key-0123456789' },
  }).then((r) => r.json() as Promise<{ status: string }>);
  t.equal(done.status, 'completed', 'a job runs on worker threads from dist/');
  server.proc.kill('SIGTERM');
  t.equal(await server.exited, 0);

  // The directories the image makes for its volumes, made the same way, and written to as a user
  // that is not root (the image's `node`; here `nobody` when the test runs as root): a Batch API
  // upload lands in SWITCHYARD_FILES_DIR (/files, a named volume in docker-compose.yml).
  const made = /RUN mkdir -p ((?:\/\w+ ?)+) && chown node:node ((?:\/\w+ ?)+)/.exec(dockerfile);
  t.same(made?.[1]?.trim().split(' '), ['/data', '/files'], 'the image makes /data and /files');
  t.same(made?.[2]?.trim().split(' '), ['/data', '/files'], 'owned by node');
  t.match(dockerfile, /VOLUME \["\/data", "\/files"\]/);
  t.match(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), /SWITCHYARD_FILES_DIR: \/files[\s\S]*- files:\/files/);
  const asRoot = process.getuid?.() === 0;
  const user = asRoot
    ? { uid: Number(execFileSync('id', ['-u', 'nobody'])), gid: Number(execFileSync('id', ['-g', 'nobody'])) }
    : undefined;
  const data = join(app, 'data2');
  const files = join(app, 'files');
  for (const dir of [data, files]) {
    mkdirSync(dir);
    if (user) chownSync(dir, user.uid, user.gid);
  }
  if (user) chmodSync(app, 0o755); // the temp dir is the test's own (0700): the app must be readable by the user
  const [cmd, args] = user
    ? ['runuser', ['-u', 'nobody', '--', process.execPath, 'dist/cli.js', 'serve']]
    : [process.execPath, ['dist/cli.js', 'serve']];
  const unprivileged = await startServer(
    t,
    cmd as string,
    args as string[],
    {
      NODE_ENV: 'production',
      SWITCHYARD_DB: join(data, 'switchyard.db'),
      SWITCHYARD_FILES_DIR: files,
      SWITCHYARD_API_KEY: 'docker-key-0123456789',
    },
    app,
  );
  const form = new FormData();
  form.append('purpose', 'batch');
  form.append('file', new Blob(['{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"messages":[]}}\n']), 'in.jsonl');
  const upload = await fetch(`${unprivileged.url}/v1/files`, {
    method: 'POST',
    headers: { authorization: 'Bearer docker-key-0123456789' },
    body: form,
  });
  t.equal(upload.status, 200, 'an upload is written to the files directory');
  const stored = readdirSync(files, { recursive: true }).filter((f) => statSync(join(files, f as string)).isFile());
  t.equal(stored.length, 1, 'the file is in SWITCHYARD_FILES_DIR');
  if (user) t.equal(statSync(join(files, stored[0] as string)).uid, user.uid, 'written by the unprivileged user');
  unprivileged.proc.kill('SIGTERM');
  await unprivileged.exited;
});
