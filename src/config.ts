/** Options and environment → validated, frozen config. Invalid options throw; they are never replaced. */
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { SwitchyardError } from './errors.js';
import type { InputLimits } from './limits.js';
import { createAjv, describeError } from './validation.js';

/** Where the database lives when neither `database` nor SWITCHYARD_DB says. */
export const DEFAULT_DATABASE = './data/switchyard.db';

/** Whether `database` names a PostgreSQL server rather than a SQLite file. */
export function isPostgresUrl(database: string): boolean {
  return /^postgres(ql)?:\/\//i.test(database);
}

/** `database` as it may be shown: a URL's password replaced by `***`. */
export function redactDatabase(database: string): string {
  return database.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/@:]*:)[^/@]*@/, '$1***@');
}

/**
 * Refuse a `database` that names a scheme other than PostgreSQL's (`mysql://…`, `postgress://…`):
 * it would otherwise be taken for a SQLite path and start a lone node in a directory of that name.
 */
function checkDatabase(database: string): void {
  if (database === ':memory:' || isPostgresUrl(database)) return;
  // Two or more letters before the colon: a Windows drive (`C:\…`) is still a path.
  if (/^[A-Za-z][A-Za-z0-9+.-]+:/.test(database)) {
    throw new SwitchyardError(
      'SWY_INVALID_OPTIONS',
      `database ${JSON.stringify(redactDatabase(database))} is neither a SQLite file path nor a postgres:// or postgresql:// URL`,
    );
  }
}

