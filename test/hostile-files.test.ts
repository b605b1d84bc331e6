/**
 * A hostile tenant's files and batches: a line as long as a file, many batches at once, a batch that
 * crashes its reader, uploads that fill the disk, bodies the multipart parser cannot read.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import OpenAI, { toFile } from 'openai';
import t from 'tap';
import type { Engine } from '../src/engine.js';
import { boundedLines } from '../src/batches/lines.js';
import { API_KEY, makeEngine, serve, tempDir, type Served } from './helpers/engine.js';
import { ROOT, startServer, type Child } from './helpers/process.js';

const line = (i: number, content = `question ${i}`) =>
  JSON.stringify({
    custom_id: `req-${i}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'mock-1', messages: [{ role: 'user', content }] },
  });

function client(api: Served, key = API_KEY): OpenAI {
  return new OpenAI({ apiKey: key, baseURL: `${api.url}/v1`, maxRetries: 0 });
}

/** Resolves with the batch once it is in one of `statuses` (woken by the batch's changes, not by a timer). */
async function batchIn(engine: Engine, id: string, statuses: string[]): Promise<Awaited<ReturnType<Engine['batches']['get']>>> {
  for (;;) {
    let stop!: () => void;
    const changed = new Promise<void>((resolve) => {
      stop = engine.batches.onChange((b) => {
        if (b.id === id) resolve();
      });
    });
    const b = await engine.batches.get(id);
    if (statuses.includes(b.status)) {
      stop();
      return b;
    }
    await changed;
    stop();
  }
}

t.test('lines are read one at a time, each bounded: a line longer than the limit is a per-line error', async (t) => {
  const chunks = ['{"a":1}\n', 'x'.repeat(100), 'y'.repeat(100), '\r\n\n{"b":', '2}'];
  const seen = [];
  for await (const l of boundedLines(Readable.from(chunks.map((c) => Buffer.from(c))), 150)) seen.push(l);
  t.same(seen, [
    { n: 1, text: '{"a":1}' },
    { n: 2, tooLong: true },
    { n: 3, text: '' },
    { n: 4, text: '{"b":2}' },
  ]);

  const engine = await makeEngine(t, { batchLineBytes: 65_536 });
  const api = await serve(t, engine, { limits: { bodyBytes: 8_000_000 } });
  const openai = client(api);
  const long = line(2, 'z'.repeat(1_000_000));
  const file = await openai.files.create({
    file: await toFile(Buffer.from([line(1), long, line(3)].join('\n')), 'in.jsonl'),
    purpose: 'batch',
  });
  const batch = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  const done = await batchIn(engine, batch.id, ['failed', 'completed']);
  t.equal(done.status, 'failed');
  t.same(
    done.errors?.data.map((e) => [e.code, e.line]),
    [['line_too_long', 2]],
    'the long line is named; nothing ran',
  );
  t.equal((await engine.stats()).total, 0);
});

t.test('batches are read a few at a time (batchConcurrency), not all at once', async (t) => {
  const engine = await makeEngine(t, { batchConcurrency: 1 });
  const api = await serve(t, engine);
  let open = 0;
  let peak = 0;
  const files = engine.files;
  const real = files.open.bind(files);
  files.open = (f) => {
    const stream = real(f);
    open++;
    peak = Math.max(peak, open);
    stream.once('close', () => open--);
    return stream;
  };
  const openai = client(api);
  const text = Array.from({ length: 2000 }, (_, i) => line(i)).join('\n');
  const batches = [];
  for (let b = 0; b < 3; b++) {
    const file = await openai.files.create({ file: await toFile(Buffer.from(text), `in-${b}.jsonl`), purpose: 'batch' });
    batches.push(await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }));
  }
  for (const b of batches) t.equal((await batchIn(engine, b.id, ['completed', 'failed'])).status, 'completed');
  t.equal(peak, 1, 'one input file was open at a time');
});

t.test('a batch whose reading keeps crashing the server ends failed after a few reads, not in a crash loop', async (t) => {
  const dir = tempDir(t);
  const db = join(dir, 'jobs.db');
  const env = { SWITCHYARD_DB: db, SWITCHYARD_API_KEY: API_KEY, SWITCHYARD_BATCH_MAX_ATTEMPTS: '2', LOG_LEVEL: 'info' };
  const cli = [...process.execArgv, join(ROOT, 'src/cli.ts'), 'serve'];
  const headers = { authorization: `Bearer ${API_KEY}` };
  /** Resolves when the child logs that it began reading the batch. */
  const reading = (child: Child) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (child.logs.some((l) => l.includes('"msg":"reading batch input"'))) resolve();
        else child.proc.stdout?.once('data', () => setImmediate(check));
      };
      check();
    });
  let child = await startServer(t, process.execPath, cli, env);
  const openai = new OpenAI({ apiKey: API_KEY, baseURL: `${child.url}/v1`, maxRetries: 0 });
  const file = await openai.files.create({ file: await toFile(Buffer.from(line(1)), 'in.jsonl'), purpose: 'batch' });
  // The input becomes a pipe nobody writes: a read that never ends, as a read that kills its process
  // never ends. Each process is killed while it reads.
  const path = join(dir, 'files', file.id);
  rmSync(path);
  t.equal(spawnSync('mkfifo', [path]).status, 0);
  const batch = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  for (let kill = 0; kill < 2; kill++) {
    await reading(child);
    child.proc.kill('SIGKILL');
    await child.exited;
    child = await startServer(t, process.execPath, cli, env);
  }
  const res = await fetch(`${child.url}/v1/batches/${batch.id}`, { headers });
  const after = (await res.json()) as { status: string; errors: { data: { code: string }[] } };
  t.equal(after.status, 'failed', 'the third process gives the batch up instead of reading it again');
  t.equal(after.errors.data[0]?.code, 'processing_interrupted');
  t.notOk(
    child.logs.some((l) => l.includes('"msg":"reading batch input"')),
    'it did not read it',
  );
  child.proc.kill('SIGTERM');
  await once(child.proc, 'exit');
});

