/**
 * The engine's core: builds the store's users (the provider registry and router, the pool, the
 * scheduler, keys and budgets); starts and stops them in order; emits the typed events. Features
 * built on top (the Batch API) are attached from outside by src/engine.ts, the composition root.
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { EngineConfig } from '../config.js';
import { SwitchyardError } from '../errors.js';
import { Cluster } from './cluster.js';
import { SharedLimits } from '../providers/shared-limits.js';
import { EngineEmitter, type EngineEventName, type EngineEvents } from '../events.js';
import { JobTypes, type JobTypeOptions } from '../jobs/registry.js';
import {
  TERMINAL_STATUSES,
  type Job,
  type JobPage,
  type ListJobsQuery,
  type NewJob,
  type Stats,
  type StatusCounts,
  type SubmitJob,
} from '../domain/jobs.js';
import { Pool } from '../pool/pool.js';
import { type ManagedProvider, ProviderRegistry, type ProviderInput, type ProviderPatch } from '../providers/registry.js';
import { Router } from '../providers/router.js';
import { HostPolicy } from '../providers/addresses.js';
import type { ProbeResult, PublicProvider } from '../domain/providers.js';
import { Retention } from '../scheduler/retention.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { Throughput } from '../usage/throughput.js';
import type { UsageQuery, UsageReport } from '../domain/usage.js';
import type { BackupResult, InsertResult, Store } from '../store/store.js';
import { checkInputs, validateSubmit } from '../jobs/submit.js';
import { SchemaChecker } from '../schema/checker.js';
import { TokenStreams, type TokenEvent } from '../jobs/token-stream.js';
import { KeyRing } from '../keys/keyring.js';
import { Sessions } from '../keys/sessions.js';
import { Budgets } from '../keys/budgets.js';
import { DEFAULT_TENANT, type TenantScope } from '../domain/keys.js';
import { FairShare } from '../store/fair-share.js';

/** Provider administration, live: changes apply to the next call. */
export interface ProviderAdmin {
  list(): PublicProvider[];
  get(name: string): PublicProvider;
  add(input: ProviderInput): Promise<PublicProvider>;
  update(name: string, patch: ProviderPatch): Promise<PublicProvider>;
  remove(name: string): Promise<void>;
  /** Probe a provider now with one tiny call; success clears a misconfiguration and an open breaker. */
  check(name: string): Promise<ProbeResult>;
}

/** Readiness of each part; `ok` is false while any part is not ready. */
export interface Readiness {
  ok: boolean;
  parts: { store: boolean; pool: boolean; scheduler: boolean };
}

/** A part attached to the engine from outside: started after the scheduler, stopped before it. */
export interface EngineFeature {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The engine without the features attached to it; applications use `Engine` from `createEngine()`. */
export class EngineCore {
  readonly config: EngineConfig;
  readonly providers: ProviderAdmin;
  /** API keys (tenants): create, list, revoke; the HTTP layer authenticates with it. */
  readonly keys: KeyRing;
  /** Web console sessions, kept in the store. */
  readonly sessions: Sessions;
  private readonly budgets: Budgets;
  /** Unique per process: the owner of the leases this engine takes. */
  readonly instanceId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly events = new EngineEmitter();
  /**
   * Job events of the other processes sharing the database (PostgreSQL), with jobs as summaries
   * (no input or output); silent on SQLite. Event streams listen to both.
   */
  readonly remoteEvents: EngineEmitter;
  private readonly cluster: Cluster | undefined;
  /** Provider limits kept with the other processes of a shared database. */
  private readonly shared: SharedLimits | undefined;
  private readonly schemas: SchemaChecker;
  private readonly tokens: TokenStreams;
  private readonly types: JobTypes;
  private readonly registry: ProviderRegistry;
  private readonly router: Router;
  private readonly log: Logger;
  private pool: Pool | undefined;
  private scheduler: Scheduler | undefined;
  private readonly retention: Retention;
  private healthTimer: NodeJS.Timeout | undefined;
  private readonly throughput = new Throughput();
  private state: 'new' | 'starting' | 'started' | 'stopping' | 'stopped' = 'new';
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly waiters = new Map<string, Set<(job?: Job) => void>>();
  /** The last write probe of readiness, shared by the probes of the next second. */
  private writeProbe: { at: number; settled: boolean; ok: boolean; done: Promise<boolean> } | undefined;

