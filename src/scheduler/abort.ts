/**
 * An attempt's abort, without an AbortSignal until something asks for one. Building a signal and
 * listening on it is a visible share of a no-op job's main-thread time and garbage. The
 * runners and the mock only need to know whether, and when, the attempt was aborted. HTTP
 * adapters and handlers that read `ctx.signal` get a real signal, aborted with the same reason.
 */
import type { CallAbort } from '../domain/providers.js';

export class LazyAbort implements CallAbort {
  aborted = false;
  reason: unknown = undefined;
  private controller: AbortController | undefined;
  /** Listeners: the runner's, and a provider call's wait (the mock's timer); no EventTarget for them. */
  private listeners: (() => void)[] | undefined;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** Abort once; later calls keep the first reason. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    try {
      if (listeners) for (const fn of listeners) fn();
    } finally {
      // A built signal is aborted even if a listener threw (an HTTP call must not outlive its attempt).
      this.controller?.abort(reason);
    }
  }

  /** Call `fn` once when the attempt aborts, or at once if it has. */
  onAbort(fn: () => void): void {
    if (this.aborted) fn();
    else {
      this.listeners ??= [];
      this.listeners.push(fn);
    }
  }

  offAbort(fn: () => void): void {
    const listeners = this.listeners;
    if (!listeners) return;
    // Listeners usually leave in the reverse order they came (a call's wait before the runner).
    if (listeners.at(-1) === fn) listeners.pop();
    else {
      const at = listeners.indexOf(fn);
      if (at >= 0) listeners.splice(at, 1);
    }
  }
}
