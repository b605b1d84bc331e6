/** Run the `switchyard` command as a child process and find the port it listens on. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Test } from 'tap';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Child {
  proc: ChildProcess;
  url: string;
  logs: string[];
  exited: Promise<number | null>;
  /** Resolves with the first log line (stdout) matching `re`, past or to come. */
  logged(re: RegExp): Promise<string>;
}

/**
 * The environment for a child: without the coverage collector's variables, since a child runs
 * its own loader (tsx, or dist/) whose coverage would not map onto this run's sources.
 */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...extra };
  delete env.NODE_V8_COVERAGE;
  if (env.NODE_OPTIONS?.includes('@tapjs')) delete env.NODE_OPTIONS;
  for (const k of Object.keys(env)) if (k.startsWith('_TAPJS_PROCESSINFO')) delete env[k];
  return env;
}

/** Start `args` (e.g. `node dist/cli.js serve`) and resolve once it listens. Killed in teardown. */
export async function startServer(t: Test, cmd: string, args: string[], env: Record<string, string>, cwd = ROOT): Promise<Child> {
  // With an IPC channel, the server stops when this process ends, even if its teardown never ran
  // (a test killed by tap's timeout).
  const proc = spawn(cmd, args, { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const logs: string[] = [];
  const logWaiters = new Set<(line: string) => void>();
  const exited = once(proc, 'exit').then(([code]) => code as number | null);
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        logs.push(line);
        for (const w of [...logWaiters]) w(line);
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (m) resolve(m[1] as string);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
    void exited.then((code) => reject(new Error(`exited ${code} before listening:\n${logs.join('\n')}`)));
    setTimeout(() => reject(new Error(`not listening after 60 s:\n${logs.join('\n')}`)), 60_000).unref();
  });
  const logged = (re: RegExp) =>
    new Promise<string>((resolve) => {
      const seen = logs.find((l) => re.test(l));
      if (seen !== undefined) return resolve(seen);
      const w = (line: string) => {
        if (!re.test(line)) return;
        logWaiters.delete(w);
        resolve(line);
      };
      logWaiters.add(w);
    });
  return { proc, url, logs, exited, logged };
}

/**
 * Compile the sources into `<dir>/dist` (with the migrations), leaving this checkout's dist/
 * alone: tests that build run in parallel and must not write the same files.
 */
export async function buildInto(dir: string): Promise<void> {
  const run = promisify(execFile);
  const out = join(dir, 'dist');
  await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out], {
    cwd: ROOT,
    env: childEnv({}),
  });
  await run(process.execPath, ['scripts/copy-sql.mjs', out], { cwd: ROOT, env: childEnv({}) });
  await run(process.execPath, ['scripts/build-ui.mjs', join(out, 'ui')], { cwd: ROOT, env: childEnv({}) });
}
