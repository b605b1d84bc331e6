/**
 * `switchyard loadcheck`: a stability and load check of a running server, measured. Drives a running server with a bounded load — `--jobs` jobs (or until `--duration`
 * seconds pass), `--concurrency` clients, each submitting a job and waiting for it — optionally
 * with the mock provider's latency set for the run, and reports what happened as a table and JSON.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { Job } from '../domain/jobs.js';
import type { PublicProvider } from '../domain/providers.js';
import { ApiClient, CliError, connection } from './client.js';
import { percentile, round, table } from './format.js';

/** The report: processing times are the jobs' own (`durationMs`), API latency that of the submits. */
export interface LoadcheckReport {
  jobs: number;
  completed: number;
  failed: number;
  /** completed ÷ jobs finished, %. */
  successRate: number;
  processingMs: { avg: number; p50: number; p95: number; p99: number };
  jobsPerSecond: number;
  apiLatencyMs: { p50: number; p99: number };
  /** Requests that failed (network or non-2xx), % of all requests made. */
  errorRate: number;
  durationSeconds: number;
  concurrency: number;
  mockLatencyMs: number | null;
}

function positiveInt(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`--${name} must be a whole number`, 2);
  return n;
}

export async function loadcheckCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      json: { type: 'boolean', default: false },
      jobs: { type: 'string' },
      concurrency: { type: 'string' },
      duration: { type: 'string' },
      latency: { type: 'string' },
    },
  });
  const client = new ApiClient(connection(values));
  const jobs = positiveInt(values.jobs, 'jobs', 1000);
  const concurrency = Math.max(1, positiveInt(values.concurrency, 'concurrency', 50));
  const durationS = positiveInt(values.duration, 'duration', 60);
  const latency = values.latency === undefined ? null : positiveInt(values.latency, 'latency', 0);
  const report = await loadcheck(client, { jobs, concurrency, durationMs: durationS * 1000, mockLatencyMs: latency });
  if (!values.json) {
    process.stdout.write(
      `${table(
        ['loadcheck', 'value'],
        [
          ['jobs', report.jobs],
          ['completed', report.completed],
          ['failed', report.failed],
          ['success rate %', report.successRate],
          ['processing ms avg', report.processingMs.avg],
          ['processing ms p50', report.processingMs.p50],
          ['processing ms p95', report.processingMs.p95],
          ['processing ms p99', report.processingMs.p99],
          ['jobs/s', report.jobsPerSecond],
          ['API latency ms p50', report.apiLatencyMs.p50],
          ['API latency ms p99', report.apiLatencyMs.p99],
          ['error rate %', report.errorRate],
          ['duration s', report.durationSeconds],
          ['concurrency', report.concurrency],
          ['mock latency ms', report.mockLatencyMs],
        ],
      )}\n\n`,
    );
  }
  process.stdout.write(`${JSON.stringify(report, null, values.json ? 2 : undefined)}\n`);
  return report.failed === 0 && report.errorRate === 0 ? 0 : 1;
}

export async function loadcheck(
  client: ApiClient,
  opts: { jobs: number; concurrency: number; durationMs: number; mockLatencyMs: number | null },
): Promise<LoadcheckReport> {
  let restore: (() => Promise<unknown>) | undefined;
  if (opts.mockLatencyMs !== null) {
    const mock = await client.request<PublicProvider>('GET', '/v1/providers/mock');
    await client.request('PATCH', '/v1/providers/mock', { options: { ...mock.options, latencyMs: opts.mockLatencyMs } });
    restore = () => client.request('PATCH', '/v1/providers/mock', { options: mock.options });
  }
  const run = randomUUID().slice(0, 8);
  const api: number[] = [];
  const processing: number[] = [];
  let requests = 0;
  let requestErrors = 0;
  let started = 0;
  let completed = 0;
  let failed = 0;
  const t0 = Date.now();
  const timed = async <T>(fn: () => Promise<T>, into?: number[]): Promise<T | undefined> => {
    const s = performance.now();
    requests++;
    try {
      const v = await fn();
      into?.push(performance.now() - s);
      return v;
    } catch (err) {
      requestErrors++;
      // A wrong key or an unreachable server makes every request fail: stop at once and say so.
      if (requestErrors === requests && requests >= opts.concurrency) throw err;
      return undefined;
    }
  };
  try {
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        while (started < opts.jobs && Date.now() - t0 < opts.durationMs) {
          const n = started++;
          const job = await timed(
            () =>
              client.request<Job>('POST', '/v1/jobs', {
                input: { messages: [{ role: 'user', content: `loadcheck ${run} job ${n}` }] },
                metadata: { loadcheck: run },
              }),
            api,
          );
          if (!job) continue;
          let j: Job | undefined = job;
          while (j && !['completed', 'failed', 'cancelled'].includes(j.status)) {
            j = await timed(() => client.request<Job>('GET', `/v1/jobs/${job.id}?waitMs=30000`));
          }
          if (j?.status === 'completed') {
            completed++;
            processing.push(j.durationMs ?? 0);
          } else {
            failed++;
          }
        }
      }),
    );
  } finally {
    await restore?.();
  }
  const seconds = (Date.now() - t0) / 1000;
  const p = processing.sort((a, b) => a - b);
  const a = api.sort((x, y) => x - y);
  return {
    jobs: completed + failed,
    completed,
    failed,
    successRate: completed + failed === 0 ? 0 : round((completed / (completed + failed)) * 100, 2),
    processingMs: {
      avg: p.length === 0 ? 0 : round(p.reduce((s, x) => s + x, 0) / p.length),
      p50: percentile(p, 50),
      p95: percentile(p, 95),
      p99: percentile(p, 99),
    },
    jobsPerSecond: round(completed / seconds, 1),
    apiLatencyMs: { p50: round(percentile(a, 50), 2), p99: round(percentile(a, 99), 2) },
    errorRate: requests === 0 ? 0 : round((requestErrors / requests) * 100, 2),
    durationSeconds: round(seconds, 2),
    concurrency: opts.concurrency,
    mockLatencyMs: opts.mockLatencyMs,
  };
}
