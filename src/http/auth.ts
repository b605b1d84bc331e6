/**
 * Who a request acts as: the admin key from the environment (compared in constant time) or a key
 * made through `/v1/keys` (found by its hash). Each route names the scope it needs.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { SwitchyardError } from '../errors.js';
import type { KeyRing } from '../keys/keyring.js';
import { DEFAULT_TENANT, SCOPES, type Principal, type Scope, type TenantScope } from '../domain/keys.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

export interface AuthOptions {
  /** The admin key: every scope, every tenant's jobs. */
  adminKey: string;
  keys: KeyRing;
  /** Requests per minute of a key that sets none; 0: unlimited. */
  keyRateLimit: number;
}

/** A function from a request to its principal; throws SWY_UNAUTHORIZED. */
export function authenticator(opts: AuthOptions): (req: FastifyRequest) => Principal {
  const admin = digest(opts.adminKey);
  const adminPrincipal: Principal = {
    keyId: 'admin',
    tenant: DEFAULT_TENANT,
    admin: true,
    scopes: new Set(SCOPES),
    rateLimit: null,
  };
  const unlimited = (n: number | null) => (n === null || n === 0 ? null : n);
  return (req) => {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    // Anthropic's clients send the key as `x-api-key`.
    const alt = req.headers['x-api-key'];
    const secret = m?.[1] ?? (typeof alt === 'string' && alt.length > 0 ? alt.trim() : undefined);
    if (secret === undefined)
      throw new SwitchyardError('SWY_UNAUTHORIZED', 'a valid API key is required: Authorization: Bearer <key> (or x-api-key)');
    // Hashed once: compared with the admin key's digest in constant time (whatever its length or
    // content), then used to find a made key by its stored hash.
    const presented = digest(secret);
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
