/** The CLI's HTTP client for a running server: where it is, which key, and errors a person can act on. */
import { readFileSync } from 'node:fs';
import { apiKeyPath } from '../api-key.js';
import { DEFAULT_DATABASE } from '../config.js';

/** An error the CLI prints as one line and exits non-zero on. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface Connection {
  url: string;
  key: string;
}

/** `--url` / `--key`, else SWITCHYARD_URL / SWITCHYARD_API_KEY, else the local server's key file. */
export function connection(values: { url?: string; key?: string }, env: NodeJS.ProcessEnv = process.env): Connection {
  const url = (values.url ?? env.SWITCHYARD_URL ?? `http://127.0.0.1:${env.PORT ?? 8080}`).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(url)) throw new CliError(`--url must be an http(s) URL, not ${JSON.stringify(url)}`, 2);
  let key = values.key ?? (env.SWITCHYARD_API_KEY || undefined);
  if (key === undefined) {
    const file = apiKeyPath(env.SWITCHYARD_DB ?? DEFAULT_DATABASE);
    try {
      key = readFileSync(file, 'utf8').trim();
    } catch {
      throw new CliError(`no API key: pass --key, set SWITCHYARD_API_KEY, or run next to the server's ${file}`, 2);
    }
  }
  return { url, key };
}

export class ApiClient {
  constructor(private readonly c: Connection) {}

  get url(): string {
    return this.c.url;
  }

  /** One request; resolves with the parsed body, or throws a CliError saying what to do. */
  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.c.url + path, {
        method,
        headers: { authorization: `Bearer ${this.c.key}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `cannot reach the server at ${this.c.url} (${cause?.code ?? cause?.message ?? (err as Error).message}): is \`switchyard serve\` running there? Set --url or SWITCHYARD_URL.`,
      );
    }
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    if (res.ok) return parsed as T;
    const e = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
    const what = `${e?.code ?? `HTTP ${res.status}`}: ${e?.message ?? res.statusText}`;
    if (res.status === 401)
      throw new CliError(`the server at ${this.c.url} refused the API key (${what}). Pass --key or set SWITCHYARD_API_KEY.`);
    if (res.status === 403) throw new CliError(`the API key may not do this (${what})`);
    throw Object.assign(new CliError(what), { status: res.status, code: e?.code });
  }
}
