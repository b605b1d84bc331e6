/** /v1/providers: live provider configuration. `apiKey` is write-only. */
import type { FastifyInstance } from 'fastify';
import type { Engine } from '../../engine.js';
import type { ProviderInput, ProviderPatch } from '../../providers/registry.js';
import { providerCreateSchema, providerPatchSchema } from '../../providers/schema.js';
import { nameParams } from '../schemas.js';

export async function providerRoutes(app: FastifyInstance, { engine }: { engine: Engine }): Promise<void> {
  const config = { scope: 'providers:admin' } as const;
  app.get('/v1/providers', { config }, async () => ({ data: engine.providers.list() }));

  app.post<{ Body: ProviderInput }>('/v1/providers', { config, schema: { body: providerCreateSchema } }, async (req, reply) =>
    reply.status(201).send(await engine.providers.add(req.body)),
  );

  app.get<{ Params: { name: string } }>('/v1/providers/:name', { config, schema: { params: nameParams } }, async (req) =>
    engine.providers.get(req.params.name),
  );

  app.patch<{ Params: { name: string }; Body: ProviderPatch }>(
    '/v1/providers/:name',
    {
      config,
      schema: { params: nameParams, body: providerPatchSchema },
    },
    async (req) => engine.providers.update(req.params.name, req.body),
  );

  app.post<{ Params: { name: string } }>('/v1/providers/:name/check', { config, schema: { params: nameParams } }, async (req) =>
    engine.providers.check(req.params.name),
  );

  app.delete<{ Params: { name: string } }>('/v1/providers/:name', { config, schema: { params: nameParams } }, async (req, reply) => {
    await engine.providers.remove(req.params.name);
    return reply.status(204).send();
  });
}
