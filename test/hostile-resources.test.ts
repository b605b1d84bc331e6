/**
 * A hostile tenant's share of what the server holds for everyone: connections, event streams,
 * metric series, and tokens against its budget.
 */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import t from 'tap';
import type { Engine } from '../src/engine.js';
import type { Job } from '../src/domain/jobs.js';
import { API_KEY, chatJob, makeEngine, serve } from './helpers/engine.js';
import { sse } from './helpers/sse.js';

/** A socket from `localAddress` (another loopback address: another client) that sends nothing. */
async function idleSocket(port: number, localAddress: string): Promise<{ socket: Socket; closed: Promise<unknown> }> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  const closed = once(socket, 'close');
  socket.on('error', () => undefined);
  await Promise.race([once(socket, 'connect'), closed]);
  return { socket, closed };
}

const portOf = (url: string) => Number(new URL(url).port);

t.test('idle connections are bounded per address and in all, and closed when idle; /health still answers', async (t) => {
  const engine = await makeEngine(t, { start: false });
  const api = await serve(t, engine, { connections: { perAddress: 10, max: 40, idleTimeoutMs: 60_000 } });
  const port = portOf(api.url);
  const held = await Promise.all(Array.from({ length: 15 }, () => idleSocket(port, '127.0.0.2')));
  // The server closes the five past the address's share at once.
  const over = await Promise.race([
    Promise.all(held.slice(10).map((h) => h.closed)).then(() => 'closed'),
    Promise.all(held.slice(0, 10).map((h) => h.closed)).then(() => 'wrong ones'),
  ]);
  t.equal(over, 'closed', 'connections past the per-address cap are closed');
  t.equal((await api.as(undefined).call('GET', '/health')).status, 200, 'another client is served while the first holds its share');
  for (const h of held) h.socket.destroy();
  await Promise.all(held.map((h) => h.closed));

  const crowd: Awaited<ReturnType<typeof idleSocket>>[] = [];
  for (let a = 3; a < 8; a++) for (let i = 0; i < 9; i++) crowd.push(await idleSocket(port, `127.0.0.${a}`));
  await new Promise<void>((resolve) => {
    let closed = 0;
    for (const c of crowd) void c.closed.then(() => ++closed === crowd.length - 40 && resolve());
  });
  t.pass('past the total of 40, the server closed the connections it could not hold');
  for (const c of crowd) c.socket.destroy();
  await Promise.all(crowd.map((c) => c.closed));
});

t.test("a connection that sends nothing is closed after the idle timeout; a known key's long poll is not", async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine, { connections: { idleTimeoutMs: 200 } });
  const idle = await idleSocket(portOf(api.url), '127.0.0.2');
  await idle.closed;
  t.pass('the idle connection was closed by the server');
  const later = await engine.submit({ ...chatJob('later'), delayMs: 60_000 });
  const polled = await api.call('GET', `/v1/jobs/${later.id}?waitMs=1500`);
  t.equal(polled.status, 200, 'a ?waitMs long poll of 1.5 s outlives the 200 ms idle timeout');
  t.equal(polled.body.status, 'queued');
});

t.test('event streams per key are capped', async (t) => {
  const engine = await makeEngine(t, { start: false });
  const api = await serve(t, engine, { eventStreamsPerKey: 2 });
  const secret = (await api.call('POST', '/v1/keys', { scopes: ['jobs:read'] })).body.secret as string;
  const open = () => sse(`${api.url}/v1/events`, { headers: { authorization: `Bearer ${secret}` } });
  const a = await open();
  const b = await open();
  const refusal = await fetch(`${api.url}/v1/events`, { headers: { authorization: `Bearer ${secret}` } });
  t.equal(refusal.status, 429, 'the third stream of one key');
  t.equal(((await refusal.json()) as { error: { code: string } }).error.code, 'SWY_TOO_MANY_STREAMS');
  t.ok(Number(refusal.headers.get('retry-after')) >= 1);
  const other = await sse(`${api.url}/v1/events`, { headers: { authorization: `Bearer ${API_KEY}` } });
  t.equal(other.status, 200, 'another key is not affected');
  await a.close();
  const again = await (async () => {
    // The server frees the slot when it sees the stream close.
    for (;;) {
      const s = await open();
      if (s.status === 200) return s;
      await s.close();
      await new Promise((r) => setImmediate(r));
    }
  })();
  t.equal(again.status, 200, 'a closed stream frees its slot');
  await Promise.all([b.close(), other.close(), again.close()]);
});

