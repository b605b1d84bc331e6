/**
 * Every snippet in the README and docs/ runs as written, against a live server:
 * - a ```js block is written to a file and run with node (ESM, `switchyard` importable), and must
 *   exit cleanly having printed something;
 * - a ```js file=PATH block is a module other snippets use: it is written to PATH first;
 * - a ```sh block runs in bash with `set -euo pipefail`, with curl failing on an HTTP error, and
 *   must exit cleanly;
 * - what a run snippet prints must match the pattern of the `<!-- prints: PATTERN -->` comment on
 *   the line after its block (a regular expression, matched against its whole output): every run
 *   snippet has one, so that a snippet that prints the wrong thing fails.
 * Snippets see SWITCHYARD_URL and SWITCHYARD_API_KEY; `localhost:8080` (what `npm start` serves)
 * becomes the test server's address, and `data/api-key` holds the key, as after `npm start`.
 * Blocks marked `console` (commands that install, start or deploy, run by CI itself), `text`,
 * `yaml` and `json` are shown, not run.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { API_KEY, makeEngine, serve, tempDir } from './helpers/engine.js';
import { ROOT, childEnv } from './helpers/process.js';

const run = promisify(execFile);
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

interface Snippet {
  title: string;
  lang: string;
  file?: string;
  code: string;
  /** What it must print: the `<!-- prints: … -->` after it. */
  prints?: RegExp;
}

/** The fenced blocks of a Markdown file, with the heading above each. */
function snippets(page: string): Snippet[] {
  const out: Snippet[] = [];
  let title = page;
  const lines = readFileSync(join(ROOT, page), 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith('#')) title = `${page}: ${line.replace(/^#+\s*/, '')}`;
    const m = /^```(\w+)(?:\s+file=(\S+))?\s*$/.exec(line);
    if (!m) continue;
    const start = i + 1;
    while (i + 1 < lines.length && (lines[i + 1] as string).trim() !== '```') i++;
    const after = /^<!-- prints: (.*) -->$/.exec((lines[i + 2] ?? '').trim());
    out.push({
      title,
      lang: m[1] as string,
      file: m[2],
      code: lines.slice(start, i + 1).join('\n'),
      prints: after ? new RegExp(after[1] as string) : undefined,
    });
    i++;
  }
  return out;
}

/**
 * A folder where snippets run: this checkout's packages, and `switchyard` itself as a package
 * whose entry is the sources (run through tsx), so that snippets import it as users do.
 */
function sandbox(dir: string): void {
  const modules = join(dir, 'node_modules');
  mkdirSync(modules);
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (!name.startsWith('.')) symlinkSync(join(ROOT, 'node_modules', name), join(modules, name), 'dir');
  }
  const pkg = join(modules, 'switchyard');
  mkdirSync(pkg);
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'switchyard', type: 'module', exports: './index.mjs' }));
  writeFileSync(join(pkg, 'index.mjs'), `export * from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/index.ts')).href)};\n`);
}

t.test("the docs' snippets run against a live server", async (t) => {
  const engine = await makeEngine(t);
  const api = await serve(t, engine);
  const dir = tempDir(t);
  sandbox(dir);
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'data/api-key'), API_KEY);
  // The snippets run the sources through tsx, not through tap's loader: their coverage would not
  // map onto this run's, so tap's process tracking is told to cover nothing in them.
  const env = { ...childEnv({ SWITCHYARD_URL: api.url, SWITCHYARD_API_KEY: API_KEY }), _TAPJS_PROCESSINFO_COV_EXCLUDE_: '/./' };
  const all = PAGES.flatMap(snippets);
  const shown = new Set(['console', 'text', 'yaml', 'json']);
  const unknown = all.filter((s) => !['js', 'sh'].includes(s.lang) && !shown.has(s.lang));
  t.same(
    unknown.map((s) => `${s.title}: ${s.lang}`),
    [],
    'every block is run or marked as shown only',
  );
  for (const s of all.filter((s) => s.file !== undefined)) {
    const path = join(dir, s.file as string);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, s.code);
  }
  const runnable = all.filter((s) => s.file === undefined && (s.lang === 'js' || s.lang === 'sh'));
  t.ok(runnable.length >= 12, `${runnable.length} snippets`);
  const host = new URL(api.url).host;
  const printed = (s: Snippet, stdout: string) => {
    if (!s.prints) t.fail(`${s.title}: no <!-- prints: … --> after the block; it printed: ${stdout.slice(0, 300)}`);
    else t.match(stdout, s.prints, `${s.title}: printed what its page says`);
  };
  for (const [i, s] of runnable.entries()) {
    if (s.lang === 'js') {
      const file = join(dir, `snippet-${i}.mjs`);
      writeFileSync(file, s.code);
      const { stdout } = await run(process.execPath, ['--import', 'tsx', file], { cwd: dir, env, timeout: 120_000 });
      t.notMatch(stdout, /\bfailed\b|SWY_/, `${s.title}: no job failed`);
      printed(s, stdout);
    } else {
      const script = `set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; }\n${s.code.replaceAll('localhost:8080', host)}`;
      const { stdout } = await run('bash', ['-c', script], { cwd: dir, env, timeout: 120_000 });
      t.notMatch(stdout, /"status":"failed"|SWY_/, `${s.title}: no job failed`);
      printed(s, stdout);
    }
  }
});
