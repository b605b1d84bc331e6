/**
 * One process per SQLite database: a server holds a write lock on `<database>.lock` (a SQLite file
 * of its own, in rollback-journal mode) for as long as it has the database open. The operating
 * system releases it when the process ends, even by SIGKILL, so a crashed server never leaves a
 * stale lock. Written with SQLite's own locking because Node has no file lock of its own, and the
 * lock must hold on every platform better-sqlite3 runs on.
 */
import Database from 'better-sqlite3';
import { SwitchyardError } from '../errors.js';

export class FileLock {
  private constructor(private readonly db: Database.Database) {}

  /** Take the lock of `databasePath`, or throw SWY_STORE_UNAVAILABLE when another process holds it. */
  static take(databasePath: string): FileLock {
    const db = new Database(`${databasePath}.lock`, { timeout: 0 });
    try {
      db.pragma('journal_mode = DELETE');
      db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY')) {
        throw new SwitchyardError(
          'SWY_STORE_UNAVAILABLE',
          `the database at ${databasePath} is in use by another Switchyard process: one process runs on a SQLite file (several processes share PostgreSQL: docs/scale-out.md)`,
          { cause: err },
        );
      }
      throw err;
    }
    return new FileLock(db);
  }

  release(): void {
    if (!this.db.open) return;
    this.db.exec('ROLLBACK');
    this.db.close();
  }
}
