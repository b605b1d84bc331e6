/** Online backups with SQLite's backup API, from this process's connection or from another process. */
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { SwitchyardError } from '../errors.js';
import type { BackupResult } from './store.js';

/**
 * Copy `db` to `destination`. From the connection that does all the writing, the copy runs in small
 * steps between the engine's work: SQLite folds that connection's own writes into the copy.
 * `allAtOnce` copies in one step instead: needed from another process, whose writes would
 * otherwise restart the copy again and again.
 */
export async function backupDatabase(db: Database.Database, destination: string, allAtOnce = false): Promise<BackupResult> {
  const started = performance.now();
  try {
    const meta = await db.backup(destination, { progress: ({ totalPages }) => (allAtOnce ? totalPages : 100) });
    return {
      path: destination,
      pages: meta.totalPages,
      bytes: statSync(destination).size,
      durationMs: Math.round(performance.now() - started),
    };
  } catch (err) {
    throw new SwitchyardError('SWY_STORE_UNAVAILABLE', `backup to ${destination} failed: ${(err as Error).message}`, { cause: err });
  }
}

/** Back up the database file at `source` from a separate (read-only) connection: `switchyard backup`. */
export async function backupFile(source: string, destination: string): Promise<BackupResult> {
  let db: Database.Database;
  try {
    db = new Database(source, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new SwitchyardError('SWY_STORE_UNAVAILABLE', `cannot open the database at ${source}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return await backupDatabase(db, destination, true);
  } finally {
    db.close();
  }
}
