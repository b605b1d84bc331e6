/** The typed messages that cross the thread boundary between the main thread and a pool worker. */
import type { MessagePort } from 'node:worker_threads';
import type { ErrorInfo } from '../errors.js';
import type { LlmRequest, LlmResponse } from '../domain/providers.js';

/** One attempt of one job, as handed to a worker. `port` carries the attempt's conversation. */
export interface TaskPayload {
  jobId: string;
  type: string;
  /** The handler module (file URL); its default export runs the job. */
  handlerUrl: string;
  input: unknown;
  attempt: number;
  /** The largest output, bytes of JSON: a larger one fails the attempt (sized here, off the main thread). */
  maxOutputBytes: number;
  port: MessagePort;
  /**
   * Shared memory where the worker writes its threadId as it starts the attempt, so that the main
   * thread can terminate a hung one. (A message could arrive too late: a handler that never yields
   * can hold back what its thread posted.)
   */
  thread: Int32Array;
}

/** What a worker returns for an attempt. Handler errors come back as data, never as a rejection. */
export type TaskResult =
  /** `outputIsJson`: the output is a JSON value already (a built-in handler's): kept as it is, without a JSON round trip. */
  { ok: true; output: unknown; outputIsJson?: true } | { ok: false; error: ErrorInfo };

export type WorkerMessage =
  | { kind: 'llm'; callId: number; request: LlmRequest }
  | { kind: 'progress'; value: number }
  | { kind: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string }
  /** The attempt's last message on its port: everything it sent before has arrived. */
  | { kind: 'end' };

export type MainMessage =
  | { kind: 'llm:ok'; callId: number; response: LlmResponse }
  | { kind: 'llm:error'; callId: number; error: ErrorInfo }
  | { kind: 'abort'; reason: ErrorInfo };