  private readonly features: EngineFeature[] = [];

  /** Use `createEngine()`. */
  constructor(
    config: EngineConfig,
    protected readonly store: Store,
  ) {
    this.config = config;
    this.log = config.logger ?? pino({ level: 'silent' });
    this.schemas = new SchemaChecker({ maxBytes: config.maxSchemaBytes, timeoutMs: config.schemaTimeoutMs });
    this.tokens = new TokenStreams(config.maxOutputBytes);
    this.retention = new Retention(store, config, this.log, this.instanceId);
    this.sessions = new Sessions(store);
    this.keys = new KeyRing(
      store,
      (err) => this.events.emit('engine:error', err),
      () => this.cluster?.changed('keys'),
    );
    this.budgets = new Budgets(store, this.keys, () => this.scheduler?.notify());
    this.shared = store.limits && new SharedLimits(store.limits, this.instanceId, (err) => this.events.emit('engine:error', err));
    const takeTurn = store.bus && store.takeTurn?.bind(store);
    const providerEnv = {
      maxOutputBytes: config.maxOutputBytes,
      hosts: new HostPolicy(config.providerHosts),
      shared: this.shared,
      probeTurn: takeTurn && ((provider: string, everyMs: number) => takeTurn(`probe:${provider}`, this.instanceId, everyMs)),
    };
    this.registry = new ProviderRegistry(
      store,
      providerEnv,
      (p) => this.events.emit('provider:state', { name: p.name, state: p.state() }),
      () => this.cluster?.changed('providers'),
    );
    this.router = new Router(
      () => this.registry.all(),
      {
        onCall: (r) => this.events.emit('provider:call', r),
        onFailover: (from, to) => this.events.emit('provider:failover', { from, to }),
      },
      config.routing,
      config.budgetReserveTokens,
    );
    this.types = new JobTypes(this.schemas, (req) => this.router.unsupported(req));
    const r = this.registry;
    this.providers = {
      list: () => r.list(),
      get: (name) => r.get(name),
      add: (input) => r.add(input),
      update: (name, patch) => r.update(name, patch),
      remove: (name) => r.remove(name),
      check: (name) => r.check(name),
    };
    const wake = (job: Job) => {
      const set = this.waiters.get(job.id);
      if (set) for (const fn of set) fn(job);
    };
    this.events.on('job:completed', wake);
    this.events.on('job:failed', wake);
    this.events.on('job:completed', () => this.throughput.add());
    this.events.on('job:failed', () => this.throughput.add());
    this.events.on('job:cancelled', wake);
    this.cluster =
      store.bus &&
      new Cluster({
        bus: store.bus,
        store,
        events: this.events,
        wake: (id) => {
          const set = this.waiters.get(id);
          if (set) for (const fn of set) fn(undefined);
        },
        waiting: () => this.waiters.keys(),
        notify: () => this.scheduler?.notifyIn(config.databaseWakeDelayMs),
        capped: (tenant) => this.scheduler?.capped(tenant) ?? false,
        abort: (id, reason) => this.scheduler?.abort(id, reason),
        reloadProviders: () => this.registry.reload(),
        pause: (provider, until) => this.registry.pause(provider, until),
        closeBreaker: (provider) => this.registry.closeBreaker(provider),
        reloadKeys: () => this.keys.load(),
        onError: (err) => this.events.emit('engine:error', err),
        pollMs: config.databasePollMs,
      });
    this.remoteEvents = this.cluster?.remote ?? new EngineEmitter();
  }

  /** Attach a feature, before `start()`. */
  protected attach(feature: EngineFeature): void {
    this.features.push(feature);
  }

  /** @internal Load (or seed) the providers and load the keys; `createEngine()` calls it. */
  async init(): Promise<void> {
    await this.registry.load(this.seedProviders(), this.managedProviders());
    const enabled = this.registry.all().filter((p) => p.config.enabled);
    if (enabled.length > 0 && enabled.every((p) => p.config.kind === 'mock')) {
      this.log.warn(
        { providers: enabled.map((p) => p.name) },
        'the mock is the only enabled provider: every answer is a demo answer. Add a real provider (docs/providers.md)',
      );
    }
    await this.keys.load();
    // Before start(): a process that only serves the API (never started) still hears the others.
    this.cluster?.start();
    this.shared?.start();
  }

