/** `switchyard get | wait | stats | usage | providers`: a running server, read from the terminal. */
import { parseArgs } from 'node:util';
import type { Job, Stats } from '../domain/jobs.js';
import type { PublicProvider } from '../domain/providers.js';
import type { UsageReport } from '../domain/usage.js';
import { ApiClient, CliError, connection } from './client.js';
import { table } from './format.js';

const common = { url: { type: 'string' }, key: { type: 'string' }, json: { type: 'boolean', default: false } } as const;
const print = (s: string) => process.stdout.write(`${s}\n`);

function parse(args: string[], extra: Record<string, { type: 'string' | 'boolean' }> = {}) {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { ...common, ...extra } });
  return {
    positionals,
    values: values as Record<string, string | boolean | undefined>,
    client: new ApiClient(connection(values as { url?: string; key?: string })),
  };
}

const id = (positionals: string[], what = 'job id'): string => {
  const v = positionals[0];
  if (!v) throw new CliError(`give a ${what}`, 2);
  return encodeURIComponent(v);
};

export async function getCommand(args: string[]): Promise<number> {
  const { positionals, client } = parse(args);
  print(JSON.stringify(await client.request<Job>('GET', `/v1/jobs/${id(positionals)}`), null, 2));
  return 0;
}

/** Exit 0 when the job completed, 1 when it failed or was cancelled, 3 when the timeout passed first. */
export async function waitCommand(args: string[]): Promise<number> {
  const { positionals, values, client } = parse(args, { timeout: { type: 'string' } });
  const timeoutMs = values.timeout === undefined ? Infinity : Number(values.timeout);
  if (Number.isNaN(timeoutMs) || timeoutMs < 0) throw new CliError('--timeout must be a number of ms', 2);
  const deadline = Date.now() + timeoutMs;
  let job: Job;
  do {
    const waitMs = Math.max(0, Math.min(30_000, deadline - Date.now()));
    job = await client.request<Job>('GET', `/v1/jobs/${id(positionals)}?waitMs=${Math.floor(waitMs)}`);
  } while (!['completed', 'failed', 'cancelled'].includes(job.status) && Date.now() < deadline);
  print(JSON.stringify(job, null, 2));
  return job.status === 'completed' ? 0 : ['failed', 'cancelled'].includes(job.status) ? 1 : 3;
}

export async function statsCommand(args: string[]): Promise<number> {
  const { values, client } = parse(args);
  const s = await client.request<Stats>('GET', '/v1/stats');
  if (values.json) {
    print(JSON.stringify(s, null, 2));
    return 0;
  }
  print(
    table(
      ['jobs', 'count'],
      [
        ['total', s.total],
        ['queued', s.queued],
        ['scheduled', s.scheduled],
        ['running', s.running],
        ['completed', s.completed],
        ['failed', s.failed],
        ['cancelled', s.cancelled],
        ['success rate %', s.successRate],
        ['processing ms p50 / p95 / p99', `${s.processingTime.p50} / ${s.processingTime.p95} / ${s.processingTime.p99}`],
        ['queue wait ms p50 / p95 / p99', `${s.queueWait.p50} / ${s.queueWait.p95} / ${s.queueWait.p99}`],
        ['jobs/s last 1 / 5 / 15 min', `${s.throughput.last1m} / ${s.throughput.last5m} / ${s.throughput.last15m}`],
        ['tokens in / out', `${s.usage.inputTokens} / ${s.usage.outputTokens}`],
        ['cost USD', s.usage.costUsd],
      ],
    ),
  );
  return 0;
}

export async function usageCommand(args: string[]): Promise<number> {
  const { values, client } = parse(args, { from: { type: 'string' }, to: { type: 'string' }, 'group-by': { type: 'string' } });
  const q = new URLSearchParams();
  if (typeof values.from === 'string') q.set('from', values.from);
  if (typeof values.to === 'string') q.set('to', values.to);
  const groupBy = typeof values['group-by'] === 'string' ? values['group-by'] : 'provider,model';
  if (groupBy) q.set('groupBy', groupBy);
  const r = await client.request<UsageReport>('GET', `/v1/usage?${q}`);
  if (values.json) {
    print(JSON.stringify(r, null, 2));
    return 0;
  }
  const groups = r.groupBy;
  print(`${r.from} → ${r.to}`);
  print(
    table(
      [...groups, 'calls', 'errors', 'tokens in', 'tokens out', 'cost USD', 'p50 ms', 'p95 ms'],
      r.data.map((row) => [
        ...groups.map((g) => (row as unknown as Record<string, string>)[g]),
        row.calls,
        row.errors,
        row.inputTokens,
        row.outputTokens,
        row.costUsd,
        row.latencyMs.p50,
        row.latencyMs.p95,
      ]),
    ),
  );
  return 0;
}

/** `providers` lists; `providers check <name>` probes one; `providers enable|disable <name>` switches one. */
export async function providersCommand(args: string[]): Promise<number> {
  const { positionals, values, client } = parse(args);
  const [action, name] = positionals;
  if (action === 'check' || action === 'enable' || action === 'disable') {
    if (!name) throw new CliError(`give a provider name: switchyard providers ${action} <name>`, 2);
    const path = `/v1/providers/${encodeURIComponent(name)}`;
    const r =
      action === 'check'
        ? await client.request<{ ok: boolean }>('POST', `${path}/check`)
        : await client.request('PATCH', path, { enabled: action === 'enable' });
    print(JSON.stringify(r, null, 2));
    return action === 'check' && !(r as { ok: boolean }).ok ? 1 : 0;
  }
  if (action !== undefined && action !== 'list')
    throw new CliError(`unknown providers action ${JSON.stringify(action)}: list, check, enable or disable`, 2);
  const { data } = await client.request<{ data: PublicProvider[] }>('GET', '/v1/providers');
  if (values.json) {
    print(JSON.stringify(data, null, 2));
    return 0;
  }
  print(
    table(
      ['name', 'kind', 'enabled', 'priority', 'weight', 'breaker', 'healthy', 'in flight', 'success %', 'latency ms', 'last error'],
      data.map((p) => [
        p.name,
        p.kind,
        p.enabled ? 'yes' : 'no',
        p.priority,
        p.weight,
        p.state.breaker,
        p.state.healthy ? 'yes' : 'no',
        p.state.inFlight,
        Math.round(p.state.successRate * 100),
        p.state.latencyMs === null ? null : Math.round(p.state.latencyMs),
        p.state.lastError?.code ?? null,
      ]),
    ),
  );
  return 0;
}
