// One process of the PostgreSQL side-by-side (benchmarks/postgres-peers.mjs): a worker or a
// producer of one system, on its own schema, driven by the runner over IPC.
//   node benchmarks/systems/pg-node.mjs <switchyard|sqlite|graphile|pgboss> <worker|producer> <url> <schema>
// (`sqlite` ignores the url and schema: Switchyard on a fresh SQLite file, for reference.)
// Messages in: {fill: n} (bulk-add n jobs, as the system's own batch call does), {produce: n} (add
// n jobs one by one, each awaited), {start: true} (start working), {stop: true}.
// Messages out: {ready}, {filled}, {produced}, {done: count} (jobs this process finished, at most
// every 20 ms). Each system counts a job when its own "finished" hook fires: Switchyard after the
// outcome committed; graphile-worker and pg-boss when the task function returned, before their
// (batched) completion write, which flatters them a little.
import { join } from 'node:path';
import { chat, freshDir } from '../lib.mjs';

const [system, role, url, schema] = process.argv.slice(2);
const BULK = 1000;

let done = 0;
let reported = 0;
let timer;
function finished(n = 1) {
  done += n;
  if (timer) return;
  timer = setTimeout(() => {
    timer = undefined;
    if (done === reported) return;
    reported = done;
    process.send({ done });
  }, 20);
}

async function switchyard(store = { database: url, databaseSchema: schema }) {
  const { createEngine } = await import('../../dist/index.js');
  const engine = await createEngine({ ...store, threads: 1, concurrency: 256, claimBatch: 128 });
  engine.on('job:completed', () => finished());
  return {
    fill: async (n) => {
      for (let i = 0; i < n; i += BULK) await engine.submitMany(Array.from({ length: Math.min(BULK, n - i) }, (_, k) => chat(i + k)));
    },
    add: (i) => engine.submit(chat(i)),
    start: () => engine.start(),
    stop: () => engine.stop(),
  };
}

/** Switchyard on a SQLite file of its own: what the engine does with no server, for reference (one process fills and works). */
const sqlite = () => switchyard({ database: join(freshDir(), 'jobs.db') });

async function graphile() {
  const { run, makeWorkerUtils, Logger } = await import('graphile-worker');
  // graphile-worker logs each job at info; keep warnings and errors.
  const logger = new Logger(() => (level, message) => {
    if (level === 'error' || level === 'warning') console.error(message);
  });
  const utils = await makeWorkerUtils({ connectionString: url, schema, logger });
  await utils.migrate();
  let runner;
  return {
    fill: async (n) => {
      for (let i = 0; i < n; i += BULK)
        await utils.addJobs(Array.from({ length: Math.min(BULK, n - i) }, (_, k) => ({ identifier: 'noop', payload: chat(i + k) })));
    },
    add: (i) => utils.addJob('noop', chat(i)),
    start: async () => {
      // The settings of graphile-worker's own performance page: 24 jobs at a time, a local queue
      // fetched in batches, and completions written in batches.
      runner = await run({
        connectionString: url,
        schema,
        concurrency: 24,
        noHandleSignals: true,
        logger,
        taskList: { noop: async () => finished() },
        preset: { worker: { maxPoolSize: 25, localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
      });
    },
    stop: async () => {
      await runner?.stop();
      await utils.release();
    },
  };
}

async function pgboss() {
  const { default: PgBoss } = await import('pg-boss');
  const boss = new PgBoss({ connectionString: url, schema, max: 10, supervise: false, schedule: false });
  boss.on('error', (err) => console.error(err));
  await boss.start();
  await boss.createQueue('noop');
  return {
    fill: async (n) => {
      for (let i = 0; i < n; i += BULK)
        await boss.insert(Array.from({ length: Math.min(BULK, n - i) }, (_, k) => ({ name: 'noop', data: chat(i + k) })));
    },
    add: (i) => boss.send('noop', chat(i)),
    start: async () => {
      // Four pollers per process, each fetching up to 100 jobs at a time and polling every 0.5 s
      // (pg-boss's shortest) when the queue is empty.
      for (let w = 0; w < 4; w++)
        await boss.work('noop', { batchSize: 100, pollingIntervalSeconds: 0.5 }, async (jobs) => finished(jobs.length));
    },
    stop: () => boss.stop({ graceful: true, wait: true }),
  };
}

const make = { switchyard, sqlite, graphile, pgboss }[system];
if (!make) throw new Error(`unknown system ${system}`);
const sys = await make();
process.on('message', async (m) => {
  if (m.fill) {
    await sys.fill(m.fill);
    process.send({ filled: true });
  } else if (m.produce) {
    for (let i = 0; i < m.produce; i++) await sys.add(i);
    process.send({ produced: true });
  } else if (m.start) {
    await sys.start();
    process.send({ started: true });
  } else if (m.stop) {
    await sys.stop();
    process.exit(0);
  }
});
process.send({ ready: role });
