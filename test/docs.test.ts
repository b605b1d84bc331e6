/**
 * Every JavaScript snippet in the docs runs as it is written: each ```js block is written to a file
 * and run with node against a live server (SWITCHYARD_URL and SWITCHYARD_API_KEY set), and must
 * exit cleanly.
 */
import { execFile } from 'node:child_process';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { API_KEY, makeEngine, serve, tempDir } from './helpers/engine.js';
import { ROOT, childEnv } from './helpers/process.js';

const run = promisify(execFile);
const DOCS = ['docs/clients.md'];

/** The fenced ```js blocks of a Markdown file, with the heading above each. */
function snippets(file: string): { title: string; code: string }[] {
  const out: { title: string; code: string }[] = [];
  let title = file;
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith('#')) title = `${file}: ${line.replace(/^#+\s*/, '')}`;
    if (line.trim() !== '```js') continue;
    const start = i + 1;
    while (i + 1 < lines.length && (lines[i + 1] as string).trim() !== '```') i++;
    out.push({ title, code: lines.slice(start, i + 1).join('\n') });
    i++;
  }
  return out;
}

t.test("the docs' snippets run against a live server", async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  const dir = tempDir(t);
  // Snippets import the packages the docs name: they resolve from this checkout's node_modules.
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const all = DOCS.flatMap(snippets);
  t.ok(all.length >= 4, `${all.length} snippets`);
  for (const [i, s] of all.entries()) {
    const file = join(dir, `snippet-${i}.mjs`);
    writeFileSync(file, s.code);
    const { stdout } = await run(process.execPath, [file], {
      cwd: dir,
      env: childEnv({ SWITCHYARD_URL: api.url, SWITCHYARD_API_KEY: API_KEY }),
      timeout: 120_000,
    });
    t.ok(stdout.length > 0, `${s.title}: ran and printed ${stdout.length} characters`);
  }
});
