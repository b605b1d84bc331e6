/** Batches (the OpenAI Batch API): each batch's progress, its output and error files, and cancel. */
import { useState } from 'preact/hooks';
import { ApiError, apiUrl, call, can } from '../api.js';
import { Problem, useData } from '../use-data.js';

interface Batch {
  id: string;
  status: string;
  endpoint: string;
  created_at: number;
  output_file_id: string | null;
  error_file_id: string | null;
  request_counts: { total: number; completed: number; failed: number };
}

function FileLink({ id, label }: { id: string | null; label: string }) {
  if (!id) return <span class="muted">—</span>;
  return (
    <a href={apiUrl(`v1/files/${encodeURIComponent(id)}/content`)} download={`${id}.jsonl`}>
      {label}
    </a>
  );
}

export function Batches() {
  const list = useData(() => call<{ data: Batch[] }>('GET', '/v1/batches?limit=100'), []);
  const [note, setNote] = useState<string | null>(null);
  const cancel = async (b: Batch) => {
    try {
      await call('POST', `/v1/batches/${encodeURIComponent(b.id)}/cancel`);
      list.reload();
    } catch (err) {
      setNote(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
    }
  };
  const batches = list.data?.data ?? [];
  return (
    <>
      <h2>Batches</h2>
      <Problem error={list.error} />
      {note && <p role="status">{note}</p>}
      <div class="wrap">
        <table>
          <caption class="visually-hidden">Batches, newest first</caption>
          <thead>
            <tr>
              <th scope="col">batch</th>
              <th scope="col">status</th>
              <th scope="col">progress</th>
              <th scope="col">output</th>
              <th scope="col">errors</th>
              <th scope="col" class="hide-narrow">
                created
              </th>
              {can('jobs:write') && <th scope="col">actions</th>}
            </tr>
          </thead>
          <tbody>
            {batches.map((b) => {
              const c = b.request_counts;
              const done = c.completed + c.failed;
              return (
                <tr key={b.id} data-batch={b.id}>
                  <td>{b.id}</td>
                  <td data-testid={`batch-status-${b.id}`}>{b.status}</td>
                  <td>
                    <progress max={Math.max(1, c.total)} value={done} aria-label={`${b.id}: ${done} of ${c.total} requests done`} /> {done}{' '}
                    / {c.total}
                    {c.failed ? <span class="status-failed"> ({c.failed} failed)</span> : null}
                  </td>
                  <td>
                    <FileLink id={b.output_file_id} label="output" />
                  </td>
                  <td>
                    <FileLink id={b.error_file_id} label="errors" />
                  </td>
                  <td class="hide-narrow">{new Date(b.created_at * 1000).toLocaleString()}</td>
                  {can('jobs:write') && (
                    <td>
                      {(b.status === 'validating' || b.status === 'in_progress') && (
                        <button type="button" class="danger" onClick={() => void cancel(b)}>
                          Cancel {b.id}
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {list.data && batches.length === 0 && <p class="muted">No batches yet.</p>}
    </>
  );
}
