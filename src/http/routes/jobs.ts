/** /v1/jobs: submit, batch, get (with waitMs), list, cancel, retry. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Engine } from '../../engine.js';
import { submitJobSchema } from '../../jobs/submit.js';
import type { JobStatus, SubmitJob } from '../../jobs/types.js';
import { getJobQuery, idParams, listJobsQuery } from '../schemas.js';

export interface JobRoutesOptions {
  engine: Engine;
  /** Most jobs in one batch. */
  maxBatch: number;
}

/** An AbortSignal that fires when the client goes away before its answer was sent. */
function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  return ac.signal;
}

export async function jobRoutes(app: FastifyInstance, { engine, maxBatch }: JobRoutesOptions): Promise<void> {
  app.post<{ Body: SubmitJob }>('/v1/jobs', { schema: { body: submitJobSchema } }, async (req, reply) => {
    const [r] = await engine.insert([req.body]);
    req.log.info({ jobId: r?.job.id, created: r?.created }, 'job submitted');
    return reply.status(r?.created ? 201 : 200).send(r?.job);
  });

  app.post<{ Body: { jobs: SubmitJob[] } }>('/v1/jobs/batch', {
    schema: {
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['jobs'],
        properties: { jobs: { type: 'array', minItems: 1, maxItems: maxBatch, items: submitJobSchema } },
      },
    },
  }, async (req, reply) => {
    const results = await engine.insert(req.body.jobs);
    req.log.info({ jobs: results.length }, 'job batch submitted');
    return reply.status(201).send({ jobs: results.map((r) => r.job) });
  });

  app.get<{ Params: { id: string }; Querystring: { waitMs?: number } }>('/v1/jobs/:id', {
    schema: { params: idParams, querystring: getJobQuery },
  }, async (req, reply) => {
    const { waitMs } = req.query;
    if (waitMs === undefined || waitMs === 0) return engine.get(req.params.id);
    return engine.wait(req.params.id, { timeoutMs: waitMs, signal: clientGone(reply) });
  });

  app.get<{ Querystring: { status?: JobStatus; type?: string; limit?: number; cursor?: string } }>('/v1/jobs', {
    schema: { querystring: listJobsQuery },
  }, async (req) => engine.list(req.query));

  app.post<{ Params: { id: string } }>('/v1/jobs/:id/cancel', { schema: { params: idParams } }, async (req) =>
    engine.cancel(req.params.id));

  app.post<{ Params: { id: string } }>('/v1/jobs/:id/retry', { schema: { params: idParams } }, async (req) =>
    engine.retry(req.params.id));
}
