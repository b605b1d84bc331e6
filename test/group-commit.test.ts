/** Group commit: which writes share a transaction, and when background writes wait. */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import Database from 'better-sqlite3';
import { GroupCommit } from '../src/store/group-commit.js';
import { tempDir } from './helpers/engine.js';

function setup(t: Test, opts: { backgroundWaitMs?: number; backgroundMax?: number }) {
  const db = new Database(join(tempDir(t), 'gc.db'));
  t.teardown(() => db.close());
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE w (label TEXT)');
  const group = new GroupCommit(db, undefined, opts);
  // Each write records its label and the transaction it ran in (a commit count read inside it).
  let commits = 0;
  const tx: Record<string, number> = {};
  const insert = db.prepare('INSERT INTO w VALUES (?)');
  const write = (label: string, background = false) => group.run(() => {
    insert.run(label);
    tx[label] = commits;
  }, background).then(() => {
    commits = Math.max(commits, tx[label]! + 1);
    return label;
  });
  return { db, group, write, tx };
}

t.test('a background write waits while other writes commit, then commits on the next turn without them', async (t) => {
  // A wait far longer than the test: anything that commits did not wait for the timer.
  const { write, tx } = setup(t, { backgroundWaitMs: 600_000 });
  const done: string[] = [];
  const bg = write('claim', true).then((l) => done.push(l));
  await write('submit-1').then((l) => done.push(l));
  t.same(done, ['submit-1'], 'the submit committed without the waiting background write');
  await bg;
  t.same(done, ['submit-1', 'claim'], 'with nothing else to write, the background write committed at once');
  t.not(tx.claim, tx['submit-1'], 'in a transaction of its own');
});

t.test('background writes join a transaction once enough of them wait', async (t) => {
  const { write, tx } = setup(t, { backgroundWaitMs: 600_000, backgroundMax: 3 });
  const bgs = [write('a', true), write('b', true)];
  // Two waiting background writes stay out of the submit's transaction.
  await write('s1');
  t.equal(tx.a, undefined, 'not run yet');
  bgs.push(write('c', true));
  await Promise.all([write('s2'), ...bgs]);
  t.equal(tx.a, tx.b);
  t.equal(tx.b, tx.c, 'the three background writes share one transaction');
});

t.test('background writes that waited long enough ride along with the next write', async (t) => {
  const { write, tx } = setup(t, { backgroundWaitMs: 0 });
  await Promise.all([write('bg', true), write('fg')]);
  t.equal(tx.bg, tx.fg, 'one transaction');
});

t.test('drain commits waiting background writes too', async (t) => {
  const { db, group, write } = setup(t, { backgroundWaitMs: 600_000 });
  const bg = write('late', true);
  void write('now');
  group.drain();
  await bg;
  t.equal(db.prepare('SELECT count(*) FROM w').pluck().get(), 2);
});
