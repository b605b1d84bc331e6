/**
 * A PostgreSQL server of the test's own (`initdb` and `pg_ctl` on a free port, in a fresh temp
 * dir), so that a test can stop and start it without touching the shared server. As root (CI),
 * the server runs as the `postgres` user, since PostgreSQL refuses to run as root.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Test } from 'tap';
import { requireTool } from './requires.js';

const run = promisify(execFile);

/** The directory of `initdb` and `pg_ctl`: PG_BIN, or Debian's /usr/lib/postgresql/<newest>/bin. */
function binDir(): string | undefined {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const newest = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a))[0];
  return newest && join(root, newest, 'bin');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface PgInstance {
  url: string;
  /** Stop the server (`pg_ctl stop -m fast`: every session is terminated) and wait until it is down. */
  stop(): Promise<void>;
  /** Start it again on the same port and wait until it accepts connections. */
  start(): Promise<void>;
}

/** A fresh PostgreSQL server, stopped and removed in teardown; undefined when skipped (see requireTool). */
export async function pgInstance(t: Test): Promise<PgInstance | undefined> {
  const bin = binDir();
  if (!requireTool(t, 'PostgreSQL server binaries (initdb, pg_ctl)', bin !== undefined, 'apt-get install -y postgresql, or set PG_BIN')) {
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const as = async (cmd: string, args: string[]) => {
    const file = join(bin as string, cmd);
    if (asRoot) await run('runuser', ['-u', 'postgres', '--', file, ...args], { cwd: dir });
    else await run(file, args, { cwd: dir });
  };
  if (asRoot) {
    // The postgres user owns the dir (its socket and log go there too).
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout), Number(gid));
  }
  const port = await freePort();
  await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const ctl = (...args: string[]) => as('pg_ctl', ['-D', data, '-l', join(dir, 'log'), ...args]);
  const instance: PgInstance = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => ctl('-m', 'fast', '-w', 'stop'),
    start: () => ctl('-o', options, '-w', '-t', '120', 'start'),
  };
  t.teardown(async () => {
    await ctl('-m', 'immediate', '-w', 'stop').catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  await instance.start();
  return instance;
}
