/**
 * Provider limits shared by the processes of one database. Each process holds an allowance per
 * limited provider (concurrency slots, and a slice of the per-minute calls and tokens) and renews
 * it from the store's ledger every `refreshMs`, asking for what it used and was refused since the
 * last renewal; a provider that refuses a call for want of allowance renews at once. The ledger
 * keeps the sum of every process's allowances within the limits (see store/postgres/limits.ts).
 */
import type { ProviderConfig } from '../domain/providers.js';
import type { LimitLedger, LimitRequest } from '../store/store.js';

/** A provider's default concurrency: a provider left at it has no concurrency limit worth sharing. */
export const UNSHARED_CONCURRENCY = 1000;
/** Least time between the end of one renewal and the start of the next, ms. */
const MIN_GAP_MS = 50;

/** One provider's allowance in this process. */
export class Allowance {
  slots = 0;
  calls = 0;
  tokens = 0;
  until = 0;
  grant: number | undefined;
  /** Since the last renewal: calls and tokens taken, refused, and tokens used past estimates. */
  usedCalls = 0;
  usedTokens = 0;
  refusedCalls = 0;
  refusedTokens = 0;
  correction = 0;
  inFlight = 0;

  constructor(
    readonly config: ProviderConfig,
    private readonly owner: SharedLimits,
  ) {}

  /** Whether a call estimated at `tokens` fits this process's allowance now (a refusal renews it soon). */
  allows(tokens: number): boolean {
    const fits = this.fits(tokens);
    if (!fits) {
      this.refusedCalls++;
      this.refusedTokens += tokens;
      this.owner.kick();
    }
    return fits;
  }

  /** Whether a call estimated at `tokens` fits now (without counting a refusal). */
  fits(tokens: number): boolean {
    const now = Date.now();
    const { rpm, tpm } = this.config;
    return (
      this.inFlight < this.slots &&
      (rpm === null || (this.calls > 0 && now < this.until)) &&
      (tpm === null || (this.tokens >= tokens && now < this.until))
    );
  }

  /** When to look again after a refusal (epoch ms): once the renewal asked for has landed. */
  reopensAt(): number {
    return this.owner.nextRenewal();
  }

  take(tokens: number): void {
    this.inFlight++;
    this.calls--;
    this.tokens -= tokens;
    this.usedCalls++;
    this.usedTokens += tokens;
  }

  /** A call ended: its slot is free, and it used `actual` tokens against its estimate. */
  settle(estimate: number, actual: number): void {
    this.inFlight--;
    this.correction += actual - estimate;
  }

  request(): LimitRequest {
    const { rpm, tpm, maxConcurrency } = this.config;
    const r: LimitRequest = {
      provider: this.config.name,
      rpm,
      tpm,
      maxConcurrency,
      // One slot of headroom, so that a lone call need not wait for a renewal.
      slots: Math.min(maxConcurrency, this.inFlight + Math.max(1, this.refusedCalls)),
      slotsInUse: this.inFlight,
      calls: rpm === null ? 0 : Math.min(rpm, this.usedCalls + this.refusedCalls + 1),
      tokens: tpm === null ? 0 : Math.min(tpm, this.usedTokens + this.refusedTokens + 1),
    };
    if (this.grant !== undefined) {
      r.previous = {
        grant: this.grant,
        unusedCalls: Math.max(0, this.calls),
        unusedTokens: Math.max(0, this.tokens),
        tokenCorrection: this.correction,
      };
    }
    // What is not used of the slice is given back now: no call may start on it while the ledger
    // counts it as returned, nor on slots beyond those in use, until the renewal lands.
    this.calls = 0;
    this.tokens = 0;
    this.slots = this.inFlight;
    this.usedCalls = 0;
    this.usedTokens = 0;
    this.refusedCalls = 0;
    this.refusedTokens = 0;
    this.correction = 0;
    return r;
  }
}

export class SharedLimits {
  private readonly allowances = new Map<string, Allowance>();
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private soon: NodeJS.Timeout | undefined;
  private again = false;
  private renewedAt = Date.now();
  private stopped = false;

  constructor(
    private readonly ledger: LimitLedger,
    private readonly node: string,
    private readonly onError: (err: unknown) => void,
    private readonly refreshMs = 250,
  ) {}

  /** The allowance of a provider whose limits are shared; undefined when it has none to share. */
  register(config: ProviderConfig): Allowance | undefined {
    if (config.rpm === null && config.tpm === null && config.maxConcurrency >= UNSHARED_CONCURRENCY) return undefined;
    const a = new Allowance(config, this);
    this.allowances.set(config.name, a);
    this.kick();
    return a;
  }

  unregister(a: Allowance): void {
    if (this.allowances.get(a.config.name) === a) this.allowances.delete(a.config.name);
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), this.refreshMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.soon);
    await this.renewing;
    await this.ledger.release(this.node).catch((err: unknown) => this.onError(err));
  }

  /** When the renewal under way (or the next) should have landed (epoch ms). */
  nextRenewal(): number {
    return Math.max(Date.now() + 10, this.renewedAt + MIN_GAP_MS);
  }

  /**
   * Renew soon: at once, unless a renewal is under way or landed less than `MIN_GAP_MS` ago (a
   * renewal holds back new calls while it runs: back to back, none would start).
   */
  kick(): void {
    if (this.stopped || this.allowances.size === 0 || this.soon) return;
    if (this.renewing) {
      this.again = true;
      return;
    }
    const wait = this.renewedAt + MIN_GAP_MS - Date.now();
    if (wait > 0) {
      this.soon = setTimeout(() => {
        this.soon = undefined;
        this.kick();
      }, wait);
      this.soon.unref();
      return;
    }
    this.renewing = this.renew().finally(() => {
      this.renewing = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async renew(): Promise<void> {
    const list = [...this.allowances.values()];
    try {
      const grants = await this.ledger.lease(
        this.node,
        list.map((a) => a.request()),
      );
      grants.forEach((g, i) => {
        const a = list[i] as Allowance;
        a.slots = g.slots;
        a.calls = g.calls;
        a.tokens = g.tokens;
        a.grant = g.grant;
        a.until = g.until;
      });
      this.renewedAt = Date.now();
    } catch (err) {
      // Without a renewal the allowances run out: calls wait (deferred), they never pass the limits.
      for (const a of list) {
        a.calls = 0;
        a.tokens = 0;
        a.grant = undefined;
      }
      this.onError(err);
    }
  }
}
