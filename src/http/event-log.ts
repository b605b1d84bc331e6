/**
 * The live event stream's memory: the engine's job and provider events, numbered, each serialised
 * once into its SSE frame (however many clients listen), and kept in a ring bounded by count and
 * by bytes, so that a client that reconnects with Last-Event-ID misses nothing still in the ring.
 * Job events carry a summary of the job, never its input or output: those can be megabytes, and a
 * client that wants them reads the job. Attached by the server; the core knows nothing of it.
 */
import type { Engine } from '../engine.js';
import { JOB_EVENTS } from '../events.js';
import type { Job } from '../domain/jobs.js';
import type { ProviderState } from '../domain/providers.js';

export interface StreamEvent {
  id: number;
  event: string;
  /** For filtering: a job event's tenant, or null for provider events (visible to every key). */
  tenant: string | null;
  jobId: string | null;
  type: string | null;
  status: string | null;
  /** The whole SSE frame (`id`, `event`, `data` lines). */
  frame: string;
  /** A provider event's frame without its last error's text, for keys that cannot administer providers. */
  publicFrame?: string;
}

export interface EventLogOptions {
  /** Most events kept. @default 10000 */
  size?: number;
  /** Most bytes of frames kept. @default 8388608 */
  bytes?: number;
}

/** What a job event says of its job: everything but its input, output and attempt history. */
export function jobSummary(job: Job): Omit<Job, 'input' | 'output' | 'attempts'> {
  const { input: _input, output: _output, attempts: _attempts, ...rest } = job;
  return rest;
}

const frameOf = (id: number, event: string, data: unknown) => `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export class EventLog {
  private readonly ring: StreamEvent[] = [];
  /** Index of the oldest event in `ring` (a moving start instead of shift(): O(1) per event). */
  private head = 0;
  private bytes = 0;
  private readonly listeners = new Set<(e: StreamEvent) => void>();
  // Ids grow across restarts too: a stale Last-Event-ID from an earlier process replays nothing twice.
  private next = Date.now() * 1000;
  private readonly detach: (() => void)[] = [];
  private readonly maxCount: number;
  private readonly maxBytes: number;

  constructor(engine: Engine, opts: EventLogOptions = {}) {
    this.maxCount = opts.size ?? 10_000;
    this.maxBytes = opts.bytes ?? 8_388_608;
    // This process's job events, and those of the others sharing its database (PostgreSQL).
    for (const source of [engine, engine.remoteEvents]) {
      for (const name of JOB_EVENTS) {
        const fn = (job: Job) => this.push(name, job.tenant, job.id, job.type, job.status, jobSummary(job));
        // Every job event's first argument is the job; the listener takes only that.
        source.on(name as 'job:started', fn);
        this.detach.push(() => source.off(name as 'job:started', fn));
      }
      const progress = (e: { jobId: string; tenant: string; type: string; attempt: number; value: number }) =>
        this.push('job:progress', e.tenant, e.jobId, e.type, 'running', e);
      source.on('job:progress', progress);
      this.detach.push(() => source.off('job:progress', progress));
    }
    const provider = (e: { name: string; state: ProviderState }) => {
      const lastError = e.state.lastError && { code: e.state.lastError.code, at: e.state.lastError.at };
      this.push('provider:state', null, null, null, null, e, { name: e.name, state: { ...e.state, lastError } });
    };
    engine.on('provider:state', provider);
    this.detach.push(() => engine.off('provider:state', provider));
  }

  private push(
    event: string,
    tenant: string | null,
    jobId: string | null,
    type: string | null,
    status: string | null,
    data: unknown,
    publicData?: unknown,
  ): void {
    const id = this.next++;
    const e: StreamEvent = { id, event, tenant, jobId, type, status, frame: frameOf(id, event, data) };
    if (publicData !== undefined) e.publicFrame = frameOf(id, event, publicData);
    this.ring.push(e);
    this.bytes += e.frame.length + (e.publicFrame?.length ?? 0);
    while (this.ring.length - this.head > this.maxCount || (this.bytes > this.maxBytes && this.ring.length - this.head > 1)) {
      const old = this.ring[this.head++] as StreamEvent;
      this.bytes -= old.frame.length + (old.publicFrame?.length ?? 0);
    }
    if (this.head > 1024 && this.head * 2 > this.ring.length) {
      this.ring.splice(0, this.head);
      this.head = 0;
    }
    for (const fn of this.listeners) fn(e);
  }

  /** Events after `id` still in the ring, oldest first. */
  since(id: number): StreamEvent[] {
    const live = this.ring.slice(this.head);
    if (live.length === 0 || id < (live[0] as StreamEvent).id) return live;
    return live.filter((e) => e.id > id);
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
