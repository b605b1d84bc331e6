/** docs/errors.md lists every SWY_* code of the catalogue, with its status and whether it is retried, and no other. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ERROR_CATALOGUE } from '../src/errors.js';
import { ROOT } from './helpers/process.js';

t.test('the error-code reference matches the catalogue', async (t) => {
  const page = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
  const rows = new Map<string, { status: number; retryable: boolean }>();
  for (const m of page.matchAll(/^\| `(SWY_[A-Z_]+)` \| (\d{3}) \| (yes|no) \|/gm)) {
    t.notOk(rows.has(m[1] as string), `${m[1]} is listed once`);
    rows.set(m[1] as string, { status: Number(m[2]), retryable: m[3] === 'yes' });
  }
  t.same([...rows.keys()].sort(), Object.keys(ERROR_CATALOGUE).sort(), 'every code, and no other');
  for (const [code, spec] of Object.entries(ERROR_CATALOGUE))
    t.same(rows.get(code), spec, `${code}: status and retryable as in src/errors.ts`);
});
