/** /v1/jobs: submit, batch, get (with waitMs), list, cancel, retry — each key sees its own tenant's jobs. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Engine } from '../../engine.js';
import { submitJobSchema } from '../../jobs/submit.js';
import type { JobStatus, SubmitJob } from '../../jobs/types.js';
import { visibleScope, visibleTenant } from '../auth.js';
import { batchLimits, jobLimits, type InputLimits } from '../limits.js';
import { getJobQuery, idParams, listJobsQuery } from '../schemas.js';

export interface JobRoutesOptions {
  engine: Engine;
  limits: InputLimits;
}

/** An AbortSignal that fires when the client goes away before its answer was sent. */
function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  return ac.signal;
}

export async function jobRoutes(app: FastifyInstance, { engine, limits }: JobRoutesOptions): Promise<void> {
  const write = { scope: 'jobs:write' } as const;
  const read = { scope: 'jobs:read' } as const;
  app.post<{ Body: SubmitJob }>('/v1/jobs', { config: write, preValidation: jobLimits(limits), schema: { body: submitJobSchema } }, async (req, reply) => {
    const [r] = await engine.insert([req.body], { tenant: req.principal.tenant });
    req.log.info({ jobId: r?.job.id, created: r?.created }, 'job submitted');
    return reply.status(r?.created ? 201 : 200).send(r?.job);
  });

  app.post<{ Body: { jobs: SubmitJob[] } }>('/v1/jobs/batch', {
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
  }, async (req, reply) => {
    const results = await engine.insert(req.body.jobs, { tenant: req.principal.tenant });
    req.log.info({ jobs: results.length }, 'job batch submitted');
    return reply.status(201).send({ jobs: results.map((r) => r.job) });
  });

  app.get<{ Params: { id: string }; Querystring: { waitMs?: number } }>('/v1/jobs/:id', {
    config: read,
    schema: { params: idParams, querystring: getJobQuery },
  }, async (req, reply) => {
    const { waitMs } = req.query;
    const tenant = visibleScope(req.principal);
    if (waitMs === undefined || waitMs === 0) return engine.get(req.params.id, tenant);
    return engine.wait(req.params.id, { timeoutMs: waitMs, signal: clientGone(reply), ...tenant });
  });

  app.get<{ Querystring: { status?: JobStatus; type?: string; limit?: number; cursor?: string; tenant?: string } }>('/v1/jobs', {
    config: read,
    schema: { querystring: listJobsQuery },
  }, async (req) => {
    const tenant = visibleTenant(req.principal) ?? req.query.tenant;
    return engine.list({ ...req.query, ...(tenant !== undefined && { tenant }) });
  });

  app.post<{ Params: { id: string } }>('/v1/jobs/:id/cancel', { config: write, schema: { params: idParams } }, async (req) =>
    engine.cancel(req.params.id, visibleScope(req.principal)));

  app.post<{ Params: { id: string } }>('/v1/jobs/:id/retry', { config: write, schema: { params: idParams } }, async (req) =>
    engine.retry(req.params.id, visibleScope(req.principal)));
}
