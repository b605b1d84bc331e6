/**
 * One attempt in flight: its lease, its abort, the provider calls it made, and the hooks its
 * handler calls back through. One object per attempt rather than a closure per hook: at tens of
 * thousands of attempts a second, each closure and listener is garbage the main thread collects.
 */
import type { Logger } from 'pino';
import { SwitchyardError } from '../errors.js';
import type { EngineEmitter } from '../events.js';
import type { Job, UsageRecord } from '../jobs/types.js';
import type { AttemptHooks } from '../pool/pool.js';
import type { LlmRequest, LlmResponse } from '../providers/types.js';
import type { Router } from '../providers/router.js';
import type { AttemptRef, Store } from '../store/store.js';

/** What every attempt of one scheduler shares. */
export interface AttemptDeps {
  store: Store;
  router: Router;
  events: EngineEmitter;
  log: Logger;
}

function timeOut(a: Attempt): void {
  a.controller.abort(new SwitchyardError('SWY_TIMEOUT', `attempt ${a.job.attempt} exceeded its ${a.job.timeoutMs} ms timeout`));
}

export class Attempt implements AttemptHooks {
  readonly controller = new AbortController();
  /** Every provider call made, failed ones too: usage rows and cost. */
  readonly calls: UsageRecord[] = [];
  /** Who answered the last successful call. */
  provider: string | null = null;
  model: string | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(readonly ref: AttemptRef, private readonly d: AttemptDeps) {
    this.timer = setTimeout(timeOut, ref.job.timeoutMs, this);
  }

  get job(): Job {
    return this.ref.job;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The handler has returned (or thrown): the timeout no longer applies. */
  ended(): void {
    clearTimeout(this.timer);
  }

  async llm(request: LlmRequest, signal: AbortSignal): Promise<LlmResponse> {
    const res = await this.d.router.call(request, signal, this.calls);
    this.provider = res.provider;
    this.model = res.model;
    return res;
  }

  progress(value: number): void {
    if (!Number.isFinite(value)) return;
    const { job } = this.ref;
    this.d.events.emit('job:progress', { jobId: job.id, tenant: job.tenant, type: job.type, attempt: job.attempt, value });
    this.d.store.setProgress(this.ref, value).catch((err: unknown) => this.d.events.emit('engine:error', err));
  }

  log(level: string, msg: string): void {
    this.d.log[level as 'info']?.({ jobId: this.ref.job.id, attempt: this.ref.job.attempt }, msg);
  }
}