/** Options of `createEngine()`. */
export interface EngineOptions {
  /**
   * SQLite file, `:memory:`, or a PostgreSQL URL (`postgres://user@host:5432/db`) for several
   * processes sharing one database (docs/scale-out.md). @default "./data/switchyard.db"
   */
  database?: string;
  /** PostgreSQL only: the schema the tables live in, created when missing. @default "public" */
  databaseSchema?: string;
  /** PostgreSQL only: most connections this process opens (plus one that listens for notifications). @default 10 */
  databasePoolSize?: number;
  /**
   * PostgreSQL only: listen for the other processes' notifications (new jobs, job events, provider
   * and key changes). Turn off behind PgBouncer in transaction mode: statements are then not prepared
   * either. @default true
   */
  databaseListen?: boolean;
  /** PostgreSQL only: how often a process that is not listening polls the database instead, ms. @default 1000 */
  databasePollMs?: number;
  /**
   * PostgreSQL only: how long a process waits, after another process announced new work, before it
   * claims. Announcements in that time share one claim, so a steady trickle of jobs costs each
   * process at most one claim per delay instead of one per job; a job woken for starts that much
   * later. 0 claims at once. @default 10
   */
  databaseWakeDelayMs?: number;
  /** Jobs running at once (mostly waiting on LLM calls). @default 256 */
  concurrency?: number;
  /** Worker threads that run custom job types' handlers (the built-in `chat` runs on the main thread). @default min(4, available cores) */
  threads?: number;
  /** How long a claimed job's lease lasts without a heartbeat, ms. @default 30000 */
  leaseMs?: number;
  /** Most jobs claimed in one transaction. @default 128 */
  claimBatch?: number;
  /** Attempts per job unless the job or its type says otherwise. @default 3 */
  maxAttempts?: number;
  /** Per-attempt time limit unless the job or its type says otherwise, ms. @default 120000 */
  timeoutMs?: number;
  /** First retry delay; each retry doubles it, with full jitter, ms. @default 1000 */
  retryBaseMs?: number;
  /** Longest retry delay, ms. @default 300000 */
  retryMaxMs?: number;
  /** How long an aborted handler has to stop before its worker thread is terminated, ms. @default 2000 */
  abortGraceMs?: number;
  /** How long `stop()` lets in-flight jobs finish before aborting them, ms. @default 10000 */
  shutdownTimeoutMs?: number;
  /** How long a write waits for a lock held by another connection before SWY_STORE_UNAVAILABLE, ms. @default 5000 */
  busyTimeoutMs?: number;
  /** How often providers whose breaker is open or that are misconfigured are probed, ms. @default 30000 */
  healthCheckMs?: number;
  /** How providers of equal priority are ordered: weighted random, or fewest calls in flight. @default "weighted" */
  routing?: 'weighted' | 'least-inflight';
  /** SQLite `synchronous`. @default "normal" */
  sync?: 'normal' | 'full';
  /** Where `POST /v1/admin/backup` writes its copies. @default "<database dir>/backups" */
  backupDir?: string;
  /** Completed and cancelled jobs older than this many days are pruned; 0 keeps them. @default 30 */
  retentionDays?: number;
  /** Failed jobs older than this many days are pruned; 0 keeps them. @default 90 */
  failedRetentionDays?: number;
  /** How often pruning runs, ms. @default 3600000 */
  pruneIntervalMs?: number;
  /** Seed the `mock` provider when the providers table is empty. @default true */
  seedProviders?: boolean;
  /**
   * Providers this engine manages (the providers file, SWITCHYARD_CONFIG): written as given on
   * every start, overriding changes made through the API; those the list no longer names are
   * removed (docs/providers.md). Each is an object as `POST /v1/providers` takes.
   */
  providers?: Record<string, unknown>[];
  /** Encrypts provider API keys at rest (AES-256-GCM, key derived from it); at least 32 characters. */
  secretKey?: string;
  /** Sets the `openai` provider on every start (OPENAI_API_KEY); without it, that provider is removed. */
  openaiApiKey?: string;
  /** Base URL of the `openai` provider. @default "https://api.openai.com/v1" */
  openaiBaseUrl?: string;
  /** Sets the `anthropic` provider on every start (ANTHROPIC_API_KEY). */
  anthropicApiKey?: string;
  /** Sets the `gemini` provider on every start (GEMINI_API_KEY). */
  geminiApiKey?: string;
  /** With `azureOpenaiEndpoint`, sets the `azure` provider on every start (AZURE_OPENAI_API_KEY). */
  azureOpenaiApiKey?: string;
  /** The Azure OpenAI resource endpoint, `https://NAME.openai.azure.com` (AZURE_OPENAI_ENDPOINT). */
  azureOpenaiEndpoint?: string;
  /** The Azure OpenAI API version (OPENAI_API_VERSION). @default "2024-10-21" */
  azureOpenaiApiVersion?: string;
  /**
   * AWS credentials for the `bedrock` provider, set on every start: `ACCESS_KEY_ID:SECRET_ACCESS_KEY`
   * (`:SESSION_TOKEN`), from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or a
   * Bedrock API key (AWS_BEARER_TOKEN_BEDROCK).
   */
  awsCredentials?: string;
  /** The AWS region of the `bedrock` provider (AWS_REGION). @default "us-east-1" */
  awsRegion?: string;
  /** Base URL of the `anthropic` provider. @default "https://api.anthropic.com/v1" */
  anthropicBaseUrl?: string;
  /** Where Batch API files are kept. @default "<database dir>/files" */
  filesDir?: string;
  /** How often batches are checked for expiry, ms. @default 30000 */
  batchCheckMs?: number;
  /** Longest line of a Batch API input file, bytes; a longer line fails the batch with a per-line error. @default 2097152 */
  batchLineBytes?: number;
  /** Batch input files read (validated and submitted) at once; more batches wait their turn. @default 2 */
  batchConcurrency?: number;
  /** Times a batch's reading may be interrupted (a crash mid-read) before the batch ends `failed`. @default 3 */
  batchMaxAttempts?: number;
  /** Bytes of files (uploads and results) one tenant may keep. @default 10737418240 */
  fileQuotaBytes?: number;
  /** Files one tenant may keep. @default 1000 */
  fileQuotaFiles?: number;
  /** Files are deleted this many days after they were made, unless their upload set `expires_after`; 0 keeps them. @default 30 */
  fileExpiryDays?: number;
  /** Largest answer of any provider, and largest output of any handler, bytes; past it the job fails with SWY_OUTPUT_TOO_LARGE. @default 1048576 */
  maxOutputBytes?: number;
  /** Largest JSON Schema a request may carry (`responseSchema`, `response_format`), bytes of JSON. @default 65536 */
  maxSchemaBytes?: number;
  /** Longest a request's JSON Schema may take to compile, or to check one answer, ms (off the main thread). @default 1000 */
  schemaTimeoutMs?: number;
  /**
   * Hosts provider URLs may name (exact names, `*.suffix`, IP addresses or CIDR ranges); unset allows
   * any host but link-local and cloud-metadata addresses, which are always refused.
   */
  providerHosts?: string[];
  /** Tokens reserved for the answer of a call that sets no `maxTokens`, when its tenant has a budget. @default 4096 */
  budgetReserveTokens?: number;
  /** A pino logger; silent when absent. */
  logger?: Logger;
}

