/**
 * The composition root: the engine's core with the features built on it (the Batch API's files
 * and batches) attached, on a SQLite store. Everything above (HTTP, CLI, library) uses `Engine`.
 */
import { Batches } from './batches/batches.js';
import { Files } from './batches/files.js';
import { isPostgresUrl, resolveEngineConfig, type EngineConfig, type EngineOptions } from './config.js';
import { EngineCore } from './core/engine.js';
import { PostgresStore } from './store/postgres/store.js';
import { SqliteStore } from './store/sqlite.js';
import type { Store } from './store/store.js';

export type { EngineFeature, ProviderAdmin, Readiness } from './core/engine.js';

export class Engine extends EngineCore {
  /** Batch API files (uploads and results), on disk under `filesDir`. */
  readonly files: Files;
  /** OpenAI-compatible batches: each line of an input file runs as a job. */
  readonly batches: Batches;

  /** Use `createEngine()`. */
  constructor(config: EngineConfig, store: Store) {
    super(config, store);
    this.files = new Files(store.batches, config.filesDir, {
      quotaBytes: config.fileQuotaBytes,
      quotaFiles: config.fileQuotaFiles,
      expiryDays: config.fileExpiryDays,
    });
    this.batches = new Batches(this, store.batches, this.files, {
      checkEveryMs: config.batchCheckMs,
      lineBytes: config.batchLineBytes,
      concurrency: config.batchConcurrency,
      maxAttempts: config.batchMaxAttempts,
    });
    this.attach(this.batches);
  }
}

/** The store `config.database` names: a PostgreSQL server by URL, else a SQLite file. */
async function openStore(config: EngineConfig): Promise<Store> {
  if (isPostgresUrl(config.database)) {
    return PostgresStore.open({
      url: config.database,
      schema: config.databaseSchema,
      poolSize: config.databasePoolSize,
      listen: config.databaseListen,
      secretKey: config.secretKey,
    });
  }
  return new SqliteStore({
    path: config.database,
    synchronous: config.sync,
    busyTimeoutMs: config.busyTimeoutMs,
    secretKey: config.secretKey,
    exclusive: true,
  });
}

/**
 * Create an engine on a SQLite file (or `:memory:`), or on PostgreSQL when `database` is a
 * `postgres://` URL; call `start()` to run jobs.
 */
export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  const config = resolveEngineConfig(options);
  const store = await openStore(config);
  const engine = new Engine(config, store);
  try {
    await engine.init();
  } catch (err) {
    await store.close();
    throw err;
  }
  return engine;
}
