/**
 * The worker pool (Piscina). Each attempt gets its own MessageChannel: the worker asks for LLM calls
 * over it and hears about aborts on it. A handler that ignores its abort is cut off by terminating
 * its thread, which Piscina replaces. (Piscina's own `signal` option is not used: a task that has
 * one gets a thread to itself, which would end `concurrentTasksPerWorker`.)
 */
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { toErrorInfo, type ErrorInfo } from '../errors.js';
import type { CallAbort, LlmRequest, LlmResponse } from '../domain/providers.js';
import type { MainMessage, TaskPayload, TaskResult, WorkerMessage } from './messages.js';

// Under tsx/tap the sources are .ts; from dist/ they are .js.
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
export const WORKER_URL = new URL(`./worker${EXT}`, import.meta.url);

export interface PoolOptions {
  threads: number;
  /** Attempts one thread runs at once: handlers wait on LLM calls, so a thread takes many. */
  concurrentTasksPerWorker: number;
  /** How long a handler has to honour its abort before its thread is terminated, ms. */
  abortGraceMs: number;
  onError(err: unknown): void;
}

/**
 * What a runner (the pool, or the inline runner) reaches its attempt through. Its abort (timeout,
 * cancel or shutdown) has an ErrorInfo-like `reason`; its `signal` is built when first read
 * (handlers see it as `ctx.signal`).
 */
export interface AttemptHooks extends CallAbort {
  llm(request: LlmRequest): Promise<LlmResponse>;
  progress(value: number): void;
  log(level: string, msg: string): void;
}

export class Pool {
  private started: Piscina | undefined;

  constructor(private readonly opts: PoolOptions) {}

  /**
   * The threads start with the first task: an engine that runs only inline (built-in) job types
   * never pays for them, and a busy start does not share the CPU with booting threads.
   */
  private get piscina(): Piscina {
    if (this.started) return this.started;
    const piscina = new Piscina({
      filename: WORKER_URL.href,
      // Not the default export: see runTask in worker.ts.
      name: 'runTask',
      minThreads: this.opts.threads,
      maxThreads: this.opts.threads,
      concurrentTasksPerWorker: this.opts.concurrentTasksPerWorker,
      idleTimeout: Infinity,
      // 'sync' atomics park an idle worker in Atomics.wait, which blocks its event loop: the
      // answers to ctx.llm() of its other (async) attempts would wait for the next task.
      atomics: 'disabled',
    });
    // Without a listener Piscina's 'error' event would end the process.
    piscina.on('error', this.opts.onError);
    this.started = piscina;
    return piscina;
  }

  /** Attempts waiting for a thread. */
  get queueSize(): number {
    return this.started?.queueSize ?? 0;
  }

  get utilization(): number {
    return this.started?.utilization ?? 0;
  }

  async run(task: Omit<TaskPayload, 'port' | 'thread'>, hooks: AttemptHooks): Promise<TaskResult> {
    const { port1, port2 } = new MessageChannel();
    let terminated = false;
    const thread = new Int32Array(new SharedArrayBuffer(4)).fill(-1);
    let grace: NodeJS.Timeout | undefined;
    const send = (m: MainMessage) => port1.postMessage(m);
    let ended!: () => void;
    const portDrained = new Promise<void>((resolve) => (ended = resolve));

    port1.on('message', (m: WorkerMessage) => {
      switch (m.kind) {
        case 'llm':
          hooks.llm(m.request).then(
            (response) => send({ kind: 'llm:ok', callId: m.callId, response }),
            (err: unknown) => send({ kind: 'llm:error', callId: m.callId, error: toErrorInfo(err, 'SWY_PROVIDER_NETWORK') }),
          );
          break;
        case 'progress':
          hooks.progress(m.value);
          break;
        case 'log':
          hooks.log(m.level, m.msg);
          break;
        case 'end':
          ended();
          break;
      }
    });

    const onAbort = () => {
      send({ kind: 'abort', reason: abortInfo(hooks.reason) });
      let late = false;
      const cutOff = () => {
        const id = Atomics.load(thread, 0);
        const worker = this.piscina.threads.find((w) => w.threadId === id);
        // Not started yet (its thread may still be booting), or only just started: it gets a
        // full grace period of its own before its thread is terminated.
        if (!worker || late) {
          late = !worker;
          grace = setTimeout(cutOff, this.opts.abortGraceMs);
          return;
        }
        terminated = true;
        void worker.terminate();
      };
      grace = setTimeout(cutOff, this.opts.abortGraceMs);
    };
    hooks.onAbort(onAbort);

    try {
      const result = (await this.piscina.run({ ...task, port: port2, thread }, { transferList: [port2] })) as TaskResult;
      // The result travels on Piscina's channel, the attempt's messages on its own port: wait
      // for the port's last message so that no progress or log sent before the result is lost.
      await portDrained;
      return result;
    } catch (err) {
      if (terminated) {
        const info = abortInfo(hooks.reason);
        return {
          ok: false,
          error: { ...info, message: `${info.message} (the handler ignored its abort: its worker thread was terminated)` },
        };
      }
      return {
        ok: false,
        error: { code: 'SWY_WORKER_CRASHED', message: `worker thread failed: ${(err as Error).message}`, retryable: true },
      };
    } finally {
      clearTimeout(grace);
      hooks.offAbort(onAbort);
      port1.close();
    }
  }

  async close(): Promise<void> {
    await this.started?.close({ force: true });
  }
}

function abortInfo(reason: unknown): ErrorInfo {
  return toErrorInfo(reason, 'SWY_CANCELLED');
}
