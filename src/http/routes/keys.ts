/** /v1/keys: API keys (admin only). The secret is in the creation answer and nowhere else. */
import type { FastifyInstance } from 'fastify';
import type { Engine } from '../../engine.js';
import { keyInputSchema } from '../../keys/keyring.js';
import type { KeyInput } from '../../domain/keys.js';
import { idParams } from '../schemas.js';

export async function keyRoutes(app: FastifyInstance, { engine }: { engine: Engine }): Promise<void> {
  const config = { scope: 'admin' } as const;

  app.post<{ Body: KeyInput }>('/v1/keys', { config, schema: { body: keyInputSchema } }, async (req, reply) => {
    const { key, secret } = await engine.keys.create(req.body);
    req.log.info({ keyId: key.id, scopes: key.scopes }, 'API key created');
    return reply.status(201).send({ ...key, secret });
  });

  app.get('/v1/keys', { config }, async () => ({ data: engine.keys.list() }));

  app.get<{ Params: { id: string } }>('/v1/keys/:id', { config, schema: { params: idParams } }, async (req) =>
    engine.keys.get(req.params.id),
  );

  // Revoked keys stay listed (with revokedAt) so that their jobs keep a known owner.
  app.delete<{ Params: { id: string } }>('/v1/keys/:id', { config, schema: { params: idParams } }, async (req) => {
    const key = await engine.keys.revoke(req.params.id);
    req.log.info({ keyId: key.id }, 'API key revoked');
    return key;
  });
}