export type EngineConfig = Readonly<
  Required<
    Omit<
      EngineOptions,
      | 'openaiApiKey'
      | 'anthropicApiKey'
      | 'geminiApiKey'
      | 'azureOpenaiApiKey'
      | 'azureOpenaiEndpoint'
      | 'awsCredentials'
      | 'logger'
      | 'secretKey'
      | 'providerHosts'
      | 'providers'
    >
  >
> & {
  readonly openaiApiKey: string | undefined;
  readonly anthropicApiKey: string | undefined;
  readonly geminiApiKey: string | undefined;
  readonly azureOpenaiApiKey: string | undefined;
  readonly azureOpenaiEndpoint: string | undefined;
  readonly awsCredentials: string | undefined;
  readonly providers: readonly Record<string, unknown>[];
  readonly providerHosts: readonly string[] | undefined;
  readonly secretKey: string | undefined;
  readonly logger: Logger | undefined;
  /** Derived: attempts per thread so that `threads × this ≥ concurrency`. */
  readonly concurrentTasksPerWorker: number;
  readonly heartbeatMs: number;
};

const int = (minimum: number, maximum: number) => ({ type: 'integer', minimum, maximum });

const engineSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    database: { type: 'string', minLength: 1 },
    databaseSchema: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$' },
    databasePoolSize: int(2, 1000),
    databaseListen: { type: 'boolean' },
    databasePollMs: int(50, 600_000),
    databaseWakeDelayMs: int(0, 1000),
    concurrency: int(1, 1_000_000),
    threads: int(1, 256),
    leaseMs: int(100, 86_400_000),
    claimBatch: int(1, 10_000),
    maxAttempts: int(1, 1000),
    timeoutMs: int(1, 86_400_000),
    retryBaseMs: int(0, 86_400_000),
    retryMaxMs: int(0, 86_400_000),
    abortGraceMs: int(0, 600_000),
    shutdownTimeoutMs: int(0, 86_400_000),
    sync: { enum: ['normal', 'full'] },
    routing: { enum: ['weighted', 'least-inflight'] },
    healthCheckMs: int(100, 86_400_000),
    busyTimeoutMs: int(0, 600_000),
    backupDir: { type: 'string', minLength: 1 },
    filesDir: { type: 'string', minLength: 1 },
    batchCheckMs: int(10, 86_400_000),
    batchLineBytes: int(1024, 1_073_741_824),
    batchConcurrency: int(1, 64),
    batchMaxAttempts: int(1, 100),
    fileQuotaBytes: int(0, Number.MAX_SAFE_INTEGER),
    fileQuotaFiles: int(0, 100_000_000),
    fileExpiryDays: { type: 'number', minimum: 0, maximum: 36_500 },
    maxOutputBytes: int(1024, 1_073_741_824),
    maxSchemaBytes: int(256, 16_777_216),
    schemaTimeoutMs: int(10, 600_000),
    providerHosts: { type: 'array', maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 253 } },
    budgetReserveTokens: int(1, 10_000_000),
    retentionDays: { type: 'number', minimum: 0, maximum: 36_500 },
    failedRetentionDays: { type: 'number', minimum: 0, maximum: 36_500 },
    pruneIntervalMs: int(1000, 86_400_000),
    seedProviders: { type: 'boolean' },
    openaiApiKey: { type: 'string' },
    secretKey: { type: 'string', minLength: 32 },
    openaiBaseUrl: { type: 'string', pattern: '^https?://' },
    anthropicApiKey: { type: 'string' },
    anthropicBaseUrl: { type: 'string', pattern: '^https?://' },
    geminiApiKey: { type: 'string' },
    azureOpenaiApiKey: { type: 'string' },
    azureOpenaiEndpoint: { type: 'string', pattern: '^https?://' },
    azureOpenaiApiVersion: { type: 'string', minLength: 1 },
    awsCredentials: { type: 'string' },
    awsRegion: { type: 'string', minLength: 1 },
    providers: { type: 'array', maxItems: 1000, items: { type: 'object' } },
  },
} as const;

