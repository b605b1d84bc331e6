/** Connections to PostgreSQL (node-postgres): numbers come back as numbers, failures as coded errors. */
import pg from 'pg';
import { SwitchyardError } from '../../errors.js';

// bigint (times in ms, counts, sums of integers: `sum(bigint)` is numeric) as JS numbers: every
// value the store keeps fits in 2^53 (epoch ms, tokens, bytes).
const INT8 = 20;
const NUMERIC = 1700;
const types = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === INT8 || oid === NUMERIC) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

export interface PoolOptions {
  url: string;
  /** Most connections this process opens (the LISTEN connection is one more). @default 10 */
  max?: number;
  /** The schema every table lives in (one per test, or per deployment sharing a database). @default "public" */
  schema?: string;
}

/** A pool whose every connection uses `schema`. */
export function createPool(opts: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max ?? 10,
    types,
    application_name: 'switchyard',
    options: opts.schema === undefined ? undefined : `-c search_path=${quoteIdent(opts.schema)}`,
  });
  // An idle connection that drops (server restart, pg_terminate_backend) is discarded by the pool;
  // without a listener, its 'error' event would end the process.
  pool.on('error', () => {});
  return pool;
}

export function connectionConfig(opts: PoolOptions): pg.ClientConfig {
  return {
    connectionString: opts.url,
    types,
    application_name: 'switchyard',
    options: opts.schema === undefined ? undefined : `-c search_path=${quoteIdent(opts.schema)}`,
  };
}

/** `name` as a quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

// SQLSTATE classes that mean "the database cannot serve now": connection exceptions, insufficient
// resources, operator intervention (shutdown, terminated backend), system errors.
const UNAVAILABLE = /^(08|53|57|58)/;
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);

/** `err` as SWY_STORE_UNAVAILABLE when the server is unreachable or refusing; other errors pass through. */
export function pgFault(err: unknown, doing: string): unknown {
  if (err instanceof SwitchyardError) return err;
  const code = (err as { code?: unknown })?.code;
  const message = (err as Error)?.message ?? String(err);
  if (
    (typeof code === 'string' && (UNAVAILABLE.test(code) || NETWORK.has(code))) ||
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(message)
  ) {
    return new SwitchyardError('SWY_STORE_UNAVAILABLE', `the database cannot ${doing} now (${code ?? message})`, { cause: err });
  }
  return err;
}

/** Deadlocks and serialization failures: the transaction can be run again as it is. */
export function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === '40P01' || code === '40001';
}

/**
 * Free text as PostgreSQL's `text` takes it: it refuses the NUL character, which an upstream's
 * model name or error message may hold (SQLite keeps it). NUL becomes U+FFFD.
 */
export function pgText<T extends string | null | undefined>(s: T): T {
  return (typeof s === 'string' && s.includes('\0') ? s.replaceAll('\0', '\uFFFD') : s) as T;
}

/** A statement and its parameters. */
export interface Statement {
  sql: string;
  params: unknown[];
}

/**
 * Statements run as one, all but the last as data-modifying CTEs, with their `$n` renumbered: one
 * round trip instead of several, where a commit's latency is made of round trips. They must not
 * read each other's rows (all see the snapshot taken at the statement's start).
 */
export function oneStatement(parts: Statement[], prepare = true): pg.QueryConfig {
  const values: unknown[] = [];
  const texts = parts.map(({ sql, params }) => {
    const base = values.length;
    values.push(...params);
    return base === 0 ? sql : sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + base}`);
  });
  const last = texts.pop() as string;
  return prepared(texts.length === 0 ? last : `WITH ${texts.map((t, i) => `w${i} AS (${t})`).join(', ')} ${last}`, values, prepare);
}

/** Most statement texts given a name (each is prepared once on each connection that runs it). */
const MAX_PREPARED = 64;
const preparedNames = new Map<string, string>();

/**
 * A hot statement as a named prepared statement: PostgreSQL parses and plans it once per
 * connection instead of at every run; for a claim of one job, planning costs more than running.
 * Texts that vary with their input (one placeholder per notification) stay unnamed, and so does
 * any text past the first MAX_PREPARED, so that the server keeps a bounded number per connection.
 * With `prepare` false, never named: PgBouncer in transaction mode (before 1.21) hands each
 * transaction any server connection, where a statement prepared on another does not exist.
 */
export function prepared(text: string, values: unknown[], prepare = true): pg.QueryConfig {
  if (!prepare) return { text, values };
  let name = preparedNames.get(text);
  if (name === undefined && preparedNames.size < MAX_PREPARED && !text.includes('pg_notify')) {
    name = `swy_${preparedNames.size}`;
    preparedNames.set(text, name);
  }
  return name === undefined ? { text, values } : { name, text, values };
}

/** Most notifications one statement sends (one parameter each; a statement takes at most 65,535). */
export const MAX_NOTIFICATIONS = 1000;

/**
 * A NOTIFY of each payload on `channel`, with one parameter per payload rather than a text[]: an
 * array's elements are escaped one character at a time on the way out, and JSON is full of quotes.
 */
export function notifyStatement(channel: string, payloads: string[]): Statement {
  return { sql: `SELECT ${payloads.map((_, i) => `pg_notify($1, $${i + 2})`).join(', ')}`, params: [channel, ...payloads] };
}
