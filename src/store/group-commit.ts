/**
 * Group commit: the writes asked for in one event-loop turn share one SQLite transaction, each in
 * its own savepoint so that one failing write rolls back alone. Every caller's promise settles only
 * after the shared transaction committed: nothing is acknowledged before it is durable.
 * (No library does this for better-sqlite3; it is a few lines around its nested transactions.)
 */
import type Database from 'better-sqlite3';
import { storeFault } from './faults.js';
import type { Tallies } from './tallies.js';

interface Op {
  fn: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit {
  private pending: Op[] = [];
  private scheduled = false;

  /** `tallies` collects each write's counter changes; they are written once, before the commit. */
  constructor(private readonly db: Database.Database, private readonly tallies?: Tallies) {}

  /** Run `fn` inside the next shared transaction; resolves after the commit. */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commit whatever is pending now (before closing the database). */
  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.db.transaction(() => {
        for (const op of batch) {
          try {
            // A nested better-sqlite3 transaction is a savepoint.
            outcomes.push({ ok: true, value: this.db.transaction(op.fn)() });
            this.tallies?.keep();
          } catch (err) {
            // SQLite rolls back the whole transaction on some errors (SQLITE_FULL, IOERR, BUSY,
            // NOMEM): then the writes before this one are gone too, and all must fail.
            if (!this.db.inTransaction) throw err;
            this.tallies?.drop();
            outcomes.push({ ok: false, value: storeFault(err, 'write') });
          }
        }
        this.tallies?.write();
      }).immediate();
    } catch (err) {
      this.tallies?.reset();
      // The shared transaction rolled back: nothing of it was written.
      const e = storeFault(err, 'commit');
      for (const op of batch) op.reject(e);
      return;
    }
    batch.forEach((op, i) => {
      const o = outcomes[i] as { ok: boolean; value: unknown };
      if (o.ok) op.resolve(o.value);
      else op.reject(o.value);
    });
  }
}
