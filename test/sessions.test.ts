/**
 * Web console sessions are kept in the database: they outlive a restart, every process sharing a
 * PostgreSQL database honours them (and their sign-out), the database holds no usable cookie, and
 * one key keeps a bounded number of them.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { createEngine, type Engine } from '../src/index.js';
import { SESSIONS_PER_KEY } from '../src/keys/sessions.js';
import { API_KEY, serve, tempDir } from './helpers/engine.js';
import { freshSchema, PG_URL, requirePostgres } from './helpers/postgres.js';

/** Sign in with `key` on `url`: the cookie's `name=value` and the CSRF token. */
async function signIn(url: string, key = API_KEY): Promise<{ cookie: string; csrf: string; expiresAt: string }> {
  const res = await fetch(`${url}/v1/session`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
  if (res.status !== 201) throw new Error(`sign-in answered ${res.status}`);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const body = (await res.json()) as { csrfToken: string; expiresAt: string };
  return { cookie, csrf: body.csrfToken, expiresAt: body.expiresAt };
}

/** A request made with a session's cookie (and its CSRF token when given). */
async function withSession(url: string, method: string, path: string, s: { cookie: string; csrf?: string }) {
  const res = await fetch(url + path, {
    method,
    headers: { cookie: s.cookie, ...(s.csrf && { 'x-csrf-token': s.csrf }) },
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
}

t.test('SQLite: a session outlives a restart; the file holds only its digest; sign-out ends it', async (t) => {
  const database = join(tempDir(t), 'jobs.db');
  const open = async () => {
    const engine = await createEngine({ database, threads: 1 });
    await engine.start();
    return engine;
  };
  const first = await open();
  const api1 = await serve(t, first);
  const s = await signIn(api1.url);
  t.equal((await withSession(api1.url, 'GET', '/v1/jobs', s)).status, 200);
  await first.stop();

  const db = new Database(database, { readonly: true });
  const rows = db.prepare('SELECT * FROM sessions').all() as Record<string, unknown>[];
  db.close();
  t.equal(rows.length, 1);
  const value = s.cookie.split('=')[1] as string;
  t.notOk(JSON.stringify(rows).includes(value), "the database does not hold the cookie's value");

  const second = await open();
  t.teardown(() => second.stop());
  const api2 = await serve(t, second);
  t.equal((await withSession(api2.url, 'GET', '/v1/jobs', s)).status, 200, 'the restarted server knows the session');
  t.equal((await withSession(api2.url, 'DELETE', '/v1/session', s)).status, 200, 'sign-out');
  const after = await withSession(api2.url, 'GET', '/v1/jobs', s);
  t.equal(after.status, 401);
  t.equal(after.body.error?.code, 'SWY_UNAUTHORIZED');
});

t.test(`one key keeps at most ${SESSIONS_PER_KEY} sessions: signing in past it ends the oldest`, async (t) => {
  const database = join(tempDir(t), 'jobs.db');
  const engine = await createEngine({ database, threads: 1 });
  t.teardown(() => engine.stop());
  await engine.start();
  const api = await serve(t, engine);
  const made = await api.call('POST', '/v1/keys', { scopes: ['jobs:read'] });
  const sessions = [];
  for (let i = 0; i <= SESSIONS_PER_KEY; i++) sessions.push(await signIn(api.url, made.body.secret as string));
  t.equal((await withSession(api.url, 'GET', '/v1/jobs', sessions[0]!)).status, 401, 'the oldest ended');
  t.equal((await withSession(api.url, 'GET', '/v1/jobs', sessions[1]!)).status, 200, 'the next oldest lives');
  t.equal((await withSession(api.url, 'GET', '/v1/jobs', sessions.at(-1)!)).status, 200, 'the newest lives');
  t.equal((await withSession(api.url, 'GET', '/v1/jobs', await signIn(api.url))).status, 200, "another key's sessions are its own");
});

t.test('a session ends at its expiry on the server; expired sessions are deleted at the next sign-in', async (t) => {
  const database = join(tempDir(t), 'jobs.db');
  const engine = await createEngine({ database, threads: 1 });
  t.teardown(() => engine.stop());
  const api = await serve(t, engine, { console: { sessionTtlMs: 20 } });
  const s = await signIn(api.url);
  // Wait on the clock's state, not for a set time: until the session's expiry has passed.
  while (Date.now() <= Date.parse(s.expiresAt)) await new Promise((r) => setTimeout(r, 5));
  t.equal((await withSession(api.url, 'GET', '/v1/jobs', s)).status, 401, 'the server refuses it, whatever the browser keeps');
  const rows = () => {
    const db = new Database(database, { readonly: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  t.equal(rows(), 1, 'the expired row is still there');
  await signIn(api.url);
  t.equal(rows(), 1, 'the next sign-in deleted it (and added its own)');
});

t.test('PostgreSQL: a session opened on one process works on another, and sign-out on either ends it', async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema(t);
  const node = async (): Promise<Engine> => {
    const engine = await createEngine({ database: PG_URL, databaseSchema: schema, threads: 1 });
    t.teardown(() => engine.stop());
    return engine;
  };
  const a = await serve(t, await node());
  const b = await serve(t, await node());
  const s = await signIn(a.url);
  t.equal((await withSession(b.url, 'GET', '/v1/session', s)).status, 200, 'B knows the session A opened');
  const forged = await withSession(b.url, 'POST', '/v1/jobs/nope/cancel', { cookie: s.cookie });
  t.equal(forged.body.error?.code, 'SWY_CSRF', 'a write without the token is refused on B too');
  t.equal((await withSession(b.url, 'POST', '/v1/jobs/nope/cancel', s)).status, 404, 'with the token, the write goes through (to a 404)');
  t.equal((await withSession(b.url, 'DELETE', '/v1/session', s)).status, 200, 'sign-out on B');
  t.equal((await withSession(a.url, 'GET', '/v1/jobs', s)).status, 401, 'and A no longer knows it');
});
