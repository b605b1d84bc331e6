/**
 * The console's calls to the server: same origin, relative URLs (so that the page works under a
 * proxy's sub-path), the session cookie sent by the browser, and the session's CSRF token on
 * every write. The key itself is sent once, at sign-in, and kept nowhere.
 */
import { signal } from '@preact/signals';

export interface Session {
  keyId: string;
  tenant: string;
  admin: boolean;
  scopes: string[];
  csrfToken: string;
  expiresAt: string;
}

/** The signed-in session, or null. */
export const session = signal<Session | null | undefined>(undefined);

/** The API's root, relative to the page (`/ui/` → `/`). */
const ROOT = new URL('../', document.baseURI);

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const h: Record<string, string> = { ...headers };
  if (body !== undefined) h['content-type'] = 'application/json';
  const s = session.value;
  if (method !== 'GET' && s) h['x-csrf-token'] = s.csrfToken;
  const res = await fetch(new URL(path.replace(/^\//, ''), ROOT), {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    const err = data?.error ?? {};
    if (res.status === 401 && path !== '/v1/session') session.value = null;
    throw new ApiError(res.status, err.code ?? 'SWY_UNKNOWN', err.message ?? res.statusText);
  }
  return data as T;
}

export async function signIn(key: string): Promise<void> {
  session.value = await call<Session>('POST', '/v1/session', undefined, { authorization: `Bearer ${key}` });
}

export async function restore(): Promise<void> {
  try {
    session.value = await call<Session>('GET', '/v1/session');
  } catch {
    session.value = null;
  }
}

export async function signOut(): Promise<void> {
  try {
    await call('DELETE', '/v1/session');
  } finally {
    session.value = null;
  }
}

/** Whether the signed-in key may do what `scope` allows (the server checks again). */
export function can(scope: string): boolean {
  const s = session.value;
  return !!s && (s.admin || s.scopes.includes(scope));
}

/** An API URL for the browser to open itself (event streams: the cookie authenticates them, no key in the URL). */
export function apiUrl(path: string): string {
  return new URL(path, ROOT).toString();
}
