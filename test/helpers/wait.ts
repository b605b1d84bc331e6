/**
 * Waiting on state without sleeping: check now, then again after each of the named events, until
 * the check holds. A test that waits this way is as fast as the machine and never gives up early;
 * if the state never comes, tap's timeout fails the test.
 */
interface Emitter {
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
}

export function until(emitter: Emitter, events: string[], check: () => boolean): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve) => {
    const recheck = () => {
      if (!check()) return;
      for (const e of events) emitter.off(e, recheck);
      resolve();
    };
    for (const e of events) emitter.on(e, recheck);
  });
}
