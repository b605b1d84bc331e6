/** Jobs: a filtered list (filters kept in the URL), a box that jumps to a job, and one job's detail. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, apiUrl, call, can, session } from '../api.js';
import { Problem, useData } from '../use-data.js';
import { BulkBar } from './bulk.js';

interface Attempt {
  number: number;
  startedAt?: string;
  finishedAt?: string | null;
  outcome: string;
  error?: { code: string; message: string } | null;
  provider?: string | null;
}
interface Job {
  id: string;
  tenant: string;
  type: string;
  status: string;
  attempt: number;
  maxAttempts: number;
  input?: unknown;
  output?: unknown;
  /** With `?preview=N`: the input and output as cut, pretty-printed text. */
  preview?: { input: Preview | null; output: Preview | null };
  error: { code: string; message: string } | null;
  provider: string | null;
  model: string | null;
  usage: { inputTokens: number; outputTokens: number; costUsd: number };
  createdAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  attempts?: Attempt[];
}
interface Preview {
  text: string;
  chars: number;
  truncated: boolean;
}
interface Page {
  data: Job[];
  nextCursor: string | null;
}

const STATUSES = ['', 'queued', 'running', 'completed', 'failed', 'cancelled'];
/** Longest input or output shown (cut by the server) before "Show all". */
const SHOWN_CHARS = 20_000;

/**
 * The API's list query for the page's URL query. Times are kept in the URL as the browser's
 * local `datetime-local` value and sent as ISO 8601.
 */
export function listQuery(query: URLSearchParams): URLSearchParams {
  const q = new URLSearchParams();
  for (const k of ['status', 'type', 'tenant', 'provider', 'metadata', 'idempotencyKey']) {
    const v = query.get(k);
    if (v) q.set(k, v);
  }
  for (const k of ['from', 'to']) {
    const at = Date.parse(query.get(k) ?? '');
    if (Number.isFinite(at)) q.set(k, new Date(at).toISOString());
  }
  return q;
}

/**
 * Opens the job named by `text`: a job id, else the job submitted with that idempotency key (or,
 * for an admin key, the list of them when several tenants used it).
 */
async function jumpTo(text: string, note: (text: string | null) => void): Promise<void> {
  if (!text) return;
  note(null);
  const open = (id: string) => {
    location.hash = `#/jobs/${encodeURIComponent(id)}`;
  };
  try {
    await call('GET', `/v1/jobs/${encodeURIComponent(text)}?preview=100`);
    return open(text);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) return note(err instanceof Error ? err.message : String(err));
  }
  try {
    const found = await call<Page>('GET', `/v1/jobs?${new URLSearchParams({ idempotencyKey: text, limit: '2' })}`);
    if (found.data.length === 1) return open((found.data[0] as Job).id);
    if (found.data.length > 1) {
      location.hash = `#/jobs?${new URLSearchParams({ idempotencyKey: text })}`;
      return;
    }
    note(`No job has the id or idempotency key "${text}".`);
  } catch (err) {
    note(err instanceof Error ? err.message : String(err));
  }
}

function listPath(query: URLSearchParams, cursor?: string): string {
  const q = listQuery(query);
  q.set('limit', '50');
  if (cursor) q.set('cursor', cursor);
  return `/v1/jobs?${q}`;
}

/** One filter of the list, kept in the page's URL under `name`; applied when the field changes. */
function FilterInput(props: {
  label: string;
  name: string;
  query: URLSearchParams;
  set: (name: string, value: string) => void;
  type?: string;
  placeholder?: string;
  pattern?: string;
}) {
  const { label, name, query, set, ...rest } = props;
  return (
    <label>
      {label}
      <input
        {...rest}
        title={rest.placeholder}
        value={query.get(name) ?? ''}
        onChange={(e) => set(name, (e.target as HTMLInputElement).value.trim())}
      />
    </label>
  );
}

