/** GET /v1/events: a client sees its job's events in order, resumes after a disconnect, sees progress. */
import t from 'tap';
import { API_KEY, chatJob, makeEngine } from './helpers/engine.js';
import { createServer } from '../src/http/app.js';
import type { Engine } from '../src/engine.js';
import type { Test } from 'tap';

interface Received {
  id: number;
  event: string;
  data: any;
}

/** A minimal SSE client over fetch, enough to read what the server sends. */
function connect(url: string, headers: Record<string, string> = {}) {
  const ac = new AbortController();
  const events: Received[] = [];
  const waiters: (() => void)[] = [];
  let comments = 0;
  const done = (async () => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${API_KEY}`, ...headers }, signal: ac.signal });
    if (res.headers.get('content-type') !== 'text/event-stream') throw new Error(`not a stream: ${res.status}`);
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (block.startsWith(':')) {
            comments++;
            for (const w of waiters.splice(0)) w();
            continue;
          }
          const f = Object.fromEntries(block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
          events.push({ id: Number(f.id), event: f.event as string, data: JSON.parse(f.data as string) });
          for (const w of waiters.splice(0)) w();
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return {
    events,
    comments: () => comments,
    /** Resolves once `pred` holds, checked again after each event or comment received. */
    async until(pred: (e: Received[]) => boolean): Promise<void> {
      while (!pred(events)) await new Promise<void>((r) => waiters.push(r));
    },
    async close() {
      ac.abort();
      await done;
    },
  };
}

async function serveEvents(t: Test, engine: Engine) {
  const app = await createServer(engine, { apiKey: API_KEY, eventHeartbeatMs: 100 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  const { port } = app.server.address() as { port: number };
  return `http://127.0.0.1:${port}`;
}

t.test('a client sees queued → started → completed for its job, in order, plus heartbeats', async (t) => {
  const engine = await makeEngine(t);
  const url = await serveEvents(t, engine);
  const job = await engine.submit(chatJob('watch me', { delayMs: 300 }));
  const client = connect(`${url}/v1/events?jobId=${job.id}&lastEventId=0`);
  t.teardown(() => client.close());
  await client.until((es) => es.some((e) => e.event === 'job:completed'));
  t.same(
    client.events.map((e) => e.event),
    ['job:queued', 'job:started', 'job:completed'],
  );
  t.ok(
    client.events.every((e, i, a) => i === 0 || e.id > a[i - 1]!.id),
    'ids increase',
  );
  t.equal(client.events[2]!.data.status, 'completed');
  t.notOk('input' in client.events[2]!.data, 'the prompt is not streamed');
  const beats = client.comments();
  const other = await engine.submit(chatJob('not mine'));
  await engine.wait(other.id, { timeoutMs: 10_000 });
  // The other job's events were written (or filtered out) before its wait resolved; a heartbeat
  // on this stream after that comes behind anything that was written.
  await client.until(() => client.comments() > beats);
  t.ok(
    client.events.every((e) => e.data.id === job.id),
    'filtered to its job',
  );
  t.ok(client.comments() >= 2, 'heartbeats arrive');
});

t.test('after a disconnect, Last-Event-ID resumes without losing events; progress is streamed and kept', async (t) => {
  const engine = await makeEngine(t);
  engine.defineJobType('wait', new URL('./fixtures/wait-for-abort.ts', import.meta.url));
  const url = await serveEvents(t, engine);
  const first = connect(`${url}/v1/events?type=chat`);
  const a = await engine.submit(chatJob('a'));
  await first.until((es) => es.some((e) => e.event === 'job:completed' && e.data.id === a.id));
  const lastSeen = first.events.at(-1)!.id;
  await first.close();

  // While disconnected: another job runs start to finish.
  const b = await engine.submit(chatJob('b'));
  await engine.wait(b.id, { timeoutMs: 10_000 });
  const resumed = connect(`${url}/v1/events?type=chat`, { 'last-event-id': String(lastSeen) });
  t.teardown(() => resumed.close());
  await resumed.until((es) => es.some((e) => e.event === 'job:completed' && e.data.id === b.id));
  t.same(
    resumed.events.filter((e) => e.data.id === b.id).map((e) => e.event),
    ['job:queued', 'job:started', 'job:completed'],
    'the missed events were replayed',
  );
  t.notOk(
    resumed.events.some((e) => e.id <= lastSeen),
    'nothing seen before was sent again',
  );

  const progress = connect(`${url}/v1/events?type=wait`);
  t.teardown(() => progress.close());
  const w = await engine.submit({ type: 'wait', input: {} });
  await progress.until((es) => es.some((e) => e.event === 'job:progress'));
  const p = progress.events.find((e) => e.event === 'job:progress')!;
  t.match(p.data, { jobId: w.id, type: 'wait', value: 1 });
  // The progress write was asked for when the event went out; it commits within a few turns (a
  // background write), read back through the API each turn (no timer: as fast as the machine).
  while ((await engine.get(w.id)).progress !== 1) await new Promise((r) => setImmediate(r));
  t.equal((await engine.get(w.id)).progress, 1, 'shown on the job');
  await engine.cancel(w.id);
});
