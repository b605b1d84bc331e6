/**
 * OpenAI's Batch API on the engine: every line of an input file becomes a `chat` job; the batch
 * moves validating → in_progress → finalizing → completed (or failed, cancelling → cancelled,
 * expired) and its results are written as OpenAI's output and error files. Input files are read
 * twice as streams (validate, then submit in chunks) and results paged from the store, so a batch
 * of 50,000 lines is never in memory whole. Every step can be repeated after a crash: jobs are
 * submitted with per-line idempotency keys and result files are recorded only once complete.
 */
import { randomBytes } from 'node:crypto';
import PQueue from 'p-queue';
import type { EngineCore as Engine } from '../core/engine.js';
import { SwitchyardError, toErrorInfo } from '../errors.js';
import { chatInputSchema } from '../jobs/chat-schema.js';
import type { Job, SubmitJob } from '../domain/jobs.js';
import type { BatchStore } from '../store/store.js';
import { compileValidator } from '../validation.js';
import { chatCompletionSchema, toChatInput, toCompletion, type ChatCompletionRequest } from '../openai/chat.js';
import { jobError } from '../openai/errors.js';
import type { Files } from './files.js';
import { boundedLines, type Line } from './lines.js';
import type { Batch, BatchError, BatchRecord, BatchStatus } from '../domain/batches.js';

/** OpenAI's own limit on lines per batch. */
export const MAX_BATCH_LINES = 50_000;
const CHUNK = 500;
const MAX_ERRORS = 100;
const WINDOW_MS = 24 * 3_600_000;
export const BATCH_ENDPOINT = '/v1/chat/completions';

export interface CreateBatch {
  input_file_id: string;
  endpoint: string;
  completion_window: string;
  metadata?: Record<string, string> | null;
}

export const createBatchSchema = {
  type: 'object',
  required: ['input_file_id', 'endpoint', 'completion_window'],
  properties: {
    input_file_id: { type: 'string', minLength: 1, maxLength: 64 },
    endpoint: { type: 'string', minLength: 1, maxLength: 64 },
    completion_window: { type: 'string', minLength: 1, maxLength: 16 },
    metadata: {
      anyOf: [
        // Keys are at most 64 characters, as at OpenAI: checked in create(), since OpenAPI 3.0 (the
        // document these schemas make) has no propertyNames.
        { type: 'object', maxProperties: 16, additionalProperties: { type: 'string', maxLength: 512 } },
        { type: 'null' },
      ],
    },
  },
} as const;

const checkRequest = compileValidator<ChatCompletionRequest>(chatCompletionSchema, 'SWY_VALIDATION', 'body');
const checkChatInput = compileValidator(chatInputSchema, 'SWY_VALIDATION', 'body');
const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));

interface RequestLine {
  custom_id?: unknown;
  method?: unknown;
  url?: unknown;
  body?: unknown;
}

export interface BatchOptions {
  /** How often batches are checked for expiry, ms. */
  checkEveryMs: number;
  /** Longest line of an input file, bytes; a longer one is a per-line error (`line_too_long`). */
  lineBytes: number;
  /** Input files read at once; other batches stay `validating` until their turn. */
  concurrency: number;
  /** Times reading a batch may be interrupted (the process stopped mid-read) before the batch ends `failed`. */
  maxAttempts: number;
}

