/**
 * Group commit on PostgreSQL: the writes asked for while the previous transaction was committing
 * share the next one, with the counters they changed written once before its commit — so that a
 * busy node spends far less than one transaction per job. When a write fails, the transaction is
 * rolled back and replayed with each write in its own savepoint, so that the failing write fails
 * alone; deadlocks and serialization failures are retried as a whole. Every caller's promise
 * settles only after the commit. (As for SQLite, no library does this: it is a queue around
 * node-postgres's transactions.)
 */
import { randomInt } from 'node:crypto';
import type pg from 'pg';
import type { JobSum, Tallies } from '../tallies.js';
import { isTransient, MAX_NOTIFICATIONS, notifyStatement, oneStatement, pgFault, type PrimaryStatement, type Statement } from './pool.js';
import { SLOTS, takeTallies, tallyStatements } from './tallies.js';

/** Most writes in one shared transaction. */
const MAX_OPS = 512;
/** How often a transaction that hit a deadlock or a serialization failure is run again. */
const TRANSIENT_RETRIES = 5;

/** Notifications waiting to go out (the bus's): taken by each transaction, or sent alone. */
export interface NoteSource {
  readonly channel: string;
  /** At most `max` waiting payloads, in order; the rest wait on. */
  take(max: number): string[];
  send(payloads: string[]): Promise<void>;
}

/** A write: statements on the transaction's connection. */
export type Write<T> = (client: pg.PoolClient) => Promise<T>;

/**
 * A write that can be done for many items at once: one statement per table for all the items a
 * transaction holds, instead of a few per item (the round trips are what a busy node spends its
 * time on). Returns one result per item, in order.
 */
export type WriteMany<I, T> = (client: pg.PoolClient, items: I[]) => Promise<T[]>;

/**
 * A write that is one statement whose result is known before it runs (an insert of new rows): it
 * stages its counter changes and returns the statement and the result. A transaction made only of
 * such writes is a single statement with the counters' upserts, sent without BEGIN and COMMIT: one
 * round trip, where an awaited submit waits on every round trip.
 */
export type WriteStatement<T> = () => { statement: Statement; result: T };

/**
 * A WriteMany as one statement whose results depend on what it finds (outcomes fenced by lease
 * tokens), with the job counts it changes written by the statement itself. Run without BEGIN and
 * COMMIT when every write of a transaction is one statement: a lone outcome then costs one round
 * trip instead of four. Undefined, before staging any counter change, when these items cannot be
 * written so (the transaction runs as usual). Counter changes other than job counts go through
 * the Tallies as usual.
 */
export type WriteManyStatement<I, T> = (items: I[]) =>
  | {
      /**
       * The statement, given the job count changes of the transaction's other writes (to be upserted
       * with its own: one statement cannot upsert a row twice) and the counters' slot.
       */
      statement(jobs: JobSum[], slot: number): { parts: Statement[]; primary: PrimaryStatement };
      /** The results, in order, from the rows the statement returned (a row of NULLs may be among them). */
      results(rows: pg.QueryResultRow[]): T[];
    }
  | undefined;

