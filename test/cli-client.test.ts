/**
 * The CLI against a running server over a real socket: submit a JSONL file and wait for every
 * result, stdin, get/wait/stats/usage/providers, loadcheck, and clear errors for a wrong key or
 * an unreachable server.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { API_KEY, chatJob, makeEngine, serve, tempDir } from './helpers/engine.js';
import { childEnv, ROOT } from './helpers/process.js';

// Eighteen CLI processes, each compiling TypeScript as it starts: on a saturated machine this file
// needs more than the suite's 180 s per file.
t.setTimeout(600_000);

/** Run the CLI; resolves with its exit code and output, whatever the code. */
async function cli(
  args: string[],
  input?: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [...process.execArgv, join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, env: childEnv(env) });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d));
  proc.stderr.on('data', (d: Buffer) => (stderr += d));
  if (input !== undefined) proc.stdin.end(input);
  else proc.stdin.end();
  const code = await new Promise<number>((resolve) => proc.on('exit', (c) => resolve(c ?? -1)));
  return { code, stdout, stderr };
}

t.test('submit a JSONL file with --wait: every result written in input order', async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  const dir = tempDir(t);
  const input = join(dir, 'jobs.jsonl');
  const out = join(dir, 'results.jsonl');
  writeFileSync(input, `${Array.from({ length: 60 }, (_, i) => JSON.stringify(chatJob(`question ${i}`))).join('\n')}\n\n`);
  const r = await cli(['submit', input, '--wait', '--out', out, '--batch-size', '25', '--url', api.url, '--key', API_KEY]);
  t.equal(r.code, 0, r.stderr);
  const results = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.equal(results.length, 60, 'one result per job');
  t.same(
    results.map((x) => x.line),
    Array.from({ length: 60 }, (_, i) => i + 1),
    'in input order, by line',
  );
  t.ok(
    results.every((x) => x.status === 'completed' && /^mock reply/.test(x.output.text)),
    'every job completed with its output',
  );
  t.match(r.stderr, /submitted 60 jobs .*60 completed, 0 failed, 0 cancelled/);
  t.equal((await engine.stats()).total, 60, 'each submitted once');
});

t.test('submit from stdin without --wait prints the ids; get, wait, stats, usage, providers', async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  const conn = ['--url', api.url, '--key', API_KEY];
  const r = await cli(['submit', '-', ...conn, '--quiet'], `${JSON.stringify(chatJob('from stdin'))}\n`);
  t.equal(r.code, 0, r.stderr);
  const { id, line, status } = JSON.parse(r.stdout.trim()) as { id: string; line: number; status: string };
  t.equal(line, 1);
  t.equal(status, 'queued');
  const waited = await cli(['wait', id, ...conn]);
  t.equal(waited.code, 0);
  t.equal(JSON.parse(waited.stdout).status, 'completed');
  t.equal(JSON.parse((await cli(['get', id, ...conn])).stdout).id, id);
  const stats = await cli(['stats', ...conn]);
  t.match(stats.stdout, /completed\s+1/);
  t.equal(JSON.parse((await cli(['stats', '--json', ...conn])).stdout).completed, 1);
  const usage = await cli(['usage', ...conn]);
  t.match(usage.stdout, /mock\s+mock-1\s+1\s+0/);
  const providers = await cli(['providers', ...conn]);
  t.match(providers.stdout, /mock\s+mock\s+yes/);
  const check = await cli(['providers', 'check', 'mock', ...conn]);
  t.equal(check.code, 0);
  t.equal(JSON.parse(check.stdout).ok, true);
  // wait's exit codes: 3 when the timeout passes first, 1 for a job that did not complete.
  const later = await api.call('POST', '/v1/jobs', chatJob('later', { delayMs: 600_000 }));
  const timedOut = await cli(['wait', later.body.id, '--timeout', '200', ...conn]);
  t.equal(timedOut.code, 3, 'timed out: exit 3');
  t.equal(JSON.parse(timedOut.stdout).status, 'queued', 'and prints the job as it is');
  await api.call('POST', `/v1/jobs/${later.body.id}/cancel`);
  t.equal((await cli(['wait', later.body.id, ...conn])).code, 1, 'cancelled: exit 1');
  const unknown = await cli(['get', 'no-such-job', ...conn]);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /SWY_JOB_NOT_FOUND/);
  const bad = join(tempDir(t), 'bad.jsonl');
  writeFileSync(bad, `${JSON.stringify(chatJob('fine'))}\n${JSON.stringify({ input: { messages: [] } })}\n`);
  const rejected = await cli(['submit', bad, ...conn, '--quiet']);
  t.equal(rejected.code, 1);
  t.match(rejected.stderr, /SWY_VALIDATION: line 2/, 'the bad line is named by its line number');
});

t.test('a wrong key and an unreachable server get a clear message and a non-zero exit', async (t) => {
  const engine = await makeEngine(t, { start: false });
  const api = await serve(t, engine);
  const input = join(tempDir(t), 'one.json');
  writeFileSync(input, JSON.stringify(chatJob('x'), null, 2));
  const wrong = await cli(['submit', input, '--url', api.url, '--key', 'swy_wrong-key-000000000000']);
  t.not(wrong.code, 0);
  t.match(wrong.stderr, /refused the API key \(SWY_UNAUTHORIZED/);
  t.match(wrong.stderr, /--key or set SWITCHYARD_API_KEY/);
  // A port that was just free: nothing listens there.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const down = await cli(['stats', '--url', `http://127.0.0.1:${port}`, '--key', API_KEY]);
  t.equal(down.code, 1);
  t.match(down.stderr, /cannot reach the server at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  const nokey = await cli(['stats', '--url', api.url], undefined, { SWITCHYARD_DB: join(tempDir(t), 'none.db'), SWITCHYARD_API_KEY: '' });
  t.equal(nokey.code, 2, 'no key anywhere: a usage error');
  t.match(nokey.stderr, /no API key: pass --key, set SWITCHYARD_API_KEY/);
});

t.test('loadcheck drives the server and reports measured numbers; the mock latency is restored', async (t) => {
  const engine = await makeEngine(t, { concurrency: 32 });
  const api = await serve(t, engine);
  const r = await cli(['loadcheck', '--jobs', '40', '--concurrency', '8', '--latency', '20', '--json', '--url', api.url, '--key', API_KEY]);
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Record<string, any>;
  t.match(report, { jobs: 40, completed: 40, failed: 0, successRate: 100, errorRate: 0, concurrency: 8, mockLatencyMs: 20 });
  t.ok(report.processingMs.p50 >= 20, `processing time includes the 20 ms mock latency (p50 ${report.processingMs.p50})`);
  t.ok(report.processingMs.p99 >= report.processingMs.p50 && report.processingMs.avg > 0);
  t.ok(report.jobsPerSecond > 0 && report.apiLatencyMs.p99 >= report.apiLatencyMs.p50);
  t.equal(engine.providers.get('mock').options.latencyMs, 0, 'the mock latency is put back');
  const table = await cli(['loadcheck', '--jobs', '5', '--concurrency', '2', '--url', api.url, '--key', API_KEY]);
  t.match(table.stdout, /success rate %\s+100/);
  t.match(table.stdout, /API latency ms p99/);
});