export function Jobs({ query }: { query: URLSearchParams }) {
  const key = query.toString();
  const first = useData(() => call<Page>('GET', listPath(query)), [key]);
  const [more, setMore] = useState<{ key: string; jobs: Job[]; cursor: string | null } | null>(null);
  const [jump, setJump] = useState('');
  const [jumpNote, setJumpNote] = useState<string | null>(null);
  const [selected, setSelected] = useState<string[]>([]);
  const writable = can('jobs:write');
  const extra = more?.key === key ? more : null;
  const jobs = [...(first.data?.data ?? []), ...(extra?.jobs ?? [])];
  const cursor = extra ? extra.cursor : (first.data?.nextCursor ?? null);
  const setFilter = (name: string, value: string) => {
    const q = new URLSearchParams(query);
    if (value) q.set(name, value);
    else q.delete(name);
    location.hash = `#/jobs${q.toString() ? `?${q}` : ''}`;
  };
  const loadMore = async () => {
    if (!cursor) return;
    const page = await call<Page>('GET', listPath(query, cursor));
    setMore({ key, jobs: [...(extra?.jobs ?? []), ...page.data], cursor: page.nextCursor });
  };
  return (
    <>
      <h2>Jobs</h2>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          void jumpTo(jump.trim(), setJumpNote);
        }}
      >
        <label>
          Status
          <select value={query.get('status') ?? ''} onChange={(e) => setFilter('status', (e.target as HTMLSelectElement).value)}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
        <FilterInput label="Type" name="type" query={query} set={setFilter} placeholder="any" />
        {session.value?.admin && <FilterInput label="Tenant" name="tenant" query={query} set={setFilter} placeholder="every tenant" />}
        <FilterInput label="Provider" name="provider" query={query} set={setFilter} placeholder="any" />
        <FilterInput label="Created from" name="from" query={query} set={setFilter} type="datetime-local" />
        <FilterInput label="Created to" name="to" query={query} set={setFilter} type="datetime-local" />
        <FilterInput
          label="Metadata"
          name="metadata"
          query={query}
          set={setFilter}
          placeholder="key=value"
          pattern="[A-Za-z0-9_.:\-]{1,64}=.*"
        />
        <label>
          Go to job id or idempotency key
          <input name="jump" value={jump} onInput={(e) => setJump((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit">Open</button>
      </form>
      {jumpNote && <p role="status">{jumpNote}</p>}
      <Problem error={first.error} />
      {writable && <BulkBar selected={selected} filter={listQuery(query)} clear={() => setSelected([])} done={first.reload} />}
      <div class="wrap">
        <table>
          <caption class="visually-hidden">Jobs, newest first</caption>
          <thead>
            <tr>
              {writable && (
                <th scope="col">
                  <input
                    type="checkbox"
                    aria-label="Select every job shown"
                    checked={jobs.length > 0 && selected.length === jobs.length}
                    onChange={(e) => setSelected((e.target as HTMLInputElement).checked ? jobs.map((j) => j.id) : [])}
                  />
                </th>
              )}
              <th scope="col">job</th>
              <th scope="col">status</th>
              <th scope="col">type</th>
              <th scope="col" class="hide-narrow">
                provider
              </th>
              <th scope="col" class="num hide-narrow">
                tokens
              </th>
              <th scope="col" class="hide-narrow">
                created
              </th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((j) => (
              <tr key={j.id} data-job={j.id}>
                {writable && (
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Select job ${j.id}`}
                      checked={selected.includes(j.id)}
                      onChange={(e) =>
                        setSelected((xs) => ((e.target as HTMLInputElement).checked ? [...xs, j.id] : xs.filter((x) => x !== j.id)))
                      }
                    />
                  </td>
                )}
                <td>
                  <a href={`#/jobs/${encodeURIComponent(j.id)}`}>{j.id}</a>
                </td>
                <td class={`status-${j.status}`}>{j.status}</td>
                <td>{j.type}</td>
                <td class="hide-narrow">{j.provider ?? '—'}</td>
                <td class="num hide-narrow">{(j.usage.inputTokens + j.usage.outputTokens).toLocaleString('en-US')}</td>
                <td class="hide-narrow">{new Date(j.createdAt).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {first.data && jobs.length === 0 && (
        <p class="muted">{cursor ? 'No match among the newest jobs examined; load more to search further back.' : 'No jobs match.'}</p>
      )}
      {cursor && (
        <button type="button" onClick={() => void loadMore()}>
          Load more
        </button>
      )}
    </>
  );
}

/**
 * A payload as the server previewed it (pretty-printed, cut at SHOWN_CHARS): a large one must not
 * freeze the tab. "Show all" asks for the whole job; the link downloads it.
 */
function Payload({ id, label, which, preview }: { id: string; label: string; which: 'input' | 'output'; preview: Preview | null }) {
  const [all, setAll] = useState<string | null>(null);
  if (!preview) return null;
  const showAll = async () => {
    const whole = await call<Job>('GET', `/v1/jobs/${encodeURIComponent(id)}`);
    setAll(JSON.stringify(whole[which], null, 2));
  };
  return (
    <>
      <h3>{label}</h3>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling block must take focus, or a keyboard cannot scroll it (axe: scrollable-region-focusable). */}
      <pre tabIndex={0} data-testid={`payload-${which}`}>
        {all ?? (preview.truncated ? `${preview.text}\n…` : preview.text)}
      </pre>
      {preview.truncated && all === null && (
        <div class="actions">
          <button type="button" onClick={() => void showAll()}>
            Show all {label.toLowerCase()} ({preview.chars.toLocaleString('en-US')} characters)
          </button>
          <a href={apiUrl(`v1/jobs/${encodeURIComponent(id)}`)} download={`${id}.json`}>
            Download the job
          </a>
        </div>
      )}
    </>
  );
}

/**
 * The answer's tokens as they arrive, while the job is not finished: the job's own stream
 * (`/v1/jobs/:id/stream`, authenticated by the session cookie), closed when the job ends or the
 * page goes.
 */
function useLiveAnswer(id: string, active: boolean, onDone: () => void): string {
  const [text, setText] = useState('');
  useEffect(() => {
    if (!active) return;
    setText('');
    const source = new EventSource(apiUrl(`v1/jobs/${encodeURIComponent(id)}/stream`), { withCredentials: true });
    source.addEventListener('delta', (e) => {
      try {
        const d = JSON.parse((e as MessageEvent).data) as { content?: string };
        if (d.content) setText((t) => (t.length > SHOWN_CHARS ? t : t + d.content));
      } catch {
        // not a delta: ignore it
      }
    });
    source.addEventListener('attempt', () => setText(''));
    source.addEventListener('done', () => {
      source.close();
      onDone();
    });
    return () => source.close();
  }, [id, active]);
  return text;
}

export function JobDetail({ id }: { id: string }) {
  const job = useData(() => call<Job>('GET', `/v1/jobs/${encodeURIComponent(id)}?preview=${SHOWN_CHARS}`), [id]);
  const running = job.data?.status === 'running' || job.data?.status === 'queued';
  const live = useLiveAnswer(id, running, job.reload);
  const [problem, setProblem] = useState<string | null>(null);
  const act = async (what: 'cancel' | 'retry') => {
    setProblem(null);
    try {
      await call('POST', `/v1/jobs/${encodeURIComponent(id)}/${what}`);
      job.reload();
    } catch (err) {
      setProblem(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
    }
  };
  const j = job.data;
  return (
    <>
      <p>
        <a href="#/jobs">← Jobs</a>
      </p>
      <h2>Job {id}</h2>
      <Problem error={job.error} />
      {j && (
        <>
          <dl class="cards">
            <div class="card">
              <dt>status</dt>
              <dd class={`status-${j.status}`} data-testid="job-status">
                {j.status}
              </dd>
            </div>
            <div class="card">
              <dt>attempt</dt>
              <dd>
                {j.attempt} of {j.maxAttempts}
              </dd>
            </div>
            <div class="card">
              <dt>type</dt>
              <dd>{j.type}</dd>
            </div>
            <div class="card">
              <dt>tokens / cost</dt>
              <dd>
                {(j.usage.inputTokens + j.usage.outputTokens).toLocaleString('en-US')} / ${j.usage.costUsd.toFixed(4)}
              </dd>
            </div>
          </dl>
          {can('jobs:write') && (
            <div class="actions">
              {(j.status === 'queued' || j.status === 'running') && (
                <button type="button" class="danger" onClick={() => void act('cancel')}>
                  Cancel job
                </button>
              )}
              {(j.status === 'failed' || j.status === 'cancelled') && (
                <button type="button" onClick={() => void act('retry')}>
                  Retry job
                </button>
              )}
            </div>
          )}
          {problem && (
            <p class="error" role="alert">
              {problem}
            </p>
          )}
          {j.error && (
            <p class="error">
              {j.error.code}: {j.error.message}
            </p>
          )}
          <h3>Attempts</h3>
          <div class="wrap">
            <table>
              <caption class="visually-hidden">Attempts, oldest first</caption>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">outcome</th>
                  <th scope="col">provider</th>
                  <th scope="col">started</th>
                  <th scope="col">error</th>
                </tr>
              </thead>
              <tbody>
                {(j.attempts ?? []).map((a) => (
                  <tr key={`${a.number}-${a.startedAt}`}>
                    <td>{a.number}</td>
                    <td>{a.outcome}</td>
                    <td>{a.provider ?? '—'}</td>
                    <td>{a.startedAt ? new Date(a.startedAt).toLocaleString() : '—'}</td>
                    <td>{a.error ? `${a.error.code}: ${a.error.message}` : ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {running && live && (
            <>
              <h3>Answer so far</h3>
              <pre data-testid="live-answer" aria-live="polite">
                {live}
              </pre>
            </>
          )}
          <Payload id={id} label="Input" which="input" preview={j.preview?.input ?? null} />
          <Payload id={id} label="Output" which="output" preview={j.preview?.output ?? null} />
        </>
      )}
    </>
  );
}
