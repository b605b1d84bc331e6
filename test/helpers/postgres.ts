/**
 * PostgreSQL for tests: each test gets a schema of its own on the server at TEST_PG_URL (or the
 * local default), dropped in teardown. Without a reachable server, the test fails in CI and is
 * skipped elsewhere with one line saying how to enable it (see requires.ts).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Test } from 'tap';
import { requireTool } from './requires.js';

/** The server the PostgreSQL tests use. */
export const PG_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<boolean> | undefined;

/** Whether the server answers (asked once per test process). */
export function postgresReachable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return reachable;
}

/** True when PostgreSQL is there; otherwise fails (CI) or skips `t`, and returns false. */
export async function requirePostgres(t: Test): Promise<boolean> {
  return requireTool(
    t,
    'PostgreSQL',
    await postgresReachable(),
    `start a PostgreSQL server and point TEST_PG_URL at it (default ${PG_URL}); on Debian: apt-get install -y postgresql`,
  );
}

/** A fresh, empty schema name, dropped (with everything in it) in teardown. */
export function freshSchema(t: Test): string {
  const schema = `swy_test_${randomBytes(6).toString('hex')}`;
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } finally {
      await client.end();
    }
  });
  return schema;
}
