/**
 * The scheduler claims due jobs only while it has free capacity, runs each attempt in the pool, and
 * records the outcome through the store, fenced by the attempt's lease token. It wakes at once on
 * submit; its only timers are the next delayed job and the lease heartbeat.
 */
import type { Logger } from 'pino';
import type { EngineConfig } from '../config.js';
import { SwitchyardError, type ErrorInfo } from '../errors.js';
import type { EngineEmitter } from '../events.js';
import type { JobType, JobTypes } from '../jobs/registry.js';
import { randomBytes } from 'node:crypto';
import type { AttemptResult, ClaimedJob, DirectResult, Job, NewJob } from '../domain/jobs.js';
import { newJobToJob } from '../store/rows.js';
import type { Pool } from '../pool/pool.js';
import type { TaskResult } from '../pool/messages.js';
import type { Router } from '../providers/router.js';
import type { Budgets } from '../keys/budgets.js';
import type { TokenStreams } from '../jobs/token-stream.js';
import type { Store } from '../store/store.js';
import type { ClaimPolicy } from '../store/fair-share.js';
import { retryDelay } from './backoff.js';
import { RunningAttempt } from './attempt.js';
import { runInline } from './inline.js';

export interface SchedulerDeps {
  store: Store;
  pool: Pool;
  types: JobTypes;
  router: Router;
  /** How a claim is shared between tenants. */
  policy: ClaimPolicy;
  /** Tenants' daily budgets, reserved against before each provider call. */
  budgets: Budgets;
  /** Followers of jobs' tokens. */
  tokens: TokenStreams;
  events: EngineEmitter;
  config: EngineConfig;
  /** This process's lease owner id. */
  owner: string;
  log: Logger;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long a job waits when every provider is unavailable and none said until when. */
const DEFAULT_DEFER_MS = 250;
/** How long an attempt's outcome is tried again while the store is unavailable (a database restart or failover). */
const OUTCOME_RETRY_MS = 300_000;
const MIN_DEFER_MS = 50;
/**
 * Longest that free slots wait for more to free up before they are refilled anyway, ms: without
 * it, slots freed by the last attempts of a burst stayed empty until the next attempt ended, a
 * whole LLM latency later.
 */
const REFILL_WAIT_MS = 10;

export class Scheduler {
  private readonly running = new Map<string, RunningAttempt>();
  /** A stop's timeout passed: outcomes that cannot be written are not tried again. */
  private givingUp = false;
  /** Jobs started by `runNow`: not in the store until their attempt ends. */
  private readonly direct = new Map<string, Job>();
  /**
   * Attempts claimed and not yet recorded. The claim takes only as many jobs as there are free
   * slots, so this count is the concurrency limit; a p-queue in front of the attempts would enforce
   * it a second time, at the price of promises and closures per job.
   */
  private inFlight = 0;
  /** Resolved when the last attempt in flight is recorded (stop waits for them). */
  private idleWaiters: (() => void)[] = [];
  private accepting = false;
  private claiming = false;
  /** Settles when the claim under way (if any) has handed its jobs out: stop waits for it. */
  private claimDone: Promise<void> = Promise.resolve();
  private again = false;
  /**
   * The last claim found fewer jobs than it asked for: until something announces more (a submit, a
   * notification, a timer), an attempt that ends has nothing new to claim.
   */
  private drained = false;
  private wakeScheduled = false;
  private delayTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private heartbeat: NodeJS.Timeout | undefined;

  /** Free slots needed before claiming again while attempts are in flight. */
  private readonly lowWater: number;
  /** Since when free slots have been waiting below `lowWater` (epoch ms). */
  private shortSince: number | undefined;

  constructor(private readonly d: SchedulerDeps) {
    this.lowWater = Math.max(1, Math.min(d.config.claimBatch, Math.ceil(d.config.concurrency / 8)));
  }

  /** Attempts claimed and not yet recorded. */
  get active(): number {
    return this.inFlight;
  }

  async start(): Promise<void> {
    if (this.accepting) return;
    this.accepting = true;
    await this.sweep();
    this.heartbeat = setInterval(() => void this.sweep(), this.d.config.heartbeatMs);
    this.notify();
  }

