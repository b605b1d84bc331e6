/**
 * Job and provider log lines, fed by engine events (the core emits; logs listen). Lines carry the
 * job id, type, attempt and provider; prompts and outputs only with `payloads` (SWITCHYARD_LOG_PAYLOADS).
 */
import type { Logger } from 'pino';
import type { Engine } from './engine.js';
import type { Job } from './domain/jobs.js';

export interface JobLogOptions {
  /** Log job inputs and outputs too. @default false */
  payloads?: boolean;
}

/** Attach job and provider log lines to `logger`; returns a function that detaches them. */
export function attachJobLogs(engine: Engine, logger: Logger, opts: JobLogOptions = {}): () => void {
  const base = (job: Job) => ({ jobId: job.id, type: job.type, attempt: job.attempt, provider: job.provider ?? undefined });
  const handlers = {
    'job:queued': (job: Job) => logger.debug({ ...base(job), ...(opts.payloads && { input: job.input }) }, 'job queued'),
    'job:started': (job: Job) => logger.debug(base(job), 'job started'),
    'job:completed': (job: Job) =>
      logger.info(
        {
          ...base(job),
          model: job.model ?? undefined,
          durationMs: job.durationMs,
          usage: job.usage,
          ...(opts.payloads && { output: job.output }),
        },
        'job completed',
      ),
    'job:retrying': (job: Job) => logger.info({ ...base(job), error: job.error, runAt: job.runAt }, 'job attempt failed; will retry'),
    'job:deferred': (job: Job) =>
      logger.info({ ...base(job), error: job.error?.code, runAt: job.runAt }, 'no provider available; job waits'),
    'job:failed': (job: Job) => logger.warn({ ...base(job), error: job.error }, 'job failed'),
    'job:cancelled': (job: Job) => logger.info(base(job), 'job cancelled'),
    'job:superseded': (e: { jobId: string; attempt: number }) => logger.warn(e, 'late result of a superseded attempt dropped'),
    'provider:state': (e: { name: string; state: { breaker: string; healthy: boolean } }) =>
      logger[e.state.healthy ? 'info' : 'warn']({ provider: e.name, state: e.state }, 'provider state changed'),
  } as const;
  type AnyListener = (...args: unknown[]) => void;
  for (const [event, fn] of Object.entries(handlers)) engine.on(event as 'job:queued', fn as AnyListener);
  return () => {
    for (const [event, fn] of Object.entries(handlers)) engine.off(event as 'job:queued', fn as AnyListener);
  };
}
