/** Providers: breaker state, health, last error; enable, disable and check now (providers:admin). */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, can } from '../api.js';
import { Problem, useData } from '../use-data.js';
import { AddProvider } from './provider-add.js';

interface Provider {
  name: string;
  kind: string;
  enabled: boolean;
  hasApiKey: boolean;
  priority: number;
  weight: number;
  timeoutMs: number;
  rpm: number | null;
  tpm: number | null;
  maxConcurrency: number;
  /** Set by the providers file (`config`) or the environment (`env`): only enabled may change here. */
  managedBy?: 'config' | 'env' | null;
  state: {
    breaker: string;
    inFlight: number;
    successRate?: number;
    latencyMs?: number | null;
    lastError?: { code: string; message?: string; at: string } | null;
    lastMinute: { requests: number; tokens: number };
    halfOpenAt?: string | null;
  };
}

/** Seconds until `at`, ticking: the countdown to a breaker's half-open probe. */
function Countdown({ at }: { at: string }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const s = Math.max(0, Math.ceil((Date.parse(at) - now) / 1000));
  return <span class="muted"> (probe in {s} s)</span>;
}

const NUMBERS = ['priority', 'weight', 'maxConcurrency', 'rpm', 'tpm', 'timeoutMs'] as const;

/** Edit a provider's settings; its API key is write-only: left empty, it stays as it is. */
function Edit({ p, done }: { p: Provider; done: (note: string) => void }) {
  const [values, setValues] = useState<Record<string, string>>(
    Object.fromEntries(NUMBERS.map((k) => [k, p[k] === null ? '' : String(p[k])])),
  );
  const [apiKey, setApiKey] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const save = async (e: Event) => {
    e.preventDefault();
    const patch: Record<string, unknown> = {};
    for (const k of NUMBERS) {
      const v = values[k] ?? '';
      const before = p[k] === null ? '' : String(p[k]);
      if (v !== before) patch[k] = v === '' ? null : Number(v);
    }
    if (apiKey) patch.apiKey = apiKey;
    try {
      await call('PATCH', `/v1/providers/${encodeURIComponent(p.name)}`, patch);
      done(`${p.name} saved`);
    } catch (err) {
      setProblem(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
    }
  };
  return (
    <form class="filters card" onSubmit={save} aria-label={`Edit ${p.name}`}>
      {NUMBERS.map((k) => (
        <label key={k}>
          {k}
          <input
            type="number"
            value={values[k]}
            placeholder={k === 'rpm' || k === 'tpm' ? 'no limit' : ''}
            onInput={(e) => setValues({ ...values, [k]: (e.target as HTMLInputElement).value })}
          />
        </label>
      ))}
      <label>
        API key {p.hasApiKey ? '(set; write-only)' : '(none)'}
        <input type="password" autocomplete="off" value={apiKey} onInput={(e) => setApiKey((e.target as HTMLInputElement).value)} />
      </label>
      <button class="primary" type="submit">
        Save {p.name}
      </button>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
    </form>
  );
}

/** What is left of a per-minute limit in the last 60 s (this process's count). */
function headroom(limit: number | null, used: number, unit: string): string {
  if (limit === null) return `no ${unit} limit`;
  return `${Math.max(0, limit - used).toLocaleString('en-US')} of ${limit.toLocaleString('en-US')} ${unit} left`;
}

export function Providers() {
  const list = useData(() => call<{ data: Provider[] }>('GET', '/v1/providers'), []);
  const [note, setNote] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
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
      {can('providers:admin') && (
        <p>
          <button type="button" onClick={() => setAdding(!adding)} aria-expanded={adding}>
            Add a provider
          </button>
        </p>
      )}
      {adding && (
        <AddProvider
          done={(msg) => {
            setNote(msg);
            setAdding(false);
            list.reload();
          }}
        />
      )}
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
                headroom
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
                  {p.managedBy && <span class="muted"> · set by the {p.managedBy === 'env' ? 'environment' : 'providers file'}</span>}
                </td>
                <td>{p.enabled ? 'yes' : 'no'}</td>
                <td class={`state-${p.state.breaker}`}>
                  {p.state.breaker}
                  {p.state.halfOpenAt && <Countdown at={p.state.halfOpenAt} />}
                </td>
                <td class="num">{p.state.successRate === undefined ? '—' : `${(p.state.successRate * 100).toFixed(0)} %`}</td>
                <td class="num">{p.state.latencyMs == null ? '—' : `${p.state.latencyMs} ms`}</td>
                <td class="hide-narrow">
                  {headroom(p.rpm, p.state.lastMinute.requests, 'rpm')} · {headroom(p.tpm, p.state.lastMinute.tokens, 'tpm')} ·{' '}
                  {Math.max(0, p.maxConcurrency - p.state.inFlight)} of {p.maxConcurrency} slots free
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
                      {!p.managedBy && (
                        <button type="button" onClick={() => setEditing(editing === p.name ? null : p.name)}>
                          Edit {p.name}
                        </button>
                      )}
                    </div>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {(() => {
        const p = list.data?.data.find((x) => x.name === editing);
        return (
          p && (
            <Edit
              key={p.name}
              p={p}
              done={(msg) => {
                setNote(msg);
                setEditing(null);
                list.reload();
              }}
            />
          )
        );
      })()}
    </>
  );
}
