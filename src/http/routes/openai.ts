/**
 * The OpenAI-compatible front on the same server and keys: chat completions (plain and streamed),
 * models, files and batches. Errors answer in OpenAI's shape. Point the official `openai` client's
 * `baseURL` at `http://host:port/v1` and use a Switchyard key as its API key.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Engine } from '../../engine.js';
import { SwitchyardError } from '../../errors.js';
import { visibleTenant } from '../auth.js';
import type { InputLimits } from '../../limits.js';
import { checkMessages } from '../limits.js';
import { createBatchSchema, type CreateBatch } from '../../batches/batches.js';
import {
  CHAT_COMPLETION_PRIORITY,
  chatCompletionSchema,
  chunkBase,
  deltaChunk,
  toChatInput,
  toCompletion,
  usageOf,
  wholeDeltas,
  type ChatCompletionRequest,
  type ChunkBase,
} from '../../openai/chat.js';
import type { ChatOutput } from '../../jobs/chat.js';
import { clientGone, openEventStream, runJob, type EventStream } from '../live.js';
import { jobError } from '../../openai/errors.js';
import { openaiErrorHandler } from '../errors.js';
import { responsesRoutes } from './responses.js';
import { toFileObject, type Upload } from '../../batches/files.js';
import { idParams } from '../schemas.js';

export interface OpenAIRoutesOptions {
  engine: Engine;
  limits: InputLimits;
  /** Largest upload to `POST /v1/files`, bytes. */
  maxFileBytes: number;
  heartbeatMs: number;
}

const STARTED = Math.floor(Date.now() / 1000);

/** Resolves once the request's body has been read to its end (what is left is discarded). */
function drained(raw: IncomingMessage): Promise<void> {
  if (raw.complete || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    raw.once('end', resolve);
    raw.once('close', resolve);
    raw.on('data', () => undefined);
    raw.resume();
  });
}

/** OpenAI's `expires_after`: seconds after creation, between an hour and 30 days. */
function expiresAfter(e: { anchor?: string; seconds?: string }): number | undefined {
  if (e.anchor === undefined && e.seconds === undefined) return undefined;
  const seconds = Number(e.seconds);
  if (e.anchor !== 'created_at' || !Number.isInteger(seconds) || seconds < 3600 || seconds > 2_592_000) {
    throw new SwitchyardError('SWY_VALIDATION', 'expires_after needs anchor created_at and seconds between 3600 and 2592000');
  }
  return seconds;
}

/**
 * A multipart body the parser could not read (no boundary, cut short) is the request's fault:
 * 400, not the 500 of an unknown error. Coded errors pass through.
 */
function multipartError(err: unknown): unknown {
  if (
    err instanceof SwitchyardError ||
    typeof (err as { code?: unknown }).code === 'string' ||
    typeof (err as { statusCode?: unknown }).statusCode === 'number'
  )
    return err;
  return new SwitchyardError('SWY_BAD_REQUEST', `the multipart body cannot be read: ${(err as Error).message}`);
}

