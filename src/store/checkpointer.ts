/**
 * Checkpoints the WAL from a thread of its own. SQLite's automatic checkpoint runs inside the
 * commit that crosses 1,000 WAL pages: that commit copies the pages into the database file and
 * syncs it, on the main thread: a large share of one-by-one submits' time, and the tail of HTTP
 * latency. Here a second connection in a worker thread
 * runs PASSIVE checkpoints (they never block the writer) every 50 ms. It changes no data:
 * the main thread stays the only writer. The main connection keeps a far larger automatic
 * checkpoint as a backstop, and goes back to the default one if the thread fails.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** WAL pages after which the main connection checkpoints by itself: only if the thread falls behind. */
const BACKSTOP_PAGES = 20_000;
const DEFAULT_AUTOCHECKPOINT = 1000;

// Plain CommonJS run with `eval`, so that it loads the same way from the TypeScript sources and from dist/.
const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = ' + workerData.synchronous);
const timer = setInterval(() => db.pragma('wal_checkpoint(PASSIVE)'), workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export class Checkpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  constructor(
    private readonly db: Database.Database,
    path: string,
    synchronous: 'NORMAL' | 'FULL',
    intervalMs = 50,
  ) {
    db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(SOURCE, { eval: true, workerData: { driver, path, synchronous, intervalMs } });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    // A failing checkpoint thread must not end the process: the main connection takes the work back.
    this.worker.on('error', () => this.fallBack());
  }

  /** Stop the thread (the caller then checkpoints and closes the main connection). */
  async stop(): Promise<void> {
    this.worker.postMessage('stop');
    await this.exited;
  }

  private fallBack(): void {
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT}`);
  }
}
