/** GET /v1/events: Server-Sent Events of job and provider events, filterable, resumable. */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { JOB_STATUSES } from '../../domain/jobs.js';
import { visibleTenant } from '../auth.js';
import type { EventLog, StreamEvent } from '../event-log.js';
import type { StreamSlots } from '../live.js';

export interface EventRoutesOptions {
  log: EventLog;
  /** Comment line sent this often so proxies keep the stream open, ms. */
  heartbeatMs: number;
  /** Long-lived streams per key (one more gets 429 SWY_TOO_MANY_STREAMS). */
  slots: StreamSlots;
}

/** A client this far behind is dropped; it can resume with Last-Event-ID. */
const MAX_BUFFERED = 1_048_576;

interface Query {
  jobId?: string;
  type?: string;
  status?: string;
  lastEventId?: number;
}

function matches(e: StreamEvent, q: Query, tenant: string | undefined): boolean {
  if (tenant !== undefined && e.tenant !== null && e.tenant !== tenant) return false;
  if (q.jobId === undefined && q.type === undefined && q.status === undefined) return true;
  if (e.jobId === null) return false; // provider events only on an unfiltered stream
  return (
    (q.jobId === undefined || e.jobId === q.jobId) &&
    (q.type === undefined || e.type === q.type) &&
    (q.status === undefined || e.status === q.status)
  );
}

export async function eventRoutes(app: FastifyInstance, { log, heartbeatMs, slots }: EventRoutesOptions): Promise<void> {
  const open = new Set<ServerResponse>();
  // Streams never end on their own: end them so that the server can close.
  app.addHook('preClose', async () => {
    for (const res of open) res.end();
  });

  app.get<{ Querystring: Query }>(
    '/v1/events',
    {
      config: { scope: 'jobs:read' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            jobId: { type: 'string', minLength: 1, maxLength: 128 },
            type: { type: 'string', minLength: 1, maxLength: 64 },
            status: { type: 'string', enum: JOB_STATUSES },
            lastEventId: { type: 'integer', minimum: 0 },
          },
        },
      },
    },
    (req, reply) => {
      const header = req.headers['last-event-id'];
      const last = typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : req.query.lastEventId;
      const release = slots.take(req.principal.keyId);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      open.add(res);
      const tenant = visibleTenant(req.principal);
      // What upstreams said of their failures is for those who administer providers.
      const operator = req.principal.admin || req.principal.scopes.has('providers:admin');
      const send = (e: StreamEvent) => {
        if (!matches(e, req.query, tenant)) return;
        res.write(operator || e.publicFrame === undefined ? e.frame : e.publicFrame);
        if (res.writableLength > MAX_BUFFERED) res.destroy();
      };
      res.write(': switchyard events\n\n');
      if (last !== undefined) for (const e of log.since(last)) send(e);
      const unsubscribe = log.subscribe(send);
      const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs);
      res.on('close', () => {
        unsubscribe();
        clearInterval(heartbeat);
        open.delete(res);
        release();
      });
    },
  );
}
