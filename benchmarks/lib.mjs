// Shared helpers of the benchmark scripts: a fresh temp store, timing, the machine's description.
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join } from 'node:path';

const dirs = [];
process.on('exit', () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temp dir, removed when the process exits. */
export function freshDir() {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  dirs.push(dir);
  return dir;
}

export function chat(i) {
  return { input: { messages: [{ role: 'user', content: `benchmark job ${i}` }] } };
}

/** Print the scenario's result as the last line of stdout: the runner parses it. */
export function report(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

export function machine() {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const dep = (name) => JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    switchyard: pkg.version,
    versions: `better-sqlite3 ${dep('better-sqlite3')}, piscina ${dep('piscina')}, fastify ${dep('fastify')}, p-queue ${dep('p-queue')}`,
  };
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Resolves once `n` jobs reached completed or failed. */
export function allFinished(engine, n) {
  let done = 0;
  return new Promise((resolve) => {
    const one = () => {
      if (++done === n) resolve();
    };
    engine.on('job:completed', one);
    engine.on('job:failed', one);
  });
}

/** Jobs per second of `n` jobs in `ms` milliseconds. */
export const rate = (n, ms) => n / (ms / 1000);

/** A few jobs in the payload BullMQ and plainjob carry too: the same chat input for every system. */
export const payload = (i) => chat(i).input;

/** The peak resident set size of this process so far, MiB. */
export const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;
