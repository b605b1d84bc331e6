/**
 * Prometheus metrics fed by engine events. The core knows nothing of prom-client: the server
 * attaches this to an engine. Label values are bounded: no job ids, no free text.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Engine } from './engine.js';
import type { Job, UsageRecord } from './domain/jobs.js';
import { JOB_STATUSES } from './domain/jobs.js';

/** Durations from milliseconds to the minutes an LLM job can take. */
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const BREAKER_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;
/** How often a provider's configured model names are read again when a call names another, ms. */
const MODELS_REFRESH_MS = 1000;

export interface Metrics {
  registry: Registry;
  /** Detach from the engine. */
  close(): void;
}

export function createMetrics(engine: Engine): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  // Gauges named like counters, which Prometheus's linter refuses; each is the sum of the gauge of
  // the same name without `_total` (e.g. sum(nodejs_active_handles)).
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }

  const submitted = new Counter({
    name: 'switchyard_jobs_submitted_total',
    help: 'Jobs accepted into the store',
    labelNames: ['type'],
    registers: [registry],
  });
  const finished = new Counter({
    name: 'switchyard_jobs_finished_total',
    help: 'Jobs that reached a terminal status',
    labelNames: ['type', 'status'],
    registers: [registry],
  });
  const retried = new Counter({
    name: 'switchyard_job_retries_total',
    help: 'Failed attempts that were scheduled for another attempt',
    labelNames: ['type'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'switchyard_job_duration_seconds',
    help: "Duration of a job's last attempt",
    labelNames: ['type', 'status'],
    buckets: SECONDS_BUCKETS,
    registers: [registry],
  });
  const queueWait = new Histogram({
    name: 'switchyard_job_queue_wait_seconds',
    help: 'Time from a job being due to its attempt starting',
    labelNames: ['type'],
    buckets: SECONDS_BUCKETS,
    registers: [registry],
  });
  const providerCalls = new Counter({
    name: 'switchyard_provider_requests_total',
    help: 'Calls to LLM providers',
    labelNames: ['provider', 'model', 'outcome'],
    registers: [registry],
  });
  const providerLatency = new Histogram({
    name: 'switchyard_provider_request_duration_seconds',
    help: 'Latency of LLM provider calls',
    labelNames: ['provider', 'model'],
    buckets: SECONDS_BUCKETS,
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'switchyard_provider_tokens_total',
    help: 'Tokens reported by providers',
    labelNames: ['provider', 'model', 'direction'],
    registers: [registry],
  });
  const cost = new Counter({
    name: 'switchyard_provider_cost_usd_total',
    help: "Cost of provider calls in USD, from the provider's prices or the price catalogue",
    labelNames: ['provider', 'model'],
    registers: [registry],
  });
  const unpriced = new Counter({
    name: 'switchyard_provider_unpriced_calls_total',
    help: 'Provider calls whose model has no known price (not counted in switchyard_provider_cost_usd_total)',
    labelNames: ['provider', 'model'],
    registers: [registry],
  });
  const superseded = new Counter({
    name: 'switchyard_attempts_superseded_total',
    help: 'Attempt results dropped because the attempt had lost its lease',
    registers: [registry],
  });
  const failovers = new Counter({
    name: 'switchyard_failovers_total',
    help: 'Calls that failed over to the next provider',
    labelNames: ['from'],
    registers: [registry],
  });

  new Gauge({
    name: 'switchyard_jobs',
    help: 'Jobs in the store by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const s = await engine.counts();
      for (const st of JOB_STATUSES) this.set({ status: st }, s[st]);
    },
  });
  new Gauge({
    name: 'switchyard_jobs_running_attempts',
    help: 'Attempts claimed by this process and not yet recorded',
    registers: [registry],
    collect() {
      this.set(engine.load().running);
    },
  });
  new Gauge({
    name: 'switchyard_pool_queue_size',
    help: 'Attempts waiting for a worker thread',
    registers: [registry],
    collect() {
      this.set(engine.load().poolQueue);
    },
  });
  new Gauge({
    name: 'switchyard_pool_utilization_ratio',
    help: 'Worker pool utilisation (0–1)',
    registers: [registry],
    collect() {
      this.set(engine.load().poolUtilization);
    },
  });
  new Gauge({
    name: 'switchyard_provider_breaker_state',
    help: 'Breaker state: 0 closed, 1 half-open, 2 open',
    labelNames: ['provider'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of engine.providers.list()) this.set({ provider: p.name }, BREAKER_VALUE[p.state.breaker]);
    },
  });
  new Gauge({
    name: 'switchyard_provider_inflight',
    help: 'Provider calls in flight',
    labelNames: ['provider'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of engine.providers.list()) this.set({ provider: p.name }, p.state.inFlight);
    },
  });

  // Model labels come only from configuration (each provider's models, aliases and default model):
  // a tenant can name any model in a request, and each name would be a new series on /metrics.
  const configured = new Map<string, { names: Set<string>; at: number }>();
  const namesOf = (provider: string): Set<string> => {
    const names = new Set<string>();
    for (const m of engine.models()) if (m.provider === provider) names.add(m.id);
    try {
      const p = engine.providers.get(provider);
      for (const m of p.models) if (m !== '*') names.add(m);
      for (const [alias, target] of Object.entries(p.modelMap)) names.add(alias).add(target);
    } catch {
      // removed meanwhile: its calls keep only the names already known
    }
    return names;
  };
  const modelLabel = (provider: string, model: string): string => {
    let known = configured.get(provider);
    if (!known || (!known.names.has(model) && Date.now() - known.at >= MODELS_REFRESH_MS)) {
      known = { names: namesOf(provider), at: Date.now() };
      configured.set(provider, known);
    }
    if (known.names.has(model)) return model;
    // An answer may name a dated version of a configured model (gpt-4o-mini-2024-07-18).
    let best = '';
    for (const name of known.names) if (name.length > best.length && model.startsWith(`${name}-`)) best = name;
    return best || 'other';
  };

  const onQueued = (job: Job, why: string) => {
    if (why === 'submitted') submitted.inc({ type: job.type });
  };
  const onFinished = (job: Job) => {
    finished.inc({ type: job.type, status: job.status });
    if (job.durationMs !== null) duration.observe({ type: job.type, status: job.status }, job.durationMs / 1000);
  };
  const onRetrying = (job: Job) => retried.inc({ type: job.type });
  const onStarted = (job: Job) => {
    if (job.startedAt) {
      const due = Math.max(Date.parse(job.runAt), Date.parse(job.createdAt));
      queueWait.observe({ type: job.type }, Math.max(0, Date.parse(job.startedAt) - due) / 1000);
    }
  };
  const onCall = (r: UsageRecord) => {
    const model = modelLabel(r.provider, r.model);
    providerCalls.inc({ provider: r.provider, model, outcome: r.outcome === 'ok' ? 'ok' : (r.errorCode ?? 'error') });
    providerLatency.observe({ provider: r.provider, model }, r.latencyMs / 1000);
    if (r.inputTokens) tokens.inc({ provider: r.provider, model, direction: 'input' }, r.inputTokens);
    if (r.outputTokens) tokens.inc({ provider: r.provider, model, direction: 'output' }, r.outputTokens);
    if (r.costUsd) cost.inc({ provider: r.provider, model }, r.costUsd);
    if (r.unpriced) unpriced.inc({ provider: r.provider, model });
  };
  const onFailover = (e: { from: string }) => failovers.inc({ from: e.from });
  const onSuperseded = () => superseded.inc();

  const listeners = [
    ['job:queued', onQueued],
    ['job:completed', onFinished],
    ['job:failed', onFinished],
    ['job:cancelled', onFinished],
    ['job:retrying', onRetrying],
    ['job:started', onStarted],
    ['provider:call', onCall],
    ['provider:failover', onFailover],
    ['job:superseded', onSuperseded],
  ] as const;
  // The table's pairs are each well typed; the loop cannot say so to the compiler.
  type AnyListener = (...args: unknown[]) => void;
  for (const [event, fn] of listeners) engine.on(event, fn as AnyListener);

  return {
    registry,
    close() {
      for (const [event, fn] of listeners) engine.off(event, fn as AnyListener);
    },
  };
}
