/** SQLite failures that mean "the store cannot serve now" (disk full, locked, read-only, I/O, corrupt). */
import { SwitchyardError } from '../errors.js';

const UNAVAILABLE = /^SQLITE_(FULL|BUSY|LOCKED|READONLY|IOERR|CANTOPEN|CORRUPT|NOTADB|PROTOCOL|NOMEM)/;

/** `err` as SWY_STORE_UNAVAILABLE when it is such a failure; other errors pass through unchanged. */
export function storeFault(err: unknown, doing: string): unknown {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && UNAVAILABLE.test(code)) {
    return new SwitchyardError('SWY_STORE_UNAVAILABLE', `the database cannot ${doing} now (${code})`, { cause: err });
  }
  return err;
}