interface Op {
  fn: Write<unknown>;
  /** Set for a write that is one statement, run by itself outside a transaction block (see runAlone). */
  alone?: true;
  /** Set for a write that is one statement (see WriteStatement). */
  statement?: WriteStatement<unknown>;
  /** Set for a write done together with the others of its kind. */
  many?: WriteMany<unknown, unknown>;
  /** Set for a `many` that can also be one statement (see WriteManyStatement). */
  manyStatement?: WriteManyStatement<unknown, unknown>;
  item?: unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class PgGroupCommit {
  private pending: Op[] = [];
  private running = false;
  private scheduled = false;
  private idle: (() => void)[] = [];
  /** Where the notifications that go out with each transaction come from (see carryFrom). */
  private notes: NoteSource | undefined;
  /** Set when waiting notifications are due to go out, with a write or alone. */
  private notesDue = false;

  /**
   * @param slot The counter rows this queue writes to (see tallies.ts): another writer at the same
   *   moment most likely uses others, so neither waits on the other's commit.
   */
  constructor(
    private readonly pool: pg.Pool,
    private readonly tallies: Tallies,
    readonly slot: number = randomInt(SLOTS),
    /** Whether statements may be prepared (see `prepared` in pool.ts). */
    private readonly prepare = true,
  ) {}

  run<T>(fn: Write<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  /**
   * A write done with the others of the same `many` in the transaction, before the single writes.
   * If the transaction fails, it is replayed alone (`many` with one item) like any other write.
   */
  runMany<I, T>(many: WriteMany<I, T>, item: I, asStatement?: WriteManyStatement<I, T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const m = many as WriteMany<unknown, unknown>;
      const fn: Write<unknown> = async (client) => (await m(client, [item]))[0];
      const manyStatement = asStatement as WriteManyStatement<unknown, unknown> | undefined;
      this.pending.push({ fn, many: m, manyStatement, item, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  /** A one-statement write (see WriteStatement); in a transaction with other writes it runs as they do. */
  runStatement<T>(write: WriteStatement<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const w = write as WriteStatement<unknown>;
      const fn: Write<unknown> = async (client) => {
        const { statement, result } = w();
        await client.query(statement.sql, statement.params);
        return result;
      };
      this.pending.push({ fn, statement: w, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  /**
   * A write that is one statement, atomic by itself, counters included: run alone, without BEGIN
   * and COMMIT (one round trip), never grouped with other writes.
   */
  runAlone<T>(fn: Write<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, alone: true, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  /**
   * Every transaction takes the notifications waiting in `source` and sends them with its own
   * statements: one round trip and one notifying transaction fewer than sending them alone, and
   * PostgreSQL delivers them at its commit. Those of a transaction that failed, and those
   * `dueNotes` finds with no write to carry them, are sent alone.
   */
  carryFrom(source: NoteSource): void {
    this.notes = source;
  }

  /**
   * The waiting notifications are due: they go with the write being gathered, or alone after the
   * transaction in flight (so that they arrive after the ones it carries).
   */
  dueNotes(): void {
    this.notesDue = true;
    this.schedule();
  }

  private takeNotes(): string[] {
    return this.notes?.take(MAX_NOTIFICATIONS) ?? [];
  }

  /** Notifications no transaction carried, sent by themselves. */
  private async sendAlone(payloads: string[]): Promise<void> {
    if (payloads.length > 0) await this.notes?.send(payloads);
  }

  /**
   * The counters' upserts (all of them, unless `counters` are given), and the notifications
   * carried, as statements before the commit.
   */
  private closing(notes: string[], counters = tallyStatements(this.tallies, this.slot)): Statement[] {
    const parts = [...counters];
    if (this.notes && notes.length > 0) parts.push(notifyStatement(this.notes.channel, notes));
    return parts;
  }

  /** Resolves once every write asked for so far has settled. */
  drain(): Promise<void> {
    if (!this.running && !this.scheduled && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    // The writes of this event-loop turn go together.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.pending.length > 0 || this.notesDue) {
        this.notesDue = false;
        const alone = this.pending.filter((op) => op.alone);
        if (alone.length > 0) this.pending = this.pending.filter((op) => !op.alone);
        for (const op of alone) await this.one(op);
        if (this.pending.length > 0) await this.commit(this.pending.splice(0, MAX_OPS));
        else await this.sendAlone(this.takeNotes());
      }
    } finally {
      this.running = false;
      for (const f of this.idle.splice(0)) f();
    }
  }

  private async commit(batch: Op[]): Promise<void> {
    const notes = this.takeNotes();
    let sent = false;
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      const e = pgFault(err, 'connect');
      for (const op of batch) op.reject(e);
      await this.sendAlone(notes);
      return;
    }
    let broken: unknown;
    try {
      if (
        batch.every((op) => op.statement || op.manyStatement) &&
        new Set(batch.flatMap((op) => (op.many ? [op.many] : []))).size <= 1 &&
        (await this.single(client, batch, notes))
      ) {
        sent = true;
        return;
      }
      for (let tries = 0; ; tries++) {
        const values = new Map<Op, unknown>();
        try {
          await client.query('BEGIN');
          for (const [many, ops] of groupsOf(batch)) {
            const got = await many(
              client,
              ops.map((op) => op.item),
            );
            for (const [i, op] of ops.entries()) values.set(op, got[i]);
            this.tallies.keep();
          }
          for (const op of batch) {
            if (op.many) continue;
            values.set(op, await op.fn(client));
            this.tallies.keep();
          }
          const closing = this.closing(notes);
          if (closing.length > 0) await client.query(oneStatement(closing, this.prepare));
          await client.query('COMMIT');
          sent = true;
          for (const op of batch) op.resolve(values.get(op));
          return;
        } catch (err) {
          this.tallies.reset();
          await client.query('ROLLBACK').catch(() => {});
          if (isTransient(err) && tries < TRANSIENT_RETRIES) continue;
          if (batch.length === 1 || pgFault(err, 'write') !== err) {
            // One write, or the server is gone: nothing to replay write by write.
            if (pgFault(err, 'write') !== err) broken = err;
            const e = pgFault(err, 'write');
            for (const op of batch) op.reject(e);
            return;
          }
          break;
        }
      }
      sent = await this.isolated(client, batch, notes);
    } finally {
      client.release(broken as Error | undefined);
      if (!sent) await this.sendAlone(notes);
    }
  }

  /** A write run alone (see runAlone). */
  private async one(op: Op): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      op.reject(pgFault(err, 'connect'));
      return;
    }
    let broken: Error | undefined;
    try {
      for (let tries = 0; ; tries++) {
        try {
          op.resolve(await op.fn(client));
          return;
        } catch (err) {
          if (isTransient(err) && tries < TRANSIENT_RETRIES) continue;
          const e = pgFault(err, 'write');
          if (e !== err) broken = err as Error;
          op.reject(e);
          return;
        }
      }
    } finally {
      client.release(broken);
    }
  }

  /**
   * Writes that are each one statement (and at most one kind of WriteManyStatement), and their
   * counters, as one statement without a transaction block. False when it failed and wrote
   * nothing, or the WriteManyStatement declined: the caller then runs them as usual (and a write
   * that fails, fails alone).
   */
  private async single(client: pg.PoolClient, batch: Op[], notes: string[]): Promise<boolean> {
    const results = new Map<Op, unknown>();
    const parts: Statement[] = [];
    const manyOps = batch.filter((op) => op.manyStatement);
    // It declines before staging any counter change.
    const many = manyOps[0]?.manyStatement?.(manyOps.map((op) => op.item));
    if (manyOps.length > 0 && many === undefined) return false;
    this.tallies.keep();
    for (const op of batch) {
      if (!op.statement) continue;
      const { statement, result } = op.statement();
      parts.push(statement);
      results.set(op, result);
      this.tallies.keep();
    }
    let primary: PrimaryStatement | undefined;
    if (many) {
      const { jobs, usage } = takeTallies(this.tallies, this.slot);
      const made = many.statement(jobs, this.slot);
      primary = made.primary;
      parts.push(...made.parts, ...this.closing(notes, usage));
    } else parts.push(...this.closing(notes));
    let rows: pg.QueryResultRow[];
    try {
      rows = (await client.query(oneStatement(parts, this.prepare, primary))).rows;
    } catch {
      this.tallies.reset();
      return false;
    }
    if (many) {
      for (const [i, value] of many.results(rows).entries()) results.set(manyOps[i] as Op, value);
    }
    for (const op of batch) op.resolve(results.get(op));
    return true;
  }

  /** The slow path: each write in its own savepoint, so that one failing fails alone. */
  private async isolated(client: pg.PoolClient, batch: Op[], notes: string[]): Promise<boolean> {
    for (let tries = 0; ; tries++) {
      const outcomes: { ok: boolean; value: unknown }[] = [];
      try {
        await client.query('BEGIN');
        for (const op of batch) {
          await client.query('SAVEPOINT w');
          try {
            outcomes.push({ ok: true, value: await op.fn(client) });
            await client.query('RELEASE SAVEPOINT w');
            this.tallies.keep();
          } catch (err) {
            if (isTransient(err) || pgFault(err, 'write') !== err) throw err;
            await client.query('ROLLBACK TO SAVEPOINT w');
            this.tallies.drop();
            outcomes.push({ ok: false, value: err });
          }
        }
        const closing = this.closing(notes);
        if (closing.length > 0) await client.query(oneStatement(closing, this.prepare));
        await client.query('COMMIT');
      } catch (err) {
        this.tallies.reset();
        await client.query('ROLLBACK').catch(() => {});
        if (isTransient(err) && tries < TRANSIENT_RETRIES) continue;
        const e = pgFault(err, 'commit');
        for (const op of batch) op.reject(e);
        return false;
      }
      batch.forEach((op, i) => {
        const o = outcomes[i] as { ok: boolean; value: unknown };
        if (o.ok) op.resolve(o.value);
        else op.reject(o.value);
      });
      return true;
    }
  }
}

/** The writes done together, by kind, in the order each kind first appears. */
function groupsOf(batch: Op[]): Map<WriteMany<unknown, unknown>, Op[]> {
  const groups = new Map<WriteMany<unknown, unknown>, Op[]>();
  for (const op of batch) {
    if (!op.many) continue;
    const ops = groups.get(op.many);
    if (ops) ops.push(op);
    else groups.set(op.many, [op]);
  }
  return groups;
}
