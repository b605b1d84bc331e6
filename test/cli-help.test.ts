/** The command line's help and its exit code for bad usage, as a real process. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { commandHelp, USAGE } from '../src/cli/help.js';
import { ROOT, childEnv } from './helpers/process.js';

// The child runs the sources through the same loader as this test.
const CLI = [...process.execArgv, join(ROOT, 'src/cli.ts')];

t.test("--help prints a command's own help and exits 0; bad usage exits 2 with the command's help", async (t) => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, env: childEnv({}), encoding: 'utf8', timeout: 120_000 });
  // Every command's help, in this process; the command line's through a real process.
  t.match(USAGE, /^usage: switchyard <command>/);
  t.match(USAGE, /2 bad usage/, 'the exit codes are listed');
  for (const command of ['serve', 'submit', 'get', 'wait', 'stats', 'usage', 'providers', 'loadcheck', 'backup', 'migrate']) {
    t.match(commandHelp(command), new RegExp(`^usage: switchyard ${command}\\b`), `${command}: its own usage`);
    t.match(USAGE, new RegExp(`\\n  ${command}\\b`), `${command} is in the list`);
  }
  t.match(commandHelp('wait'), /Exit code: 0 completed, 1 failed or cancelled, 3 timed out/);
  t.equal(commandHelp('fly'), undefined);
  const submit = cli('submit', '--help');
  t.equal(submit.status, 0, 'submit --help');
  t.equal(submit.stdout, commandHelp('submit'));
  const unknownOption = cli('stats', '--bogus');
  t.equal(unknownOption.status, 2, 'an unknown option');
  t.match(unknownOption.stderr, /Unknown option '--bogus'[\s\S]*usage: switchyard stats/);
});
