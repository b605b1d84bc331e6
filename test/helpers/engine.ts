/** Test helpers: a real engine on a real SQLite file in a fresh temp dir, closed in teardown. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { createEngine, type Engine } from '../../src/engine.js';
import type { EngineOptions } from '../../src/config.js';
import type { NewJob } from '../../src/domain/jobs.js';
import { createServer, type ServerOptions } from '../../src/http/app.js';

export const API_KEY = 'test-key-0123456789abcdef';

/** A fresh temp dir removed in teardown. */
export function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An engine on `<tempdir>/jobs.db` (or `database`), stopped in teardown. Not started unless `start`. */
export async function makeEngine(t: Test, opts: EngineOptions & { start?: boolean } = {}): Promise<Engine> {
  const { start = true, ...rest } = opts;
  const engine = await createEngine({
    database: join(tempDir(t), 'jobs.db'),
    threads: 1,
    concurrency: 64,
    retryBaseMs: 20,
    retryMaxMs: 200,
    abortGraceMs: 300,
    ...rest,
  });
  t.teardown(() => engine.stop({ timeoutMs: 2000 }));
  if (start) await engine.start();
  return engine;
}

export interface Served {
  url: string;
  /** fetch with the API key, JSON in and out. */
  call(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Headers }>;
  /** The same with another key (or none: `undefined`). */
  as(key: string | undefined): Pick<Served, 'call'>;
}

/** The HTTP API on `engine`, listening on 127.0.0.1 at a port the OS picks. */
export async function serve(t: Test, engine: Engine, opts: Omit<ServerOptions, 'apiKey'> = {}): Promise<Served> {
  const app = await createServer(engine, { apiKey: API_KEY, ...opts });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  const url = `http://127.0.0.1:${addr.port}`;
  const caller = (key: string | undefined): Pick<Served, 'call'> => ({
    async call(method, path, body, headers = {}) {
      const res = await fetch(url + path, {
        method,
        headers: {
          ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON (metrics)
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
  });
  return { url, ...caller(API_KEY), as: caller };
}

let seq = 0;
/** A store-level job row for tests that write to the store directly. */
export const newJob = (over: Partial<NewJob> = {}): NewJob => ({
  id: `job-${++seq}`,
  tenant: 'default',
  type: 'chat',
  input: chatJob('stored directly').input,
  priority: 0,
  runAt: Date.now(),
  maxAttempts: 3,
  timeoutMs: 10_000,
  idempotencyKey: null,
  requestHash: null,
  metadata: null,
  createdAt: Date.now(),
  ...over,
});

export const chatJob = (content: string, extra: Record<string, unknown> = {}) => ({
  input: { messages: [{ role: 'user' as const, content }] },
  ...extra,
});
