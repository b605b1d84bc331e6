/** The pool's worker entry: runs one job attempt per task, talking to the main thread over the task's port. */
import { threadId } from 'node:worker_threads';
import { fromErrorInfo, toErrorInfo } from '../errors.js';
import type { Handler, HandlerContext } from '../jobs/context.js';
import type { LlmResponse } from '../domain/providers.js';
import type { MainMessage, TaskPayload, TaskResult, WorkerMessage } from './messages.js';

const handlers = new Map<string, Promise<Handler>>();

/**
 * Node 20 does not carry the tsx loader into worker threads, so a TypeScript handler (our own
 * sources under tests, or a user's) is imported through tsx's API; compiled handlers load directly.
 */
async function importModule(url: string): Promise<{ default?: unknown }> {
  if (!url.endsWith('.ts')) return import(url) as Promise<{ default?: unknown }>;
  const { tsImport } = await import('tsx/esm/api');
  return tsImport(url, import.meta.url) as Promise<{ default?: unknown }>;
}

function loadHandler(url: string): Promise<Handler> {
  let h = handlers.get(url);
  if (!h) {
    h = importModule(url).then((m: { default?: unknown }) => {
      if (typeof m.default !== 'function') throw new Error(`handler module ${url} has no default export function`);
      return m.default as Handler;
    });
    handlers.set(url, h);
  }
  return h;
}

/**
 * Piscina's task function, a named export on purpose (the pool passes `name: 'runTask'`): Piscina
 * loads this module with `require()`, and Node 20 builds a facade module for an ES module with a
 * default export; a thread terminated while that facade is built aborts the whole process (Node's
 * assertion in CreateRequiredModuleFacade: a pool closed while a thread was still loading).
 */
export async function runTask(task: TaskPayload): Promise<TaskResult> {
  const { port } = task;
  const ac = new AbortController();
  const pending = new Map<number, { resolve: (r: LlmResponse) => void; reject: (e: unknown) => void }>();
  let nextCall = 0;
  const send = (m: WorkerMessage) => port.postMessage(m);
  Atomics.store(task.thread, 0, threadId);

  port.on('message', (m: MainMessage) => {
    if (m.kind === 'abort') {
      const reason = fromErrorInfo(m.reason);
      ac.abort(reason);
      for (const p of pending.values()) p.reject(reason);
      pending.clear();
      return;
    }
    const p = pending.get(m.callId);
    if (!p) return;
    pending.delete(m.callId);
    if (m.kind === 'llm:ok') p.resolve(m.response);
    else p.reject(fromErrorInfo(m.error));
  });

  const log = (level: 'debug' | 'info' | 'warn' | 'error') => (msg: string) => send({ kind: 'log', level, msg: String(msg) });
  const ctx: HandlerContext = {
    jobId: task.jobId,
    attempt: task.attempt,
    signal: ac.signal,
    llm: (request) =>
      new Promise<LlmResponse>((resolve, reject) => {
        if (ac.signal.aborted) return reject(ac.signal.reason);
        const callId = nextCall++;
        pending.set(callId, { resolve, reject });
        send({ kind: 'llm', callId, request });
      }),
    progress: (value) => send({ kind: 'progress', value: Number(value) }),
    log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
  };

  try {
    const handler = await loadHandler(task.handlerUrl);
    const output = await handler(task.input, ctx);
    const size = Buffer.byteLength(JSON.stringify(output ?? null) ?? 'null');
    if (size > task.maxOutputBytes) {
      return {
        ok: false,
        error: {
          code: 'SWY_OUTPUT_TOO_LARGE',
          message: `the handler's output is ${size} bytes of JSON; the limit is ${task.maxOutputBytes}`,
          retryable: false,
        },
      };
    }
    return { ok: true, output: output === undefined ? null : output };
  } catch (err) {
    return { ok: false, error: toErrorInfo(err) };
  } finally {
    send({ kind: 'end' });
    port.close();
  }
}
