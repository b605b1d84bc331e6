/**
 * Runs a built-in handler on the main thread. The built-in `chat` handler is one `ctx.llm()` call
 * and a JSON check: in the pool, its only work would be a message back to this thread, so the two
 * thread hops cost more than the handler (≈ 35 µs of main-thread time per job, measured). User
 * handlers (`engine.defineJobType`) always run in the pool.
 */
import { toErrorInfo } from '../errors.js';
import type { Handler, HandlerContext } from '../jobs/context.js';
import type { AttemptHooks } from '../pool/pool.js';
import type { TaskResult } from '../pool/messages.js';
import type { LlmRequest, LlmResponse } from '../providers/types.js';

/**
 * The handler's ctx, its methods on the prototype (no closures per attempt); `log` is built when
 * first used. Only built-in handlers run inline, and they call `ctx.llm()` as a method.
 */
class InlineContext implements HandlerContext {
  readonly signal: AbortSignal;
  private logger: HandlerContext['log'] | undefined;

  constructor(readonly jobId: string, readonly attempt: number, private readonly hooks: AttemptHooks) {
    this.signal = hooks.signal;
  }

  llm(request: LlmRequest): Promise<LlmResponse> {
    return this.signal.aborted ? Promise.reject(this.signal.reason) : this.hooks.llm(request, this.signal);
  }

  progress(value: number): void {
    this.hooks.progress(Number(value));
  }

  get log(): HandlerContext['log'] {
    const hooks = this.hooks;
    const at = (level: 'debug' | 'info' | 'warn' | 'error') => (msg: string) => hooks.log(level, String(msg));
    return (this.logger ??= { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') });
  }
}

export async function runInline(
  handler: Handler, task: { jobId: string; attempt: number; input: unknown }, hooks: AttemptHooks,
): Promise<TaskResult> {
  const { signal } = hooks;
  const ctx = new InlineContext(task.jobId, task.attempt, hooks);
  // The attempt ends when it is aborted even if the handler were slow to notice.
  let fail!: (reason: unknown) => void;
  const aborted = new Promise<never>((_, reject) => (fail = reject));
  aborted.catch(() => undefined);
  const onAbort = () => fail(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  try {
    const output = await Promise.race([handler(task.input, ctx), aborted]);
    return { ok: true, output: output === undefined ? null : output };
  } catch (err) {
    return { ok: false, error: toErrorInfo(err) };
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
