/**
 * Bulk actions on jobs: cancel or retry the selected jobs, or every job that matches the list's
 * filter (which must name a status). The count is shown before anything is done. For a status
 * and type it comes from the counters, not from a count of rows; any narrower filter (tenant,
 * provider, time, metadata, idempotency key) is counted by listing the matching ids first. At
 * most MAX_BULK jobs per action.
 */
import { useState } from 'preact/hooks';
import { ApiError, call } from '../api.js';

/** Most jobs one bulk action touches. */
export const MAX_BULK = 10_000;

type Action = 'cancel' | 'retry';

/** Which action a status allows: queued and running jobs can be cancelled, failed and cancelled ones retried. */
export function actionFor(status: string | null): Action | undefined {
  if (status === 'queued' || status === 'running') return 'cancel';
  if (status === 'failed' || status === 'cancelled') return 'retry';
  return undefined;
}

interface Stats {
  [status: string]: unknown;
  byType: Record<string, Record<string, number>>;
}

async function act(action: Action, ids: string[], progress: (done: number) => void): Promise<{ ok: number; refused: number }> {
  let ok = 0;
  let refused = 0;
  for (const id of ids) {
    try {
      await call('POST', `/v1/jobs/${encodeURIComponent(id)}/${action}`);
      ok++;
    } catch (err) {
      // Finished meanwhile (409), or not this key's: counted, not fatal.
      if (err instanceof ApiError && err.status < 500) refused++;
      else throw err;
    }
    progress(ok + refused);
  }
  return { ok, refused };
}

/** Up to `max` ids of the jobs the list query selects, newest first, page by page. */
async function matchingIds(filter: URLSearchParams, max: number): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams(filter);
    q.set('limit', '500');
    if (cursor) q.set('cursor', cursor);
    const page: { data: { id: string }[]; nextCursor: string | null } = await call('GET', `/v1/jobs?${q}`);
    out.push(...page.data.map((j) => j.id));
    cursor = page.nextCursor;
  } while (cursor && out.length < max);
  return out.slice(0, max);
}

export function BulkBar({
  selected,
  filter,
  clear,
  done,
}: {
  selected: string[];
  /** The list's API query, as the page sends it. */
  filter: URLSearchParams;
  clear: () => void;
  done: () => void;
}) {
  const status = filter.get('status');
  const type = filter.get('type');
  // A filter besides status and type selects what the counters cannot count.
  const narrowed = [...filter.keys()].some((k) => k !== 'status' && k !== 'type');
  const [note, setNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** `what` names the jobs in the closing note ("selected", "all queued"), so that one action's note is not taken for the next's. */
  const run = async (action: Action, what: string, ids: () => Promise<string[]>, count: number) => {
    const verb = action === 'cancel' ? 'Cancel' : 'Retry';
    if (!confirm(`${verb} ${count.toLocaleString('en-US')} job${count === 1 ? '' : 's'}?`)) return;
    setBusy(true);
    try {
      const list = await ids();
      const r = await act(action, list, (n) =>
        setNote(`${verb}ing… ${n.toLocaleString('en-US')} of ${list.length.toLocaleString('en-US')}`),
      );
      setNote(`${verb} (${what}): ${r.ok} done${r.refused ? `, ${r.refused} could not be (their state had changed)` : ''}.`);
      clear();
      done();
    } catch (err) {
      setNote(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  const matching = actionFor(status);
  const allMatching = async () => {
    setNote(null);
    const what = `all ${status}${type ? ` of type ${type}` : ''}${narrowed ? ' that match the filter' : ''}`;
    if (narrowed) {
      setNote('Counting…');
      const ids = await matchingIds(filter, MAX_BULK);
      setNote(null);
      await run(matching as Action, what, async () => ids, ids.length);
      return;
    }
    const s = await call<Stats>('GET', '/v1/stats');
    const count = type ? (s.byType[type]?.[status as string] ?? 0) : (s[status as string] as number);
    const n = Math.min(count, MAX_BULK);
    await run(matching as Action, what, () => matchingIds(filter, n), n);
  };
  return (
    <fieldset class="actions">
      <legend class="visually-hidden">Bulk actions</legend>
      <button
        type="button"
        disabled={busy || selected.length === 0}
        onClick={() => {
          setNote(null);
          void run('cancel', 'selected', async () => selected, selected.length);
        }}
      >
        Cancel selected ({selected.length})
      </button>
      <button
        type="button"
        disabled={busy || selected.length === 0}
        onClick={() => {
          setNote(null);
          void run('retry', 'selected', async () => selected, selected.length);
        }}
      >
        Retry selected ({selected.length})
      </button>
      {matching && (
        <button type="button" disabled={busy} onClick={() => void allMatching()}>
          {matching === 'cancel' ? 'Cancel' : 'Retry'} all {status} jobs{type ? ` of type ${type}` : ''}
          {narrowed ? ' that match' : ''}
        </button>
      )}
      {note && <span role="status">{note}</span>}
    </fieldset>
  );
}
