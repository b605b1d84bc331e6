/** Data read from the API, read again when live updates say something changed. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from './api.js';
import { tick } from './live.js';

export interface Data<T> {
  data: T | undefined;
  error: ApiError | Error | undefined;
  reload: () => void;
}

/** `read()` now, when `deps` change, and (when `live`) after each coalesced batch of events. */
export function useData<T>(read: () => Promise<T>, deps: unknown[], live = true): Data<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [n, setN] = useState(0);
  const t = live ? tick.value : 0;
  useEffect(() => {
    let stale = false;
    read().then(
      (d) => {
        if (stale) return;
        setData(d);
        setError(undefined);
      },
      (e: Error) => !stale && setError(e),
    );
    return () => {
      stale = true;
    };
  }, [...deps, t, n]);
  return { data, error, reload: () => setN((x) => x + 1) };
}

export function Problem({ error }: { error: Error | undefined }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error instanceof ApiError && error.status === 403 ? 'This key may not see this.' : error.message}
    </p>
  );
}