  /** Something may be claimable: claim on the next turn (coalesced). */
  notify(): void {
    if (this.wakeScheduled || !this.accepting) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      void this.pump();
    });
  }

  /**
   * Something may be claimable, announced by another process: claim in `ms` (0: on the next turn).
   * Every announcement until then shares that claim, and an earlier wake-up already armed covers it.
   */
  notifyIn(ms: number): void {
    if (ms <= 0) this.notify();
    else if (!this.wakeScheduled && this.accepting) this.wakeIn(ms);
  }

  /** Whether claims hold `tenant` to a cap (a key's `maxConcurrency`, or a budget its calls in flight hold). */
  capped(tenant: string): boolean {
    return this.d.policy.cap(tenant) !== undefined;
  }

  /** Abort a running attempt (its job was cancelled); true if it was running here. */
  abort(jobId: string, reason: SwitchyardError): boolean {
    const r = this.running.get(jobId);
    if (!r) return false;
    r.abort(reason);
    return true;
  }

  /**
   * Stop claiming, let attempts in flight finish up to `timeoutMs`, then abort the rest and put
   * them back to queued without spending their attempt.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.accepting = false;
    clearTimeout(this.delayTimer);
    // Jobs a claim under way takes are this process's to run or put back: they count as in flight.
    await this.claimDone;
    const idle = this.onIdle();
    let timer: NodeJS.Timeout | undefined;
    const expired = await Promise.race([
      idle.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (expired) {
      this.givingUp = true;
      const reason = new SwitchyardError('SWY_SHUTTING_DOWN', 'the engine is stopping');
      for (const r of this.running.values()) r.abort(reason);
      await idle;
    }
    clearInterval(this.heartbeat);
  }

  private onIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async pump(): Promise<void> {
    if (!this.accepting) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = true;
    let claimed!: () => void;
    this.claimDone = new Promise((resolve) => (claimed = resolve));
    try {
      for (;;) {
        this.again = false;
        // Asked to claim: until a claim comes up short, jobs may be waiting (for a free slot too).
        this.drained = false;
        const free = this.d.config.concurrency - this.inFlight;
        // Refill in batches, not one slot at a time: each claim is a write. An idle engine
        // (nothing in flight) always claims at once, so a lone job never waits.
        if (free <= 0 || !this.accepting) break;
        if (this.inFlight > 0 && free < this.lowWater) {
          this.shortSince ??= Date.now();
          const waited = Date.now() - this.shortSince;
          if (waited < REFILL_WAIT_MS) {
            this.wakeIn(REFILL_WAIT_MS - waited);
            break;
          }
        }
        this.shortSince = undefined;
        const want = Math.min(free, this.d.config.claimBatch);
        const claimedAt = Date.now();
        const claimed = await this.d.store.claimJobs(this.d.owner, want, this.d.config.leaseMs, this.d.policy);
        for (const c of claimed) {
          this.inFlight++;
          void this.execute(c);
        }
        this.drained = claimed.length < want && !this.again;
        if (this.drained) {
          await this.armDelayTimer(claimedAt);
          break;
        }
      }
    } catch (err) {
      this.d.log.error({ err }, 'claiming jobs failed; retrying in 1 s');
      this.d.events.emit('engine:error', err);
      this.wakeIn(1000);
    } finally {
      this.claiming = false;
      claimed();
    }
  }

  /**
   * Wake when the next job falls due. Counted from before the claim, not from now: a job that fell
   * due between the claim and this read (a retry's or a deferred job's runAt a moment away) must
   * still arm the timer, or it would wait for the next heartbeat. Jobs that were due at the claim
   * and not taken (a tenant at its cap) are woken for by that tenant's next finished job instead.
   */
  private async armDelayTimer(claimedAt: number): Promise<void> {
    const next = await this.d.store.nextRunAt(claimedAt);
    if (next === null) return;
    this.wakeIn(next - Date.now());
  }

  /** Wake in `ms` unless a wake-up is already armed for earlier. */
  private wakeIn(ms: number): void {
    const at = Date.now() + Math.max(0, ms);
    if (this.delayTimer && at >= this.wakeAt) return;
    clearTimeout(this.delayTimer);
    this.wakeAt = at;
    this.delayTimer = setTimeout(
      () => {
        this.delayTimer = undefined;
        this.wakeAt = Infinity;
        this.notify();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, ms)),
    );
  }

  /** Heartbeat: renew our leases, requeue jobs whose lease expired (a dead or stalled process). */
  private async sweep(): Promise<void> {
    try {
      if (this.running.size > 0) await this.d.store.renewLeases(this.d.owner, this.d.config.leaseMs);
      // With several processes on one database, one of them sweeps each round. It is due again a
      // little before the next heartbeat, so that timers drifting apart do not skip a round.
      const { store, owner, config } = this.d;
      const mine = store.takeTurn ? await store.takeTurn('lease-sweep', owner, Math.floor(config.heartbeatMs * 0.8)) : true;
      const requeued = mine ? await store.requeueExpired() : [];
      for (const job of requeued) {
        this.d.log.warn({ jobId: job.id, attempt: job.attempt }, 'lease expired; job requeued');
        if (job.status === 'failed') this.d.events.emit('job:failed', job);
        else this.d.events.emit('job:queued', job, 'requeued');
      }
      // Also a safety net for jobs that no submit announced (written by another process).
      this.notify();
    } catch (err) {
      this.d.log.error({ err }, 'lease sweep failed');
      this.d.events.emit('engine:error', err);
    }
  }

  /**
   * Start `row` at once on a free slot, without storing it first; undefined when no slot is free
   * or its tenant has a cap (it is then queued as any other job). The job is stored when its
   * attempt ends, as that attempt left it: a crash mid-run leaves nothing to run again for a
   * client that is gone, and a run that must wait (a retry, every provider down) is stored queued
   * and goes on as any other job. What the fronts use for synchronous requests.
   */
  runNow(row: NewJob): Job | undefined {
    if (!this.accepting || this.inFlight >= this.d.config.concurrency || row.idempotencyKey !== null) return undefined;
    if (this.d.policy.cap(row.tenant) !== undefined || row.runAt > Date.now()) return undefined;
    this.inFlight++;
    const startedAt = Date.now();
    const job: Job = { ...newJobToJob(row), status: 'running', attempt: 1, startedAt: new Date(startedAt).toISOString() };
    const leaseToken = randomBytes(8).toString('hex');
    this.direct.set(job.id, job);
    this.d.events.emit('job:queued', newJobToJob(row), 'submitted');
    void this.execute({ job, leaseToken }, { row, startedAt });
    return job;
  }

  /** A job started by `runNow` that is running now. */
  runningNow(id: string): Job | undefined {
    return this.direct.get(id);
  }

  /** Jobs started by `runNow` and running now (not in the store yet). */
  get runningNowCount(): number {
    return this.direct.size;
  }

  private async execute({ job, leaseToken }: ClaimedJob, direct?: { row: NewJob; startedAt: number }): Promise<void> {
    const attempt = new RunningAttempt(job, leaseToken, this.d.owner, this.d);
    this.running.set(job.id, attempt);
    this.d.events.emit('job:started', job);
    let result: TaskResult;
    try {
      result = await this.runAttempt(attempt);
    } finally {
      attempt.ended();
      this.running.delete(job.id);
    }
    try {
      if (direct) {
        await this.recordRun(attempt, result, direct);
        return;
      }
      const outcome = this.decide(attempt, result);
      const written = await this.writeOutcome(attempt, outcome);
      if (!written) {
        this.d.events.emit('job:superseded', { jobId: job.id, attempt: job.attempt });
      } else {
        this.emitOutcome(written, outcome);
      }
    } catch (err) {
      // The lease will expire and the job will be retried: at least once, recorded once.
      this.d.log.error({ err, jobId: job.id }, 'recording an attempt failed');
      this.d.events.emit('engine:error', err);
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      // A freed slot is worth a claim when the last one left jobs behind, or when this job's
      // tenant is capped (its next job may have been passed over at the cap).
      if (!this.drained || this.capped(job.tenant)) this.notify();
    }
  }

  /**
   * Write an attempt's outcome. While the store is unavailable (a database restarting), the write
   * is tried again, backing off to 1 s, for up to OUTCOME_RETRY_MS or until a stop gives up: the
   * provider's answer, already paid for, is recorded when the database returns rather than paid
   * again by a retry after the lease expires. Each try is fenced by the lease token: if another
   * process took the job over meanwhile, the write finds it so and records nothing.
   */
  private async writeOutcome(attempt: RunningAttempt, outcome: AttemptResult): Promise<Job | undefined> {
    const until = Date.now() + OUTCOME_RETRY_MS;
    for (let delay = 50, tries = 1; ; delay = Math.min(delay * 2, 1000), tries++) {
      try {
        const written = await this.d.store.finishAttempt(attempt, outcome);
        if (tries > 1) this.d.log.info({ jobId: attempt.job.id, tries }, 'outcome written once the store was back');
        return written;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SWY_STORE_UNAVAILABLE' || this.givingUp || Date.now() + delay > until) throw err;
        if (tries === 1)
          this.d.log.warn({ jobId: attempt.job.id, err }, 'the store is unavailable: the outcome is written when it returns');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Store a job run at once, as its attempt left it (cancelled when its abort was a cancel, or shutdown's). */
  private async recordRun(attempt: RunningAttempt, result: TaskResult, direct: { row: NewJob; startedAt: number }): Promise<void> {
    const reason = attempt.reason as { code?: string } | undefined;
    let outcome: DirectResult = this.decide(attempt, result);
    if (attempt.aborted && (reason?.code === 'SWY_CANCELLED' || reason?.code === 'SWY_SHUTTING_DOWN')) {
      // Its client is gone (or the engine stops): nobody waits for a later run.
      outcome = {
        kind: 'cancelled',
        error: { code: reason.code, message: (reason as { message?: string }).message ?? 'cancelled', retryable: false },
        calls: attempt.calls,
      };
    }
    try {
      const written = await this.d.store.recordRun(
        direct.row,
        { leaseToken: attempt.leaseToken, owner: this.d.owner, startedAt: direct.startedAt },
        outcome,
      );
      if (outcome.kind === 'cancelled') this.d.events.emit('job:cancelled', written);
      else this.emitOutcome(written, outcome);
    } finally {
      this.direct.delete(attempt.job.id);
    }
  }

  private runAttempt(attempt: RunningAttempt): Promise<TaskResult> {
    const { job } = attempt;
    let type: JobType;
    try {
      type = this.d.types.get(job.type);
    } catch (err) {
      return Promise.resolve({ ok: false, error: { ...(err as SwitchyardError).toInfo(), retryable: true } });
    }
    if (type.inline) return runInline(type.inline, { jobId: job.id, input: job.input, attempt: job.attempt }, attempt);
    return this.d.pool.run(
      {
        jobId: job.id,
        type: job.type,
        handlerUrl: type.handlerUrl,
        input: job.input,
        attempt: job.attempt,
        maxOutputBytes: this.d.config.maxOutputBytes,
      },
      attempt,
    );
  }

  private decide(attempt: RunningAttempt, result: TaskResult): AttemptResult {
    const { job, calls } = attempt;
    if (result.ok) {
      const by = attempt.answeredBy();
      return {
        kind: 'completed',
        output: result.output,
        provider: by.provider,
        model: by.model,
        calls,
        outputIsJson: result.outputIsJson === true,
      };
    }
    const reason = attempt.reason as { code?: string } | undefined;
    if (attempt.aborted && reason?.code === 'SWY_SHUTTING_DOWN') return { kind: 'released', calls };
    const error: ErrorInfo = result.error;
    if (error.code === 'SWY_NO_PROVIDER_AVAILABLE' || (error.code === 'SWY_BUDGET_EXCEEDED' && error.retryable)) {
      // Wait for a provider (or the tenant's budget) instead of failing or spending attempts.
      return { kind: 'deferred', error, runAt: Date.now() + Math.max(MIN_DEFER_MS, error.retryAfterMs ?? DEFAULT_DEFER_MS), calls };
    }
    if (error.retryable && error.code !== 'SWY_BUDGET_EXCEEDED' && job.attempt < job.maxAttempts) {
      const delay = retryDelay(job.attempt, { baseMs: this.d.config.retryBaseMs, maxMs: this.d.config.retryMaxMs }, error.retryAfterMs);
      return { kind: 'retry', error, runAt: Date.now() + delay, calls };
    }
    return { kind: 'failed', error, calls };
  }

  private emitOutcome(job: Job, outcome: AttemptResult): void {
    switch (outcome.kind) {
      case 'completed':
        this.d.events.emit('job:completed', job);
        break;
      case 'failed':
        this.d.events.emit('job:failed', job);
        break;
      case 'retry':
        this.d.events.emit('job:retrying', job);
        this.wakeIn(Date.parse(job.runAt) - Date.now());
        break;
      case 'released':
        this.d.events.emit('job:queued', job, 'requeued');
        break;
      case 'deferred':
        this.d.events.emit('job:deferred', job);
        this.wakeIn(Date.parse(job.runAt) - Date.now());
        break;
    }
  }
}
