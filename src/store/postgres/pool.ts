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
  // A connection that drops while checked out (a query in flight on a restart) emits 'error' too,
  // and the pool listens only to idle ones: every connection gets a listener of its own. Its
  // queries fail with the error (SWY_STORE_UNAVAILABLE, see pgFault), and the pool discards it on
  // release since it is no longer queryable.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
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
    // Retry-After: a restart or failover takes seconds; the client's retry finds it back sooner than a backoff would.
    return new SwitchyardError('SWY_STORE_UNAVAILABLE', `the database cannot ${doing} now (${code ?? message})`, {
      cause: err,
      retryAfterMs: 1000,
    });
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
 * A statement with CTEs of its own that returns rows (see oneStatement): `with` is its CTE list
 * without the keyword, `select` its final query, which reads those CTEs.
 */
export interface PrimaryStatement {
  with: string;
  select: string;
  params: unknown[];
}

/** `sql` with each `$n` moved up by `base`. */
function renumber(sql: string, base: number): string {
  return base === 0 ? sql : sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + base}`);
}

/**
 * Statements run as one, all but the last as data-modifying CTEs, with their `$n` renumbered: one
 * round trip instead of several, where a commit's latency is made of round trips. They must not
 * read each other's rows (all see the snapshot taken at the statement's start).
 *
 * With `primary`, all of `parts` go first and the primary's rows are what the statement returns.
 * PostgreSQL skips a CTE that is a plain SELECT (a NOTIFY) unless the query reads it, so the final
 * query then reads those: the primary's rows come back beside one row of them, and a primary
 * with no rows gives one row of NULLs.
 */
export function oneStatement(parts: Statement[], prepare = true, primary?: PrimaryStatement): pg.QueryConfig {
  const values: unknown[] = [];
  for (const { params } of parts) values.push(...params);
  if (primary) values.push(...primary.params);
  return prepared(composed(parts, primary), values, prepare);
}

/**
 * The composed texts so far, in a tree keyed by each part's text and parameter count (the texts
 * are constants): composing renumbers every placeholder, and a new string of several kilobytes
 * must also be hashed again to find its prepared statement's name, at every commit.
 */
interface Composed {
  next: Map<string, Map<number, Composed>>;
  text?: string;
}
const compositions: Composed = { next: new Map() };
/** Most composed texts kept (the parts' texts are constants: a few dozen combinations occur). */
const MAX_COMPOSED = 256;
let composedCount = 0;

function composed(parts: Statement[], primary: PrimaryStatement | undefined): string {
  const keys: [string, number][] = parts.map(({ sql, params }) => [sql, params.length]);
  if (primary) keys.push([primary.with, primary.params.length], [primary.select, -1]);
  let found: Composed | undefined = compositions;
  for (const [sql, count] of keys) found = found?.next.get(sql)?.get(count);
  if (found?.text !== undefined) return found.text;
  const text = compose(parts, primary);
  if (composedCount >= MAX_COMPOSED) return text;
  composedCount++;
  let node = compositions;
  for (const [sql, count] of keys) {
    const byCount: Map<number, Composed> = node.next.get(sql) ?? new Map();
    node.next.set(sql, byCount);
    const child: Composed = byCount.get(count) ?? { next: new Map() };
    byCount.set(count, child);
    node = child;
  }
  node.text = text;
  return text;
}

function compose(parts: Statement[], primary: PrimaryStatement | undefined): string {
  let base = 0;
  const texts = parts.map(({ sql, params }) => {
    const text = renumber(sql, base);
    base += params.length;
    return text;
  });
  if (primary === undefined) {
    const last = texts.pop() as string;
    return texts.length === 0 ? last : `WITH ${texts.map((t, i) => `w${i} AS (${t})`).join(', ')} ${last}`;
  }
  const ctes = texts.map((t, i) => `w${i} AS (${t})`);
  const selects = texts.flatMap((t, i) => (t.startsWith('SELECT') ? [`(SELECT count(*) FROM w${i}) AS r${i}`] : []));
  const select = renumber(primary.select, base);
  const last = selects.length === 0 ? select : `SELECT p.* FROM ${selects.join(', ')} LEFT JOIN (${select}) AS p ON true`;
  return `WITH ${[...ctes, renumber(primary.with, base)].join(', ')} ${last}`;
}

/** Most statement texts given a name (each is prepared once on each connection that runs it). */
const MAX_PREPARED = 64;
const preparedNames = new Map<string, string>();

/**
 * A hot statement as a named prepared statement: PostgreSQL parses and plans it once per
 * connection instead of at every run; for a claim of one job, planning costs more than running.
 * Any text past the first MAX_PREPARED stays unnamed, so that the server keeps a bounded number
 * per connection.
 * With `prepare` false, never named: PgBouncer in transaction mode (before 1.21) hands each
 * transaction any server connection, where a statement prepared on another does not exist.
 */
export function prepared(text: string, values: unknown[], prepare = true): pg.QueryConfig {
  if (!prepare) return { text, values };
  let name = preparedNames.get(text);
  if (name === undefined && preparedNames.size < MAX_PREPARED) {
    name = `swy_${preparedNames.size}`;
    preparedNames.set(text, name);
  }
  return name === undefined ? { text, values } : { name, text, values };
}

/** Most notifications one statement sends (one parameter each; a statement takes at most 65,535). */
export const MAX_NOTIFICATIONS = 1000;

/**
 * A NOTIFY of each payload on `channel`. The payloads travel as one JSON array rather than a
 * text[] (node-postgres escapes an array's elements one character at a time, and JSON is full of
 * quotes) or one parameter each (a text that changes with their number is parsed and planned
 * every time): one fixed text, prepared like the other hot statements.
 */
export function notifyStatement(channel: string, payloads: string[]): Statement {
  return {
    sql: 'SELECT count(pg_notify($1, p)) FROM json_array_elements_text($2::json) AS p',
    params: [channel, JSON.stringify(payloads)],
  };
}