t.test('metric labels come only from configured models: a tenant cannot mint series', async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  const tenant = api.as((await api.call('POST', '/v1/keys', { scopes: ['jobs:write', 'jobs:read'] })).body.secret);
  const jobs = [];
  for (let i = 0; i < 60; i++) {
    jobs.push(
      (await tenant.call('POST', '/v1/jobs', { input: { messages: [{ role: 'user', content: 'hi' }], model: `made-up-${i}` } })).body
        .id as string,
    );
  }
  jobs.push((await tenant.call('POST', '/v1/jobs', chatJob('default model'))).body.id as string);
  for (const id of jobs) await engine.wait(id, { timeoutMs: 30_000 });
  const text = (await api.as(undefined).call('GET', '/metrics')).body as string;
  const models = new Set([...text.matchAll(/switchyard_provider_requests_total\{[^}]*model="([^"]*)"/g)].map((m) => m[1]));
  t.same([...models].sort(), ['mock-1', 'other'], 'the configured default model, and "other" for names from requests');
});

/** Every job of `ids` once it is terminal, or deferred to `until` or later. */
function settled(engine: Engine, ids: string[], until: number): Promise<Map<string, Job>> {
  const left = new Set(ids);
  const seen = new Map<string, Job>();
  return new Promise((resolve) => {
    const note = (job: Job) => {
      if (!left.has(job.id)) return;
      if (job.status === 'queued' && Date.parse(job.runAt) < until) return;
      left.delete(job.id);
      seen.set(job.id, job);
      if (left.size === 0) {
        for (const e of ['job:completed', 'job:failed', 'job:deferred'] as const) engine.off(e, note);
        resolve(seen);
      }
    };
    for (const e of ['job:completed', 'job:failed', 'job:deferred'] as const) engine.on(e, note);
  });
}

t.test("budgets hold at spend time: three batches accepted before any spend cannot overshoot the day's budget", async (t) => {
  const engine = await makeEngine(t, { start: false });
  const api = await serve(t, engine);
  const key = (await api.call('POST', '/v1/keys', { scopes: ['jobs:write', 'jobs:read', 'usage:read'], dailyTokenBudget: 200 })).body;
  const tenant = api.as(key.secret);
  const ids: string[] = [];
  for (let b = 0; b < 3; b++) {
    const r = await tenant.call('POST', '/v1/jobs/batch', { jobs: Array.from({ length: 1000 }, (_, i) => chatJob(`batch ${b} job ${i}`)) });
    t.equal(r.status, 201, `batch ${b} is accepted: nothing was spent yet`);
    ids.push(...(r.body.jobs as { id: string }[]).map((j) => j.id));
  }
  const done = settled(engine, ids, Infinity);
  await engine.start();
  const jobs = [...(await done).values()];
  const spent = (await engine.usage({ tenant: key.id })).data.reduce((n, r) => n + r.inputTokens + r.outputTokens, 0);
  const perCall = Math.max(...jobs.filter((j) => j.status === 'completed').map((j) => j.usage.inputTokens + j.usage.outputTokens));
  t.ok(spent <= 200 + perCall, `spent ${spent} tokens of a 200-token budget (at most one call over)`);
  t.ok(jobs.filter((j) => j.status === 'completed').length >= 1, 'calls ran until the budget was spent');
  const failed = jobs.filter((j) => j.status === 'failed');
  t.ok(failed.length > 2900, `${failed.length} jobs failed`);
  t.ok(
    failed.every((j) => j.error?.code === 'SWY_BUDGET_EXCEEDED' && j.usage.inputTokens === 0),
    'with SWY_BUDGET_EXCEEDED, before any call',
  );
  const refused = await tenant.call('POST', '/v1/jobs', chatJob('one more'));
  t.equal(refused.status, 429, 'and the next submit is refused');
  t.equal(refused.body.error.code, 'SWY_BUDGET_EXCEEDED');
});

t.test('a key whose budget action is "wait" has its jobs wait for the next day, without spending attempts', async (t) => {
  const engine = await makeEngine(t, { start: false });
  const api = await serve(t, engine);
  const key = (await api.call('POST', '/v1/keys', { scopes: ['jobs:write', 'jobs:read'], dailyTokenBudget: 100, budgetAction: 'wait' }))
    .body;
  const tenant = api.as(key.secret);
  const r = await tenant.call('POST', '/v1/jobs/batch', { jobs: Array.from({ length: 40 }, (_, i) => chatJob(`job ${i}`)) });
  const ids = (r.body.jobs as { id: string }[]).map((j) => j.id);
  const now = Date.now();
  const midnight = now - (now % 86_400_000) + 86_400_000;
  const done = settled(engine, ids, midnight);
  await engine.start();
  const jobs = [...(await done).values()];
  const waiting = jobs.filter((j) => j.status === 'queued');
  t.ok(waiting.length > 30, `${waiting.length} jobs wait`);
  // (runAt is counted from when each was put back: a few milliseconds past midnight.)
  t.ok(
    waiting.every((j) => Date.parse(j.runAt) >= midnight && Date.parse(j.runAt) < midnight + 60_000 && j.attempt === 0),
    'until 00:00 UTC, with no attempt spent',
  );
  t.ok(
    jobs.every((j) => j.status !== 'failed'),
    'none failed',
  );
});
