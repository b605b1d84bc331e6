/**
 * When the scheduler claims again: after an attempt ends, only if the last claim left jobs behind
 * or the job's tenant is capped; after other processes' announcements, once per wake delay. The
 * lease is an hour long, so that the heartbeat's sweep (which also claims) never rescues a job a
 * missing wake-up would leave waiting.
 */
import t from 'tap';
import type { Engine } from '../src/index.js';
import { makeEngine } from './helpers/engine.js';

const HOUR = 3_600_000;
const chat = (content: string) => ({ input: { messages: [{ role: 'user', content }] } });

interface Probe {
  /** What happened, in order: `claim`, `notify`, and `<event> <job id>`. */
  log: string[];
  claims(): number;
  /** Resolves once no claim is under way or about to start (the start's own claim included). */
  settled(): Promise<void>;
  /** Resolves when the next claim has returned. */
  nextClaim(): Promise<void>;
}

/** Logs the scheduler's claims and wake-ups beside the engine's job events. */
function probe(engine: Engine): Probe {
  const log: string[] = [];
  const internals = engine as unknown as {
    store: { claimJobs: (...a: unknown[]) => Promise<unknown[]> };
    scheduler: { notify: () => void; claiming: boolean; wakeScheduled: boolean };
  };
  const { store, scheduler } = internals;
  const claimJobs = store.claimJobs.bind(store);
  const claimed: (() => void)[] = [];
  store.claimJobs = async (...a) => {
    log.push('claim');
    const got = await claimJobs(...a);
    for (const f of claimed.splice(0)) f();
    return got;
  };
  const notify = scheduler.notify.bind(scheduler);
  scheduler.notify = () => {
    log.push('notify');
    notify();
  };
  for (const e of ['job:started', 'job:completed'] as const) engine.on(e, (job) => log.push(`${e} ${job.id}`));
  return {
    log,
    claims: () => log.filter((x) => x === 'claim').length,
    settled: () =>
      new Promise<void>((resolve) => {
        const check = () => (scheduler.claiming || scheduler.wakeScheduled ? setImmediate(check) : resolve());
        check();
      }),
    nextClaim: () => new Promise<void>((resolve) => claimed.push(resolve)),
  };
}

t.test('an attempt that ends after a claim came up short claims nothing more', async (t) => {
  const engine = await makeEngine(t, { leaseMs: HOUR, concurrency: 4, claimBatch: 4 });
  const p = probe(engine);
  await p.settled();
  const job = await engine.submit(chat('alone'));
  t.equal((await engine.wait(job.id)).status, 'completed');
  // The wait resolves after the attempt's last synchronous step, which is where it would wake.
  const after = p.log.slice(p.log.indexOf(`job:completed ${job.id}`) + 1);
  t.same(after, [], 'no wake-up after the job ended: the claim that took it found nothing more');
});

t.test('an attempt that ends after a full claim claims again, and takes the job left behind', async (t) => {
  const engine = await makeEngine(t, { leaseMs: HOUR, concurrency: 2, claimBatch: 2 });
  await engine.providers.update('mock', { options: { latencyMs: 5 } });
  const p = probe(engine);
  const jobs = await engine.submitMany([chat('one'), chat('two'), chat('three')]);
  for (const j of jobs) t.equal((await engine.wait(j.id, { timeoutMs: HOUR })).status, 'completed');
  const first = p.log.findIndex((x) => x.startsWith('job:completed'));
  t.equal(p.log[first + 1], 'notify', 'the first job to end woke the claim');
  const third = p.log.indexOf(`job:started ${jobs[2]?.id}`);
  t.ok(p.log.slice(first + 2, third).includes('claim'), 'whose claim took the third job, after the first ended');
});

t.test("a capped tenant's job that ends claims again, though the claim before came up short", async (t) => {
  const engine = await makeEngine(t, { leaseMs: HOUR, concurrency: 4, claimBatch: 4 });
  const { key } = await engine.keys.create({ scopes: ['jobs:write', 'jobs:read'], maxConcurrency: 1 });
  await engine.providers.update('mock', { options: { latencyMs: 5 } });
  const p = probe(engine);
  const [a, b] = await engine.submitMany([chat('first'), chat('second')], { tenant: key.id });
  for (const j of [a, b]) t.equal((await engine.wait(j?.id as string, { timeoutMs: HOUR })).status, 'completed');
  t.ok(
    p.log.indexOf(`job:started ${b?.id}`) > p.log.indexOf(`job:completed ${a?.id}`),
    'the second job started after the first ended (the cap held)',
  );
  t.equal(p.log[p.log.indexOf(`job:completed ${a?.id}`) + 1], 'notify', "the first job's end woke the claim");
});

t.test("other processes' announcements within the wake delay share one claim", async (t) => {
  const engine = await makeEngine(t, { leaseMs: HOUR });
  const scheduler = (engine as unknown as { scheduler: { notifyIn(ms: number): void } }).scheduler;
  const p = probe(engine);
  await p.settled();
  const before = p.claims();
  const claimed = p.nextClaim();
  scheduler.notifyIn(1000);
  // A claim asked for at once would have started by the next turn.
  await new Promise(setImmediate);
  t.equal(p.claims(), before, 'no claim at once: it waits for the delay');
  for (let i = 0; i < 4; i++) scheduler.notifyIn(1000);
  await claimed;
  await p.settled();
  t.equal(p.claims() - before, 1, 'five announcements, one claim');
});

t.test('a job queued while every slot was busy is claimed when a slot frees', async (t) => {
  const engine = await makeEngine(t, { leaseMs: HOUR, concurrency: 2, claimBatch: 2 });
  await engine.providers.update('mock', { options: { latencyMs: 600_000 } });
  const seen = new Set<string>();
  const waiting = new Map<string, () => void>();
  engine.on('job:started', (j) => {
    seen.add(j.id);
    waiting.get(j.id)?.();
  });
  const startOf = (id: string) => new Promise<void>((resolve) => (seen.has(id) ? resolve() : waiting.set(id, resolve)));
  // A claim that comes up short (one job of two), then a slot taken without a claim.
  const a = await engine.submit(chat('a'));
  await startOf(a.id);
  const b = await engine.run(chat('b'));
  t.equal(b.status, 'running', 'b runs at once, on the second slot');
  const c = await engine.submit(chat('c'));
  const cStarted = startOf(c.id);
  t.equal((await engine.get(c.id)).status, 'queued', 'c waits: no slot is free');
  await engine.cancel(a.id);
  await cStarted;
  t.pass("a's slot went to c");
});
