/** The HTTP API on an engine: Fastify, JSON Schema on every route, bearer auth, coded errors. */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Engine } from '../engine.js';
import { SwitchyardError } from '../errors.js';
import { createMetrics } from '../metrics.js';
import type { Principal, Scope } from '../domain/keys.js';
import { authenticator, requireScope } from './auth.js';
import { DEFAULT_LIMITS, type InputLimits } from '../limits.js';
import { limitedJsonParser } from './limits.js';
import { errorHandler } from './errors.js';
import { EventLog } from './event-log.js';
import { StreamSlots } from './live.js';
import { OPERATIONS } from './operations.js';
import { RESPONSES } from './responses.js';
import { createAjv } from '../validation.js';
import { eventRoutes } from './routes/events.js';
import { adminRoutes } from './routes/admin.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { keyRoutes } from './routes/keys.js';
import { openaiRoutes } from './routes/openai.js';
import { anthropicRoutes } from './routes/anthropic.js';
import { providerRoutes } from './routes/providers.js';
import { statsRoutes } from './routes/stats.js';
import { usageRoutes } from './routes/usage.js';
import { consoleRoutes } from './routes/console.js';
import { sessionRoutes } from './routes/session.js';

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Options of `createServer()`. */
export interface ServerOptions {
  /**
   * The admin key: every scope, every tenant. Keys made with `POST /v1/keys` work beside it. Every
   * route but /health, /ready and /metrics requires a key.
   */
  apiKey: string;
  /** Input limits; each one passed answers with a coded 413 or 400. */
  limits?: Partial<InputLimits>;
  /** Same as `limits.bodyBytes`. */
  bodyLimit?: number;
  /** Same as `limits.batch`. */
  maxBatch?: number;
  /**
   * Requests per minute per client address (checked before the key, so that guessing keys is
   * slow too) and per key for keys that set no `rateLimit`; 0 turns one off. The admin key has no
   * per-key limit. @default { perIp: 60000, perKey: 6000 }
   */
  rateLimit?: { perIp?: number; perKey?: number };
  /** Origins allowed to call the API from a browser; CORS is off when empty. @default [] */
  corsOrigins?: string[];
  /** Largest upload to `POST /v1/files` (Batch API input), bytes. @default 209715200 */
  maxFileBytes?: number;
  /** A pino logger for requests; silent when absent. */
  logger?: Logger;
  /** Heartbeat of `GET /v1/events`, ms. @default 15000 */
  eventHeartbeatMs?: number;
  /** Long-lived streams (`/v1/events`, `/v1/jobs/:id/stream`) one key may have open at once. @default 16 */
  eventStreamsPerKey?: number;
  /** Bounds on connections; see ConnectionLimits. */
  connections?: Partial<ConnectionLimits>;
  /**
   * The web console: where it is served, and how long a sign-in lasts; `false` turns it off.
   * @default { prefix: "/ui", sessionTtlMs: 28800000 }
   */
  console?: { prefix?: string; sessionTtlMs?: number } | false;
}

/** How many connections the server holds, and how long an idle one may stay. */
export interface ConnectionLimits {
  /** Open connections in all; more are refused at once. Keep it below the process's file-descriptor limit. @default 10000 */
  max: number;
  /** Open connections from one client address; more are closed at once. @default 256 */
  perAddress: number;
  /**
   * A connection that sends no bytes for this long is closed, ms. A request whose key was accepted
   * is exempt while it runs (long polls, streams); after its answer the keep-alive timeout applies.
   * @default 30000
   */
  idleTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long, ms. @default 72000 */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  max: 10_000,
  perAddress: 256,
  idleTimeoutMs: 30_000,
  keepAliveTimeoutMs: 72_000,
};

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route needs no API key. */
    public?: boolean;
    /** The scope a key needs for the route; without one any valid key will do. */
    scope?: Scope;
  }
  interface FastifyRequest {
    /** Who the request acts as (set on every route that is not public). */
    principal: Principal;
    /** Whether it was authenticated by a console session (its cookie) rather than a key. */
    viaSession: boolean;
  }
}

/**
 * Bodies are validated strictly (a string is not a number); query strings and params arrive as
 * text, so they are coerced. Neither strips unknown fields: they are rejected.
 */
function validatorCompilers() {
  const make = (coerceTypes: boolean) => createAjv({ coerceTypes, useDefaults: true });
  const body = make(false);
  const text = make(true);
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) => (httpPart === 'body' ? body : text).compile(schema);
}