  /** Start the pool and the scheduler; jobs queued before (or by an earlier process) begin to run. Idempotent. */
  async start(): Promise<void> {
    if (this.state === 'started') return;
    if (this.starting) return this.starting;
    if (this.state !== 'new') throw new SwitchyardError('SWY_SHUTTING_DOWN', 'a stopped engine cannot be started again');
    this.state = 'starting';
    this.starting = (async () => {
      this.pool = new Pool({
        threads: this.config.threads,
        concurrentTasksPerWorker: this.config.concurrentTasksPerWorker,
        abortGraceMs: this.config.abortGraceMs,
        onError: (err) => {
          this.log.error({ err }, 'worker pool error');
          this.events.emit('engine:error', err);
        },
      });
      // Fair shares between tenants: a key's weight and concurrency cap; other tenants weigh 1. A
      // tenant whose calls in flight hold the rest of its budget is not claimed for meanwhile.
      const policy = new FairShare(
        (tenant) => this.keys.record(tenant)?.weight ?? 1,
        (tenant) => (this.budgets.claimable(tenant) ? (this.keys.record(tenant)?.maxConcurrency ?? undefined) : 0),
      );
      this.scheduler = new Scheduler({
        store: this.store,
        pool: this.pool,
        types: this.types,
        router: this.router,
        policy,
        budgets: this.budgets,
        tokens: this.tokens,
        events: this.events,
        config: this.config,
        owner: this.instanceId,
        log: this.log,
      });
      await this.scheduler.start();
      for (const f of this.features) await f.start();
      this.retention.start();
      // Active health checks of providers whose breaker is open or that are misconfigured.
      this.healthTimer = setInterval(() => {
        this.registry.probeUnhealthy().catch((err: unknown) => this.events.emit('engine:error', err));
      }, this.config.healthCheckMs);
      this.healthTimer.unref();
      this.state = 'started';
    })();
    return this.starting;
  }

