/** API keys (admin): create with scopes and a rate limit, see the secret once, revoke. */
import { useState } from 'preact/hooks';
import { ApiError, call } from '../api.js';
import { Problem, useData } from '../use-data.js';

interface Key {
  id: string;
  name: string | null;
  scopes: string[];
  rateLimit: number | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const SCOPES = ['jobs:write', 'jobs:read', 'usage:read', 'providers:admin', 'admin'];

export function Keys() {
  const keys = useData(() => call<{ data: Key[] }>('GET', '/v1/keys'), [], false);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['jobs:read']);
  const [rateLimit, setRateLimit] = useState('');
  const [secret, setSecret] = useState<{ id: string; secret: string } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    setProblem(null);
    try {
      const body: Record<string, unknown> = { scopes };
      if (name.trim()) body.name = name.trim();
      if (rateLimit) body.rateLimit = Number(rateLimit);
      const made = await call<Key & { secret: string }>('POST', '/v1/keys', body);
      setSecret({ id: made.id, secret: made.secret });
      setName('');
      keys.reload();
    } catch (err) {
      setProblem(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
    }
  };
  const revoke = async (k: Key) => {
    if (!confirm(`Revoke ${k.name ?? k.id}? Requests with it are refused at once.`)) return;
    await call('DELETE', `/v1/keys/${encodeURIComponent(k.id)}`);
    keys.reload();
  };
  return (
    <>
      <h2>API keys</h2>
      <form class="filters" onSubmit={create}>
        <label>
          Name
          <input value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <fieldset class="filters">
          <legend>Scopes</legend>
          {SCOPES.map((s) => (
            <label key={s}>
              <span>{s}</span>
              <input
                type="checkbox"
                checked={scopes.includes(s)}
                onChange={(e) => {
                  const on = (e.target as HTMLInputElement).checked;
                  setScopes(SCOPES.filter((x) => (x === s ? on : scopes.includes(x))));
                }}
              />
            </label>
          ))}
        </fieldset>
        <label>
          Requests a minute
          <input type="number" min={1} value={rateLimit} onInput={(e) => setRateLimit((e.target as HTMLInputElement).value)} />
        </label>
        <button class="primary" type="submit" disabled={scopes.length === 0}>
          Create key
        </button>
      </form>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {secret && (
        <div class="card" role="status">
          <p>
            The secret of <strong>{secret.id}</strong>, shown this once:
          </p>
          <pre data-testid="new-secret">{secret.secret}</pre>
          <button type="button" onClick={() => setSecret(null)}>
            I have stored it
          </button>
        </div>
      )}
      <Problem error={keys.error} />
      <div class="wrap">
        <table>
          <caption class="visually-hidden">API keys</caption>
          <thead>
            <tr>
              <th scope="col">key</th>
              <th scope="col">scopes</th>
              <th scope="col" class="hide-narrow">
                last used
              </th>
              <th scope="col">state</th>
              <th scope="col">actions</th>
            </tr>
          </thead>
          <tbody>
            {keys.data?.data.map((k) => (
              <tr key={k.id} data-key={k.id}>
                <td>
                  {k.name ?? '—'} <span class="muted">{k.id}</span>
                </td>
                <td>{k.scopes.join(', ')}</td>
                <td class="hide-narrow">{k.lastUsedAt ? new Date(k.lastUsedAt).toLocaleString() : 'never'}</td>
                <td>{k.revokedAt ? 'revoked' : 'active'}</td>
                <td>
                  {!k.revokedAt && (
                    <button type="button" class="danger" onClick={() => void revoke(k)}>
                      Revoke {k.name ?? k.id}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
