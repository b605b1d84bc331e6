/**
 * Switchyard: a durable job engine for LLM work in one Node.js process.
 *
 * @example
 * ```ts
 * import { createEngine, createServer } from 'switchyard';
 * const engine = await createEngine({ database: './data/jobs.db' });
 * await engine.start();
 * const job = await engine.submit({ type: 'chat', input: { messages: [{ role: 'user', content: 'Hi' }] } });
 * const done = await engine.wait(job.id, { timeoutMs: 30_000 });
 * await engine.stop();
 * ```
 * Mount the HTTP API (and its OpenAI-compatible front) on the same engine:
 * ```ts
 * const app = await createServer(engine, { apiKey: process.env.SWITCHYARD_API_KEY! });
 * await app.listen({ port: 8080 });
 * ```
 * @packageDocumentation
 */
export { createEngine, Engine, type ProviderAdmin, type Readiness } from './engine.js';
export { createServer, type ServerOptions } from './http/app.js';
export { createMetrics, type Metrics } from './metrics.js';
export { attachJobLogs, type JobLogOptions } from './logging.js';
export type { EngineOptions, EngineConfig } from './config.js';
export { SwitchyardError, ERROR_CATALOGUE, type ErrorCode, type ErrorInfo } from './errors.js';
export type { EngineEvents, EngineEventName } from './events.js';
export type {
  Job,
  JobStatus,
  JobUsage,
  SubmitJob,
  ListJobsQuery,
  JobPage,
  Stats,
  UsageRecord,
} from './domain/jobs.js';
export type { HandlerContext, Handler } from './jobs/context.js';
export type { JobTypeOptions } from './jobs/registry.js';
export type { ChatInput, ChatOutput } from './jobs/chat.js';
export type {
  ProviderConfig,
  ProviderKind,
  PublicProvider,
  ProviderState,
  ProbeResult,
  BreakerSettings,
  Price,
  LlmRequest,
  LlmResponse,
  ChatMessage,
} from './domain/providers.js';
export type { ProviderInput, ProviderPatch } from './providers/registry.js';
export type { Store } from './store/store.js';
export type { UsageQuery, UsageReport, UsageRow, UsageGroup } from './domain/usage.js';
export { SCOPES, DEFAULT_TENANT, type Scope, type KeyInput, type ApiKey, type TenantScope } from './domain/keys.js';
export type { KeyRing } from './keys/keyring.js';
export type { InputLimits } from './limits.js';
export type { Batch, BatchStatus, FileObject } from './domain/batches.js';
export type { Batches, CreateBatch } from './batches/batches.js';
export type { Files } from './batches/files.js';
