/**
 * `switchyard migrate`: copy a SQLite database into an empty PostgreSQL schema, row for row (jobs,
 * attempts, usage and its rollups, keys, providers, files' records, batches), in one transaction.
 * The server on the SQLite file must be stopped: the copy reads the file as it is when it starts.
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { SqliteStore } from '../sqlite.js';
import { SwitchyardError } from '../../errors.js';
import { PostgresStore } from './store.js';

/** Tables in the order their foreign keys need; the numeric id columns keep their values. */
const TABLES: { name: string; identity?: string }[] = [
  { name: 'jobs', identity: 'seq' },
  { name: 'attempts', identity: 'id' },
  { name: 'usage', identity: 'id' },
  { name: 'job_counts' },
  { name: 'usage_hourly' },
  { name: 'usage_totals' },
  { name: 'providers' },
  { name: 'api_keys' },
  { name: 'files' },
  { name: 'batches' },
  { name: 'batch_jobs' },
];
/** Most bound parameters in one statement (PostgreSQL's limit is 65,535). */
const MAX_PARAMS = 30_000;

export interface CopyReport {
  /** Rows copied per table. */
  tables: Record<string, number>;
  durationMs: number;
}

export async function copySqliteToPostgres(
  sqlitePath: string,
  url: string,
  opts: { schema?: string; onTable?: (table: string, rows: number) => void } = {},
): Promise<CopyReport> {
  const started = performance.now();
  let source: Database.Database;
  try {
    if (!existsSync(sqlitePath)) throw new Error('no such file');
    // Opened once as a store first: a file from an older version gets its migrations.
    await new SqliteStore({ path: sqlitePath }).close();
    source = new Database(sqlitePath, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new SwitchyardError('SWY_STORE_UNAVAILABLE', `cannot open ${sqlitePath}: ${(err as Error).message}`, { cause: err });
  }
  // Opening the store creates the schema and its tables; it must have no rows yet.
  const target = await PostgresStore.open({ url, schema: opts.schema, listen: false });
  const client = await target.pool.connect();
  const tables: Record<string, number> = {};
  try {
    for (const { name } of TABLES) {
      const { rows } = await client.query(`SELECT EXISTS (SELECT 1 FROM ${name}) AS found`);
      if (rows[0].found)
        throw new SwitchyardError('SWY_INVALID_STATE', `the target's ${name} table is not empty: migrate into an empty schema`);
    }
    await client.query('BEGIN');
    for (const { name, identity } of TABLES) {
      const columns = source.prepare(`SELECT name FROM pragma_table_info('${name}')`).pluck().all() as string[];
      const per = Math.max(1, Math.floor(MAX_PARAMS / columns.length));
      const read = source.prepare(`SELECT ${columns.join(', ')} FROM ${name}`).raw(true);
      let batch: unknown[][] = [];
      let count = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        const values = batch.map((_, r) => `(${columns.map((_, c) => `$${r * columns.length + c + 1}`).join(', ')})`).join(', ');
        const overriding = identity ? 'OVERRIDING SYSTEM VALUE' : '';
        await client.query(`INSERT INTO ${name} (${columns.join(', ')}) ${overriding} VALUES ${values}`, batch.flat());
        count += batch.length;
        batch = [];
      };
      for (const row of read.iterate() as Iterable<unknown[]>) {
        batch.push(row);
        if (batch.length >= per) await flush();
      }
      await flush();
      // New rows get ids after the copied ones.
      if (identity) {
        await client.query(
          `SELECT setval(pg_get_serial_sequence('${name}', '${identity}'), coalesce(max(${identity}), 0) + 1, false) FROM ${name}`,
        );
      }
      tables[name] = count;
      opts.onTable?.(name, count);
    }
    // Jobs waiting for a later time stay out of the claim index until then (migration 004).
    await client.query(`UPDATE jobs SET ready = false WHERE status = 'queued' AND run_at > $1`, [Date.now()]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
    await target.close();
    source.close();
  }
  return { tables, durationMs: Math.round(performance.now() - started) };
}
