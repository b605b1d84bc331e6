/** The HTTP call every remote adapter makes: POST JSON, abortable, errors mapped to the taxonomy. */
import { createParser } from 'eventsource-parser';
import { request, type Agent } from 'undici';
import { SwitchyardError } from '../errors.js';
import { httpError, transportError } from './http-errors.js';

export interface PostOptions {
  provider: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  agent: Agent;
  /** The attempt's signal: its abort passes through unchanged. */
  signal: AbortSignal;
  /** The provider's own per-call limit. */
  timeoutMs: number;
}

/** POST `body` as JSON and resolve with the 2xx answer's parsed body. */
export async function postJson<T>(o: PostOptions): Promise<T> {
  const callSignal = AbortSignal.timeout(o.timeoutMs);
  let status: number;
  let headers: Record<string, string | string[] | undefined>;
  let text: string;
  try {
    const res = await request(o.url, {
      method: 'POST',
      headers: o.headers,
      body: JSON.stringify(o.body),
      signal: AbortSignal.any([o.signal, callSignal]),
      dispatcher: o.agent,
    });
    status = res.statusCode;
    headers = res.headers;
    text = await res.body.text();
  } catch (err) {
    throw transportError(o.provider, err, o.signal, callSignal);
  }
  if (status < 200 || status >= 300) throw httpError(o.provider, status, headers, text);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new SwitchyardError('SWY_PROVIDER_BAD_RESPONSE', `${o.provider}: answer is not JSON`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new SwitchyardError('SWY_PROVIDER_BAD_RESPONSE', `${o.provider}: answer is not a JSON object`);
  }
  return data as T;
}

/** One event of an upstream's Server-Sent Events stream. */
export interface UpstreamEvent {
  event: string | undefined;
  data: string;
}

/**
 * POST `body` as JSON and read the 2xx answer as Server-Sent Events, handing each event to
 * `onEvent` as it arrives; resolves when the stream ends. A non-2xx answer is read whole (it is an
 * error body, not a stream) and mapped as `postJson` maps it. An error thrown by `onEvent` ends
 * the stream and rejects.
 */
export async function postStream(o: PostOptions, onEvent: (e: UpstreamEvent) => void): Promise<void> {
  const callSignal = AbortSignal.timeout(o.timeoutMs);
  const signal = AbortSignal.any([o.signal, callSignal]);
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(o.url, {
      method: 'POST',
      headers: { ...o.headers, accept: 'text/event-stream' },
      body: JSON.stringify(o.body),
      signal,
      dispatcher: o.agent,
    });
  } catch (err) {
    throw transportError(o.provider, err, o.signal, callSignal);
  }
  if (res.statusCode < 200 || res.statusCode >= 300) {
    let text = '';
    try {
      text = await res.body.text();
    } catch {
      // the status says enough
    }
    throw httpError(o.provider, res.statusCode, res.headers, text);
  }
  let failed: unknown;
  const parser = createParser({
    onEvent: (e) => {
      if (failed !== undefined) return;
      try {
        onEvent({ event: e.event, data: e.data });
      } catch (err) {
        failed = err;
      }
    },
  });
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body) {
      parser.feed(decoder.decode(chunk as Buffer, { stream: true }));
      if (failed !== undefined) break;
    }
  } catch (err) {
    throw transportError(o.provider, err, o.signal, callSignal);
  } finally {
    if (failed !== undefined) res.body.destroy();
  }
  if (failed !== undefined) throw failed;
}