/** Build the HTTP API on `engine` (not yet listening: call `listen()`). */
export async function createServer(engine: Engine, opts: ServerOptions): Promise<FastifyInstance> {
  if (typeof opts.apiKey !== 'string' || opts.apiKey.length < 16) {
    throw new SwitchyardError('SWY_INVALID_OPTIONS', 'createServer needs an apiKey of at least 16 characters');
  }
  const limits: InputLimits = {
    ...DEFAULT_LIMITS,
    ...(opts.bodyLimit !== undefined && { bodyBytes: opts.bodyLimit }),
    ...(opts.maxBatch !== undefined && { batch: opts.maxBatch }),
    ...opts.limits,
  };
  const connections = { ...DEFAULT_CONNECTION_LIMITS, ...opts.connections };
  const app = Fastify({
    loggerInstance: opts.logger,
    bodyLimit: limits.bodyBytes,
    return503OnClosing: true,
    connectionTimeout: connections.idleTimeoutMs,
    keepAliveTimeout: connections.keepAliveTimeoutMs,
    // Errors the router raises before any route runs (bad escapes, over-long params): same shape.
    frameworkErrors: errorHandler,
  }) as unknown as FastifyInstance;
  boundConnections(app, connections);
  app.setValidatorCompiler(validatorCompilers());
  // Response schemas document the API (OpenAPI); answers are written as they are, never filtered
  // or coerced by a schema.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.addHook('onRoute', (route) => {
    const key = `${route.method} ${route.url}`;
    const documented = RESPONSES[key];
    if (documented && !route.schema?.response) route.schema = { ...route.schema, response: documented };
    const operation = OPERATIONS[key];
    if (operation) route.schema = { ...route.schema, operationId: operation[0], summary: operation[1] };
  });
  // JSON only: a text body must not reach a JSON Schema as a string.
  app.removeContentTypeParser('text/plain');
  limitedJsonParser(app, limits);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    const message = `no route ${req.method} ${path}`;
    // Under /v1/ clients are often OpenAI SDKs: they read OpenAI's error shape (a superset of ours).
    const body = path.startsWith('/v1/')
      ? { error: { message, type: 'invalid_request_error', param: null, code: 'SWY_ROUTE_NOT_FOUND' } }
      : { error: { code: 'SWY_ROUTE_NOT_FOUND', message } };
    void reply.status(404).send(body);
  });

  const consolePrefix = opts.console === false ? undefined : (opts.console?.prefix ?? '/ui').replace(/\/+$/, '');
  await registerGuards(app, engine, opts, consolePrefix);

  const metrics = createMetrics(engine);
  const events = new EventLog(engine);
  const slots = new StreamSlots(opts.eventStreamsPerKey ?? 16);
  app.addHook('onClose', async () => {
    metrics.close();
    events.close();
  });

  // OpenAPI from the routes' own schemas. The Swagger UI under /docs (its page, assets and the
  // document) needs no key, so that a browser can open it; the calls it makes need one like any.
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Switchyard',
        version: PACKAGE_VERSION,
        description: 'A durable job engine for LLM work.',
        license: { name: 'MIT', url: 'https://opensource.org/license/mit' },
      },
      servers: [{ url: '/', description: 'The server that serves this document' }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(healthRoutes, { engine, registry: metrics.registry });
  await app.register(jobRoutes, { engine, limits, heartbeatMs: opts.eventHeartbeatMs ?? 15_000, slots });
  await app.register(keyRoutes, { engine });
  await app.register(statsRoutes, { engine });
  await app.register(providerRoutes, { engine });
  await app.register(adminRoutes, { engine });
  await app.register(usageRoutes, { engine });
  if (consolePrefix !== undefined) {
    const ttlMs = (opts.console ? opts.console.sessionTtlMs : undefined) ?? 28_800_000;
    await app.register(sessionRoutes, { sessions: engine.sessions, ttlMs });
    // (Not `prefix`: Fastify would put every route of the plugin under it.)
    await app.register(consoleRoutes, { path: consolePrefix });
  }
  await app.register(eventRoutes, { log: events, heartbeatMs: opts.eventHeartbeatMs ?? 15_000, slots });
  await app.register(anthropicRoutes, { engine, limits, heartbeatMs: opts.eventHeartbeatMs ?? 15_000 });
  await app.register(openaiRoutes, {
    engine,
    limits,
    maxFileBytes: opts.maxFileBytes ?? 209_715_200,
    heartbeatMs: opts.eventHeartbeatMs ?? 15_000,
  });
  return app;
}

