// Shared helpers of the benchmark scripts: a fresh temp store, timing, the machine's description.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
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

// CPU time of other processes, read from /proc (Linux only; elsewhere the figures are left out).
// No npm package reads another process's CPU time without spawning `ps` for each sample.
let ticksPerSecond;
/** The kernel's clock ticks per second, which /proc's CPU times count in (asked once, when first needed). */
function ticks() {
  try {
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

/** CPU seconds (user + system) each of `pids` has used so far; a process that is gone is left out. */
export function cpuTimes(pids) {
  const times = new Map();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // The fields after the command name, which may hold spaces, closed by the last ')'.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      times.set(pid, (Number(f[11]) + Number(f[12])) / ticks());
    } catch {}
  }
  return times;
}

/** The CPU seconds spent between two cpuTimes() samples; a process new in `after` counts from zero. */
export function cpuSpent(before, after) {
  let s = 0;
  for (const [pid, t] of after) s += t - (before.get(pid) ?? 0);
  return s;
}

/**
 * The processes (postmaster, backends, background workers) of the PostgreSQL server at `url` when
 * it runs on this machine: empty when it does not, or there is no /proc.
 */
export function postgresPids(url) {
  if (!['127.0.0.1', 'localhost', '[::1]', ''].includes(new URL(url).hostname) || !existsSync('/proc')) return [];
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() === 'postgres') pids.push(Number(name));
    } catch {}
  }
  return pids;
}

/** Transactions committed so far on the database `client` is connected to (pg_stat_database). */
export async function commits(client) {
  const { rows } = await client.query('SELECT xact_commit::bigint AS c FROM pg_stat_database WHERE datname = current_database()');
  return Number(rows[0].c);
}

/** A port the OS says is free on 127.0.0.1 (for a server started after, in another process). */
export function freePort() {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}
