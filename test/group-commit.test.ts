/** Group commit: which writes share a transaction, and when background writes wait. */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import Database from 'better-sqlite3';
import { GroupCommit } from '../src/store/group-commit.js';
import { tempDir } from './helpers/engine.js';

function setup(t: Test, opts: { backgroundWaitMs?: number; backgroundMax?: number; earlyMs?: number }) {
  const file = join(tempDir(t), 'gc.db');
  const db = new Database(file);
  t.teardown(() => db.close());
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE w (label TEXT)');
  const group = new GroupCommit(db, undefined, opts);
  // Each write records its label and the transaction it ran in (a commit count read inside it).
  let commits = 0;
  const tx: Record<string, number> = {};
  const insert = db.prepare('INSERT INTO w VALUES (?)');
  // `then` runs inside the write, after its row (a long write, or one asking for another).
  const write = (label: string, background = false, then?: () => void) =>
    group
      .run(
        () => {
          insert.run(label);
          tx[label] = commits;
          then?.();
        },
        { background },
      )
      .then(() => {
        commits = Math.max(commits, tx[label]! + 1);
        return label;
      });
  // What another connection sees: only committed rows.
  const reader = new Database(file, { readonly: true });
  t.teardown(() => reader.close());
  const committed = () => reader.prepare('SELECT label FROM w ORDER BY rowid').pluck().all();
  return { db, group, write, tx, committed };
}

/** Keeps the thread busy, as a long event-loop turn does. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
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

// The waits below are long (200 ms) so that no pause of a busy machine can trip them by chance.
t.test('in a long turn, a write that waited long enough is committed at the next write, with it', async (t) => {
  const { write, tx, committed } = setup(t, { earlyMs: 200 });
  const first = write('first');
  const next = write('next');
  t.same(committed(), [], 'writes asked for together wait for the end of the turn');
  busy(250);
  const late = write('late');
  t.same(committed(), ['first', 'next', 'late'], 'committed before the turn ended');
  t.ok(tx.first === tx.next && tx.next === tx.late, 'in one transaction');
  const after = write('after');
  t.same(committed(), ['first', 'next', 'late'], 'the next write waits again');
  await Promise.all([first, next, late, after]);
  t.same(committed(), ['first', 'next', 'late', 'after']);
});

t.test('a background write is committed early once past its own wait, and not before', async (t) => {
  const { write, committed } = setup(t, { earlyMs: 200, backgroundWaitMs: 600_000 });
  const bg = write('bg', true);
  busy(250);
  const fg = write('fg');
  t.same(committed(), [], 'the background write may still wait: nothing committed early');
  await fg;
  t.same(committed(), ['fg']);
  await bg;

  // With nothing else written, a background write is due at once (an LLM answer's outcome): in a
  // long turn it is committed early like any other.
  const answers = setup(t, { earlyMs: 200 });
  void answers.write('answer-1', true);
  busy(250);
  const second = answers.write('answer-2', true);
  t.same(answers.committed(), ['answer-1', 'answer-2'], 'committed before the turn ended');
  await second;
});

t.test('writes left over by a full slice wait for the next turn, not for the next write', async (t) => {
  const { write, committed } = setup(t, { earlyMs: 200 });
  // A write longer than the 8 ms slice: the transaction closes after it.
  const slow = write('slow', false, () => busy(250));
  const rest = write('rest');
  let seen: unknown[] = [];
  await slow.then(() => {
    // Asked for right after the slice committed: 'rest' has waited 250 ms, but within its own turn.
    void write('again');
    seen = committed();
  });
  t.same(seen, ['slow'], 'the leftover write was not committed in the middle of the next turn');
  await rest;
  t.same(committed(), ['slow', 'rest', 'again']);
});

t.test('a write asked for by a running write is not committed inside it', async (t) => {
  const { write, committed } = setup(t, { earlyMs: 200 });
  let inner: Promise<string> | undefined;
  // The outer write has waited past earlyMs when it asks for the inner one.
  await write('outer', false, () => {
    busy(250);
    inner = write('inner');
  });
  await inner;
  t.same(committed(), ['outer', 'inner'], 'each written once');
});

t.test('early commits take at most a slice (8 ms) of a turn; the next turn may commit early again', async (t) => {
  const { write, committed } = setup(t, { earlyMs: 0 });
  // With earlyMs 0 every write is overdue at once: the first commits at once, and takes 10 ms.
  const long = write('long', false, () => busy(10));
  t.same(committed(), ['long'], 'committed early');
  const next = write('next');
  t.same(committed(), ['long'], "the turn's slice is spent: the next write waits for the turn's end");
  await Promise.all([long, next]);
  void write('later');
  t.same(committed(), ['long', 'next', 'later'], 'a new turn, a new slice');
});
