/**
 * Who a request acts as: the admin key from the environment (compared in constant time) or a key
 * made through `/v1/keys` (found by its hash). Each route names the scope it needs.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { SwitchyardError } from '../errors.js';
import type { KeyRing } from '../keys/keyring.js';
import { DEFAULT_TENANT, SCOPES, type Principal, type Scope, type TenantScope } from '../domain/keys.js';
import type { Sessions } from '../keys/sessions.js';
import { CSRF_HEADER, csrfMatches, SESSION_COOKIE } from './sessions.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

export interface AuthOptions {
  /** The admin key: every scope, every tenant's jobs. */
  adminKey: string;
  keys: KeyRing;
  /** Requests per minute of a key that sets none; 0: unlimited. */
  keyRateLimit: number;
  /** The web console's sessions, when it is served: a request without a key may name one in a cookie. */
  sessions?: Sessions;
}

/** Methods that change nothing: a session's request needs no CSRF token for these. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The sha256 of the key a request presents (Authorization: Bearer, or x-api-key), if it presents one. */
export function presentedKey(req: FastifyRequest): Buffer | undefined {
  const header = req.headers.authorization;
  const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  // Anthropic's clients send the key as `x-api-key`.
  const alt = req.headers['x-api-key'];
  const secret = m?.[1] ?? (typeof alt === 'string' && alt.length > 0 ? alt.trim() : undefined);
  return secret === undefined ? undefined : digest(secret);
}

/**
 * A function from a request to its principal; throws SWY_UNAUTHORIZED, or SWY_CSRF for a
 * session's write without its token.
 */
export function authenticator(opts: AuthOptions): (req: FastifyRequest) => Promise<Principal> {
  const principalOf = principals(opts);
  return async (req) => {
    const presented = presentedKey(req);
    req.viaSession = false;
    if (presented) return principalOf(presented);
    const session = await opts.sessions?.get(req.cookies?.[SESSION_COOKIE]);
    if (!session) throw new SwitchyardError('SWY_UNAUTHORIZED', 'a valid API key is required: Authorization: Bearer <key> (or x-api-key)');
    // A cookie goes with any request the browser makes, also one another site started: a write
    // must prove it came from the console's page, which alone can read the token.
    if (!SAFE_METHODS.has(req.method) && !csrfMatches(session, req.headers[CSRF_HEADER]))
      throw new SwitchyardError('SWY_CSRF', `a write made with a console session needs its ${CSRF_HEADER} header`);
    req.viaSession = true;
    return principalOf(session.keyDigest);
  };
}

/** A function from a key's sha256 to its principal; throws SWY_UNAUTHORIZED for an unknown, expired or revoked key. */
export function principals(opts: AuthOptions): (keyDigest: Buffer) => Principal {
  const admin = digest(opts.adminKey);
  const adminPrincipal: Principal = {
    keyId: 'admin',
    tenant: DEFAULT_TENANT,
    admin: true,
    scopes: new Set(SCOPES),
    rateLimit: null,
  };
  const unlimited = (n: number | null) => (n === null || n === 0 ? null : n);
  return (presented) => {
    // Compared with the admin key's digest in constant time (whatever its length or content),
    // then used to find a made key by its stored hash.
    if (timingSafeEqual(presented, admin)) return adminPrincipal;
    const k = opts.keys.authenticateHash(presented.toString('hex'));
    return {
      keyId: k.id,
      tenant: k.id,
      admin: k.scopes.includes('admin'),
      scopes: new Set(k.scopes),
      rateLimit: unlimited(k.rateLimit ?? opts.keyRateLimit),
    };
  };
}

/** Throws SWY_FORBIDDEN unless `p` holds `scope` (admin holds every scope). */
export function requireScope(p: Principal, scope: Scope): void {
  if (!p.admin && !p.scopes.has(scope)) {
    throw new SwitchyardError('SWY_FORBIDDEN', `this key lacks the ${scope} scope`);
  }
}

/** The tenant whose data the principal may see: undefined (all) for admins. */
export function visibleTenant(p: Principal): string | undefined {
  return p.admin ? undefined : p.tenant;
}

/** The same as an engine call's scope: `{}` (every tenant) for admins. */
export function visibleScope(p: Principal): TenantScope {
  return p.admin ? {} : { tenant: p.tenant };
}