const checkEngine = createAjv().compile(engineSchema);

function fail(what: string, errors: typeof checkEngine.errors): never {
  throw new SwitchyardError('SWY_INVALID_OPTIONS', describeError(errors?.[0] ?? undefined, what));
}

/** Validate and default engine options; throws SWY_INVALID_OPTIONS. */
export function resolveEngineConfig(opts: EngineOptions = {}): EngineConfig {
  const { logger, ...rest } = opts;
  if (!checkEngine(rest)) fail('options', checkEngine.errors);
  const concurrency = opts.concurrency ?? 256;
  const threads = opts.threads ?? Math.min(4, availableParallelism());
  const leaseMs = opts.leaseMs ?? 30_000;
  const database = opts.database ?? DEFAULT_DATABASE;
  checkDatabase(database);
  // Files and backups sit beside a SQLite file; with a database server, under ./data.
  const dataDir = database === ':memory:' || isPostgresUrl(database) ? 'data' : dirname(database);
  return Object.freeze({
    database,
    databaseSchema: opts.databaseSchema ?? 'public',
    databasePoolSize: opts.databasePoolSize ?? 10,
    databaseListen: opts.databaseListen ?? true,
    databasePollMs: opts.databasePollMs ?? 1000,
    databaseWakeDelayMs: opts.databaseWakeDelayMs ?? 10,
    concurrency,
    threads,
    leaseMs,
    claimBatch: opts.claimBatch ?? 128,
    maxAttempts: opts.maxAttempts ?? 3,
    timeoutMs: opts.timeoutMs ?? 120_000,
    retryBaseMs: opts.retryBaseMs ?? 1000,
    retryMaxMs: opts.retryMaxMs ?? 300_000,
    abortGraceMs: opts.abortGraceMs ?? 2000,
    shutdownTimeoutMs: opts.shutdownTimeoutMs ?? 10_000,
    sync: opts.sync ?? 'normal',
    routing: opts.routing ?? 'weighted',
    healthCheckMs: opts.healthCheckMs ?? 30_000,
    busyTimeoutMs: opts.busyTimeoutMs ?? 5000,
    backupDir: opts.backupDir ?? join(dataDir, 'backups'),
    filesDir: opts.filesDir ?? join(dataDir, 'files'),
    batchCheckMs: opts.batchCheckMs ?? 30_000,
    batchLineBytes: opts.batchLineBytes ?? 2_097_152,
    batchConcurrency: opts.batchConcurrency ?? 2,
    batchMaxAttempts: opts.batchMaxAttempts ?? 3,
    fileQuotaBytes: opts.fileQuotaBytes ?? 10_737_418_240,
    fileQuotaFiles: opts.fileQuotaFiles ?? 1000,
    fileExpiryDays: opts.fileExpiryDays ?? 30,
    maxOutputBytes: opts.maxOutputBytes ?? 1_048_576,
    maxSchemaBytes: opts.maxSchemaBytes ?? 65_536,
    schemaTimeoutMs: opts.schemaTimeoutMs ?? 1000,
    providerHosts: opts.providerHosts === undefined ? undefined : Object.freeze([...opts.providerHosts]),
    budgetReserveTokens: opts.budgetReserveTokens ?? 4096,
    retentionDays: opts.retentionDays ?? 30,
    failedRetentionDays: opts.failedRetentionDays ?? 90,
    pruneIntervalMs: opts.pruneIntervalMs ?? 3_600_000,
    seedProviders: opts.seedProviders ?? true,
    openaiApiKey: opts.openaiApiKey,
    secretKey: opts.secretKey,
    openaiBaseUrl: opts.openaiBaseUrl ?? 'https://api.openai.com/v1',
    anthropicApiKey: opts.anthropicApiKey,
    anthropicBaseUrl: opts.anthropicBaseUrl ?? 'https://api.anthropic.com/v1',
    geminiApiKey: opts.geminiApiKey,
    azureOpenaiApiKey: opts.azureOpenaiApiKey,
    azureOpenaiEndpoint: opts.azureOpenaiEndpoint,
    azureOpenaiApiVersion: opts.azureOpenaiApiVersion ?? '2024-10-21',
    awsCredentials: opts.awsCredentials,
    awsRegion: opts.awsRegion ?? 'us-east-1',
    providers: Object.freeze([...(opts.providers ?? [])]),
    logger,
    concurrentTasksPerWorker: Math.max(1, Math.ceil(concurrency / threads)),
    heartbeatMs: Math.max(50, Math.floor(leaseMs / 3)),
  });
}

