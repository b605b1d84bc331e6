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

export async function runInline(
  handler: Handler, task: { jobId: string; attempt: number; input: unknown }, hooks: AttemptHooks,
): Promise<TaskResult> {
  const { signal } = hooks;
  const log = (level: 'debug' | 'info' | 'warn' | 'error') => (msg: string) => hooks.log(level, String(msg));
  const ctx: HandlerContext = {
    jobId: task.jobId,
    attempt: task.attempt,
    signal,
    llm: (request) => (signal.aborted ? Promise.reject(signal.reason) : hooks.llm(request, signal)),
    progress: (value) => hooks.progress(Number(value)),
    log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
  };
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
