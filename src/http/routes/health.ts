/** The three public routes: liveness, readiness, Prometheus metrics. */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Engine } from '../../engine.js';

export async function healthRoutes(app: FastifyInstance, { engine, registry }: { engine: Engine; registry: Registry }): Promise<void> {
  const pub = { config: { public: true } };

  app.get('/health', pub, async () => ({ status: 'ok' }));

  app.get('/ready', pub, async (_req, reply) => {
    const r = await engine.ready();
    if (r.ok) return { status: 'ready', parts: r.parts };
    const failing = Object.entries(r.parts)
      .filter(([, ok]) => !ok)
      .map(([name]) => name);
    return reply.status(503).send({
      error: { code: 'SWY_NOT_READY', message: `not ready: ${failing.join(', ')}` },
      parts: r.parts,
    });
  });

  app.get('/metrics', pub, async (_req, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
}