/**
 * Connection bounds: a total, a share per client address, and an idle timeout for connections that
 * send nothing (Node closes a connection that stops mid-headers, but not one that never starts).
 */
function boundConnections(app: FastifyInstance, limits: ConnectionLimits): void {
  app.server.maxConnections = limits.max;
  const perAddress = new Map<string, number>();
  app.server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const n = (perAddress.get(address) ?? 0) + 1;
    if (n > limits.perAddress) {
      socket.destroy();
      return;
    }
    perAddress.set(address, n);
    socket.once('close', () => {
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left <= 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
  });
}

/** The Swagger UI and the OpenAPI document: no key, but rate-limited per address like the API. */
const isDocs = (url: string) => url === '/docs' || url.startsWith('/docs/');

/**
 * Per-route guards, in this order: the per-address rate limit, authentication and the route's
 * scope, the per-key rate limit. They are route hooks (added as each route is declared) so that
 * the address limit runs before the key is even looked at. CORS answers preflights first.
 */
async function registerGuards(
  app: FastifyInstance,
  engine: Engine,
  opts: ServerOptions,
  /** Where the web console is served, if it is: its sessions then authenticate too. */
  consolePrefix: string | undefined,
): Promise<void> {
  const perIp = opts.rateLimit?.perIp ?? 60_000;
  const perKey = opts.rateLimit?.perKey ?? 6000;
  const limited = (_req: FastifyRequest, ctx: { max: number; ttl: number; after: string }) =>
    new SwitchyardError('SWY_RATE_LIMITED', `more than ${ctx.max} requests a minute; retry in ${ctx.after}`, { retryAfterMs: ctx.ttl });
  if (opts.corsOrigins && opts.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: opts.corsOrigins,
      allowedHeaders: ['authorization', 'x-api-key', 'anthropic-version', 'content-type', 'last-event-id'],
      exposedHeaders: ['retry-after'],
      maxAge: 600,
    });
  }
  const isPublic = (req: FastifyRequest) => req.routeOptions.config?.public === true;
  if (perIp > 0) {
    await app.register(rateLimit, {
      hook: 'onRequest',
      max: perIp,
      timeWindow: 60_000,
      allowList: isPublic,
      errorResponseBuilder: limited,
    });
  }
  await app.register(cookie);
  const authenticate = authenticator({
    adminKey: opts.apiKey,
    keys: engine.keys,
    keyRateLimit: perKey,
    sessions: consolePrefix === undefined ? undefined : engine.sessions,
  });
  app.decorateRequest('principal', null as unknown as Principal);
  app.decorateRequest('viaSession', false);
  const isConsole = (url: string) => consolePrefix !== undefined && (url === consolePrefix || url.startsWith(`${consolePrefix}/`));
  app.addHook('onRoute', (route) => {
    if (route.config?.public || isDocs(route.url) || isConsole(route.url)) return;
    const scope = route.config?.scope;
    const guard = async (req: FastifyRequest) => {
      req.principal = await authenticate(req);
      if (scope) requireScope(req.principal, scope);
      // A known key's request may wait long without a byte (?waitMs, a slow completion, a stream).
      // (Light-my-request's sockets for inject() have no timeouts.)
      (req.raw.socket as Partial<Socket> | undefined)?.setTimeout?.(0);
    };
    route.onRequest = [...(Array.isArray(route.onRequest) ? route.onRequest : route.onRequest ? [route.onRequest] : []), guard];
  });
  // Every write made from the console is logged with the key that made it.
  app.addHook('onResponse', async (req, reply) => {
    if (req.viaSession && req.method !== 'GET' && req.method !== 'HEAD') {
      req.log.info({ keyId: req.principal.keyId, method: req.method, url: req.url, status: reply.statusCode }, 'console action');
    }
  });
  await app.register(rateLimit, {
    hook: 'onRequest',
    max: (req: FastifyRequest) => req.principal?.rateLimit ?? 0,
    timeWindow: 60_000,
    keyGenerator: (req: FastifyRequest) => req.principal?.keyId ?? req.ip,
    allowList: (req: FastifyRequest) => isPublic(req) || !req.principal || req.principal.rateLimit === null,
    errorResponseBuilder: limited,
  });
}
