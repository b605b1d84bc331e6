// What a NOTIFY costs the other listening connections on the database: 1,000 pg_notify calls on
// one channel with no listener, a listener on another channel, and one on the same channel,
// counted in pg_stat_database.xact_commit (each listener reads the queue in a transaction of its
// own). Nothing else may use the database meanwhile. Prints one line per case.
//   node benchmarks/notify-wakeups.mjs        (PostgreSQL at TEST_PG_URL, or the local default)
import pg from 'pg';

const url = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const a = new pg.Client({ connectionString: url });
await a.connect();
const q = async () =>
  Number((await a.query('SELECT xact_commit::bigint AS c FROM pg_stat_database WHERE datname = current_database()')).rows[0].c);
for (const [listenOn, label] of [
  [null, 'no listener'],
  ['zz', 'a listener on another channel'],
  ['other', 'a listener on the same channel'],
]) {
  const d = new pg.Client({ connectionString: url });
  await d.connect();
  if (listenOn) await d.query(`LISTEN ${listenOn}`);
  const e = new pg.Client({ connectionString: url });
  await e.connect();
  await new Promise((r) => setTimeout(r, 1200));
  const b = await q();
  for (let i = 0; i < 1000; i++) await e.query({ name: 'y', text: "SELECT pg_notify('other', 'x')" });
  await e.end();
  await d.end();
  await new Promise((r) => setTimeout(r, 1500));
  console.log(`1,000 pg_notify on channel "other", ${label}: ${(await q()) - b} commits`);
}
await a.end();