  /**
   * Stop taking jobs, let in-flight attempts finish up to `timeoutMs`, put the rest back to queued
   * without spending an attempt, then close the pool and the database. Idempotent.
   */
  async stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.stopping) return this.stopping;
    const wasStarting = this.starting;
    this.state = 'stopping';
    this.stopping = (async () => {
      await wasStarting?.catch(() => undefined);
      clearInterval(this.healthTimer);
      this.cluster?.stop();
      for (const f of [...this.features].reverse()) await f.stop();
      await this.retention.stop();
      await this.scheduler?.stop(opts.timeoutMs ?? this.config.shutdownTimeoutMs);
      await this.pool?.close();
      await this.schemas.close();
      this.registry.close();
      await this.shared?.stop();
      await this.store.close();
      for (const set of this.waiters.values()) for (const fn of set) fn(undefined);
      this.state = 'stopped';
    })();
    return this.stopping;
  }

  /** Register a job type whose handler module runs in the pool. Define types before `start()`. */
  defineJobType(name: string, moduleUrl: string | URL, opts: JobTypeOptions = {}): void {
    this.types.define(name, moduleUrl, opts);
  }

  private assertOpen(): void {
    if (this.state === 'stopping' || this.state === 'stopped') {
      throw new SwitchyardError('SWY_SHUTTING_DOWN', 'the engine is stopping and takes no new jobs');
    }
  }

  /**
   * Submit one job; resolves once it is committed. A repeated idempotency key (per tenant) returns
   * the existing job. `scope.tenant` owns it (default: `default`).
   */
  async submit(job: SubmitJob, scope: TenantScope = {}): Promise<Job> {
    const [r] = await this.insert([job], scope);
    return (r as InsertResult).job;
  }

  /** Submit many jobs in one transaction: all or none. */
  async submitMany(jobs: SubmitJob[], scope: TenantScope = {}): Promise<Job[]> {
    return (await this.insert(jobs, scope)).map((r) => r.job);
  }

  /**
   * Like `submitMany`, and tells whether each job was created or found by its idempotency key.
   * A tenant that is a key over its daily budget gets SWY_BUDGET_EXCEEDED.
   */
  async insert(jobs: SubmitJob[], scope: TenantScope = {}): Promise<InsertResult[]> {
    this.assertOpen();
    const tenant = scope.tenant ?? DEFAULT_TENANT;
    const now = Date.now();
    const rows: NewJob[] = jobs.map((j, i) => validateSubmit(j, i, jobs.length, now, this.types, this.config, tenant));
    await checkInputs(rows, this.types);
    await this.budgets.checkSubmit(tenant);
    const results = await this.store.insertJobs(rows);
    for (const r of results) if (r.created) this.events.emit('job:queued', r.job, 'submitted');
    this.scheduler?.notify();
    return results;
  }

  /**
   * Submit one job and start it at once when a slot is free, without queueing it first: it is
   * stored when its attempt ends (a crash meanwhile leaves nothing to run again for a caller that
   * is gone), or queued as any other job when no slot is free or it has to wait (a retry). For
   * callers that wait for the answer (the OpenAI and Anthropic fronts): a stored queued job costs a
   * transaction and a claim more. Jobs with an idempotency key, or whose tenant has a cap, are queued.
   */
  async run(job: SubmitJob, scope: TenantScope = {}): Promise<Job> {
    this.assertOpen();
    const tenant = scope.tenant ?? DEFAULT_TENANT;
    const now = Date.now();
    const row = validateSubmit(job, 0, 1, now, this.types, this.config, tenant);
    await checkInputs([row], this.types);
    await this.budgets.checkSubmit(tenant);
    const started = this.scheduler?.runNow(row);
    if (started) return started;
    const [r] = await this.store.insertJobs([row]);
    const queued = (r as InsertResult).job;
    this.events.emit('job:queued', queued, 'submitted');
    this.scheduler?.notify();
    return queued;
  }

  /**
   * The job, or SWY_JOB_NOT_FOUND — also when `scope.tenant` is given and the job is another
   * tenant's, so that ids cannot be probed.
   */
  async get(id: string, scope: TenantScope = {}): Promise<Job> {
    const job = (await this.store.getJob(id)) ?? this.scheduler?.runningNow(id);
    if (!job || (scope.tenant !== undefined && job.tenant !== scope.tenant)) {
      throw new SwitchyardError('SWY_JOB_NOT_FOUND', `job ${id} not found`);
    }
    return job;
  }

  /** Jobs newest first, one page at a time; `query.tenant` keeps to one tenant's jobs. */
  list(query: ListJobsQuery = {}): Promise<JobPage> {
    return this.store.listJobs(query);
  }

  /** Cancel a queued or running job; a running handler and its provider call are aborted. */
  async cancel(id: string, scope: TenantScope = {}): Promise<Job> {
    if (scope.tenant !== undefined) await this.get(id, scope);
    if (this.scheduler?.runningNow(id)) {
      // Run at once and not stored yet: its attempt is aborted, and it is stored cancelled as it ends.
      const ended = this.wait(id, { timeoutMs: 3_600_000 });
      this.scheduler.abort(id, new SwitchyardError('SWY_CANCELLED', 'the job was cancelled'));
      return ended;
    }
    const job = await this.store.cancelJob(id);
    this.scheduler?.abort(id, new SwitchyardError('SWY_CANCELLED', 'the job was cancelled'));
    this.events.emit('job:cancelled', job);
    return job;
  }

  /**
   * Forget a finished job's input and output (its record, attempts and usage stay, with
   * `metadata.erasedAt`): what `DELETE /v1/responses/:id` does to a stored response.
   */
  async erase(id: string, scope: TenantScope = {}): Promise<Job> {
    if (scope.tenant !== undefined) await this.get(id, scope);
    return this.store.eraseJob(id);
  }

  /** Requeue a failed or cancelled job with a fresh attempt budget. */
  async retry(id: string, scope: TenantScope = {}): Promise<Job> {
    this.assertOpen();
    if (scope.tenant !== undefined) await this.get(id, scope);
    const job = await this.store.retryJob(id);
    this.events.emit('job:queued', job, 'retried');
    this.scheduler?.notify();
    return job;
  }

  /**
   * Resolve with the job once it is terminal, or as it is when `timeoutMs` passes or `signal`
   * aborts. With `attempts: false` a finished job comes as its event carried it, without its
   * attempt history (no read of the store: what the synchronous fronts use).
   */
  async wait(id: string, opts: { timeoutMs?: number; signal?: AbortSignal; attempts?: boolean } & TenantScope = {}): Promise<Job> {
    const scope = opts.tenant === undefined ? {} : { tenant: opts.tenant };
    let wake!: (job?: Job) => void;
    const woken = new Promise<Job | undefined>((resolve) => (wake = resolve));
    let set = this.waiters.get(id);
    if (!set) {
      set = new Set();
      this.waiters.set(id, set);
    }
    set.add(wake);
    const timer = setTimeout(wake, opts.timeoutMs ?? 30_000);
    const onAbort = () => wake();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const job = await this.get(id, scope);
      if (TERMINAL_STATUSES.has(job.status) || this.state === 'stopped') return job;
      // The event's job is the one the store wrote (its tenant was checked by the read above).
      const ended = await woken;
      return opts.attempts === false && ended && TERMINAL_STATUSES.has(ended.status) ? ended : await this.get(id, scope);
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      set.delete(wake);
      if (set.size === 0) this.waiters.delete(id);
    }
  }

  /**
   * An online, consistent copy of the database while jobs keep running: to `destination`, or to a
   * timestamped file in `backupDir`. Restore by stopping the engine and putting the copy in place
   * of the database file.
   */
  async backup(destination?: string): Promise<BackupResult> {
    if (!this.store.backup) {
      throw new SwitchyardError(
        'SWY_NOT_SUPPORTED',
        'this database is a server: back it up with its own tools (pg_dump), see docs/scale-out.md',
      );
    }
    const path = destination ?? join(this.config.backupDir, `switchyard-${new Date().toISOString().replace(/[:.]/g, '-')}.db`);
    await mkdir(dirname(path), { recursive: true });
    return this.store.backup(path);
  }

  /**
   * Delete finished jobs past `retentionDays` (completed, cancelled) or `failedRetentionDays`
   * (failed) now, in small batches; a started engine also does this every `pruneIntervalMs`.
   */
  prune(): Promise<number> {
    return this.retention.prune();
  }

  /**
   * Provider calls between `from` and `to` (default: the last 24 hours), grouped by provider, model,
   * type, tenant, day or hour; `query.tenant` keeps to one tenant's calls.
   */
  usage(query: UsageQuery = {}): Promise<UsageReport> {
    return this.store.usage(query);
  }

  /** Jobs per status, from counters kept in the store: cheap at any size. */
  counts(): Promise<StatusCounts> {
    return this.store.counts();
  }

  /** Counts per status and type, success rate, processing and queue-wait percentiles, throughput, usage. */
  async stats(scope: TenantScope = {}): Promise<Stats> {
    const stats = await this.store.stats(scope.tenant);
    // Jobs run at once are stored when they end: counted running meanwhile (for the whole engine).
    const now = scope.tenant === undefined ? (this.scheduler?.runningNowCount ?? 0) : 0;
    stats.running += now;
    stats.total += now;
    // The throughput window is kept for the whole engine only.
    return { ...stats, throughput: scope.tenant === undefined ? this.throughput.rates() : { last1m: 0, last5m: 0, last15m: 0 } };
  }

  /**
   * Whether every part can serve: the database takes a write, the pool and scheduler run. A
   * successful write is trusted for a second, and probes made meanwhile share one write
   * (readiness is public: probes must not become a write load); a failed one is tried again.
   */
  async ready(): Promise<Readiness> {
    const now = Date.now();
    const last = this.writeProbe;
    if (!last || (last.settled && (!last.ok || now - last.at >= 1000))) {
      const probe = { at: now, settled: false, ok: false, done: Promise.resolve(false) };
      probe.done = this.store
        .heartbeat(this.instanceId)
        .then(
          () => true,
          () => false,
        )
        .then((ok) => {
          probe.settled = true;
          probe.ok = ok;
          return ok;
        });
      this.writeProbe = probe;
    }
    const store = await (this.writeProbe as { done: Promise<boolean> }).done;
    const started = this.state === 'started';
    const parts = { store, pool: started && this.pool !== undefined, scheduler: started };
    return { ok: store && parts.pool && parts.scheduler, parts };
  }

  /** Attempts running now, attempts waiting for a thread, and the pool's utilisation (0–1). */
  load(): { running: number; poolQueue: number; poolUtilization: number } {
    return { running: this.scheduler?.active ?? 0, poolQueue: this.pool?.queueSize ?? 0, poolUtilization: this.pool?.utilization ?? 0 };
  }

  /** @internal Report an error the engine recovered from (`engine:error`). */
  emitError(err: unknown): void {
    this.events.emit('engine:error', err);
  }

  /**
   * The models the enabled providers serve by name: their listed models, their aliases and their
   * default model (a provider serving `*` serves any name, but only its default is listed).
   */
  models(): { id: string; provider: string }[] {
    const seen = new Map<string, string>();
    for (const p of this.registry.all()) {
      if (!p.config.enabled) continue;
      const names = [...p.config.models.filter((m) => m !== '*'), ...Object.keys(p.config.modelMap), p.defaultModel];
      for (const id of names) if (!seen.has(id)) seen.set(id, p.name);
    }
    return [...seen].map(([id, provider]) => ({ id, provider })).sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Hear the tokens of job `id` as its provider streams them, from the start of its current
   * attempt (a job streams when someone follows it, or when its input asks to). Whether the job
   * may be seen is the caller's to check (`get` with the tenant's scope). Returns a function that stops.
   */
  follow(id: string, listener: (e: TokenEvent) => void): () => void {
    return this.tokens.follow(id, listener);
  }

  on<K extends EngineEventName>(event: K, listener: (...args: EngineEvents[K]) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off<K extends EngineEventName>(event: K, listener: (...args: EngineEvents[K]) => void): this {
    this.events.off(event, listener);
    return this;
  }

  once<K extends EngineEventName>(event: K, listener: (...args: EngineEvents[K]) => void): this {
    this.events.once(event, listener);
    return this;
  }

  /**
   * The mock, seeded into an empty providers table: it serves `mock-*` models, and others only
   * while no enabled real provider serves them (the router never lets it stand in for a real one).
   */
  private seedProviders(): ProviderInput[] {
    if (!this.config.seedProviders) return [];
    return [{ name: 'mock', kind: 'mock', models: ['mock-*', '*'], priority: 0, options: { latencyMs: 0 } }];
  }

  /** The providers set on every start: the providers file's, then those of the keys in the environment. */
  private managedProviders(): ManagedProvider[] {
    const managed: ManagedProvider[] = this.config.providers.map((p) => ({ ...(p as ProviderInput), managedBy: 'config' }));
    const named = new Set(managed.map((p) => p.name));
    const env = (p: ProviderInput) => {
      // The file names it: the file manages it.
      if (!named.has(p.name)) managed.push({ ...p, managedBy: 'env' });
    };
    const c = this.config;
    if (c.openaiApiKey !== undefined) {
      env({ name: 'openai', kind: 'openai', baseUrl: c.openaiBaseUrl, apiKey: c.openaiApiKey, models: ['*'], priority: 10 });
    }
    if (c.anthropicApiKey !== undefined) {
      env({
        name: 'anthropic',
        kind: 'anthropic',
        baseUrl: c.anthropicBaseUrl,
        apiKey: c.anthropicApiKey,
        models: ['claude-*'],
        priority: 20,
      });
    }
    if (c.geminiApiKey !== undefined) env({ name: 'gemini', kind: 'gemini', apiKey: c.geminiApiKey, models: ['gemini-*'], priority: 20 });
    if (c.azureOpenaiApiKey !== undefined && c.azureOpenaiEndpoint !== undefined) {
      env({
        name: 'azure',
        kind: 'azure',
        baseUrl: c.azureOpenaiEndpoint,
        apiKey: c.azureOpenaiApiKey,
        models: ['*'],
        priority: 10,
        options: { apiVersion: c.azureOpenaiApiVersion },
      });
    }
    if (c.awsCredentials !== undefined) {
      // Bedrock's model ids start with the vendor, or with a cross-region inference profile's prefix.
      const families = [
        'anthropic.*',
        'amazon.*',
        'meta.*',
        'mistral.*',
        'cohere.*',
        'ai21.*',
        'deepseek.*',
        'us.*',
        'eu.*',
        'apac.*',
        'global.*',
      ];
      env({ name: 'bedrock', kind: 'bedrock', apiKey: c.awsCredentials, models: families, priority: 20, options: { region: c.awsRegion } });
    }
    return managed;
  }
}