/** What `switchyard serve` reads from the environment. */
export interface ServeConfig {
  port: number;
  host: string;
  apiKey: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Log job inputs and outputs (SWITCHYARD_LOG_PAYLOADS=true). */
  logPayloads: boolean;
  /** The providers file (SWITCHYARD_CONFIG), read by `switchyard serve` on every start. */
  configFile: string | undefined;
  engine: EngineOptions;
  /** Input limits, rate limits and CORS for `createServer()`. */
  server: {
    limits: Partial<InputLimits>;
    rateLimit: { perIp?: number; perKey?: number };
    corsOrigins: string[];
    maxFileBytes?: number;
    connections: Partial<Record<(typeof ENV_TO_CONNECTIONS)[keyof typeof ENV_TO_CONNECTIONS], number>>;
    eventStreamsPerKey?: number;
    console: { prefix?: string; sessionTtlMs?: number } | false;
  };
}

const envSchema = {
  type: 'object',
  properties: {
    PORT: int(0, 65535),
    HOST: { type: 'string', minLength: 1 },
    SWITCHYARD_DB: { type: 'string', minLength: 1 },
    SWITCHYARD_DB_SCHEMA: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$' },
    SWITCHYARD_DB_POOL_SIZE: int(2, 1000),
    SWITCHYARD_DB_LISTEN: { enum: ['true', 'false'] },
    SWITCHYARD_DB_POLL_MS: int(50, 600_000),
    SWITCHYARD_DB_WAKE_DELAY_MS: int(0, 1000),
    SWITCHYARD_API_KEY: { type: 'string', minLength: 16 },
    SWITCHYARD_CONCURRENCY: int(1, 1_000_000),
    SWITCHYARD_THREADS: int(1, 256),
    SWITCHYARD_SHUTDOWN_TIMEOUT_MS: int(0, 86_400_000),
    SWITCHYARD_SYNC: { enum: ['normal', 'full'] },
    SWITCHYARD_ROUTING: { enum: ['weighted', 'least-inflight'] },
    SWITCHYARD_LEASE_MS: int(100, 86_400_000),
    SWITCHYARD_BACKUP_DIR: { type: 'string', minLength: 1 },
    SWITCHYARD_FILES_DIR: { type: 'string', minLength: 1 },
    SWITCHYARD_RETENTION_DAYS: { type: 'number', minimum: 0, maximum: 36_500 },
    SWITCHYARD_FAILED_RETENTION_DAYS: { type: 'number', minimum: 0, maximum: 36_500 },
    LOG_LEVEL: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    SWITCHYARD_LOG_PAYLOADS: { type: 'boolean' },
    OPENAI_API_KEY: { type: 'string', minLength: 1 },
    SWITCHYARD_SECRET_KEY: { type: 'string', minLength: 32 },
    OPENAI_BASE_URL: { type: 'string', pattern: '^https?://' },
    ANTHROPIC_API_KEY: { type: 'string', minLength: 1 },
    ANTHROPIC_BASE_URL: { type: 'string', pattern: '^https?://' },
    GEMINI_API_KEY: { type: 'string', minLength: 1 },
    AZURE_OPENAI_API_KEY: { type: 'string', minLength: 1 },
    AZURE_OPENAI_ENDPOINT: { type: 'string', pattern: '^https?://' },
    OPENAI_API_VERSION: { type: 'string', minLength: 1 },
    AWS_ACCESS_KEY_ID: { type: 'string', minLength: 1 },
    AWS_SECRET_ACCESS_KEY: { type: 'string', minLength: 1 },
    AWS_SESSION_TOKEN: { type: 'string', minLength: 1 },
    AWS_BEARER_TOKEN_BEDROCK: { type: 'string', minLength: 1 },
    AWS_REGION: { type: 'string', minLength: 1 },
    SWITCHYARD_CONFIG: { type: 'string', minLength: 1 },
    SWITCHYARD_MAX_BODY_BYTES: int(1024, 1_073_741_824),
    SWITCHYARD_MAX_BATCH: int(1, 100_000),
    SWITCHYARD_MAX_MESSAGES: int(1, 1_000_000),
    SWITCHYARD_MAX_METADATA_BYTES: int(2, 1_073_741_824),
    SWITCHYARD_MAX_STRING_LENGTH: int(1, 1_073_741_824),
    SWITCHYARD_MAX_JSON_DEPTH: int(2, 10_000),
    SWITCHYARD_MAX_FILE_BYTES: int(1024, 10_737_418_240),
    SWITCHYARD_RATE_LIMIT_IP: int(0, 100_000_000),
    SWITCHYARD_RATE_LIMIT_KEY: int(0, 100_000_000),
    SWITCHYARD_CONSOLE: { enum: ['true', 'false'] },
    SWITCHYARD_CONSOLE_PREFIX: { type: 'string', pattern: '^(/[A-Za-z0-9_-]+)+$', maxLength: 200 },
    SWITCHYARD_SESSION_TTL_MS: int(60_000, 2_592_000_000),
    SWITCHYARD_CORS_ORIGINS: { type: 'string', pattern: '^https?://[^,\\s]+(,https?://[^,\\s]+)*$' },
    SWITCHYARD_MAX_OUTPUT_BYTES: int(1024, 1_073_741_824),
    SWITCHYARD_MAX_SCHEMA_BYTES: int(256, 16_777_216),
    SWITCHYARD_SCHEMA_TIMEOUT_MS: int(10, 600_000),
    SWITCHYARD_MAX_BATCH_LINE_BYTES: int(1024, 1_073_741_824),
    SWITCHYARD_BATCH_CONCURRENCY: int(1, 64),
    SWITCHYARD_BATCH_MAX_ATTEMPTS: int(1, 100),
    SWITCHYARD_FILE_QUOTA_BYTES: int(0, Number.MAX_SAFE_INTEGER),
    SWITCHYARD_FILE_QUOTA_FILES: int(0, 100_000_000),
    SWITCHYARD_FILE_EXPIRY_DAYS: { type: 'number', minimum: 0, maximum: 36_500 },
    SWITCHYARD_PROVIDER_HOSTS: { type: 'string', pattern: '^[^,\\s]+(,[^,\\s]+)*$' },
    SWITCHYARD_BUDGET_RESERVE_TOKENS: int(1, 10_000_000),
    SWITCHYARD_MAX_CONNECTIONS: int(1, 10_000_000),
    SWITCHYARD_MAX_CONNECTIONS_PER_ADDRESS: int(1, 10_000_000),
    SWITCHYARD_IDLE_TIMEOUT_MS: int(100, 86_400_000),
    SWITCHYARD_KEEP_ALIVE_TIMEOUT_MS: int(100, 86_400_000),
    SWITCHYARD_MAX_EVENT_STREAMS_PER_KEY: int(1, 100_000),
  },
} as const;

