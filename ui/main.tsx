/**
 * The web console: sign-in, then Overview, Jobs, a job's detail, and Providers. Routes live in the
 * URL's hash (`#/jobs?status=failed`), so that links and filters can be shared and the page needs
 * no server-side routes under a proxy's sub-path.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { can, restore, session, signIn, signOut } from './api.js';
import { setLive, liveOn, startLive, stopLive } from './live.js';
import { JobDetail, Jobs } from './pages/jobs.js';
import { Overview } from './pages/overview.js';
import { Batches } from './pages/batches.js';
import { Keys } from './pages/keys.js';
import { Providers } from './pages/providers.js';
import { Usage } from './pages/usage.js';

type Theme = 'system' | 'light' | 'dark';

function applyTheme(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem('swy-theme', theme);
}

/** The route in the hash: its path and its query. */
function useRoute(): { path: string; query: URLSearchParams } {
  const read = () => {
    const [path = '/', q = ''] = (location.hash.slice(1) || '/').split('?');
    return { path, query: new URLSearchParams(q) };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function SignIn() {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(key.trim());
      setKey('');
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>Switchyard</h1>
      <form onSubmit={submit}>
        <label>
          API key
          <input
            type="password"
            name="key"
            autocomplete="off"
            required
            value={key}
            onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          />
        </label>
        <button class="primary" type="submit" disabled={busy}>
          Sign in
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
      <p class="muted">The key is exchanged for a session; it is not kept in this page.</p>
    </main>
  );
}

/** The pages, and the scope a key needs to see each (the server enforces it again). */
const PAGES = [
  { path: '/', label: 'Overview', scope: 'usage:read' },
  { path: '/jobs', label: 'Jobs', scope: 'jobs:read' },
  { path: '/providers', label: 'Providers', scope: 'providers:admin' },
  { path: '/batches', label: 'Batches', scope: 'jobs:read' },
  { path: '/usage', label: 'Usage', scope: 'usage:read' },
  { path: '/keys', label: 'Keys', scope: 'admin' },
];

function Shell() {
  const { path, query } = useRoute();
  const [theme, setTheme] = useState<Theme>((localStorage.getItem('swy-theme') as Theme | null) ?? 'system');
  useEffect(() => {
    startLive();
    return stopLive;
  }, []);
  const s = session.value;
  const current = path.startsWith('/jobs') ? '/jobs' : path;
  let page: preact.JSX.Element;
  if (path === '/') page = <Overview />;
  else if (path === '/jobs') page = <Jobs query={query} />;
  else if (path.startsWith('/jobs/')) page = <JobDetail id={decodeURIComponent(path.slice(6))} />;
  else if (path === '/providers') page = <Providers />;
  else if (path === '/batches') page = <Batches />;
  else if (path === '/usage') page = <Usage />;
  else if (path === '/keys') page = <Keys />;
  else page = <p>No such page.</p>;
  return (
    <>
      <header>
        <h1>Switchyard</h1>
        <nav aria-label="Pages">
          <ul>
            {PAGES.filter((p) => can(p.scope)).map((p) => (
              <li key={p.path}>
                <a href={`#${p.path}`} aria-current={current === p.path ? 'page' : undefined}>
                  {p.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="spacer" />
        <label>
          Theme
          <select
            value={theme}
            onChange={(e) => {
              const t = (e.target as HTMLSelectElement).value as Theme;
              setTheme(t);
              applyTheme(t);
            }}
          >
            <option value="system">System</option>
            <option value="light">Light</option>
            <option value="dark">Dark</option>
          </select>
        </label>
        <label>
          <span>Live</span>
          <input type="checkbox" checked={liveOn.value} onChange={(e) => setLive((e.target as HTMLInputElement).checked)} />
        </label>
        <span class="muted">
          {s?.keyId}
          {can('jobs:write') ? '' : ' (read-only)'}
        </span>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main id="main">{page}</main>
    </>
  );
}

function App() {
  const s = session.value;
  if (s === undefined) return <p class="loading">Loading…</p>;
  return s === null ? <SignIn /> : <Shell />;
}

applyTheme((localStorage.getItem('swy-theme') as Theme | null) ?? 'system');
const root = document.getElementById('app') as HTMLElement;
render(<App />, root);
void restore();
