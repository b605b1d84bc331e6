/** The HTTP call every remote adapter makes: POST JSON, abortable, errors mapped to the taxonomy. */
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
      method: 'POST', headers: o.headers, body: JSON.stringify(o.body),
      signal: AbortSignal.any([o.signal, callSignal]), dispatcher: o.agent,
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
