/**
 * The PostgreSQL store's messages to other processes: they ride with the next write, and one that
 * no write takes goes out alone, after the messages that the write in flight carries.
 */
import pg from 'pg';
import t, { type Test } from 'tap';
import { MAX_NOTIFICATIONS } from '../src/store/postgres/pool.js';
import { PostgresStore } from '../src/store/postgres/store.js';
import { newJob } from './helpers/engine.js';
import { freshSchema, PG_URL, requirePostgres } from './helpers/postgres.js';

/** A store on a fresh schema, and the messages heard on its channel (and their kinds), in order of arrival. */
async function busOn(t: Test): Promise<{ schema: string; store: PostgresStore; heard: string[]; messages: Record<string, unknown>[] }> {
  const schema = freshSchema(t);
  const store = await PostgresStore.open({ url: PG_URL, schema, poolSize: 4 });
  t.teardown(() => store.close());
  const heard: string[] = [];
  const messages: Record<string, unknown>[] = [];
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  t.teardown(() => client.end());
  client.on('notification', (n) => {
    for (const m of (JSON.parse(n.payload ?? '{}') as { m: { kind: string }[] }).m) {
      heard.push(m.kind);
      messages.push(m);
    }
  });
  await client.query(`LISTEN "switchyard_${schema}"`);
  return { schema, store, heard, messages };
}

const until = (check: () => boolean | Promise<boolean>) =>
  new Promise<void>((resolve, reject) => {
    const next = () => Promise.resolve(check()).then((ok) => (ok ? resolve() : setImmediate(next)), reject);
    next();
  });

t.test('a message rides with the next write; one no write takes goes out alone, after those the write in flight carries', async (t) => {
  if (!(await requirePostgres(t))) return;
  const { schema, store, heard } = await busOn(t);
  const sent: { text: string; values: unknown[] }[] = [];
  const query = pg.Client.prototype.query;
  t.teardown(() => {
    pg.Client.prototype.query = query;
  });
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const [q, values] = args as [string | { text: string; values?: unknown[] }, unknown[] | undefined];
    sent.push(typeof q === 'string' ? { text: q, values: values ?? [] } : { text: q.text, values: q.values ?? [] });
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  // Notifications travel as one parameter: a JSON array of the payloads.
  const kinds = (v: unknown): string[] => {
    if (typeof v !== 'string' || !v.startsWith('["{')) return [];
    return (JSON.parse(v) as string[]).flatMap((p) => (JSON.parse(p) as { m: { kind: string }[] }).m.map((m) => m.kind));
  };
  const carrying = (kind: string) => sent.filter((s) => s.values.some((v) => kinds(v).includes(kind)));

  // Counter rows for this store's slot exist after a first insert; a transaction of the test's
  // then holds them, so that the next insert (which upserts them) waits in flight.
  await store.insertJobs([newJob()]);
  const admin = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await admin.connect();
  t.teardown(() => admin.end());
  const slot = (store as unknown as { group: { slot: number } }).group.slot;
  await admin.query('BEGIN');
  await admin.query('UPDATE job_counts SET n = n WHERE slot = $1', [slot]);

  store.bus?.publish({ kind: 'keys' });
  const inserted = store.insertJobs([newJob()]);
  // Waiting on state: a backend blocked by the test's transaction (tests run side by side, so
  // only a lock this transaction holds counts).
  await until(
    async () =>
      Number(
        (await admin.query('SELECT count(*) AS n FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))')).rows[0].n,
      ) > 0,
  );
  t.equal(carrying('keys').length, 1, 'the first message went with the insert');
  t.match(carrying('keys')[0]?.text, /INSERT INTO jobs/, 'in its statement');

  store.bus?.publish({ kind: 'providers' });
  const group = (store as unknown as { group: { notesDue: boolean } }).group;
  await until(() => group.notesDue);
  t.same(carrying('providers'), [], 'the second, due while the insert waits, waits for it');
  await admin.query('COMMIT');
  await inserted;
  await until(() => heard.includes('providers'));
  t.ok(heard.indexOf('keys') < heard.indexOf('providers'), `they arrived in order (${heard.join(', ')})`);
  t.match(carrying('providers')[0]?.text, /^SELECT count\(pg_notify/, 'the second went alone');
});

t.test('messages past the most one statement sends go out after it, with no write to carry them', async (t) => {
  if (!(await requirePostgres(t))) return;
  const { store, messages } = await busOn(t);
  // Each message fills more than half a notification, so each travels in one of its own: one
  // more than a statement sends (MAX_NOTIFICATIONS).
  const count = MAX_NOTIFICATIONS + 1;
  for (let i = 0; i < count; i++) store.bus?.publish({ kind: 'pause', provider: `${i}`.padEnd(4000, '.'), until: 0 });
  // Without the rest made due again, the last one waits for a write that never comes.
  await until(() => messages.length === count);
  t.same(
    messages.map((m) => Number.parseInt(String(m.provider), 10)),
    Array.from({ length: count }, (_, i) => i),
    `all ${count} arrived, in the order they were sent`,
  );
});
