/** A web console session as the store keeps it. */
export interface SessionRecord {
  /** sha256 (hex) of the session's id, the cookie's value: a copy of the database opens no session. */
  idDigest: string;
  /** sha256 (hex) of the API key the session was opened with, checked again on every request. */
  keyDigest: string;
  /** What every write made with the session must send back in `x-csrf-token`. */
  csrf: string;
  /** Epoch ms. */
  expiresAt: number;
}
