/**
 * What the synchronous fronts (Chat Completions, Responses, Messages) share: a request runs as a
 * job, its tokens are followed while it runs, and a client that goes away cancels it. Also the
 * server-sent-events answer they stream on.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import { SwitchyardError } from '../errors.js';
import type { Engine } from '../engine.js';
import type { TokenEvent } from '../jobs/token-stream.js';
import { TERMINAL_STATUSES, type Job, type SubmitJob } from '../domain/jobs.js';

/** An AbortSignal that fires when the client goes away before its answer was sent. */
export function clientGone(res: ServerResponse): AbortSignal {
  const ac = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  return ac.signal;
}

/** A reply's raw answer, hijacked and opened as a stream of server-sent events. */
export interface EventStream {
  /** Write one event (`event:` line only when named). */
  send(data: unknown, event?: string): void;
  comment(text: string): void;
  end(): void;
  readonly res: ServerResponse;
}

/** Take over `reply` and answer with a stream of server-sent events (`headers` added). */
export function openEventStream(reply: FastifyReply, headers: Record<string, string> = {}): EventStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    ...headers,
  });
  // Events are small and must leave at once: no Nagle delay between them.
  res.socket?.setNoDelay(true);
  return {
    res,
    send(data, event) {
      res.write(`${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    },
    comment(text) {
      res.write(`: ${text}\n\n`);
    },
    end() {
      if (!res.writableEnded) res.end();
    },
  };
}

export interface RunOptions {
  /** The submitting tenant. */
  tenant: string;
  /** The client's connection: when it goes away the job is cancelled (nobody reads its answer). */
  gone: AbortSignal;
  /** Hears the job's tokens as they stream. */
  onToken?: (e: TokenEvent) => void;
  /** Called with the job once it is stored (before it runs). */
  onSubmitted?: (job: Job) => void;
}

/**
 * Submit `job`, follow it to the end, and resolve with it terminal, or undefined when the client
 * went away first (then it was cancelled).
 */
export async function runJob(engine: Engine, job: SubmitJob, o: RunOptions): Promise<Job | undefined> {
  const submitted = await engine.run(job, { tenant: o.tenant });
  o.onSubmitted?.(submitted);
  // Followed before the job can start: the scheduler claims it on a later turn than this one.
  const unfollow = o.onToken ? engine.follow(submitted.id, o.onToken) : undefined;
  const cancel = () => void engine.cancel(submitted.id).catch(() => undefined);
  o.gone.addEventListener('abort', cancel, { once: true });
  try {
    for (;;) {
      const now = await engine.wait(submitted.id, { timeoutMs: 60_000, signal: o.gone, attempts: false });
      if (TERMINAL_STATUSES.has(now.status)) return now;
      if (o.gone.aborted) return undefined;
    }
  } finally {
    o.gone.removeEventListener('abort', cancel);
    unfollow?.();
  }
}

/** Long-lived streams per key (`/v1/events`, `/v1/jobs/:id/stream`), capped: each holds a connection and a listener. */
export class StreamSlots {
  private readonly open = new Map<string, number>();

  constructor(private readonly perKey: number) {}

  /** Take a slot for `keyId`, or throw SWY_TOO_MANY_STREAMS; returns the function that gives it back. */
  take(keyId: string): () => void {
    const n = this.open.get(keyId) ?? 0;
    if (n >= this.perKey) {
      throw new SwitchyardError('SWY_TOO_MANY_STREAMS', `this key has ${n} streams open; the limit is ${this.perKey}`, {
        retryAfterMs: 1000,
      });
    }
    this.open.set(keyId, n + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.open.get(keyId) ?? 1) - 1;
      if (left <= 0) this.open.delete(keyId);
      else this.open.set(keyId, left);
    };
  }
}
