// tsc does not copy non-TS files: the numbered migrations must sit next to the compiled store.
// `node scripts/copy-sql.mjs [outDir]` (default dist), so that tests can build elsewhere.
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
const out = process.argv[2] ?? 'dist';
mkdirSync(join(out, 'store/migrations'), { recursive: true });
cpSync('src/store/migrations', join(out, 'store/migrations'), { recursive: true });
