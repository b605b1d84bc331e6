/** Add a provider of any kind (providers:admin): what every kind needs, and its one kind-specific option. */
import { useState } from 'preact/hooks';
import { ApiError, call } from '../api.js';

/** Each kind's endpoint when `baseUrl` is left empty (none: it must be given), and its option field. */
const KINDS: Record<string, { baseUrl?: string; hint: string; option?: { name: string; label: string; placeholder: string } }> = {
  openai: { hint: 'https://api.openai.com/v1, or any OpenAI-compatible server' },
  anthropic: { hint: 'https://api.anthropic.com/v1' },
  gemini: { baseUrl: 'https://generativelanguage.googleapis.com/v1beta', hint: "Google's endpoint unless set" },
  azure: {
    hint: 'https://NAME.openai.azure.com',
    option: { name: 'apiVersion', label: 'API version', placeholder: '2024-10-21' },
  },
  bedrock: {
    baseUrl: '',
    hint: "the region's endpoint unless set",
    option: { name: 'region', label: 'AWS region', placeholder: 'us-east-1' },
  },
  mock: { baseUrl: '', hint: 'none: answers in-process' },
};

export function AddProvider({ done }: { done: (note: string) => void }) {
  const [f, setF] = useState({ name: '', kind: 'openai', baseUrl: '', apiKey: '', models: '', priority: '0', option: '' });
  const [problem, setProblem] = useState<string | null>(null);
  const kind = KINDS[f.kind] ?? (KINDS.openai as (typeof KINDS)[string]);
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.target as HTMLInputElement).value });
  const submit = async (e: Event) => {
    e.preventDefault();
    setProblem(null);
    const body: Record<string, unknown> = { name: f.name.trim(), kind: f.kind, priority: Number(f.priority || 0) };
    if (f.baseUrl.trim()) body.baseUrl = f.baseUrl.trim();
    if (f.apiKey) body.apiKey = f.apiKey;
    const models = f.models
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean);
    if (models.length > 0) body.models = models;
    if (kind.option && f.option.trim()) body.options = { [kind.option.name]: f.option.trim() };
    try {
      await call('POST', '/v1/providers', body);
      done(`${body.name} added`);
    } catch (err) {
      setProblem(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
    }
  };
  return (
    <form class="filters card" onSubmit={submit} aria-label="Add a provider">
      <label>
        name
        <input required value={f.name} onInput={set('name')} pattern="[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}" />
      </label>
      <label>
        kind
        <select value={f.kind} onChange={set('kind')}>
          {Object.keys(KINDS).map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
      </label>
      {f.kind !== 'mock' && (
        <label>
          base URL
          <input type="url" value={f.baseUrl} onInput={set('baseUrl')} placeholder={kind.hint} required={kind.baseUrl === undefined} />
        </label>
      )}
      {f.kind !== 'mock' && (
        <label>
          API key {f.kind === 'bedrock' ? '(ACCESS_KEY_ID:SECRET_ACCESS_KEY, or an API key)' : ''}
          <input type="password" autocomplete="off" value={f.apiKey} onInput={set('apiKey')} />
        </label>
      )}
      <label>
        models (comma-separated; * for any)
        <input value={f.models} onInput={set('models')} placeholder="*" />
      </label>
      <label>
        priority
        <input type="number" value={f.priority} onInput={set('priority')} />
      </label>
      {kind.option && (
        <label>
          {kind.option.label}
          <input value={f.option} onInput={set('option')} placeholder={kind.option.placeholder} />
        </label>
      )}
      <button class="primary" type="submit">
        Add provider
      </button>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
    </form>
  );
}
