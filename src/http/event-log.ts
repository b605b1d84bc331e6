/**
 * The live event stream's memory: the engine's job and provider events, numbered and kept in a
 * ring of the last `size`, so that a client that reconnects with Last-Event-ID misses nothing
 * that is still in the ring. Attached by the server; the core knows nothing of it.
 */
import type { Engine } from '../engine.js';
import type { EngineEventName } from '../events.js';
import type { Job } from '../jobs/types.js';

export interface StreamEvent {
  id: number;
  event: string;
  /** For filtering: a job event's tenant, or null for provider events (visible to every key). */
  tenant: string | null;
  jobId: string | null;
  type: string | null;
  status: string | null;
  data: unknown;
}

const JOB_EVENTS = [
  'job:queued', 'job:started', 'job:retrying', 'job:deferred', 'job:completed', 'job:failed', 'job:cancelled',
] as const satisfies readonly EngineEventName[];

/** A job as streamed: without its input (prompts can be large and are the client's own). */
function summary(job: Job): Omit<Job, 'input' | 'attempts'> {
  const { input: _input, attempts: _attempts, ...rest } = job;
  return rest;
}

export class EventLog {
  private readonly ring: StreamEvent[] = [];
  private readonly listeners = new Set<(e: StreamEvent) => void>();
  // Ids grow across restarts too: a stale Last-Event-ID from an earlier process replays nothing twice.
  private next = Date.now() * 1000;
  private readonly detach: (() => void)[] = [];

  constructor(engine: Engine, private readonly size = 10_000) {
    for (const name of JOB_EVENTS) {
      const fn = (job: Job) => this.push(name, job.tenant, job.id, job.type, job.status, summary(job));
      engine.on(name, fn);
      this.detach.push(() => engine.off(name, fn));
    }
    const progress = (e: { jobId: string; tenant: string; type: string; attempt: number; value: number }) =>
      this.push('job:progress', e.tenant, e.jobId, e.type, 'running', e);
    engine.on('job:progress', progress);
    this.detach.push(() => engine.off('job:progress', progress));
    const provider = (e: { name: string }) => this.push('provider:state', null, null, null, null, e);
    engine.on('provider:state', provider);
    this.detach.push(() => engine.off('provider:state', provider));
  }

  private push(event: string, tenant: string | null, jobId: string | null, type: string | null, status: string | null, data: unknown): void {
    const e: StreamEvent = { id: this.next++, event, tenant, jobId, type, status, data };
    this.ring.push(e);
    if (this.ring.length > this.size) this.ring.shift();
    for (const fn of this.listeners) fn(e);
  }

  /** Events after `id` still in the ring, oldest first. */
  since(id: number): StreamEvent[] {
    if (this.ring.length === 0 || id < (this.ring[0] as StreamEvent).id) return [...this.ring];
    return this.ring.filter((e) => e.id > id);
  }

  subscribe(fn: (e: StreamEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  close(): void {
    for (const d of this.detach) d();
    this.listeners.clear();
  }
}
