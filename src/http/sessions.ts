/** What the HTTP layer adds to console sessions (src/keys/sessions.ts): the cookie, the CSRF header and its check. */
import { timingSafeEqual } from 'node:crypto';
import type { Session } from '../keys/sessions.js';

/** The cookie that names a session. */
export const SESSION_COOKIE = 'swy_session';
/** The header a write made with a session must carry. */
export const CSRF_HEADER = 'x-csrf-token';

/** Whether `presented` is the session's CSRF token, compared in constant time. */
export function csrfMatches(session: Session, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}
