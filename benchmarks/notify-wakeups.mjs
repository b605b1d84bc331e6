// What a NOTIFY costs the other listening connections on the database: 1,000 pg_notify calls on
// one channel with no listener, a listener on another channel, and one on the same channel,
// counted in pg_stat_database.xact_commit (each listener reads the queue in a transaction of its
// own). Nothing else may use the database meanwhile. Prints one line per case.
//   node benchmarks/notify-wakeups.mjs        (PostgreSQL at TEST_PG_URL, or the local default)
import pg from 'pg';
import { commits } from './lib.mjs';

const url = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Client({ connectionString: url });
await admin.connect();
for (const [listenOn, label] of [
  [null, 'no listener'],
  ['zz', 'a listener on another channel'],
  ['other', 'a listener on the same channel'],
]) {
  const listener = new pg.Client({ connectionString: url });
  await listener.connect();
  if (listenOn) await listener.query(`LISTEN ${listenOn}`);
  const sender = new pg.Client({ connectionString: url });
  await sender.connect();
  // Backends report their counts to pg_stat_database when idle, within about a second.
  await new Promise((r) => setTimeout(r, 1200));
  const before = await commits(admin);
  for (let i = 0; i < 1000; i++) await sender.query({ name: 'notify', text: "SELECT pg_notify('other', 'x')" });
  await sender.end();
  await listener.end();
  await new Promise((r) => setTimeout(r, 1500));
  console.log(`1,000 pg_notify on channel "other", ${label}: ${(await commits(admin)) - before} commits`);
}
await admin.end();
