/** The HTTP API on an engine: Fastify, JSON Schema on every route, bearer auth, coded errors. */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Engine } from '../engine.js';
import { SwitchyardError } from '../errors.js';
import { createMetrics } from '../metrics.js';
import { bearerAuth } from './auth.js';
import { errorHandler } from './errors.js';
import { EventLog } from './event-log.js';
import { eventRoutes } from './routes/events.js';
import { adminRoutes } from './routes/admin.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { providerRoutes } from './routes/providers.js';
import { statsRoutes } from './routes/stats.js';
import { usageRoutes } from './routes/usage.js';

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** Options of `createServer()`. */
export interface ServerOptions {
  /** The bearer key every route but /health, /ready and /metrics requires. */
  apiKey: string;
  /** Largest request body, bytes. @default 1048576 */
  bodyLimit?: number;
  /** Most jobs in one `POST /v1/jobs/batch`. @default 1000 */
  maxBatch?: number;
  /** A pino logger for requests; silent when absent. */
  logger?: Logger;
  /** Heartbeat of `GET /v1/events`, ms. @default 15000 */
  eventHeartbeatMs?: number;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route needs no API key. */
    public?: boolean;
  }
}

/**
 * Bodies are validated strictly (a string is not a number); query strings and params arrive as
 * text, so they are coerced. Neither strips unknown fields: they are rejected.
 */
function validatorCompilers() {
  const make = (coerceTypes: boolean) => {
    const ajv = new Ajv({ strict: false, coerceTypes, removeAdditional: false, useDefaults: true, allErrors: false });
    addFormats(ajv);
    return ajv;
  };
  const body = make(false);
  const text = make(true);
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? body : text).compile(schema);
}

/** Build the HTTP API on `engine` (not yet listening: call `listen()`). */
export async function createServer(engine: Engine, opts: ServerOptions): Promise<FastifyInstance> {
  if (typeof opts.apiKey !== 'string' || opts.apiKey.length < 16) {
    throw new SwitchyardError('SWY_INVALID_OPTIONS', 'createServer needs an apiKey of at least 16 characters');
  }
  const app = Fastify({
    loggerInstance: opts.logger,
    bodyLimit: opts.bodyLimit ?? 1_048_576,
    return503OnClosing: true,
    // Errors the router raises before any route runs (bad escapes, over-long params): same shape.
    frameworkErrors: errorHandler,
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompilers());
  // JSON only: a text body must not reach a JSON Schema as a string.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: 'SWY_ROUTE_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });

  const check = bearerAuth(opts.apiKey);
  app.addHook('onRequest', async (req) => {
    if (req.routeOptions.config?.public) return;
    check(req);
  });

  const metrics = createMetrics(engine);
  const events = new EventLog(engine);
  app.addHook('onClose', async () => {
    metrics.close();
    events.close();
  });

  // OpenAPI from the routes' own schemas; /docs and /docs/json need the API key like every route
  // but the public three.
  await app.register(swagger, {
    openapi: {
      info: { title: 'Switchyard', version: PACKAGE_VERSION, description: 'A durable job engine for LLM work.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(healthRoutes, { engine, registry: metrics.registry });
  await app.register(jobRoutes, { engine, maxBatch: opts.maxBatch ?? 1000 });
  await app.register(statsRoutes, { engine });
  await app.register(providerRoutes, { engine });
  await app.register(adminRoutes, { engine });
  await app.register(usageRoutes, { engine });
  await app.register(eventRoutes, { log: events, heartbeatMs: opts.eventHeartbeatMs ?? 15_000 });
  return app;
}