/** Environment variables that set one server limit each. */
const ENV_TO_LIMIT = {
  SWITCHYARD_MAX_BODY_BYTES: 'bodyBytes',
  SWITCHYARD_MAX_BATCH: 'batch',
  SWITCHYARD_MAX_MESSAGES: 'messages',
  SWITCHYARD_MAX_METADATA_BYTES: 'metadataBytes',
  SWITCHYARD_MAX_STRING_LENGTH: 'stringLength',
  SWITCHYARD_MAX_JSON_DEPTH: 'jsonDepth',
} as const satisfies Record<string, keyof InputLimits>;

/** Environment variables that set one engine option each. */
const ENV_TO_OPTION: Record<string, keyof EngineOptions> = {
  SWITCHYARD_DB_SCHEMA: 'databaseSchema',
  SWITCHYARD_DB_POOL_SIZE: 'databasePoolSize',
  SWITCHYARD_DB_POLL_MS: 'databasePollMs',
  SWITCHYARD_DB_WAKE_DELAY_MS: 'databaseWakeDelayMs',
  SWITCHYARD_CONCURRENCY: 'concurrency',
  SWITCHYARD_THREADS: 'threads',
  SWITCHYARD_SHUTDOWN_TIMEOUT_MS: 'shutdownTimeoutMs',
  SWITCHYARD_SYNC: 'sync',
  SWITCHYARD_ROUTING: 'routing',
  SWITCHYARD_LEASE_MS: 'leaseMs',
  SWITCHYARD_BACKUP_DIR: 'backupDir',
  SWITCHYARD_FILES_DIR: 'filesDir',
  SWITCHYARD_RETENTION_DAYS: 'retentionDays',
  SWITCHYARD_FAILED_RETENTION_DAYS: 'failedRetentionDays',
  OPENAI_API_KEY: 'openaiApiKey',
  SWITCHYARD_SECRET_KEY: 'secretKey',
  OPENAI_BASE_URL: 'openaiBaseUrl',
  ANTHROPIC_API_KEY: 'anthropicApiKey',
  ANTHROPIC_BASE_URL: 'anthropicBaseUrl',
  GEMINI_API_KEY: 'geminiApiKey',
  AZURE_OPENAI_API_KEY: 'azureOpenaiApiKey',
  AZURE_OPENAI_ENDPOINT: 'azureOpenaiEndpoint',
  OPENAI_API_VERSION: 'azureOpenaiApiVersion',
  AWS_REGION: 'awsRegion',
  SWITCHYARD_MAX_OUTPUT_BYTES: 'maxOutputBytes',
  SWITCHYARD_MAX_SCHEMA_BYTES: 'maxSchemaBytes',
  SWITCHYARD_SCHEMA_TIMEOUT_MS: 'schemaTimeoutMs',
  SWITCHYARD_MAX_BATCH_LINE_BYTES: 'batchLineBytes',
  SWITCHYARD_BATCH_CONCURRENCY: 'batchConcurrency',
  SWITCHYARD_BATCH_MAX_ATTEMPTS: 'batchMaxAttempts',
  SWITCHYARD_FILE_QUOTA_BYTES: 'fileQuotaBytes',
  SWITCHYARD_FILE_QUOTA_FILES: 'fileQuotaFiles',
  SWITCHYARD_FILE_EXPIRY_DAYS: 'fileExpiryDays',
  SWITCHYARD_BUDGET_RESERVE_TOKENS: 'budgetReserveTokens',
};

