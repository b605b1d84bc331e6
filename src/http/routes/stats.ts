/** /v1/stats: job counts, success rate, processing time. */
import type { FastifyInstance } from 'fastify';
import type { Engine } from '../../engine.js';

export async function statsRoutes(app: FastifyInstance, { engine }: { engine: Engine }): Promise<void> {
  app.get('/v1/stats', async () => engine.stats());
}
