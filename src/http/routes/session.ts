/**
 * /v1/session: the web console's sign-in. The page sends the key once, as `Authorization: Bearer`,
 * and gets an HttpOnly, SameSite=Strict cookie naming a session (Secure when the request came over
 * TLS); reading the session gives the page its CSRF token; deleting it signs out.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SwitchyardError } from '../../errors.js';
import { presentedKey } from '../auth.js';
import type { Session, Sessions } from '../../keys/sessions.js';
import { SESSION_COOKIE } from '../sessions.js';

function view(req: FastifyRequest, s: Session) {
  const p = req.principal;
  return {
    keyId: p.keyId,
    tenant: p.tenant,
    admin: p.admin,
    scopes: [...p.scopes],
    csrfToken: s.csrf,
    expiresAt: new Date(s.expiresAt).toISOString(),
  };
}

export async function sessionRoutes(app: FastifyInstance, { sessions, ttlMs }: { sessions: Sessions; ttlMs: number }): Promise<void> {
  const current = async (req: FastifyRequest): Promise<Session> => {
    const s = presentedKey(req) ? undefined : await sessions.get(req.cookies[SESSION_COOKIE]);
    if (!s) throw new SwitchyardError('SWY_UNAUTHORIZED', 'no console session: sign in first');
    return s;
  };

  app.post('/v1/session', async (req, reply: FastifyReply) => {
    const digest = presentedKey(req);
    if (!digest) throw new SwitchyardError('SWY_BAD_REQUEST', 'sign in with a key: Authorization: Bearer <key>');
    const s = await sessions.open(digest, ttlMs);
    req.log.info({ keyId: req.principal.keyId }, 'console session opened');
    void reply.setCookie(SESSION_COOKIE, s.id, {
      httpOnly: true,
      sameSite: 'strict',
      secure: req.protocol === 'https',
      path: '/',
      maxAge: Math.floor(ttlMs / 1000),
    });
    return reply.status(201).send(view(req, s));
  });

  app.get('/v1/session', async (req) => view(req, await current(req)));

  app.delete('/v1/session', async (req, reply: FastifyReply) => {
    const s = await current(req);
    await sessions.close(s.id);
    req.log.info({ keyId: req.principal.keyId }, 'console session closed');
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { signedOut: true };
  });
}
