/** What a job handler receives: it runs in a worker thread (the built-in chat on the main thread) and reaches the world only through `ctx`. */
import type { LlmRequest, LlmResponse } from '../domain/providers.js';

export interface HandlerContext {
  jobId: string;
  /** This attempt's number, from 1. */
  attempt: number;
  /** Aborted when the job times out, is cancelled or the engine stops. */
  signal: AbortSignal;
  /** One LLM call through the router (breakers, failover, limits, usage accounting on the main thread). */
  llm(request: LlmRequest): Promise<LlmResponse>;
  /** Report progress (a number, e.g. 0–100). */
  progress(value: number): void;
  log: {
    debug(msg: string): void;
    info(msg: string): void;
    warn(msg: string): void;
    error(msg: string): void;
  };
}

/** A job type's handler: the default export of its module. */
export type Handler<I = unknown, O = unknown> = (input: I, ctx: HandlerContext) => Promise<O>;
