/**
 * The tokens of running jobs, for whoever follows them: an attempt that streams hands each piece
 * of its answer here, and followers (the OpenAI and Anthropic fronts, `GET /v1/jobs/:id/stream`)
 * hear it at once. The pieces of the current attempt are kept (up to a byte bound) so that a
 * follower who arrives mid-answer hears it from its start. In memory: a stream is live or it is
 * nothing; the job's recorded output is the truth.
 */
import type { ChatDelta } from '../domain/chat.js';

export type TokenEvent =
  /** An attempt began streaming: what came before (an earlier attempt's pieces) is void. */
  { kind: 'attempt'; attempt: number } | { kind: 'delta'; delta: ChatDelta };

interface Followed {
  listeners: Set<(e: TokenEvent) => void>;
  /** The current attempt's events, for late followers; dropped when they pass `maxBytes`. */
  events: TokenEvent[] | undefined;
  bytes: number;
  /** The current attempt ended: the entry goes when its last follower does. */
  ended: boolean;
}

const sizeOf = (d: ChatDelta) =>
  (d.content?.length ?? 0) +
  (d.refusal?.length ?? 0) +
  (d.reasoning?.length ?? 0) +
  (d.tool_calls?.reduce((n, t) => n + (t.function?.arguments?.length ?? 0) + (t.function?.name?.length ?? 0), 0) ?? 0);

export class TokenStreams {
  private readonly jobs = new Map<string, Followed>();

  /** `maxBytes`: the most answer kept per job for late followers (an answer is bounded by the same). */
  constructor(private readonly maxBytes: number) {}

  /** Whether anyone follows `jobId` now (its next call then streams). */
  followed(jobId: string): boolean {
    return (this.jobs.get(jobId)?.listeners.size ?? 0) > 0;
  }

  /** Hear `jobId`'s pieces, from the start of its current attempt; returns a function that stops. */
  follow(jobId: string, listener: (e: TokenEvent) => void): () => void {
    let f = this.jobs.get(jobId);
    if (!f) {
      f = { listeners: new Set(), events: [], bytes: 0, ended: false };
      this.jobs.set(jobId, f);
    }
    for (const e of f.events ?? []) listener(e);
    f.listeners.add(listener);
    const followed = f;
    return () => {
      followed.listeners.delete(listener);
      if (followed.listeners.size > 0 || this.jobs.get(jobId) !== followed) return;
      // Kept only while an attempt streams, for followers still to come (the attempt's end removes it).
      const streaming = !followed.ended && followed.events?.[0] !== undefined;
      if (!streaming) this.jobs.delete(jobId);
    };
  }

  /** An attempt of `jobId` starts streaming. */
  begin(jobId: string, attempt: number): void {
    let f = this.jobs.get(jobId);
    if (!f) {
      f = { listeners: new Set(), events: [], bytes: 0, ended: false };
      this.jobs.set(jobId, f);
    }
    const e: TokenEvent = { kind: 'attempt', attempt };
    f.events = [e];
    f.bytes = 0;
    f.ended = false;
    for (const fn of f.listeners) fn(e);
  }

  push(jobId: string, delta: ChatDelta): void {
    const f = this.jobs.get(jobId);
    if (!f) return;
    const e: TokenEvent = { kind: 'delta', delta };
    if (f.events) {
      f.bytes += sizeOf(delta);
      if (f.bytes > this.maxBytes) f.events = undefined;
      else f.events.push(e);
    }
    for (const fn of f.listeners) fn(e);
  }

  /** `jobId`'s attempt ended: its pieces are no longer kept once no one follows. */
  end(jobId: string): void {
    const f = this.jobs.get(jobId);
    if (!f) return;
    if (f.listeners.size === 0) this.jobs.delete(jobId);
    else f.ended = true;
  }

  /** Jobs with followers or kept pieces (bounded by the jobs streaming or followed now). */
  get size(): number {
    return this.jobs.size;
  }
}
