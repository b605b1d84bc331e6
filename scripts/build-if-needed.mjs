// `npm start` builds first when dist/ is missing or older than the sources, so a fresh clone
// runs with `npm install && npm start` and a built container never needs the compiler.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execSync } from 'node:child_process';

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const built = existsSync('dist/cli.js');
if (!built && !existsSync('src')) {
  console.error('switchyard: dist/ is missing and there is no src/ to build it from');
  process.exit(1);
}
// The console (ui/, built into dist/ui/) counts as a source too.
// Only a built tree can be stale: without dist/cli.js there is nothing to compare against.
const stale = built && ['src', 'ui'].some((dir) => existsSync(dir) && newest(dir) > statSync('dist/cli.js').mtimeMs);
if (!built || stale || (existsSync('ui') && !existsSync('dist/ui/index.html'))) {
  execSync('npm run build', { stdio: 'inherit' });
}
