// tsc does not copy non-TS files: the numbered migrations must sit next to the compiled stores.
// `node scripts/copy-sql.mjs [outDir]` (default dist), so that tests can build elsewhere.
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
const out = process.argv[2] ?? 'dist';
for (const dir of ['store/migrations', 'store/postgres/migrations']) {
  mkdirSync(join(out, dir), { recursive: true });
  cpSync(join('src', dir), join(out, dir), { recursive: true });
}
