/** Overview: jobs per state, throughput, success rate, percentiles, usage, and provider health — all from the counters. */
import { useEffect, useState } from 'preact/hooks';
import { call, can } from '../api.js';
import { LineChart, type Series } from '../chart.js';
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
interface HourRow {
  hour: string;
  calls: number;
}
interface Provider {
  name: string;
  enabled: boolean;
  state: { breaker: string; healthy: boolean; inFlight: number };
}

const n = (x: number) => x.toLocaleString('en-US');
/** Points kept for the live chart (one per refresh). */
const POINTS = 60;
const ms = (x: number) => `${Math.round(x).toLocaleString('en-US')} ms`;

export function Overview() {
  const stats = useData(() => call<Stats>('GET', '/v1/stats'), []);
  const providers = useData(
    () => (can('providers:admin') ? call<{ data: Provider[] }>('GET', '/v1/providers') : Promise.resolve({ data: [] })),
    [],
  );
  // The past from the hourly rollups: provider calls per hour, zero where an hour had none.
  const [span, setSpan] = useState<'hour' | 'day'>('day');
  const hours = span === 'day' ? 24 : 1;
  const history = useData(() => {
    const from = new Date(Math.floor(Date.now() / 3_600_000 - hours) * 3_600_000).toISOString();
    return call<{ data: HourRow[] }>('GET', `/v1/usage?groupBy=hour&from=${encodeURIComponent(from)}`);
  }, [hours]);
  const nowHour = Math.floor(Date.now() / 3_600_000);
  const slots = Array.from({ length: hours + 1 }, (_, i) => (nowHour - hours + i) * 3600);
  const byHour = new Map((history.data?.data ?? []).map((r) => [Date.parse(r.hour) / 1000, r.calls]));
  const past: Series = { label: 'provider calls', unit: 'calls/h', times: slots, values: slots.map((t) => byHour.get(t) ?? 0) };
  const s = stats.data;
  // Jobs finished between two refreshes, per second: the live chart's points.
  const [finished, setFinished] = useState<{ at: number; done: number }[]>([]);
  useEffect(() => {
    if (!s) return;
    setFinished((xs) => [...xs, { at: Date.now() / 1000, done: s.completed + s.failed + s.cancelled }].slice(-POINTS - 1));
  }, [s]);
  const series: Series = {
    label: 'jobs finished',
    unit: 'jobs/s',
    times: finished.slice(1).map((p) => Math.round(p.at)),
    values: finished.slice(1).map((p, i) => {
      const before = finished[i] as { at: number; done: number };
      return Math.round(((p.done - before.done) / Math.max(0.001, p.at - before.at)) * 10) / 10;
    }),
  };
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
          <fieldset class="actions">
            <legend class="visually-hidden">Chart window</legend>
            {(['hour', 'day'] as const).map((w) => (
              <button key={w} type="button" aria-pressed={span === w} onClick={() => setSpan(w)}>
                Last {w}
              </button>
            ))}
          </fieldset>
          <Problem error={history.error} />
          <LineChart series={past} title={`Provider calls per hour, the last ${span}`} range={[slots[0] as number, (nowHour + 1) * 3600]} />
          <LineChart
            series={series}
            title="Jobs finished per second, while this page is open"
            range={[
              Math.min(series.times[0] ?? Date.now() / 1000, Date.now() / 1000 - 60),
              Math.max(series.times.at(-1) ?? 0, Date.now() / 1000),
            ]}
          />
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
