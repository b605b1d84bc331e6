/**
 * Tenants' JSON Schemas, made safe: size and complexity limits on the main thread, then compiling
 * and checking on a thread of their own (Piscina) with a time budget per task, past which that
 * thread is terminated and replaced. Compile outcomes, failures included, are cached by the hash of
 * the schema's text, so a schema that failed costs nothing the second time.
 */
import { createHash } from 'node:crypto';
import PQueue from 'p-queue';
import { Piscina } from 'piscina';
import { SwitchyardError } from '../errors.js';
import { checkSchemaLimits } from './limits.js';
import type { SchemaResult, SchemaTask } from './messages.js';

const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const WORKER_URL = new URL(`./worker${EXT}`, import.meta.url);
/** Compile outcomes kept (a Map in insertion order: the oldest goes first). */
const MAX_CACHED = 2000;

export interface SchemaCheckerOptions {
  /** Largest schema, bytes of JSON. */
  maxBytes: number;
  /** Longest one compile or one check may take on the schema thread, ms. */
  timeoutMs: number;
}

/** A prepared schema: its text and the key its compiled form is kept under. */
export interface PreparedSchema {
  key: string;
  text: string;
}

/**
 * One thread, one task at a time: a task's budget starts when it starts, and a thread that starts
 * (the first, or one replacing a terminated one) is warmed by a task without a budget, so that
 * loading it is never counted against a schema.
 */
export class SchemaChecker {
  private piscina: Piscina | undefined;
  private warm = false;
  private readonly outcomes = new Map<string, Promise<SchemaResult>>();
  private readonly queue = new PQueue({ concurrency: 1 });
  private closed = false;
  /** Schemas compiled on the thread so far (a failure cached is not compiled again). */
  compiles = 0;

  constructor(private readonly opts: SchemaCheckerOptions) {}

  private get pool(): Piscina {
    this.piscina ??= new Piscina({
      filename: WORKER_URL.href,
      name: 'runSchemaTask',
      minThreads: 0,
      maxThreads: 1,
      idleTimeout: 60_000,
      atomics: 'disabled',
    });
    return this.piscina;
  }

  /**
   * Check `schema` against the limits and compile it (once per distinct schema); throws a coded
   * 400 naming the problem. `where` names the schema in messages (`input.responseSchema`).
   */
  async prepare(schema: unknown, where: string): Promise<PreparedSchema> {
    const text = checkSchemaLimits(schema, this.opts.maxBytes, where);
    const key = createHash('sha256').update(text).digest('base64url');
    let outcome = this.outcomes.get(key);
    if (!outcome) {
      if (this.outcomes.size >= MAX_CACHED) this.outcomes.delete(this.outcomes.keys().next().value as string);
      this.compiles++;
      outcome = this.run({ kind: 'compile', key, schema: text });
      this.outcomes.set(key, outcome);
      // A thread that failed (not a schema that did) is not an outcome to keep.
      outcome.catch(() => this.outcomes.delete(key));
    }
    const r = await outcome;
    if (!r.ok) {
      const tooSlow = r.message.startsWith('took longer');
      throw new SwitchyardError(tooSlow ? 'SWY_SCHEMA_TOO_COMPLEX' : 'SWY_VALIDATION', `${where} cannot be used: ${r.message}`);
    }
    return { key, text };
  }

  /** Whether `value` matches the prepared schema: null, or the first place it fails. */
  async check(schema: PreparedSchema, value: unknown): Promise<string | null> {
    const r = await this.run({ kind: 'validate', key: schema.key, schema: schema.text, value });
    if (r.ok) return null;
    if (r.message.startsWith('took longer')) {
      throw new SwitchyardError('SWY_SCHEMA_TOO_COMPLEX', `checking the answer against its schema ${r.message}`);
    }
    return r.message;
  }

  private run(task: SchemaTask): Promise<SchemaResult> {
    if (this.closed) return Promise.reject(new SwitchyardError('SWY_SHUTTING_DOWN', 'the engine is stopping'));
    return this.queue.add(async () => {
      if (!this.warm || this.pool.threads.length === 0) {
        await this.pool.run({ kind: 'ping' } satisfies SchemaTask);
        this.warm = true;
      }
      try {
        return (await this.pool.run(task, { signal: AbortSignal.timeout(this.opts.timeoutMs) })) as SchemaResult;
      } catch (err) {
        if ((err as { name?: string }).name === 'AbortError') {
          // The thread was terminated: the next task warms its replacement first.
          this.warm = false;
          return { ok: false, message: `took longer than ${this.opts.timeoutMs} ms` };
        }
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue.clear();
    await this.piscina?.close({ force: true });
  }
}
