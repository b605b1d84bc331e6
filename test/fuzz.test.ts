/**
 * 5,000 generated hostile requests to every route: random and truncated JSON, wrong types, huge
 * strings, deep nesting, prototype-pollution keys, SQL fragments, unicode edge cases, bad headers.
 * No 5xx, the process stays up, the database stays intact, and no rejected request leaves a row.
 */
import t from 'tap';
import Database from 'better-sqlite3';
import { Pool } from 'undici';
import { API_KEY, chatJob, makeEngine, serve } from './helpers/engine.js';

/** A small seeded PRNG (mulberry32): the same run every time, so a failure can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const NASTY_STRINGS = [
  "'; DROP TABLE jobs; --",
  '" OR 1=1 --',
  "Robert'); DELETE FROM providers;--",
  '\u0000',
  '\uD800',
  '\uFFFF',
  '\u202Etxt.exe',
  '𝕳𝖊𝖑𝖑𝖔',
  '%00',
  '../../etc/passwd',
  '$' + '{jndi:ldap://x}',
  '<script>alert(1)</script>',
  'NaN',
  '-0',
  '1e309',
  '',
  'x'.repeat(70_000),
];
const NASTY_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  2 ** 53 + 1,
  [],
  {},
  [[[]]],
  { __proto__: { polluted: 1 } },
  ...NASTY_STRINGS,
];

const ROUTES: [string, string][] = [
  ['POST', '/v1/jobs'],
  ['POST', '/v1/jobs/batch'],
  ['GET', '/v1/jobs/ID'],
  ['GET', '/v1/jobs'],
  ['POST', '/v1/jobs/ID/cancel'],
  ['POST', '/v1/jobs/ID/retry'],
  ['GET', '/v1/stats'],
  ['GET', '/v1/providers'],
  ['POST', '/v1/providers'],
  ['GET', '/v1/providers/NAME'],
  ['PATCH', '/v1/providers/NAME'],
  ['DELETE', '/v1/providers/NAME'],
  ['POST', '/v1/providers/NAME/check'],
  ['GET', '/v1/usage'],
  ['POST', '/v1/admin/backup'],
  ['GET', '/health'],
  ['GET', '/ready'],
  ['GET', '/metrics'],
  ['GET', '/docs/json'],
  ['POST', '/v1/keys'],
  ['GET', '/v1/keys'],
  ['GET', '/v1/keys/ID'],
  ['DELETE', '/v1/keys/ID'],
];
// GET /v1/events is left out: a valid request streams until the client leaves (its query
// validation is the same code path as the other routes' and is covered in bad-input).

t.test('5,000 hostile requests: no 5xx, nothing left behind, database intact', async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  const real = await engine.submit(chatJob('a real job'));
  const tenant = await engine.keys.create({ scopes: ['jobs:write', 'jobs:read'] });
  const pool = new Pool(api.url, { connections: 8 });
  t.teardown(() => pool.close());
  const r = rng(20261127);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const nasty = (): unknown => pick(NASTY_VALUES);
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const pollute = () =>
    pick(['{"__proto__":{"isAdmin":true}}', '{"constructor":{"prototype":{"x":1}}}', '{"input":{"__proto__":{"a":1}}}']);
  const bodyFor = (): string | undefined => {
    switch (Math.floor(r() * 10)) {
      case 0:
        return undefined;
      case 1:
        return Buffer.from(Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256))).toString('latin1');
      case 2: {
        const s = JSON.stringify(chatJob('ok', { metadata: { k: nasty() } }));
        return s.slice(0, Math.floor(r() * s.length));
      }
      case 3:
        return JSON.stringify({ input: nasty(), type: nasty(), priority: nasty(), maxAttempts: nasty(), runAt: nasty() });
      case 4:
        return deep(Math.floor(r() * 5000) + 1);
      case 5:
        return pollute();
      case 6:
        return JSON.stringify({
          jobs: Array.from({ length: Math.floor(r() * 3) }, () => ({ input: { messages: [{ role: nasty(), content: nasty() }] } })),
        });
      case 7:
        if (r() < 0.4)
          return JSON.stringify({
            scopes: pick([nasty(), ['admin'], ['jobs:read', nasty()]]),
            expiresAt: nasty(),
            rateLimit: nasty(),
            name: pick(NASTY_STRINGS),
          });
        return JSON.stringify({
          name: pick(NASTY_STRINGS),
          kind: pick(['openai', 'mock', 'anthropic', nasty()]),
          baseUrl: pick(NASTY_STRINGS),
          weight: nasty(),
        });
      case 8:
        return JSON.stringify(nasty());
      default:
        return JSON.stringify({
          input: { messages: [{ role: 'user', content: pick(NASTY_STRINGS) }], responseSchema: nasty() },
          idempotencyKey: pick(NASTY_STRINGS),
        });
    }
  };
  // Percent-encode the UTF-8 bytes (encodeURIComponent throws on lone surrogates), and now and
  // then send a malformed escape as it is.
  const enc = (s: string) =>
    r() < 0.05
      ? pick(['%ZZ', '%E0%A4%A', '%', '%C0%AF'])
      : [...Buffer.from(s || 'x')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  const pathFor = (template: string) => {
    const p = template
      .replace('ID', r() < 0.2 ? real.id : enc(pick(NASTY_STRINGS).slice(0, 300)))
      .replace('NAME', r() < 0.2 ? 'mock' : enc(pick(NASTY_STRINGS).slice(0, 300)));
    if (r() < 0.3)
      return `${p}?${pick(['status', 'limit', 'cursor', 'waitMs', 'groupBy', 'from', 'type', '__proto__'])}=${enc(pick(NASTY_STRINGS).slice(0, 200))}`;
    return p;
  };
  const headersFor = (): Record<string, string> => {
    const h: Record<string, string> = {};
    const auth = r();
    if (auth < 0.7) h.authorization = `Bearer ${API_KEY}`;
    else if (auth < 0.8) h.authorization = `Bearer ${tenant.secret}`;
    else if (auth < 0.9) h.authorization = pick(['Bearer', 'Bearer  ', `Basic ${API_KEY}`, `Bearer ${API_KEY}x`, 'Bearer \u00ff']);
    h['content-type'] = pick([
      'application/json',
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/json; charset=utf-16',
      '*/*',
    ]);
    return h;
  };

  const statuses = new Map<number, number>();
  const fives: string[] = [];
  let created = 0;
  const N = 5000;
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < N) {
        next++;
        const [method, template] = pick(ROUTES);
        const path = pathFor(template);
        const body = method === 'GET' || method === 'DELETE' ? (r() < 0.1 ? bodyFor() : undefined) : bodyFor();
        const res = await pool.request({ method: method as 'GET', path, headers: headersFor(), ...(body !== undefined && { body }) });
        const text = await res.body.text();
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode >= 500)
          fives.push(`${method} ${path.slice(0, 80)} → ${res.statusCode} ${text.slice(0, 200)} [${String(body).slice(0, 80)}]`);
        if (res.statusCode === 201 && template === '/v1/jobs') created += 1;
        if (res.statusCode === 201 && template === '/v1/jobs/batch') created += (JSON.parse(text) as { jobs: unknown[] }).jobs.length;
        if (res.statusCode < 500 && res.statusCode >= 400) {
          const err = JSON.parse(text) as { error?: { code?: string } };
          if (!/^SWY_/.test(err.error?.code ?? ''))
            fives.push(`${method} ${path.slice(0, 80)} → ${res.statusCode} without a SWY code: ${text.slice(0, 120)}`);
        }
      }
    }),
  );
  t.same(fives, [], 'no 5xx and every 4xx carries a SWY_* code');
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  t.equal((await fetch(`${api.url}/health`)).status, 200, 'the process is up');
  t.equal(({} as Record<string, unknown>).isAdmin, undefined, 'nothing polluted Object.prototype');
  t.equal(({} as Record<string, unknown>).polluted, undefined);
  const db = new Database(engine.config.database, { readonly: true });
  t.teardown(() => db.close());
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  const jobs = (db.prepare('SELECT count(*) AS n FROM jobs').get() as { n: number }).n;
  t.equal(jobs, 1 + created, 'only accepted submits left rows');
});
