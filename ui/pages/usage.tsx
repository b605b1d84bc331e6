/** Usage and cost: provider calls grouped by provider, model, type, tenant or day, from the rollups; CSV export. */
import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { Problem, useData } from '../use-data.js';

interface Row {
  provider?: string;
  model?: string;
  type?: string;
  tenant?: string;
  day?: string;
  calls: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  /** null when no call of the row had a price. */
  costUsd: number | null;
  unpricedCalls?: number;
  latencyMs?: { p50: number; p95: number };
}

const GROUPS = ['provider', 'model', 'type', 'tenant', 'day'] as const;
const RANGES = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const;

/** A CSV cell: quoted when it holds a comma, a quote or a line break; a leading =, +, - or @ is defused for spreadsheets. */
function cell(v: unknown): string {
  let s = v === undefined || v === null ? '' : String(v);
  if (/^[=+\-@]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function Usage() {
  const [groups, setGroups] = useState<string[]>(['provider', 'model']);
  const [range, setRange] = useState<keyof typeof RANGES>('24h');
  const path = () => {
    const q = new URLSearchParams({ from: new Date(Date.now() - RANGES[range]).toISOString() });
    if (groups.length) q.set('groupBy', groups.join(','));
    return `/v1/usage?${q}`;
  };
  const report = useData(() => call<{ data: Row[] }>('GET', path()), [groups.join(','), range]);
  const rows = report.data?.data ?? [];
  const columns = [...groups, 'calls', 'errors', 'inputTokens', 'outputTokens', 'costUsd', 'unpricedCalls'];
  const download = () => {
    const lines = [columns.join(','), ...rows.map((r) => columns.map((c) => cell((r as unknown as Record<string, unknown>)[c])).join(','))];
    const url = URL.createObjectURL(new Blob([`${lines.join('\n')}\n`], { type: 'text/csv' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `switchyard-usage-${range}.csv`;
    a.click();
    URL.revokeObjectURL(url);
  };
  return (
    <>
      <h2>Usage and cost</h2>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Range
          <select value={range} onChange={(e) => setRange((e.target as HTMLSelectElement).value as keyof typeof RANGES)}>
            <option value="24h">last 24 hours</option>
            <option value="7d">last 7 days</option>
            <option value="30d">last 30 days</option>
          </select>
        </label>
        <fieldset class="filters">
          <legend>Group by</legend>
          {GROUPS.map((g) => (
            <label key={g}>
              <span>{g}</span>
              <input
                type="checkbox"
                checked={groups.includes(g)}
                onChange={(e) => {
                  const on = (e.target as HTMLInputElement).checked;
                  setGroups(GROUPS.filter((x) => (x === g ? on : groups.includes(x))));
                }}
              />
            </label>
          ))}
        </fieldset>
        <button type="button" onClick={download} disabled={rows.length === 0}>
          Download CSV
        </button>
      </form>
      <Problem error={report.error} />
      <div class="wrap">
        <table>
          <caption class="visually-hidden">Provider calls, grouped</caption>
          <thead>
            <tr>
              {groups.map((g) => (
                <th scope="col" key={g}>
                  {g}
                </th>
              ))}
              <th scope="col" class="num">
                calls
              </th>
              <th scope="col" class="num">
                errors
              </th>
              <th scope="col" class="num">
                tokens in
              </th>
              <th scope="col" class="num">
                tokens out
              </th>
              <th scope="col" class="num">
                cost
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={groups.map((g) => (r as unknown as Record<string, string>)[g]).join('|')}>
                {groups.map((g) => (
                  <td key={g}>{(r as unknown as Record<string, string>)[g]}</td>
                ))}
                <td class="num">{r.calls.toLocaleString('en-US')}</td>
                <td class="num">{r.errors.toLocaleString('en-US')}</td>
                <td class="num">{r.inputTokens.toLocaleString('en-US')}</td>
                <td class="num">{r.outputTokens.toLocaleString('en-US')}</td>
                <td class="num">
                  {r.costUsd === null ? (
                    <span class="muted" title="no price is known for this model: set the provider's prices">
                      unpriced
                    </span>
                  ) : (
                    `$${r.costUsd.toFixed(4)}`
                  )}
                  {r.costUsd !== null && (r.unpricedCalls ?? 0) > 0 && (
                    <span class="muted" title="calls whose model has no known price are not in this sum">
                      {' '}
                      + {r.unpricedCalls} unpriced
                    </span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {report.data && rows.length === 0 && <p class="muted">No provider calls in this range.</p>}
    </>
  );
}
