/**
 * Runs a built-in handler on the main thread. The built-in `chat` handler is one `ctx.llm()` call
 * and a JSON check: in the pool, its only work would be a message back to this thread, so the two
 * thread hops cost more main-thread time than the handler itself. User
 * handlers (`engine.defineJobType`) always run in the pool.
 */
import { toErrorInfo } from '../errors.js';
import type { Handler, HandlerContext } from '../jobs/context.js';
import type { AttemptHooks } from '../pool/pool.js';
import type { TaskResult } from '../pool/messages.js';
import type { LlmRequest, LlmResponse } from '../domain/providers.js';

/**
 * The handler's ctx, its methods on the prototype (no closures per attempt); `log` is built when
 * first used. Only built-in handlers run inline, and they call `ctx.llm()` as a method.
 */
class InlineContext implements HandlerContext {
  private logger: HandlerContext['log'] | undefined;

  constructor(
    readonly jobId: string,
    readonly attempt: number,
    private readonly hooks: AttemptHooks,
  ) {}

  /** Built when a handler first reads it (see LazyAbort). */
  get signal(): AbortSignal {
    return this.hooks.signal;
  }

  llm(request: LlmRequest): Promise<LlmResponse> {
    return this.hooks.aborted ? Promise.reject(this.hooks.reason) : this.hooks.llm(request);
  }

  progress(value: number): void {
    this.hooks.progress(Number(value));
  }

  get log(): HandlerContext['log'] {
    const hooks = this.hooks;
    const at = (level: 'debug' | 'info' | 'warn' | 'error') => (msg: string) => hooks.log(level, String(msg));
    this.logger ??= { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    return this.logger;
  }
}

/** Run `handler` with its ctx; an abort ends the attempt with its reason even if the handler ignores it. */
export function runInline(
  handler: Handler,
  task: { jobId: string; attempt: number; input: unknown },
  hooks: AttemptHooks,
): Promise<TaskResult> {
  if (hooks.aborted) return Promise.resolve({ ok: false, error: toErrorInfo(hooks.reason) });
  // One promise settled by whichever comes first (not Promise.race over a second, abort-only one):
  // this runs once per job on the main thread.
  return new Promise<TaskResult>((resolve) => {
    const onAbort = () => resolve({ ok: false, error: toErrorInfo(hooks.reason) });
    hooks.onAbort(onAbort);
    let running: Promise<unknown>;
    try {
      running = handler(task.input, new InlineContext(task.jobId, task.attempt, hooks));
    } catch (err) {
      running = Promise.reject(err);
    }
    running.then(
      (output) => {
        hooks.offAbort(onAbort);
        resolve({ ok: true, output: output === undefined ? null : output, outputIsJson: true });
      },
      (err: unknown) => {
        hooks.offAbort(onAbort);
        resolve({ ok: false, error: toErrorInfo(err) });
      },
    );
  });
}