export class Batches {
  private readonly pending = new Map<string, NodeJS.Timeout>();
  /** Reads of input files, a few at a time: each holds a line and a chunk of jobs in memory. */
  private readonly readers: PQueue;
  /** Batches whose input is being read now: cancelling them is left to that reader. */
  private readonly reading = new Set<string>();
  private readonly work = new Set<Promise<unknown>>();
  private readonly listeners = new Set<(batch: BatchRecord) => void>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly engine: Engine,
    private readonly store: BatchStore,
    private readonly files: Files,
    private readonly opts: BatchOptions,
  ) {
    this.readers = new PQueue({ concurrency: opts.concurrency });
    const touched = (job: Job) => {
      const batchId = (job.metadata as { batch_id?: unknown } | null)?.batch_id;
      if (typeof batchId === 'string') this.schedule(batchId);
    };
    engine.on('job:completed', touched);
    engine.on('job:failed', touched);
    engine.on('job:cancelled', touched);
  }

  /** Resume what a previous process left half done, and check expiry now and then. */
  async start(): Promise<void> {
    for (const b of await this.store.batchesWithStatus('validating')) this.track(this.queueRead(b.id));
    for (const b of await this.store.batchesWithStatus('cancelling')) this.track(this.cancelAndFinish(b.id, 'cancelled'));
    for (const b of await this.store.batchesWithStatus('finalizing')) {
      const final = b.cancellingAt !== null ? 'cancelled' : b.expiresAt <= Date.now() ? 'expired' : 'completed';
      this.track(this.finish(b.id, final));
    }
    for (const b of await this.store.batchesWithStatus('in_progress')) this.schedule(b.id);
    this.timer = setInterval(() => {
      this.track(this.expire());
      this.track(this.files.expire());
    }, this.opts.checkEveryMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.readers.clear();
    clearInterval(this.timer);
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    await Promise.allSettled([...this.work]);
  }

  /** Call `fn` with each batch whose record changed (its status, counts or files). Returns a function that stops it. */
  onChange(fn: (batch: BatchRecord) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Change a batch (see BatchStore.updateBatch) and tell the listeners. */
  private async update(id: string, patch: Partial<BatchRecord>, from?: BatchStatus[]): Promise<BatchRecord | undefined> {
    const b = await this.store.updateBatch(id, patch, from);
    if (b) for (const fn of this.listeners) fn(b);
    return b;
  }

  private track(p: Promise<unknown>): void {
    const guarded = p.catch((err: unknown) => this.engine.emitError(err));
    this.work.add(guarded);
    void guarded.finally(() => this.work.delete(guarded));
  }

  /** Check a batch soon (coalesced: many jobs finishing at once cost one check). */
  private schedule(id: string, delayMs = 100): void {
    if (this.stopped || this.pending.has(id)) return;
    const t = setTimeout(() => {
      this.pending.delete(id);
      this.track(this.check(id));
    }, delayMs);
    t.unref();
    this.pending.set(id, t);
  }

  async create(tenant: string, req: CreateBatch): Promise<Batch> {
    if (req.endpoint !== BATCH_ENDPOINT) {
      throw new SwitchyardError('SWY_VALIDATION', `endpoint must be ${BATCH_ENDPOINT}: the only one Switchyard runs in batches`);
    }
    if (req.completion_window !== '24h') throw new SwitchyardError('SWY_VALIDATION', 'completion_window must be 24h');
    const longKey = Object.keys(req.metadata ?? {}).find((k) => k.length > 64);
    if (longKey !== undefined) throw new SwitchyardError('SWY_VALIDATION', 'body/metadata has a key longer than 64 characters');
    const file = await this.files.get(req.input_file_id, tenant);
    if (file.purpose !== 'batch') throw new SwitchyardError('SWY_VALIDATION', `file ${file.id} was not uploaded with purpose batch`);
    const now = Date.now();
    const record: BatchRecord = {
      id: `batch_${randomBytes(12).toString('hex')}`,
      tenant,
      endpoint: req.endpoint,
      inputFileId: file.id,
      completionWindow: req.completion_window,
      status: 'validating',
      errors: null,
      outputFileId: null,
      errorFileId: null,
      metadata: req.metadata ?? null,
      total: 0,
      createdAt: now,
      inProgressAt: null,
      expiresAt: now + WINDOW_MS,
      finalizingAt: null,
      completedAt: null,
      failedAt: null,
      expiredAt: null,
      cancellingAt: null,
      cancelledAt: null,
      readAttempts: 0,
    };
    await this.store.insertBatch(record);
    this.track(this.queueRead(record.id));
    return this.toBatch(record);
  }

  async get(id: string, tenant?: string): Promise<Batch> {
    return this.toBatch(await this.record(id, tenant));
  }

  async list(tenant: string | undefined, after: string | undefined, limit: number) {
    const rows = await this.store.listBatches(tenant, after, limit + 1);
    const more = rows.length > limit;
    const data = await Promise.all(rows.slice(0, limit).map((r) => this.toBatch(r)));
    return { object: 'list' as const, data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: more };
  }

  async cancel(id: string, tenant?: string): Promise<Batch> {
    const b = await this.record(id, tenant);
    const updated = await this.update(b.id, { status: 'cancelling', cancellingAt: Date.now() }, ['validating', 'in_progress']);
    if (!updated)
      throw new SwitchyardError('SWY_INVALID_STATE', `batch ${id} is ${b.status}: only a validating or in-progress batch can be cancelled`);
    if (!this.reading.has(id)) this.track(this.cancelAndFinish(id, 'cancelled'));
    return this.toBatch(updated);
  }

  private async record(id: string, tenant?: string): Promise<BatchRecord> {
    const b = await this.store.getBatch(id);
    if (!b || (tenant !== undefined && b.tenant !== tenant)) throw new SwitchyardError('SWY_BATCH_NOT_FOUND', `batch ${id} not found`);
    return b;
  }

  private async toBatch(r: BatchRecord): Promise<Batch> {
    const counts = r.status === 'validating' || r.status === 'failed' ? {} : await this.store.batchJobCounts(r.id);
    return {
      id: r.id,
      object: 'batch',
      endpoint: r.endpoint,
      errors: r.errors ? { object: 'list', data: r.errors } : null,
      input_file_id: r.inputFileId,
      completion_window: r.completionWindow,
      status: r.status,
      output_file_id: r.outputFileId,
      error_file_id: r.errorFileId,
      created_at: seconds(r.createdAt) as number,
      in_progress_at: seconds(r.inProgressAt),
      expires_at: seconds(r.expiresAt) as number,
      finalizing_at: seconds(r.finalizingAt),
      completed_at: seconds(r.completedAt),
      failed_at: seconds(r.failedAt),
      expired_at: seconds(r.expiredAt),
      cancelling_at: seconds(r.cancellingAt),
      cancelled_at: seconds(r.cancelledAt),
      request_counts: { total: r.total, completed: counts.completed ?? 0, failed: (counts.failed ?? 0) + (counts.cancelled ?? 0) },
      metadata: r.metadata,
    };
  }

  /** The input file's lines, one at a time, numbered from 1 (blank lines skipped). */
  private async *lines(fileId: string): AsyncGenerator<Line> {
    const f = await this.files.get(fileId);
    for await (const line of boundedLines(this.files.open(f), this.opts.lineBytes)) {
      if (!('text' in line) || line.text.trim() !== '') yield line;
    }
  }

  /** One input line → a job, or the reason it cannot be one. */
  private parseLine(l: Line, seen: Set<string>): { job: SubmitJob; customId: string } | BatchError {
    const n = l.n;
    if (!('text' in l)) {
      return { code: 'line_too_long', message: `This line is longer than ${this.opts.lineBytes} bytes.`, param: null, line: n };
    }
    const text = l.text;
    let line: RequestLine;
    try {
      line = JSON.parse(text) as RequestLine;
    } catch {
      return { code: 'invalid_json_line', message: 'This line is not parseable as valid JSON.', param: null, line: n };
    }
    if (line === null || typeof line !== 'object')
      return { code: 'invalid_request', message: 'A line must be a JSON object.', param: null, line: n };
    if (typeof line.custom_id !== 'string' || line.custom_id === '' || line.custom_id.length > 512) {
      return { code: 'invalid_request', message: 'custom_id must be a non-empty string.', param: 'custom_id', line: n };
    }
    if (seen.has(line.custom_id))
      return {
        code: 'duplicate_custom_id',
        message: `The custom_id ${line.custom_id} is used more than once.`,
        param: 'custom_id',
        line: n,
      };
    if (line.method !== 'POST') return { code: 'invalid_method', message: 'method must be POST.', param: 'method', line: n };
    if (line.url !== BATCH_ENDPOINT)
      return { code: 'invalid_url', message: `url must be ${BATCH_ENDPOINT}, the batch's endpoint.`, param: 'url', line: n };
    try {
      const body = checkRequest(line.body);
      if (body.stream) throw new SwitchyardError('SWY_VALIDATION', 'body.stream is not allowed in a batch');
      const input = toChatInput(body);
      checkChatInput(input);
      return { customId: line.custom_id, job: { type: 'chat', input } };
    } catch (err) {
      return { code: 'invalid_request', message: (err as Error).message, param: 'body', line: n };
    }
  }

  /** Read the batch when a reader is free. */
  private queueRead(id: string): Promise<void> {
    return this.readers.add(async () => {
      if (!this.stopped) await this.read(id);
    });
  }

  /**
   * Validate every line, then submit them in chunks; a cancel that arrives meanwhile is honoured.
   * Each read is counted first: a batch whose reading keeps being cut short (its reader crashes
   * the process) ends `failed` after `maxAttempts` reads instead of being read forever.
   */
  private async read(id: string): Promise<void> {
    this.reading.add(id);
    try {
      const before = await this.record(id);
      if (before.status !== 'validating') return;
      if (before.readAttempts >= this.opts.maxAttempts) {
        await this.update(
          id,
          {
            status: 'failed',
            failedAt: Date.now(),
            errors: [
              {
                code: 'processing_interrupted',
                message: `Reading this batch's input was interrupted ${before.readAttempts} times (the server stopped mid-read); it was given up.`,
                param: null,
                line: null,
              },
            ],
          },
          ['validating'],
        );
        return;
      }
      const b = await this.update(id, { readAttempts: before.readAttempts + 1 }, ['validating']);
      if (!b) return;
      this.engine.config.logger?.info({ batchId: id, read: b.readAttempts }, 'reading batch input');
      const errors: BatchError[] = [];
      const seen = new Set<string>();
      let total = 0;
      for await (const line of this.lines(b.inputFileId)) {
        total++;
        const parsed = this.parseLine(line, seen);
        if ('job' in parsed) seen.add(parsed.customId);
        else if (errors.length < MAX_ERRORS) errors.push(parsed);
      }
      if (total === 0) errors.push({ code: 'empty_file', message: 'The input file has no requests.', param: null, line: null });
      if (total > MAX_BATCH_LINES) {
        errors.unshift({
          code: 'too_many_requests',
          message: `A batch holds at most ${MAX_BATCH_LINES} requests; this file has ${total}.`,
          param: null,
          line: null,
        });
      }
      if (errors.length > 0) {
        await this.update(id, { status: 'failed', errors, failedAt: Date.now(), total }, ['validating', 'cancelling']);
        return;
      }
      seen.clear();
      let chunk: { line: number; customId: string; job: SubmitJob }[] = [];
      const flush = async () => {
        const results = await this.engine.insert(
          chunk.map((c) => ({
            ...c.job,
            idempotencyKey: `${id}:${c.line}`,
            metadata: { batch_id: id, custom_id: c.customId },
          })),
          { tenant: b.tenant },
        );
        await this.store.linkBatchJobs(
          id,
          chunk.map((c, i) => ({ line: c.line, customId: c.customId, jobId: (results[i] as { job: Job }).job.id })),
        );
        chunk = [];
      };
      for await (const line of this.lines(b.inputFileId)) {
        const parsed = this.parseLine(line, seen);
        if (!('job' in parsed)) continue; // the file changed under us: validated above
        chunk.push({ line: line.n, ...parsed });
        if (chunk.length === CHUNK) {
          await flush();
          if ((await this.record(id)).status === 'cancelling') break;
        }
      }
      if (chunk.length > 0 && (await this.record(id)).status !== 'cancelling') await flush();
      const started = await this.update(id, { status: 'in_progress', inProgressAt: Date.now(), total }, ['validating']);
      if (!started) await this.cancelAndFinish(id, 'cancelled');
      else this.schedule(id, 0);
    } catch (err) {
      const info = toErrorInfo(err, 'SWY_INTERNAL');
      await this.update(
        id,
        {
          status: 'failed',
          failedAt: Date.now(),
          errors: [{ code: info.code, message: info.message, param: null, line: null }],
        },
        ['validating'],
      );
      if (!(err instanceof SwitchyardError)) throw err;
    } finally {
      this.reading.delete(id);
    }
  }

  /** Finish the batch once none of its jobs is queued or running. */
  private async check(id: string): Promise<void> {
    const b = await this.store.getBatch(id);
    if (b?.status !== 'in_progress') return;
    const c = await this.store.batchJobCounts(id);
    if ((c.queued ?? 0) + (c.running ?? 0) === 0) await this.finish(id, 'completed');
  }

  /** Batches past their window: cancel what is left and finish as expired. */
  private async expire(): Promise<void> {
    const now = Date.now();
    for (const status of ['in_progress', 'validating'] as const) {
      for (const b of await this.store.batchesWithStatus(status)) {
        if (b.expiresAt > now || this.reading.has(b.id)) continue;
        await this.cancelAndFinish(b.id, 'expired');
      }
    }
  }

  private async cancelAndFinish(id: string, final: 'cancelled' | 'expired'): Promise<void> {
    for (;;) {
      const ids = await this.store.activeBatchJobs(id, CHUNK);
      if (ids.length === 0) break;
      for (const jobId of ids) {
        await this.engine.cancel(jobId).catch((err: unknown) => {
          if ((err as { code?: string }).code !== 'SWY_INVALID_STATE') throw err;
        });
      }
    }
    await this.finish(id, final);
  }

  /** Write the output and error files, page by page, then mark the batch final. */
  private async finish(id: string, final: 'completed' | 'cancelled' | 'expired'): Promise<void> {
    const from: BatchStatus[] =
      final === 'completed' ? ['in_progress', 'finalizing'] : ['in_progress', 'validating', 'cancelling', 'finalizing'];
    const b = await this.update(id, { status: 'finalizing', finalizingAt: Date.now() }, from);
    if (!b) return;
    const output = await this.files.writer(b.tenant, 'batch_output', `${id}_output.jsonl`);
    const errorsOut = await this.files.writer(b.tenant, 'batch_error', `${id}_error.jsonl`);
    for (let after = 0; ; ) {
      const page = await this.store.batchResults(id, after, CHUNK);
      if (page.length === 0) break;
      for (const { line, customId, job } of page) {
        after = line;
        const base = { id: `batch_req_${job.id}`, custom_id: customId };
        if (job.status === 'completed') {
          await output.write(
            JSON.stringify({
              ...base,
              response: { status_code: 200, request_id: job.id, body: toCompletion(job, (job.input as { model?: string }).model ?? '') },
              error: null,
            }),
          );
        } else if (job.status === 'failed') {
          const e = jobError(job.error);
          await errorsOut.write(
            JSON.stringify({ ...base, response: { status_code: e.status, request_id: job.id, body: e.body }, error: null }),
          );
        } else {
          const code = final === 'expired' ? 'batch_expired' : 'batch_cancelled';
          const message =
            final === 'expired'
              ? 'This request could not be executed before the completion window expired.'
              : 'This request was not executed: the batch was cancelled.';
          await errorsOut.write(JSON.stringify({ ...base, response: null, error: { code, message } }));
        }
      }
    }
    const [out, err] = [await output.close(), await errorsOut.close()];
    const at = Date.now();
    await this.update(
      id,
      {
        status: final,
        outputFileId: out?.id ?? null,
        errorFileId: err?.id ?? null,
        ...(final === 'completed' ? { completedAt: at } : final === 'cancelled' ? { cancelledAt: at } : { expiredAt: at }),
      },
      ['finalizing'],
    );
  }
}