t.test('file quotas per tenant (bytes and count), and files expire', async (t) => {
  const engine = await makeEngine(t, { fileQuotaBytes: 10_000, fileQuotaFiles: 2 });
  const api = await serve(t, engine);
  const tenant = (await api.call('POST', '/v1/keys', { scopes: ['jobs:write', 'jobs:read'] })).body.secret as string;
  const openai = client(api, tenant);
  const upload = async (bytes: number) =>
    openai.files.create({ file: await toFile(Buffer.from(`${line(1)}\n${' '.repeat(bytes)}`), 'f.jsonl'), purpose: 'batch' });
  const statusOf = (p: Promise<unknown>) =>
    p.then(
      () => 0,
      (e: { status?: number; error?: { code?: string } }) => `${e.status} ${e.error?.code}`,
    );
  t.equal(await statusOf(upload(20_000)), '413 SWY_QUOTA_EXCEEDED', 'one file larger than the byte quota');
  const first = await upload(10);
  t.equal(await statusOf(upload(9_900)), '413 SWY_QUOTA_EXCEEDED', 'a file that passes what is left');
  await upload(10);
  t.equal(await statusOf(upload(10)), '413 SWY_QUOTA_EXCEEDED', 'a third file past the count');
  t.equal(
    await statusOf(client(api).files.create({ file: await toFile(Buffer.from(line(1)), 'f.jsonl'), purpose: 'batch' })),
    0,
    'another tenant is not affected',
  );
  await openai.files.delete(first.id);
  const withExpiry = await openai.files.create({
    file: await toFile(Buffer.from(line(1)), 'f.jsonl'),
    purpose: 'batch',
    expires_after: { anchor: 'created_at', seconds: 3600 },
  });
  t.equal(withExpiry.expires_at, withExpiry.created_at + 3600, 'expires_after is honoured');
  t.equal(await statusOf(upload(10)), '413 SWY_QUOTA_EXCEEDED', 'the count quota still holds');
  t.equal(await engine.files.expire(Date.now() + 7200_000), 1, 'an expired file is deleted with its bytes');
  t.equal(await statusOf(openai.files.retrieve(withExpiry.id)), '404 SWY_FILE_NOT_FOUND');
  const list = await openai.files.list();
  t.ok(
    list.data.every((f) => typeof f.expires_at === 'number'),
    'files expire by default (fileExpiryDays)',
  );
});

t.test('a multipart body the parser cannot read is a 400, not a 500', async (t) => {
  const engine = await makeEngine(t, { start: false });
  const api = await serve(t, engine);
  const post = (contentType: string, body: string) =>
    fetch(`${api.url}/v1/files`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': contentType },
      body,
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error: { code: string } } }));
  const noBoundary = await post('multipart/form-data', '--x\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--x--\r\n');
  t.equal(noBoundary.status, 400, 'no boundary');
  t.equal(noBoundary.body.error.code, 'SWY_BAD_REQUEST');
  const cut = await post(
    'multipart/form-data; boundary=x',
    '--x\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n{"a":',
  );
  t.equal(cut.status, 400, 'cut short');
  t.match(cut.body.error.code, /^SWY_(BAD_REQUEST|VALIDATION)$/);
  t.equal((await api.as(undefined).call('GET', '/health')).status, 200);
});

t.test('an upload that meets a full disk is a 503, and the server recovers', async (t) => {
  const dir = tempDir(t);
  // The process may not write a file past 1 MiB: the file system's answer is EFBIG, as a full disk's is
  // ENOSPC. (Run with tsx, not the test runner's loaders, which write files of their own.)
  const child = await startServer(
    t,
    'prlimit',
    ['--fsize=1048576', process.execPath, '--import', 'tsx', join(ROOT, 'src/cli.ts'), 'serve'],
    {
      SWITCHYARD_DB: join(dir, 'jobs.db'),
      SWITCHYARD_API_KEY: API_KEY,
      LOG_LEVEL: 'info',
    },
  );
  const openai = new OpenAI({ apiKey: API_KEY, baseURL: `${child.url}/v1`, maxRetries: 0 });
  const big = Buffer.from(`${line(1)}\n${' '.repeat(2_000_000)}`);
  const full = await openai.files.create({ file: await toFile(big, 'big.jsonl'), purpose: 'batch' }).then(
    () => 0,
    (e: { status: number; error?: { code: string }; message: string }) => `${e.status} ${e.error?.code ?? e.message}`,
  );
  t.equal(full, '503 SWY_STORE_UNAVAILABLE');
  const small = await openai.files.create({ file: await toFile(Buffer.from(line(1)), 'small.jsonl'), purpose: 'batch' });
  t.equal(small.bytes, line(1).length, 'a file that fits is stored');
  t.equal((await openai.files.list()).data.length, 1, 'the failed upload left nothing behind');
});
