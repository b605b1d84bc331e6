/**
 * The web console's page and assets, built by `npm run build` into dist/ui/ (from ui/). Served by
 * this process with a strict Content-Security-Policy: nothing from any other origin, no inline
 * script or style. The page's URLs are relative, so it works under a reverse proxy's sub-path.
 * The page and assets need no key (they hold no data); every call the page makes needs a session.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where `npm run build` puts the console (the same place from src/ and from dist/). */
export const CONSOLE_DIR = fileURLToPath(new URL('../../../dist/ui/', import.meta.url));

export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export async function consoleRoutes(app: FastifyInstance, { path: prefix }: { path: string }): Promise<void> {
  if (!existsSync(CONSOLE_DIR)) {
    app.get(`${prefix}/`, { config: { public: true }, schema: { hide: true } }, async (_req, reply) =>
      reply.status(503).type('text/plain').send('The console is not built: run npm run build.'),
    );
  } else {
    await app.register(fastifyStatic, {
      root: CONSOLE_DIR,
      prefix: `${prefix}/`,
      decorateReply: false,
      index: 'index.html',
      setHeaders: (res) => {
        res.setHeader('content-security-policy', CONSOLE_CSP);
        res.setHeader('x-content-type-options', 'nosniff');
        res.setHeader('referrer-policy', 'no-referrer');
      },
    });
  }
  // `/ui` → `/ui/`, so that the page's relative URLs resolve under it.
  app.get(prefix, { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
    const path = req.url.split('?')[0] ?? prefix;
    return reply.redirect(`${path.slice(path.lastIndexOf('/') + 1)}/`);
  });
}
