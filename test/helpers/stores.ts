/**
 * The store contract's harness: a test body runs once on SQLite (a file in a temp dir) and once
 * on PostgreSQL (a fresh schema). `open()` opens another store on the same database, as another
 * process would; `sql()` reads the database directly, to check what the store wrote.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import t, { type Test } from 'tap';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';
import { tempDir } from './engine.js';
import { freshSchema, PG_URL, requirePostgres } from './postgres.js';

export interface StoreKit {
  kind: 'sqlite' | 'postgres';
  /** A store on this test's database (each call, another connection: another process). Closed in teardown. */
  open(opts?: { secretKey?: string }): Promise<Store>;
  /** Rows of a query on this test's database (portable SQL; column names in lower case). */
  sql(query: string): Promise<Record<string, unknown>[]>;
}

function sqliteKit(t: Test): StoreKit {
  const path = join(tempDir(t), 'contract.db');
  return {
    kind: 'sqlite',
    async open(opts = {}) {
      const store = new SqliteStore({ path, ...opts });
      t.teardown(() => store.close());
      return store;
    },
    async sql(query) {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare(query).all() as Record<string, unknown>[];
      } finally {
        db.close();
      }
    },
  };
}

function postgresKit(t: Test): StoreKit {
  const schema = freshSchema(t);
  return {
    kind: 'postgres',
    async open(opts = {}) {
      const store = await PostgresStore.open({ url: PG_URL, schema, poolSize: 4, ...opts });
      t.teardown(() => store.close());
      return store;
    },
    async sql(query) {
      const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
      await client.connect();
      try {
        // Numbers as numbers, as the store reads them.
        const { rows } = await client.query({ text: query, types: { getTypeParser: numbersAsNumbers } });
        return rows as Record<string, unknown>[];
      } finally {
        await client.end();
      }
    },
  };
}

const numbersAsNumbers = ((oid: number, format?: string) =>
  oid === 20 || oid === 1700 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser;

/** `body` as two tests: on SQLite, and on PostgreSQL (failed in CI when it is missing, else skipped with a line). */
export function eachStore(title: string, body: (t: Test, kit: StoreKit) => Promise<void>): void {
  t.test(`${title} [sqlite]`, (t) => body(t, sqliteKit(t)));
  t.test(`${title} [postgres]`, async (t) => {
    if (!(await requirePostgres(t))) return;
    await body(t, postgresKit(t));
  });
}
