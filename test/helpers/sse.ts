/** A Server-Sent Events client over fetch for tests: it records what arrives and wakes waiters on each event. */

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
  /** `data` parsed as JSON, or undefined when it is not JSON. */
  json: any;
}

export interface SseClient {
  status: number;
  headers: Headers;
  events: SseEvent[];
  /** Comment lines (heartbeats) seen. */
  comments: number;
  /** Resolves once `pred` holds for what arrived; rejects if the stream ends first. */
  until(pred: (events: SseEvent[]) => boolean): Promise<void>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): Promise<void>;
}

/** Open `url` with `init`; resolves once the answer's headers arrived. */
export async function sse(url: string, init: RequestInit = {}): Promise<SseClient> {
  const ac = new AbortController();
  const res = await fetch(url, { ...init, signal: ac.signal });
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  let finished = false;
  const client: SseClient = {
    status: res.status,
    headers: res.headers,
    events,
    comments: 0,
    until(pred) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pred(events)) {
            waiters.delete(check);
            resolve();
          } else if (finished) {
            waiters.delete(check);
            reject(new Error(`the stream ended first; got ${events.map((e) => e.event).join(', ')}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
    ended: Promise.resolve(),
    async close() {
      ac.abort();
      await client.ended;
    },
  };
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  client.ended = (async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true }).replace(/\r\n/g, '\n');
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const fields: Record<string, string> = {};
          let comment = true;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            comment = false;
            const colon = line.indexOf(':');
            const name = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            fields[name] = name === 'data' && fields.data !== undefined ? `${fields.data}\n${value}` : value;
          }
          if (comment) {
            client.comments++;
            continue;
          }
          const data = fields.data ?? '';
          let json: unknown;
          try {
            json = JSON.parse(data);
          } catch {
            json = undefined;
          }
          events.push({ id: fields.id, event: fields.event ?? 'message', data, json });
          wake();
        }
      }
    } catch {
      // aborted by close(), or the connection was cut: `finished` tells waiters
    } finally {
      finished = true;
      wake();
    }
  })();
  return client;
}
