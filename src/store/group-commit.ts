/**
 * Group commit: the writes asked for in one event-loop turn share one SQLite transaction (a long
 * turn commits every few milliseconds: EARLY_MS); when one of them fails, the transaction is
 * replayed with each write in its own savepoint, so that the failing write rolls back alone. Every
 * caller's promise settles only after the shared transaction committed: nothing is acknowledged
 * before it is durable. (No library does this for better-sqlite3; it is a few lines around its
 * nested transactions.)
 */
import type Database from 'better-sqlite3';
import { storeFault } from './faults.js';
import type { Tallies } from './tallies.js';

/** Most writes in one shared transaction. */
const MAX_OPS = 1024;
/**
 * A transaction stops taking writes once it has run this long, ms; the rest go in the next turn.
 * Sliced by time rather than by count: cheap writes share a commit (each commit has a fixed cost in
 * WAL writes), and a burst of thousands of writes (10,000 LLM calls ending together) still yields
 * to the event loop every few milliseconds.
 */
const SLICE_MS = 8;
/**
 * Background writes (claims, outcomes, progress) wait up to this long, ms, while submits keep
 * committing, so that they are written together: each commit rewrites every page it touched, and
 * a submit, a claim and an outcome touch far more pages together than a submit alone.
 * When no submit is waiting they are committed at once, so an idle engine adds no latency.
 */
const BACKGROUND_WAIT_MS = 2;
/** Background writes that are committed without waiting further. */
const BACKGROUND_MAX = 256;
/**
 * A write that has waited this long past when it could have been committed, ms, is committed at the
 * next write asked for, with every write before it, even in the middle of an event-loop turn: a
 * long turn (thousands of LLM answers read together, each a write) would otherwise hold its first
 * writes until its end. Early commits take at most SLICE_MS per turn, so that a turn that keeps
 * reading answers while the loop is saturated still ends; the rest wait for the turn's end. With
 * 10,000 calls in flight (round medians of interleaved runs): overhead p99 per job 27–39 →
 * 10–18 ms, event-loop delay p99 26–29 → 31–38 ms (benchmarks/RESULTS.md).
 */
const EARLY_MS = 2;

interface Op {
  fn: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit {
  /** Writes for the next transaction. */
  private pending: Op[] = [];
  /** Background writes waiting to join one (see BACKGROUND_WAIT_MS). */
  private background: Op[] = [];
  private backgroundSince = 0;
  private backgroundTimer: NodeJS.Timeout | undefined;
  private scheduled = false;
  /** Time spent committing early since the last turn's end, ms: none once it reaches SLICE_MS. */
  private earlySpent = 0;
  /** When the oldest write in `pending` was asked for. */
  private pendingSince = 0;

  private readonly backgroundWaitMs: number;
  private readonly backgroundMax: number;
  private readonly earlyMs: number;

  /** `tallies` collects each write's counter changes; they are written once, before the commit. */
  constructor(
    private readonly db: Database.Database,
    private readonly tallies?: Tallies,
    opts: { backgroundWaitMs?: number; backgroundMax?: number; earlyMs?: number } = {},
  ) {
    this.backgroundWaitMs = opts.backgroundWaitMs ?? BACKGROUND_WAIT_MS;
    this.backgroundMax = opts.backgroundMax ?? BACKGROUND_MAX;
    this.earlyMs = opts.earlyMs ?? EARLY_MS;
  }

  /**
   * Run `fn` inside a shared transaction; resolves after the commit. A `background` write may wait
   * a little for others (it never waits while nothing else is being written).
   */
  run<T>(fn: () => T, { background = false }: { background?: boolean } = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const op = { fn, resolve: resolve as (v: unknown) => void, reject };
      if (background) {
        if (this.background.length === 0) this.backgroundSince = performance.now();
        this.background.push(op);
      } else {
        if (this.pending.length === 0) this.pendingSince = performance.now();
        this.pending.push(op);
      }
      // Not from inside a transaction (a write asking for another joins the next one), and at most
      // a slice of early commits per turn: a turn that keeps reading answers must still end.
      if (!this.db.inTransaction && this.earlySpent < SLICE_MS && this.overdue()) {
        const t0 = performance.now();
        this.flush();
        this.earlySpent += performance.now() - t0;
      }
      this.schedule();
    });
  }

  /** Commit everything now, slice after slice (before closing the database). */
  drain(): void {
    clearTimeout(this.backgroundTimer);
    this.pending.push(...this.background.splice(0));
    while (this.pending.length > 0) this.flush();
  }

  /** Whether a waiting write is EARLY_MS past its due time (a background write is due after its wait). */
  private overdue(): boolean {
    const now = performance.now();
    return (
      (this.pending.length > 0 && now - this.pendingSince >= this.earlyMs) ||
      (this.background.length > 0 && now - this.backgroundSince >= Math.max(this.earlyMs, this.backgroundWaitMs))
    );
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.earlySpent = 0;
      this.flush();
    });
  }

  /** Moves the background writes into the next transaction once they are due. */
  private admitBackground(): void {
    if (this.background.length === 0) return;
    const waited = performance.now() - this.backgroundSince;
    if (this.pending.length === 0 || waited >= this.backgroundWaitMs || this.background.length >= this.backgroundMax) {
      clearTimeout(this.backgroundTimer);
      this.backgroundTimer = undefined;
      this.pending.push(...this.background.splice(0));
    } else if (!this.backgroundTimer) {
      this.backgroundTimer = setTimeout(() => {
        this.backgroundTimer = undefined;
        this.schedule();
      }, this.backgroundWaitMs - waited);
    }
  }

  /** Commit what is pending (up to MAX_OPS writes or SLICE_MS of them; the rest in the next turn). */
  private flush(): void {
    this.admitBackground();
    if (this.pending.length === 0) return;
    const pending = this.pending;
    // Fast path: every write in the shared transaction as it is. A savepoint per write costs two
    // statements, a large share of the processing rate; writes rarely fail, so they are
    // taken only when one did: then the transaction is rolled back and replayed write by write.
    const values: unknown[] = [];
    let taken = 0;
    try {
      this.db
        .transaction(() => {
          const until = performance.now() + SLICE_MS;
          while (taken < pending.length && taken < MAX_OPS) {
            values.push((pending[taken] as Op).fn());
            taken++;
            this.tallies?.keep();
            if (performance.now() > until) break;
          }
          this.tallies?.write();
        })
        .immediate();
    } catch (err) {
      this.tallies?.reset();
      // The failing write is the one after the last that ran: the slow path replays up to it.
      const batch = this.take(Math.min(taken + 1, pending.length));
      if (batch.length === 1) {
        (batch[0] as Op).reject(storeFault(err, 'write'));
        return;
      }
      this.isolated(batch);
      return;
    }
    const batch = this.take(taken);
    for (let i = 0; i < batch.length; i++) (batch[i] as Op).resolve(values[i]);
  }

  /**
   * Removes the first `n` pending writes, and schedules the next flush if writes remain — also
   * waiting background ones, which go in it unless new writes arrive before it.
   */
  private take(n: number): Op[] {
    const batch = this.pending.splice(0, n);
    // What a full slice left is counted as new: it should not be committed early at the next write.
    this.pendingSince = performance.now();
    if (this.pending.length > 0 || this.background.length > 0) this.schedule();
    return batch;
  }

  /** The slow path: the same writes again, each in its own savepoint, so that one failing fails alone. */
  private isolated(batch: Op[]): void {
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.db
        .transaction(() => {
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
        })
        .immediate();
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
