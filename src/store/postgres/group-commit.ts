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
import type { Tallies } from '../tallies.js';
import { isTransient, oneStatement, pgFault, type Statement } from './pool.js';
import { SLOTS, tallyStatements, writeTallies } from './tallies.js';

/** Most writes in one shared transaction. */
const MAX_OPS = 512;
/** How often a transaction that hit a deadlock or a serialization failure is run again. */
const TRANSIENT_RETRIES = 5;

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

interface Op {
  fn: Write<unknown>;
  /** Set for a write that is one statement (see WriteStatement). */
  statement?: WriteStatement<unknown>;
  /** Set for a write done together with the others of its kind. */
  many?: WriteMany<unknown, unknown>;
  item?: unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class PgGroupCommit {
  private pending: Op[] = [];
  private running = false;
  private scheduled = false;
  private idle: (() => void)[] = [];

  /**
   * @param slot The counter rows this queue writes to (see tallies.ts): another writer at the same
   *   moment most likely uses others, so neither waits on the other's commit.
   */
  constructor(
    private readonly pool: pg.Pool,
    private readonly tallies: Tallies,
    readonly slot: number = randomInt(SLOTS),
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
  runMany<I, T>(many: WriteMany<I, T>, item: I): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const m = many as WriteMany<unknown, unknown>;
      const fn: Write<unknown> = async (client) => (await m(client, [item]))[0];
      this.pending.push({ fn, many: m, item, resolve: resolve as (v: unknown) => void, reject });
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

  /** Resolves once every write asked for so far has settled. */
  drain(): Promise<void> {
    if (!this.running && this.pending.length === 0) return Promise.resolve();
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
      while (this.pending.length > 0) await this.commit(this.pending.splice(0, MAX_OPS));
    } finally {
      this.running = false;
      for (const f of this.idle.splice(0)) f();
    }
  }

  private async commit(batch: Op[]): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      const e = pgFault(err, 'connect');
      for (const op of batch) op.reject(e);
      return;
    }
    let broken: unknown;
    try {
      if (batch.every((op) => op.statement) && (await this.single(client, batch))) return;
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
          await writeTallies(client, this.tallies, this.slot);
          await client.query('COMMIT');
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
      await this.isolated(client, batch);
    } finally {
      client.release(broken as Error | undefined);
    }
  }

  /**
   * Writes that are each one statement, and their counters, as one statement without a
   * transaction block. False when it failed and wrote nothing: the caller then runs them as usual
   * (and a write that fails, fails alone).
   */
  private async single(client: pg.PoolClient, batch: Op[]): Promise<boolean> {
    const results: unknown[] = [];
    const parts: Statement[] = [];
    for (const op of batch) {
      const { statement, result } = (op.statement as WriteStatement<unknown>)();
      parts.push(statement);
      results.push(result);
      this.tallies.keep();
    }
    parts.push(...tallyStatements(this.tallies, this.slot));
    try {
      await client.query(oneStatement(parts));
    } catch {
      this.tallies.reset();
      return false;
    }
    batch.forEach((op, i) => {
      op.resolve(results[i]);
    });
    return true;
  }

  /** The slow path: each write in its own savepoint, so that one failing fails alone. */
  private async isolated(client: pg.PoolClient, batch: Op[]): Promise<void> {
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
        await writeTallies(client, this.tallies, this.slot);
        await client.query('COMMIT');
      } catch (err) {
        this.tallies.reset();
        await client.query('ROLLBACK').catch(() => {});
        if (isTransient(err) && tries < TRANSIENT_RETRIES) continue;
        const e = pgFault(err, 'commit');
        for (const op of batch) op.reject(e);
        return;
      }
      batch.forEach((op, i) => {
        const o = outcomes[i] as { ok: boolean; value: unknown };
        if (o.ok) op.resolve(o.value);
        else op.reject(o.value);
      });
      return;
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
