/** /v1/usage: tokens, cost, calls, errors and latency of provider calls, grouped. */
import type { FastifyInstance } from 'fastify';
import type { Engine } from '../../engine.js';
import { visibleTenant } from '../auth.js';
import { USAGE_GROUPS, type UsageGroup } from '../../domain/usage.js';

const group = `(${USAGE_GROUPS.join('|')})`;

export async function usageRoutes(app: FastifyInstance, { engine }: { engine: Engine }): Promise<void> {
  app.get<{ Querystring: { from?: string; to?: string; groupBy?: string; tenant?: string } }>(
    '/v1/usage',
    {
      config: { scope: 'usage:read' },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            from: { type: 'string', format: 'date-time' },
            to: { type: 'string', format: 'date-time' },
            groupBy: { type: 'string', pattern: `^${group}(,${group})*$` },
            /** Admin keys only: one tenant's calls (other keys always see their own). */
            tenant: { type: 'string', minLength: 1, maxLength: 64 },
          },
        },
      },
    },
    async (req) => {
      const tenant = visibleTenant(req.principal) ?? req.query.tenant;
      return engine.usage({
        ...(req.query.from !== undefined && { from: req.query.from }),
        ...(req.query.to !== undefined && { to: req.query.to }),
        ...(tenant !== undefined && { tenant }),
        groupBy: req.query.groupBy ? (req.query.groupBy.split(',') as UsageGroup[]) : [],
      });
    },
  );
}
