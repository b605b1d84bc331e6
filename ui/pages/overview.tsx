/** Overview: jobs per state, throughput, success rate, percentiles, usage, and provider health — all from the counters. */
import { call, can } from '../api.js';
import { Problem, useData } from '../use-data.js';

interface Stats {
  total: number;
  queued: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  scheduled: number;
  successRate: number;
  processingTime: { p50: number; p95: number };
  queueWait: { p50: number; p95: number };
  throughput: { last1m: number; last5m: number };
  usage: { inputTokens: number; outputTokens: number; costUsd: number };
}
interface Provider {
  name: string;
  enabled: boolean;
  state: { breaker: string; healthy: boolean; inFlight: number };
}

const n = (x: number) => x.toLocaleString('en-US');
const ms = (x: number) => `${Math.round(x).toLocaleString('en-US')} ms`;

export function Overview() {
  const stats = useData(() => call<Stats>('GET', '/v1/stats'), []);
  const providers = useData(
    () => (can('providers:admin') ? call<{ data: Provider[] }>('GET', '/v1/providers') : Promise.resolve({ data: [] })),
    [],
  );
  const s = stats.data;
  return (
    <>
      <h2>Overview</h2>
      <Problem error={stats.error} />
      {s && (
        <>
          <dl class="cards" aria-label="Jobs per state">
            {(['queued', 'running', 'completed', 'failed', 'cancelled', 'scheduled'] as const).map((k) => (
              <div class="card" key={k}>
                <dt>{k}</dt>
                <dd data-testid={`count-${k}`}>{n(s[k])}</dd>
              </div>
            ))}
          </dl>
          <h3>Flow</h3>
          <dl class="cards">
            <div class="card">
              <dt>throughput, last minute</dt>
              <dd>{s.throughput.last1m.toFixed(2)} jobs/s</dd>
            </div>
            <div class="card">
              <dt>success rate</dt>
              <dd>{s.successRate.toFixed(1)} %</dd>
            </div>
            <div class="card">
              <dt>queue wait p50 / p95</dt>
              <dd>
                {ms(s.queueWait.p50)} / {ms(s.queueWait.p95)}
              </dd>
            </div>
            <div class="card">
              <dt>processing p50 / p95</dt>
              <dd>
                {ms(s.processingTime.p50)} / {ms(s.processingTime.p95)}
              </dd>
            </div>
            <div class="card">
              <dt>tokens (in / out)</dt>
              <dd>
                {n(s.usage.inputTokens)} / {n(s.usage.outputTokens)}
              </dd>
            </div>
            <div class="card">
              <dt>cost</dt>
              <dd>${s.usage.costUsd.toFixed(4)}</dd>
            </div>
          </dl>
        </>
      )}
      {can('providers:admin') && (
        <>
          <h3>Providers</h3>
          <Problem error={providers.error} />
          <div class="wrap">
            <table>
              <caption class="visually-hidden">Providers and their breakers</caption>
              <thead>
                <tr>
                  <th scope="col">provider</th>
                  <th scope="col">enabled</th>
                  <th scope="col">breaker</th>
                  <th scope="col" class="num">
                    in flight
                  </th>
                </tr>
              </thead>
              <tbody>
                {providers.data?.data.map((p) => (
                  <tr key={p.name}>
                    <td>{p.name}</td>
                    <td>{p.enabled ? 'yes' : 'no'}</td>
                    <td class={`state-${p.state.breaker}`}>{p.state.breaker}</td>
                    <td class="num">{p.state.inFlight}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}
