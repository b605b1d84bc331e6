/**
 * Tests that need a tool the machine may not have (promtool, PostgreSQL, Chromium): in CI
 * (`CI` set, as `.ci/run` sets it) a missing tool fails the test; elsewhere the test is skipped
 * with one line saying how to enable it.
 */
import { spawnSync } from 'node:child_process';
import type { Test } from 'tap';

/** Whether `command` runs (`command --version` exits 0). */
export function hasCommand(command: string): boolean {
  const r = spawnSync(command, ['--version'], { stdio: 'ignore', timeout: 30_000 });
  return r.status === 0;
}

/**
 * True when `available`; otherwise fails `t` in CI, or skips it with `howToEnable`, and returns false
 * (the caller returns at once).
 */
export function requireTool(t: Test, what: string, available: boolean, howToEnable: string): boolean {
  if (available) return true;
  if (process.env.CI) t.fail(`${what} is required in CI: ${howToEnable}`);
  else t.plan(0, `${what} is not installed here; to run this test: ${howToEnable}`);
  return false;
}