/** Environment variables that set one connection bound each. */
const ENV_TO_CONNECTIONS = {
  SWITCHYARD_MAX_CONNECTIONS: 'max',
  SWITCHYARD_MAX_CONNECTIONS_PER_ADDRESS: 'perAddress',
  SWITCHYARD_IDLE_TIMEOUT_MS: 'idleTimeoutMs',
  SWITCHYARD_KEEP_ALIVE_TIMEOUT_MS: 'keepAliveTimeoutMs',
} as const;

const checkEnv = createAjv({ coerceTypes: true }).compile(envSchema);

/** Read and validate the environment; throws SWY_INVALID_OPTIONS naming the bad variable. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const picked: Record<string, unknown> = {};
  for (const k of Object.keys(envSchema.properties)) {
    const v = env[k];
    if (v !== undefined && v !== '') picked[k] = v;
  }
  // A misspelt variable must not be ignored in silence. SWITCHYARD_URL is the command-line client's.
  const unknown = Object.keys(env).filter((k) => k.startsWith('SWITCHYARD_') && k !== 'SWITCHYARD_URL' && !(k in envSchema.properties));
  if (unknown.length > 0) {
    throw new SwitchyardError(
      'SWY_INVALID_OPTIONS',
      `unknown environment variable ${unknown.join(', ')} (the variables Switchyard reads are in docs/configuration.md)`,
    );
  }
  if (!checkEnv(picked)) {
    const e = checkEnv.errors?.[0];
    throw new SwitchyardError(
      'SWY_INVALID_OPTIONS',
      `environment variable ${e?.instancePath.slice(1) ?? ''} ${e?.message ?? 'is invalid'}`,
    );
  }
  const p = picked as Record<string, string | number | undefined>;
  const engine: EngineOptions = { database: (p.SWITCHYARD_DB as string | undefined) ?? DEFAULT_DATABASE };
  for (const [variable, option] of Object.entries(ENV_TO_OPTION)) {
    if (p[variable] !== undefined) (engine as Record<string, unknown>)[option] = p[variable];
  }
  const limits: ServeConfig['server']['limits'] = {};
  for (const [variable, limit] of Object.entries(ENV_TO_LIMIT)) {
    if (p[variable] !== undefined) limits[limit] = p[variable] as number;
  }
  if (p.SWITCHYARD_DB_LISTEN !== undefined) engine.databaseListen = p.SWITCHYARD_DB_LISTEN === 'true';
  // AWS's own variables: a key pair (with its session token), else a Bedrock API key.
  if (p.AWS_ACCESS_KEY_ID !== undefined && p.AWS_SECRET_ACCESS_KEY !== undefined) {
    engine.awsCredentials = [p.AWS_ACCESS_KEY_ID, p.AWS_SECRET_ACCESS_KEY, p.AWS_SESSION_TOKEN].filter((v) => v !== undefined).join(':');
  } else if (p.AWS_BEARER_TOKEN_BEDROCK !== undefined) engine.awsCredentials = p.AWS_BEARER_TOKEN_BEDROCK as string;
  const hosts = p.SWITCHYARD_PROVIDER_HOSTS as string | undefined;
  if (hosts !== undefined) engine.providerHosts = hosts.split(',');
  const connections: ServeConfig['server']['connections'] = {};
  for (const [variable, bound] of Object.entries(ENV_TO_CONNECTIONS)) {
    if (p[variable] !== undefined) connections[bound] = p[variable] as number;
  }
  const cors = p.SWITCHYARD_CORS_ORIGINS as string | undefined;
  return {
    port: (p.PORT as number | undefined) ?? 8080,
    host: (p.HOST as string | undefined) ?? '127.0.0.1',
    apiKey: p.SWITCHYARD_API_KEY as string | undefined,
    logLevel: (p.LOG_LEVEL as ServeConfig['logLevel'] | undefined) ?? 'info',
    logPayloads: (p.SWITCHYARD_LOG_PAYLOADS as unknown as boolean | undefined) ?? false,
    configFile: p.SWITCHYARD_CONFIG as string | undefined,
    engine,
    server: {
      limits,
      rateLimit: {
        ...(p.SWITCHYARD_RATE_LIMIT_IP !== undefined && { perIp: p.SWITCHYARD_RATE_LIMIT_IP as number }),
        ...(p.SWITCHYARD_RATE_LIMIT_KEY !== undefined && { perKey: p.SWITCHYARD_RATE_LIMIT_KEY as number }),
      },
      corsOrigins: cors === undefined ? [] : cors.split(','),
      ...(p.SWITCHYARD_MAX_FILE_BYTES !== undefined && { maxFileBytes: p.SWITCHYARD_MAX_FILE_BYTES as number }),
      connections,
      ...(p.SWITCHYARD_MAX_EVENT_STREAMS_PER_KEY !== undefined && { eventStreamsPerKey: p.SWITCHYARD_MAX_EVENT_STREAMS_PER_KEY as number }),
      console:
        p.SWITCHYARD_CONSOLE === 'false'
          ? false
          : {
              ...(p.SWITCHYARD_CONSOLE_PREFIX !== undefined && { prefix: p.SWITCHYARD_CONSOLE_PREFIX as string }),
              ...(p.SWITCHYARD_SESSION_TTL_MS !== undefined && { sessionTtlMs: p.SWITCHYARD_SESSION_TTL_MS as number }),
            },
    },
  };
}
