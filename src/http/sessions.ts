/**
 * Console sessions: the web console exchanges an API key for a session, so that the key never
 * sits in the page, a URL or the browser's storage. The browser holds only an HttpOnly cookie
 * naming the session; the server keeps the key's hash (so that a revoked key ends its sessions at
 * once), a CSRF token that every write must echo in a header, and an expiry.
 *
 * Sessions live in this process's memory: a restart signs everyone out, and behind several
 * processes a load balancer must keep a browser on one process (sticky sessions).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface Session {
  id: string;
  /** sha256 of the key the session was opened with. */
  keyDigest: Buffer;
  /** What every write made with the session must send back in `x-csrf-token`. */
  csrf: string;
  expiresAt: number;
}

/** The cookie that names a session. */
export const SESSION_COOKIE = 'swy_session';
/** The header a write made with a session must carry. */
export const CSRF_HEADER = 'x-csrf-token';

export class Sessions {
  private readonly byId = new Map<string, Session>();

  /**
   * @param ttlMs How long a session lasts from its sign-in.
   * @param max Most sessions kept; the oldest ends first when a new one would pass it.
   */
  constructor(
    readonly ttlMs: number,
    private readonly max = 10_000,
  ) {}

  open(keyDigest: Buffer): Session {
    const session: Session = {
      id: randomBytes(32).toString('base64url'),
      keyDigest,
      csrf: randomBytes(32).toString('base64url'),
      expiresAt: Date.now() + this.ttlMs,
    };
    if (this.byId.size >= this.max) {
      const oldest = this.byId.keys().next().value;
      if (oldest !== undefined) this.byId.delete(oldest);
    }
    this.byId.set(session.id, session);
    return session;
  }

  /** The live session named `id`, if any (an expired one is forgotten). */
  get(id: string | undefined): Session | undefined {
    if (id === undefined) return undefined;
    const s = this.byId.get(id);
    if (s && s.expiresAt <= Date.now()) {
      this.byId.delete(id);
      return undefined;
    }
    return s;
  }

  close(id: string): void {
    this.byId.delete(id);
  }

  get size(): number {
    return this.byId.size;
  }
}

/** Whether `presented` is the session's CSRF token, compared in constant time. */
export function csrfMatches(session: Session, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}
