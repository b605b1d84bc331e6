/** /v1/stats: job counts, success rate, processing time. */
import type { FastifyInstance } from 'fastify';
import type { Engine } from '../../engine.js';
import { visibleScope } from '../auth.js';

export async function statsRoutes(app: FastifyInstance, { engine }: { engine: Engine }): Promise<void> {
  // A tenant's key sees its own jobs' stats; an admin key sees the whole engine.
  app.get('/v1/stats', { config: { scope: 'usage:read' } }, async (req) => engine.stats(visibleScope(req.principal)));
}