export async function openaiRoutes(app: FastifyInstance, opts: OpenAIRoutesOptions): Promise<void> {
  const { engine, limits } = opts;
  app.setErrorHandler(openaiErrorHandler);
  await app.register(multipart, {
    limits: { fileSize: opts.maxFileBytes, files: 1, fields: 8, fieldSize: 1024, parts: 10 },
  });
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
  });
  const write = { scope: 'jobs:write' } as const;
  const read = { scope: 'jobs:read' } as const;

  app.post<{ Body: ChatCompletionRequest }>(
    '/v1/chat/completions',
    {
      config: write,
      schema: { body: chatCompletionSchema },
      preValidation: async (req) => checkMessages((req.body as { messages?: unknown } | undefined)?.messages, limits, 'messages'),
    },
    async (req, reply: FastifyReply) => {
      const body = req.body;
      const submit = {
        type: 'chat',
        input: toChatInput(body, body.stream === true),
        priority: CHAT_COMPLETION_PRIORITY,
        metadata: { source: 'chat.completions' },
      };
      const gone = clientGone(reply.raw);
      const tenant = req.principal.tenant;
      if (!body.stream) {
        const done = await runJob(engine, submit, { tenant, gone });
        // The client left (its job was cancelled): nobody reads this answer.
        if (!done) return reply.status(499).send();
        void reply.header('x-switchyard-job-id', done.id);
        if (done.status === 'completed') return toCompletion(done, body.model);
        const e = jobError(done.error);
        return reply.status(e.status).send(e.body);
      }
      // The provider's stream reaches the client as it arrives: each piece the job's attempt
      // receives becomes a chunk. Until the first piece, a failing provider can still be failed over
      // and the job retried, and the answer is not begun: a job that fails before any piece answers
      // with its error status, as a request that does not stream. A job that waits long (queued)
      // begins the answer at the first heartbeat, to keep the connection open.
      let events: EventStream | undefined;
      let base: ChunkBase | undefined;
      let heartbeat: NodeJS.Timeout | undefined;
      let jobId = '';
      let pieces = 0;
      const open = (): { events: EventStream; base: ChunkBase } => {
        if (!events || !base) {
          events = openEventStream(reply, { 'x-switchyard-job-id': jobId });
          streams.add(events.res);
          base = chunkBase(jobId, body.model);
          events.send(deltaChunk(base, { role: 'assistant', content: '' }));
        }
        return { events, base };
      };
      try {
        const done = await runJob(engine, submit, {
          tenant,
          gone,
          onSubmitted: (job) => {
            jobId = job.id;
            heartbeat = setInterval(() => open().events.comment('waiting'), opts.heartbeatMs);
          },
          onToken: (e) => {
            if (e.kind !== 'delta' || e.delta.reasoning !== undefined) return;
            pieces++;
            const s = open();
            s.events.send(deltaChunk(s.base, e.delta));
          },
        });
        if (!done) return;
        if (done.status !== 'completed' && !events) {
          const e = jobError(done.error);
          return reply.header('x-switchyard-job-id', done.id).status(e.status).send(e.body);
        }
        const s = open();
        if (done.status === 'completed') {
          const out = done.output as ChatOutput;
          // A call that did not stream (its answer came whole) still reaches the client, a chunk per part.
          if (pieces === 0) for (const d of wholeDeltas(out)) s.events.send(deltaChunk(s.base, d));
          s.events.send(deltaChunk(s.base, {}, out.finishReason));
          if (body.stream_options?.include_usage) s.events.send({ ...s.base, choices: [], usage: usageOf(done) });
          s.events.send('[DONE]');
        } else {
          // Part of the answer was sent: OpenAI's clients read an `error` object in a stream's data
          // as the request's failure.
          s.events.send(jobError(done.error).body);
        }
      } finally {
        clearInterval(heartbeat);
        if (events) {
          streams.delete(events.res);
          events.end();
        }
      }
    },
  );

  await app.register(responsesRoutes, { engine, heartbeatMs: opts.heartbeatMs });

  const model = (id: string, provider: string) => ({ id, object: 'model' as const, created: STARTED, owned_by: provider });
  app.get('/v1/models', async () => ({ object: 'list', data: engine.models().map((m) => model(m.id, m.provider)) }));
  app.get<{ Params: { model: string } }>(
    '/v1/models/:model',
    {
      schema: { params: { type: 'object', required: ['model'], properties: { model: { type: 'string', minLength: 1, maxLength: 256 } } } },
    },
    async (req) => {
      const m = engine.models().find((x) => x.id === req.params.model);
      if (!m) throw new SwitchyardError('SWY_MODEL_NOT_FOUND', `no provider serves a model named ${req.params.model}`);
      return model(m.id, m.provider);
    },
  );

  app.post('/v1/files', { config: write }, async (req) => {
    let upload: Upload | undefined;
    let filename = 'upload.jsonl';
    let purpose: string | undefined;
    const expires: { anchor?: string; seconds?: string } = {};
    try {
      const room = await engine.files.room(req.principal.tenant);
      for await (const part of req.parts()) {
        if (part.type === 'file') {
          if (part.fieldname !== 'file' || upload) {
            part.file.resume();
            throw new SwitchyardError('SWY_VALIDATION', 'send one file, in the field "file"');
          }
          filename = part.filename || filename;
          upload = await engine.files.receive(part.file, room);
        } else if (part.fieldname === 'purpose') {
          purpose = String(part.value);
        } else if (part.fieldname === 'expires_after[anchor]') {
          expires.anchor = String(part.value);
        } else if (part.fieldname === 'expires_after[seconds]') {
          expires.seconds = String(part.value);
        }
      }
      if (!upload) throw new SwitchyardError('SWY_VALIDATION', 'the field "file" is required');
      if (purpose !== 'batch')
        throw new SwitchyardError('SWY_VALIDATION', 'purpose must be batch: the Batch API is the only use of files here');
      return toFileObject(await upload.commit(req.principal.tenant, 'batch', filename.slice(0, 255), expiresAfter(expires)));
    } catch (err) {
      await upload?.discard();
      // Read the rest of the body before answering: a client still sending would see the
      // connection cut instead of the error.
      await drained(req.raw);
      throw multipartError(err);
    }
  });

  app.get<{ Querystring: { purpose?: string; limit?: number } }>(
    '/v1/files',
    {
      config: read,
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            purpose: { enum: ['batch', 'batch_output', 'batch_error'] },
            limit: { type: 'integer', minimum: 1, maximum: 10_000 },
          },
        },
      },
    },
    async (req) => {
      const files = await engine.files.list(visibleTenant(req.principal), req.query.purpose, req.query.limit ?? 10_000);
      return { object: 'list', data: files.map(toFileObject), has_more: false };
    },
  );

  app.get<{ Params: { id: string } }>('/v1/files/:id', { config: read, schema: { params: idParams } }, async (req) =>
    toFileObject(await engine.files.get(req.params.id, visibleTenant(req.principal))),
  );

  app.get<{ Params: { id: string } }>('/v1/files/:id/content', { config: read, schema: { params: idParams } }, async (req, reply) => {
    const f = await engine.files.get(req.params.id, visibleTenant(req.principal));
    return reply.type('application/jsonl').header('content-length', f.bytes).send(engine.files.open(f));
  });

  app.delete<{ Params: { id: string } }>('/v1/files/:id', { config: write, schema: { params: idParams } }, async (req) => {
    await engine.files.delete(req.params.id, visibleTenant(req.principal));
    return { id: req.params.id, object: 'file', deleted: true };
  });

  app.post<{ Body: CreateBatch }>('/v1/batches', { config: write, schema: { body: createBatchSchema } }, async (req) =>
    engine.batches.create(req.principal.tenant, req.body),
  );

  app.get<{ Querystring: { limit?: number; after?: string } }>(
    '/v1/batches',
    {
      config: read,
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: 100 }, after: { type: 'string', minLength: 1, maxLength: 128 } },
        },
      },
    },
    async (req) => engine.batches.list(visibleTenant(req.principal), req.query.after, req.query.limit ?? 20),
  );

  app.get<{ Params: { id: string } }>('/v1/batches/:id', { config: read, schema: { params: idParams } }, async (req) =>
    engine.batches.get(req.params.id, visibleTenant(req.principal)),
  );

  app.post<{ Params: { id: string } }>('/v1/batches/:id/cancel', { config: write, schema: { params: idParams } }, async (req) =>
    engine.batches.cancel(req.params.id, visibleTenant(req.principal)),
  );
}
