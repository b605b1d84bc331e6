/**
 * Several engine processes on one database: each tells the others its job events (so that
 * `wait()`, `?waitMs` and event streams on any process see jobs that another process ran, a
 * cancel reaches the process running the job, and idle processes wake for new jobs) and its
 * provider and key changes (so that every process's caches follow). While its bus is not
 * listening, a process polls the database every `pollMs` instead.
 */
import type { Job, JobSummary } from '../domain/jobs.js';
import { SwitchyardError } from '../errors.js';
import { EngineEmitter, JOB_EVENTS, type EngineEventName } from '../events.js';
import type { BusMessage, JobEventName, Store, StoreBus } from '../store/store.js';

const TERMINAL = new Set<string>(['job:completed', 'job:failed', 'job:cancelled']);

export interface ClusterDeps {
  bus: StoreBus;
  store: Store;
  /** The engine's own events (published), never fed with other processes' events. */
  events: EngineEmitter;
  /** Wake `wait()` callers of a job that ended (they read it again). */
  wake(id: string): void;
  /** The ids `wait()` callers wait on. */
  waiting(): Iterable<string>;
  /** Something may be claimable (claims after the wake delay: announcements in between share it). */
  notify(): void;
  /** Whether the claims here hold `tenant` to a cap (a key's `maxConcurrency`, or a spent budget). */
  capped(tenant: string): boolean;
  /** Abort the job's attempt if it runs here. */
  abort(id: string, reason: SwitchyardError): void;
  reloadProviders(): Promise<void>;
  /** Pause a provider here until `until` (epoch ms). */
  pause(provider: string, until: number): void;
  /** Close a provider's breaker here (another process's probe succeeded). */
  closeBreaker(provider: string): void;
  reloadKeys(): Promise<void>;
  onError(err: unknown): void;
  pollMs: number;
}

export class Cluster {
  /** Job events of other processes (jobs as summaries: no input, output or attempts). */
  readonly remote = new EngineEmitter();
  private readonly detach: (() => void)[] = [];
  private pollTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Each provider's breaker state here, as last reported. */
  private readonly breakers = new Map<string, string>();

  constructor(private readonly d: ClusterDeps) {}

  start(): void {
    const { bus, events } = this.d;
    for (const name of JOB_EVENTS) {
      // A summary too large for one message is left out: the receiver reads the job.
      const fn = (job: Job) => bus.publish(this.jobMessage(name, job)) || bus.publish({ kind: 'job', event: name, id: job.id });
      events.on(name as 'job:started', fn);
      this.detach.push(() => events.off(name as 'job:started', fn));
    }
    const progress = (event: Extract<BusMessage, { kind: 'progress' }>['event']) => bus.publish({ kind: 'progress', event });
    events.on('job:progress', progress);
    this.detach.push(() => events.off('job:progress', progress));
    // A 429 with Retry-After seen here pauses the provider everywhere.
    // A breaker that closed here after a probe closes everywhere (only one process probes).
    const state = (e: { name: string; state: { pausedUntil: string | null; breaker: string } }) => {
      if (e.state.pausedUntil !== null) bus.publish({ kind: 'pause', provider: e.name, until: Date.parse(e.state.pausedUntil) });
      const before = this.breakers.get(e.name) ?? 'closed';
      this.breakers.set(e.name, e.state.breaker);
      if (e.state.breaker === 'closed' && before !== 'closed') bus.publish({ kind: 'closed', provider: e.name });
    };
    events.on('provider:state', state);
    this.detach.push(() => events.off('provider:state', state));
    this.detach.push(bus.subscribe((m) => this.receive(m)));
    bus.onStatus((listening) => {
      if (this.stopped) return;
      // Messages sent while not listening are lost: catch up once listening again.
      if (listening) void this.catchUp();
      this.schedulePoll();
    });
    this.schedulePoll();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.pollTimer);
    for (const f of this.detach.splice(0)) f();
  }

  /** Tell the other processes that providers (or keys) changed. */
  changed(kind: 'providers' | 'keys'): void {
    this.d.bus.publish({ kind });
  }

  private jobMessage(event: JobEventName, job: Job): BusMessage {
    const { input: _i, output: _o, attempts: _a, ...summary } = job;
    return { kind: 'job', event, id: job.id, job: summary };
  }

  private receive(m: BusMessage): void {
    switch (m.kind) {
      case 'job':
        void this.jobEvent(m.event, m.id, m.job);
        return;
      case 'progress':
        this.remote.emit('job:progress', m.event);
        return;
      case 'closed':
        // Known closed before closing: the change this makes is not sent back.
        this.breakers.set(m.provider, 'closed');
        this.d.closeBreaker(m.provider);
        break;
      case 'pause':
        this.d.pause(m.provider, m.until);
        return;
      case 'providers':
        this.d.reloadProviders().catch((err: unknown) => this.d.onError(err));
        return;
      case 'keys':
        this.d.reloadKeys().catch((err: unknown) => this.d.onError(err));
        return;
    }
  }

  private async jobEvent(event: JobEventName, id: string, summary: JobSummary | undefined): Promise<void> {
    if (event === 'job:cancelled') this.d.abort(id, new SwitchyardError('SWY_CANCELLED', 'the job was cancelled'));
    const ended = TERMINAL.has(event);
    if (ended) this.d.wake(id);
    // A new or requeued job, a retry's new due time, or a freed slot of a capped tenant. Other jobs
    // that started or ended free nothing a claim here could use: waking for them would only cost
    // every other process an empty claim. (A summary too large to travel leaves the tenant unknown.)
    if (event !== 'job:started' && (!ended || summary === undefined || this.d.capped(summary.tenant))) this.d.notify();
    let job = summary;
    if (job === undefined) {
      try {
        job = await this.d.store.getJob(id);
      } catch (err) {
        this.d.onError(err);
        return;
      }
      if (job === undefined) return;
    }
    // Summaries travel as jobs without input and output; listeners of remote events know it.
    (this.remote.emit as (e: EngineEventName, j: Job) => boolean)(event, { ...(job as Job), input: undefined, output: undefined });
  }

  /** After messages may have been missed: wake the claim, re-read caches, wake waiters whose job ended. */
  private async catchUp(): Promise<void> {
    this.d.notify();
    try {
      await Promise.all([this.d.reloadProviders(), this.d.reloadKeys()]);
      for (const id of [...this.d.waiting()]) {
        const job = await this.d.store.getJob(id);
        if (job && (job.status === 'completed' || job.status === 'failed' || job.status === 'cancelled')) this.d.wake(id);
      }
    } catch (err) {
      this.d.onError(err);
    }
  }

  /** While not listening: poll every `pollMs`. */
  private schedulePoll(): void {
    clearTimeout(this.pollTimer);
    if (this.stopped || this.d.bus.listening) return;
    this.pollTimer = setTimeout(() => {
      void this.catchUp().finally(() => this.schedulePoll());
    }, this.d.pollMs);
    this.pollTimer.unref();
  }
}
