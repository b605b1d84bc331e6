/** Bearer-key authentication with a constant-time comparison. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { SwitchyardError } from '../errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * A checker for one key. Both sides are hashed first so that the comparison takes the same time
 * whatever the length or content of the presented key.
 */
export function bearerAuth(apiKey: string): (req: FastifyRequest) => void {
  const expected = digest(apiKey);
  return (req) => {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m || !timingSafeEqual(digest(m[1] as string), expected)) {
      throw new SwitchyardError('SWY_UNAUTHORIZED', 'a valid API key is required: Authorization: Bearer <key>');
    }
  };
}
