/** /v1/jobs: submit, batch, get (with waitMs), list, cancel, retry — each key sees its own tenant's jobs. */
import type { FastifyInstance } from 'fastify';
import type { Engine } from '../../engine.js';
import { submitJobSchema } from '../../jobs/submit.js';
import { TERMINAL_STATUSES, type Job, type JobStatus, type ListJobsQuery, type SubmitJob } from '../../domain/jobs.js';
import { jobSummary } from '../event-log.js';
import { clientGone, openEventStream, type StreamSlots } from '../live.js';
import { visibleScope, visibleTenant } from '../auth.js';
import type { InputLimits } from '../../limits.js';
import { batchLimits, jobLimits } from '../limits.js';
import { getJobQuery, idParams, listJobsQuery } from '../schemas.js';

export interface JobRoutesOptions {
  engine: Engine;
  limits: InputLimits;
  /** Comment line sent this often on a job's token stream, ms. */
  heartbeatMs: number;
  /** Long-lived streams per key. */
  slots: StreamSlots;
}

export async function jobRoutes(app: FastifyInstance, { engine, limits, heartbeatMs, slots }: JobRoutesOptions): Promise<void> {
  const write = { scope: 'jobs:write' } as const;
  const read = { scope: 'jobs:read' } as const;
  app.post<{ Body: SubmitJob }>(
    '/v1/jobs',
    { config: write, preValidation: jobLimits(limits), schema: { body: submitJobSchema } },
    async (req, reply) => {
      const [r] = await engine.insert([req.body], { tenant: req.principal.tenant });
      req.log.info({ jobId: r?.job.id, created: r?.created }, 'job submitted');
      return reply.status(r?.created ? 201 : 200).send(r?.job);
    },
  );

  app.post<{ Body: { jobs: SubmitJob[] } }>(
    '/v1/jobs/batch',
    {
      config: write,
      preValidation: batchLimits(limits),
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['jobs'],
          properties: { jobs: { type: 'array', minItems: 1, maxItems: limits.batch, items: submitJobSchema } },
        },
      },
    },
    async (req, reply) => {
      const results = await engine.insert(req.body.jobs, { tenant: req.principal.tenant });
      req.log.info({ jobs: results.length }, 'job batch submitted');
      return reply.status(201).send({ jobs: results.map((r) => r.job) });
    },
  );

  app.get<{ Params: { id: string }; Querystring: { waitMs?: number; preview?: number } }>(
    '/v1/jobs/:id',
    {
      config: read,
      schema: { params: idParams, querystring: getJobQuery },
    },
    async (req, reply) => {
      const { waitMs, preview } = req.query;
      const tenant = visibleScope(req.principal);
      const job =
        waitMs === undefined || waitMs === 0
          ? await engine.get(req.params.id, tenant)
          : await engine.wait(req.params.id, { timeoutMs: waitMs, signal: clientGone(reply.raw), ...tenant });
      return preview === undefined ? job : withPreviews(job, preview);
    },
  );

  // The job's tokens as its provider streams them (server-sent events): `job` (its state when the
  // stream opens), `attempt` (an attempt began streaming: earlier pieces are void), `delta` (a
  // piece, in OpenAI's delta shape), and `done` (the finished job, output included) at the end.
  // A queued job can be followed before it starts; a job whose call does not stream sends its
  // answer only with `done`.
  app.get<{ Params: { id: string } }>('/v1/jobs/:id/stream', { config: read, schema: { params: idParams } }, async (req, reply) => {
    const scope = visibleScope(req.principal);
    const job = await engine.get(req.params.id, scope);
    const release = slots.take(req.principal.keyId);
    const gone = clientGone(reply.raw);
    const events = openEventStream(reply);
    events.send(jobSummary(job), 'job');
    const unfollow = engine.follow(job.id, (e) => {
      if (e.kind === 'attempt') events.send({ attempt: e.attempt }, 'attempt');
      else events.send(e.delta, 'delta');
    });
    try {
      let now = job;
      while (!TERMINAL_STATUSES.has(now.status) && !gone.aborted) {
        now = await engine.wait(job.id, { timeoutMs: heartbeatMs, signal: gone, ...scope });
        if (!TERMINAL_STATUSES.has(now.status)) events.comment('heartbeat');
      }
      if (!gone.aborted) events.send(now, 'done');
    } finally {
      unfollow();
      release();
      events.end();
    }
  });

  app.get<{ Querystring: ListQuerystring }>(
    '/v1/jobs',
    {
      config: read,
      schema: { querystring: listJobsQuery },
    },
    async (req) => {
      const tenant = visibleTenant(req.principal) ?? req.query.tenant;
      return engine.list({ ...listQuery(req.query), ...(tenant !== undefined && { tenant }) });
    },
  );

  app.post<{ Params: { id: string } }>('/v1/jobs/:id/cancel', { config: write, schema: { params: idParams } }, async (req) =>
    engine.cancel(req.params.id, visibleScope(req.principal)),
  );

  app.post<{ Params: { id: string } }>('/v1/jobs/:id/retry', { config: write, schema: { params: idParams } }, async (req) =>
    engine.retry(req.params.id, visibleScope(req.principal)),
  );
}

/** A payload as pretty-printed JSON, cut to `max` characters, and how long it was whole. */
function previewOf(value: unknown, max: number): { text: string; chars: number; truncated: boolean } | null {
  if (value === null || value === undefined) return null;
  const text = JSON.stringify(value, null, 2);
  return { text: text.length > max ? text.slice(0, max) : text, chars: text.length, truncated: text.length > max };
}

/**
 * The job with its input and output as previews (`preview: {input, output}`) instead of whole: a
 * page that shows a job need not receive, parse and lay out megabytes of payload.
 */
function withPreviews(job: Job, max: number): Omit<Job, 'input' | 'output'> & { preview: object } {
  const { input, output, ...rest } = job;
  return { ...rest, preview: { input: previewOf(input, max), output: previewOf(output, max) } };
}

interface ListQuerystring {
  status?: JobStatus;
  type?: string;
  limit?: number;
  cursor?: string;
  tenant?: string;
  provider?: string;
  idempotencyKey?: string;
  from?: string;
  to?: string;
  metadata?: string;
}

/** The store's query from the list's query string (already validated by its schema). */
function listQuery({ from, to, metadata, ...rest }: ListQuerystring): ListJobsQuery {
  const q: ListJobsQuery = { ...rest };
  if (from !== undefined) q.createdFrom = Date.parse(from);
  if (to !== undefined) q.createdTo = Date.parse(to);
  if (metadata !== undefined) {
    const at = metadata.indexOf('=');
    q.metadata = { key: metadata.slice(0, at), value: metadata.slice(at + 1) };
  }
  return q;
}
