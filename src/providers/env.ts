import type { HostPolicy } from './addresses.js';
import type { SharedLimits } from './shared-limits.js';

/** What every provider of an engine shares: the bound on answers and where calls may go. */
export interface ProviderEnv {
  /** Largest answer body, bytes (SWITCHYARD_MAX_OUTPUT_BYTES). */
  maxOutputBytes: number;
  hosts: HostPolicy;
  /** Limits kept with the other processes of a shared database (PostgreSQL); absent on SQLite. */
  shared?: SharedLimits;
  /**
   * With other processes on a shared database: whether this process sends the next half-open
   * probe of `provider` (one process per round of `everyMs`). Absent: it always does.
   */
  probeTurn?: (provider: string, everyMs: number) => Promise<boolean>;
}
