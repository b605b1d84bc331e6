/** The HTTP call every remote adapter makes: POST JSON, abortable, errors mapped to the taxonomy. */
import { createParser } from 'eventsource-parser';
import { Agent, request } from 'undici';
import { SwitchyardError } from '../errors.js';
import type { CallAbort, ProviderConfig } from '../domain/providers.js';
import type { ProviderEnv } from './env.js';
import { httpError, transportError } from './http-errors.js';

/** A provider's connection pool: as many connections as calls it may have in flight, answers bounded in size, hosts checked. */
export function providerAgent(config: ProviderConfig, env: ProviderEnv): Agent {
  return new Agent({
    connections: config.maxConcurrency,
    keepAliveTimeout: 10_000,
    maxResponseSize: env.maxOutputBytes,
    connect: { lookup: env.hosts.lookup },
  });
}

export interface PostOptions {
  provider: string;
  url: string;
  headers: Record<string, string>;
  /** Sent as JSON; a string is sent as it is (a signed request's body must be the bytes signed). */
  body: unknown;
  agent: Agent;
  /** The attempt's signal: its abort passes through unchanged. */
  signal: AbortSignal;
  /** The provider's own per-call limit. */
  timeoutMs: number;
}

/** A call of `config`'s provider to `url`: its pool, the attempt's signal, the provider's own timeout. */
export function callOf(
  config: ProviderConfig,
  agent: Agent,
  url: string,
  headers: Record<string, string>,
  body: unknown,
  abort: CallAbort,
): PostOptions {
  return { provider: config.name, url, headers, body, agent, signal: abort.signal, timeoutMs: config.timeoutMs };
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
      body: typeof o.body === 'string' ? o.body : JSON.stringify(o.body),
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
 * POST `body` as JSON and hand the 2xx answer's body to `consume`, which reads it as it arrives;
 * resolves when `consume` does. A non-2xx answer is read whole (it is an error body, not a stream)
 * and mapped as `postJson` maps it. A failure reading the body is mapped as a transport error; an
 * error thrown by `consume` ends the stream and rejects as it is.
 */
export async function postBody(o: PostOptions, accept: string, consume: (body: AsyncIterable<Uint8Array>) => Promise<void>): Promise<void> {
  const callSignal = AbortSignal.timeout(o.timeoutMs);
  const signal = AbortSignal.any([o.signal, callSignal]);
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(o.url, {
      method: 'POST',
      headers: { ...o.headers, accept },
      body: typeof o.body === 'string' ? o.body : JSON.stringify(o.body),
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
  let broken: unknown;
  const source = res.body;
  async function* chunks(): AsyncIterable<Uint8Array> {
    try {
      for await (const chunk of source) yield chunk as Uint8Array;
    } catch (err) {
      broken = err;
      throw err;
    }
  }
  try {
    await consume(chunks());
  } catch (err) {
    if (broken !== undefined && err === broken) throw transportError(o.provider, err, o.signal, callSignal);
    throw err;
  } finally {
    source.destroy();
  }
}

/**
 * POST `body` as JSON and read the 2xx answer as Server-Sent Events, handing each event to
 * `onEvent` as it arrives (see postBody).
 */
export async function postStream(o: PostOptions, onEvent: (e: UpstreamEvent) => void): Promise<void> {
  const parser = createParser({ onEvent: (e) => onEvent({ event: e.event, data: e.data }) });
  const decoder = new TextDecoder();
  await postBody(o, 'text/event-stream', async (body) => {
    for await (const chunk of body) parser.feed(decoder.decode(chunk, { stream: true }));
  });
}
