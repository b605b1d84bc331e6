/** The engine's typed events. The core emits; metrics, logs and streams listen. */
import { EventEmitter } from 'node:events';
import type { Job, UsageRecord } from './domain/jobs.js';
import type { ProviderState } from './domain/providers.js';

export interface EngineEvents {
  /**
   * A job is queued: `submitted` (new), `retried` (requeued by `retry()` or `POST /v1/jobs/:id/retry`)
   * or `requeued` (put back by a shutdown, or after its process's lease expired).
   */
  'job:queued': [job: Job, why: 'submitted' | 'retried' | 'requeued'];
  'job:started': [job: Job];
  /** A failed attempt that will be retried: the job is queued again with a later `runAt`. */
  'job:retrying': [job: Job];
  /** No provider could take the call: the job waits (queued, attempt not spent) until `runAt`. */
  'job:deferred': [job: Job];
  'job:progress': [event: { jobId: string; tenant: string; type: string; attempt: number; value: number }];
  'job:completed': [job: Job];
  'job:failed': [job: Job];
  'job:cancelled': [job: Job];
  /** A result that arrived after its attempt lost its lease (cancelled or taken over): not recorded. */
  'job:superseded': [event: { jobId: string; attempt: number }];
  'provider:state': [event: { name: string; state: ProviderState }];
  /** One call to one provider, successful or not. */
  'provider:call': [record: UsageRecord];
  'provider:failover': [event: { from: string; to: string | undefined }];
  /** Something went wrong inside the engine that it recovered from. */
  'engine:error': [error: unknown];
}

export type EngineEventName = keyof EngineEvents;

/** The events that carry a job as their first argument. */
export const JOB_EVENTS = [
  'job:queued',
  'job:started',
  'job:retrying',
  'job:deferred',
  'job:completed',
  'job:failed',
  'job:cancelled',
] as const satisfies readonly EngineEventName[];
type Listener<K extends EngineEventName> = (...args: EngineEvents[K]) => void;

/** An EventEmitter whose event names and payloads are checked by the compiler. */
export class EngineEmitter extends EventEmitter {
  constructor() {
    super({ captureRejections: false });
    this.setMaxListeners(100);
  }

  override on<K extends EngineEventName>(event: K, listener: Listener<K>): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override once<K extends EngineEventName>(event: K, listener: Listener<K>): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }

  override off<K extends EngineEventName>(event: K, listener: Listener<K>): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }

  override emit<K extends EngineEventName>(event: K, ...args: EngineEvents[K]): boolean {
    return super.emit(event, ...args);
  }
}
