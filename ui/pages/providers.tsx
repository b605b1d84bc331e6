/** Providers: breaker state, health, last error; enable, disable and check now (providers:admin). */
import { useState } from 'preact/hooks';
import { ApiError, call, can } from '../api.js';
import { Problem, useData } from '../use-data.js';

interface Provider {
  name: string;
  kind: string;
  enabled: boolean;
  rpm: number | null;
  tpm: number | null;
  maxConcurrency: number;
  state: {
    breaker: string;
    inFlight: number;
    successRate?: number;
    latencyMs?: number | null;
    lastError?: { code: string; message?: string; at: string } | null;
  };
}

export function Providers() {
  const list = useData(() => call<{ data: Provider[] }>('GET', '/v1/providers'), []);
  const [note, setNote] = useState<string | null>(null);
  const act = async (p: Provider, what: 'enable' | 'disable' | 'check') => {
    setNote(null);
    try {
      if (what === 'check') {
        const r = await call<{ ok: boolean; latencyMs: number | null }>('POST', `/v1/providers/${encodeURIComponent(p.name)}/check`);
        setNote(`${p.name}: ${r.ok ? `answered in ${r.latencyMs} ms` : 'did not answer'}`);
      } else {
        await call('PATCH', `/v1/providers/${encodeURIComponent(p.name)}`, { enabled: what === 'enable' });
        setNote(`${p.name} ${what}d`);
      }
      list.reload();
    } catch (err) {
      setNote(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
    }
  };
  return (
    <>
      <h2>Providers</h2>
      <Problem error={list.error} />
      {note && <p role="status">{note}</p>}
      <div class="wrap">
        <table>
          <caption class="visually-hidden">Providers</caption>
          <thead>
            <tr>
              <th scope="col">provider</th>
              <th scope="col">enabled</th>
              <th scope="col">breaker</th>
              <th scope="col" class="num">
                success
              </th>
              <th scope="col" class="num">
                latency
              </th>
              <th scope="col" class="hide-narrow">
                limits
              </th>
              <th scope="col" class="hide-narrow">
                last error
              </th>
              {can('providers:admin') && <th scope="col">actions</th>}
            </tr>
          </thead>
          <tbody>
            {list.data?.data.map((p) => (
              <tr key={p.name} data-provider={p.name}>
                <td>
                  {p.name} <span class="muted">({p.kind})</span>
                </td>
                <td>{p.enabled ? 'yes' : 'no'}</td>
                <td class={`state-${p.state.breaker}`}>{p.state.breaker}</td>
                <td class="num">{p.state.successRate === undefined ? '—' : `${(p.state.successRate * 100).toFixed(0)} %`}</td>
                <td class="num">{p.state.latencyMs == null ? '—' : `${p.state.latencyMs} ms`}</td>
                <td class="hide-narrow">
                  {p.rpm ?? '∞'} rpm · {p.tpm ?? '∞'} tpm · {p.maxConcurrency} at once
                </td>
                <td class="hide-narrow">
                  {p.state.lastError ? `${p.state.lastError.code} (${new Date(p.state.lastError.at).toLocaleString()})` : '—'}
                </td>
                {can('providers:admin') && (
                  <td>
                    <div class="actions">
                      <button type="button" onClick={() => void act(p, p.enabled ? 'disable' : 'enable')}>
                        {p.enabled ? 'Disable' : 'Enable'} {p.name}
                      </button>
                      <button type="button" onClick={() => void act(p, 'check')}>
                        Check {p.name} now
                      </button>
                    </div>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
