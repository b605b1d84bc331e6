/** /v1/admin: operations on the instance itself. */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Engine } from '../../engine.js';

export async function adminRoutes(app: FastifyInstance, { engine }: { engine: Engine }): Promise<void> {
  // Only a file name inside the configured backup directory: an API key must not choose where on
  // the server's disk a file is written.
  app.post<{ Body: { name?: string } | undefined }>(
    '/v1/admin/backup',
    {
      config: { scope: 'admin' },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,100}\\.db$' } },
        },
      },
    },
    async (req, reply) => {
      const name = req.body?.name;
      const result = await engine.backup(name === undefined ? undefined : join(engine.config.backupDir, name));
      return reply.status(201).send(result);
    },
  );
}
