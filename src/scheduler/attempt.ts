/**
 * One attempt in flight: its lease, its abort, the provider calls it made, and the hooks its
 * handler calls back through. One object per attempt rather than a closure per hook: at tens of
 * thousands of attempts a second, each closure and listener is garbage the main thread collects.
 */
import type { Logger } from 'pino';
import { SwitchyardError } from '../errors.js';
import type { EngineEmitter } from '../events.js';
import type { Job, UsageRecord } from '../domain/jobs.js';
import type { AttemptHooks } from '../pool/pool.js';
import type { LlmRequest, LlmResponse } from '../domain/providers.js';
import type { ChatDelta } from '../domain/chat.js';
import type { Router } from '../providers/router.js';
import type { AttemptRef, Store } from '../store/store.js';
import type { Budgets } from '../keys/budgets.js';
import type { TokenStreams } from '../jobs/token-stream.js';
import { LazyAbort } from './abort.js';

/** What every attempt of one scheduler shares. */
export interface AttemptDeps {
  store: Store;
  router: Router;
  budgets: Budgets;
  /** Followers of jobs' tokens: a followed job's calls stream. */
  tokens: TokenStreams;
  events: EngineEmitter;
  log: Logger;
}

function timeOut(a: RunningAttempt): void {
  a.abort(new SwitchyardError('SWY_TIMEOUT', `attempt ${a.job.attempt} exceeded its ${a.job.timeoutMs} ms timeout`));
}

/** An attempt is also its own store reference (job, lease token, owner), and its own abort. */
export class RunningAttempt extends LazyAbort implements AttemptHooks, AttemptRef {
  /** Every provider call made, failed ones too: usage rows and cost. */
  readonly calls: UsageRecord[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly job: Job,
    readonly leaseToken: string,
    readonly owner: string,
    private readonly d: AttemptDeps,
  ) {
    super();
    this.timer = setTimeout(timeOut, job.timeoutMs, this);
  }

  /** Who answered the last successful call (the job records it). */
  answeredBy(): { provider: string | null; model: string | null } {
    for (let i = this.calls.length - 1; i >= 0; i--) {
      const c = this.calls[i] as UsageRecord;
      if (c.outcome === 'ok') return { provider: c.provider, model: c.model };
    }
    return { provider: null, model: null };
  }

  /** The handler has returned (or thrown): the timeout no longer applies. */
  ended(): void {
    clearTimeout(this.timer);
    this.d.tokens.end(this.job.id);
  }

  /**
   * One LLM call. It streams when someone follows the job, or when a chat job asked to (`stream:
   * true`, as the fronts' streamed requests do): each piece then goes to the job's followers.
   */
  llm(request: LlmRequest): Promise<LlmResponse> {
    const { job } = this;
    const streams = (job.type === 'chat' && (job.input as { stream?: unknown } | null)?.stream === true) || this.d.tokens.followed(job.id);
    let onDelta: ((d: ChatDelta) => void) | undefined;
    if (streams) {
      this.d.tokens.begin(job.id, job.attempt);
      onDelta = (d) => this.d.tokens.push(job.id, d);
    }
    return this.d.router.call(request, this, this.calls, this.d.budgets.of(job.tenant), onDelta);
  }

  progress(value: number): void {
    if (!Number.isFinite(value)) return;
    const { job } = this;
    this.d.events.emit('job:progress', { jobId: job.id, tenant: job.tenant, type: job.type, attempt: job.attempt, value });
    this.d.store.setProgress(this, value).catch((err: unknown) => this.d.events.emit('engine:error', err));
  }

  log(level: string, msg: string): void {
    this.d.log[level as 'info']?.({ jobId: this.job.id, attempt: this.job.attempt }, msg);
  }
}
