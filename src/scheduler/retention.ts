/**
 * Retention: finished jobs past their age are deleted in small batches, each its own short
 * transaction with a turn of the event loop between, so pruning never stalls the scheduler.
 */
import type { Logger } from 'pino';
import type { EngineConfig } from '../config.js';
import type { Store } from '../store/store.js';

const DAY_MS = 86_400_000;
const BATCH = 500;

export class Retention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly store: Store,
    private readonly config: EngineConfig,
    private readonly log: Logger,
    /** This process, as the store's maintenance turns know it. */
    private readonly owner: string,
  ) {}

  start(): void {
    if (this.config.retentionDays === 0 && this.config.failedRetentionDays === 0) return;
    this.timer = setInterval(() => void this.tick(), this.config.pruneIntervalMs);
    this.timer.unref();
    setImmediate(() => void this.tick());
  }

  /** The timer's round: with several processes on one database, one of them prunes. */
  private async tick(): Promise<void> {
    try {
      const { store, owner, config } = this;
      if (store.takeTurn && !(await store.takeTurn('retention', owner, Math.floor(config.pruneIntervalMs * 0.8)))) return;
    } catch (err) {
      this.log.error({ err }, 'pruning old jobs failed; will try again');
      return;
    }
    await this.prune();
  }

  /** Prune everything due now; resolves with how many jobs were deleted. */
  prune(): Promise<number> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<number> {
    const now = Date.now();
    const { retentionDays, failedRetentionDays } = this.config;
    const finishedBefore = retentionDays > 0 ? now - retentionDays * DAY_MS : null;
    const failedBefore = failedRetentionDays > 0 ? now - failedRetentionDays * DAY_MS : null;
    let total = 0;
    try {
      for (;;) {
        const n = await this.store.prune(finishedBefore, failedBefore, BATCH);
        total += n;
        if (n < BATCH) break;
        await new Promise((r) => setImmediate(r));
      }
    } catch (err) {
      this.log.error({ err }, 'pruning old jobs failed; will try again');
    }
    if (total > 0) this.log.info({ pruned: total }, 'pruned finished jobs past their retention');
    return total;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
