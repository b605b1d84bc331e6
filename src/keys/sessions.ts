/**
 * Web console sessions: the console exchanges an API key for a session, so that the key never
 * sits in the page, a URL or the browser's storage. The browser holds only an HttpOnly cookie
 * naming the session. The store keeps the key's hash (so that a revoked key ends its sessions at
 * once), a CSRF token that every write must echo in a header, and an expiry. Sessions are in the
 * database, so every process sharing it knows them: a load balancer needs no sticky sessions, and
 * a restart signs nobody out.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';

/** A session as the server uses it: `id` is the cookie's value. */
export interface Session {
  id: string;
  /** sha256 of the key the session was opened with. */
  keyDigest: Buffer;
  csrf: string;
  /** Epoch ms. */
  expiresAt: number;
}

/** Most live sessions one key holds: signing in past it ends that key's oldest session. */
export const SESSIONS_PER_KEY = 20;

const digest = (id: string) => createHash('sha256').update(id).digest('hex');

export class Sessions {
  constructor(private readonly store: Store) {}

  /** A new session for the key with this sha256, lasting `ttlMs`. */
  async open(keyDigest: Buffer, ttlMs: number): Promise<Session> {
    const now = Date.now();
    const session: Session = {
      id: randomBytes(32).toString('base64url'),
      keyDigest,
      csrf: randomBytes(32).toString('base64url'),
      expiresAt: now + ttlMs,
    };
    await this.store.openSession(
      { idDigest: digest(session.id), keyDigest: keyDigest.toString('hex'), csrf: session.csrf, expiresAt: session.expiresAt },
      SESSIONS_PER_KEY,
      now,
    );
    return session;
  }

  /** The live session named `id`, if any. */
  async get(id: string | undefined): Promise<Session | undefined> {
    // A session id is 43 characters; anything much longer is not one, and is not hashed.
    if (id === undefined || id.length === 0 || id.length > 128) return undefined;
    const r = await this.store.findSession(digest(id), Date.now());
    return r && { id, keyDigest: Buffer.from(r.keyDigest, 'hex'), csrf: r.csrf, expiresAt: r.expiresAt };
  }

  async close(id: string): Promise<void> {
    await this.store.closeSession(digest(id));
  }
}
